#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "lookbook/util/row_scan.hpp"

namespace hnswlib {
template <typename T>
class HierarchicalNSW;
}

// Approximate top-k rows by dot product for the recommenders' candidate scans (the two-tower
// source's; ALS scans exactly, profile similarity uses recommend/projected_search.hpp), issue 7: an
// exact scan reads every article's vector per request, which on 2 cores caps the cold
// recommendations API well below 5,000 requests/s.
//
// RowGraph puts the rows in an HNSW graph (hnswlib, as index/hnsw_index does) and answers a
// query from the graph's candidates only, scored in float with lookbook::dot, so a score it
// returns is the one RowScan gives for that row; what can differ is which rows make the list
// (a row the graph search did not reach is missing, and the next best takes its place).
//
// Equal rows are common (two-tower vectors of articles with the same attributes and no photo,
// ALS factors of articles nobody bought): the graph holds each distinct row once, and a node
// found stands for all its rows, which tie, so the lower ids come first as in a scan. Rows of
// zeros score 0 whatever the query; they stay out of the graph and join an answer that would
// otherwise be short of k or hold negative scores (positive_only false).
//
// Maximum inner product is not a metric search. The graph is built and searched on the inner
// product itself (distance 1 - q . r), as ip-NSW does (Morozov and Babenko, NeurIPS 2018): long
// rows, the ones that win many queries, become hubs. The usual reduction to a cosine search
// (each row r as [r / M, sqrt(1 - |r|^2 / M^2)], M the longest norm; Bachrach et al. 2014) was
// tried first and found less of the exact top 100 on rows of varied norms (0.85 against 0.9 or
// more, tests/util/row_graph_test.cpp). For unit rows (profile similarity, two-tower) the two
// are the same cosine search.
namespace lookbook {

// Measured on the H&M store (see docs/measurements.md, "Approximate candidate search"); the seed
// fixes the level draws, and the rows are inserted in order on one thread, so a build is
// reproducible.
// TODO: the graph is built every time a source opens (about 1 s of CPU for the H&M store's
// two-tower graph, about 16 s for 105,000 articles of 64 floats, ad-hoc): saving it with the
// models (hnswlib serialises itself, as index/hnsw_index does) would make server start and
// every CLI recommendation command that much faster. Profile similarity left the graphs in
// stop 19 (ProjectedRowSearch: 320-value rows made its graph the dearest source).
// TODO: issue 7 (5,000 cold recommendations/s at p99 under 20 ms on 2 cores) is not shown met:
// 323-337 us of server CPU per request on a store whose blend has no profile similarity (p99
// 22-23 ms), 430-440 us on the demo's (stop 20, README "Known limits"); the two-tower graph
// search is about 15-20% of it (a half-precision graph was no faster).
struct RowGraphParams {
    size_t m = 16;                 // links per node (32 on the bottom layer)
    size_t ef_construction = 100;  // candidate list while inserting
    size_t ef_search = 200;        // candidate list while searching; at least k + skipped ids
    size_t seed = 100;
};

class RowGraph {
  public:
    // `rows` row-major [count, dim], copied. `ids` (empty: 0 .. count-1) names each row in
    // answers and in `skip`; they must ascend. Builds the graph on this thread.
    RowGraph(std::span<const float> rows,
             size_t dim,
             std::span<const uint32_t> ids = {},
             const RowGraphParams& params = {});
    ~RowGraph();
    RowGraph(const RowGraph&) = delete;
    RowGraph& operator=(const RowGraph&) = delete;

    size_t size() const { return count_; }
    size_t dim() const { return dim_; }
    // Nodes in the graph: the distinct rows that are not all zeros.
    size_t nodes() const { return group_offsets_.size() - 1; }
    const RowGraphParams& params() const { return params_; }
    double build_seconds() const { return build_seconds_; }
    // The search's candidate list (recall against time); may change between queries.
    void set_ef_search(size_t ef) { ef_search_.store(ef, std::memory_order_relaxed); }
    size_t ef_search() const { return ef_search_.load(std::memory_order_relaxed); }

    // RowScan::top()'s contract, approximately: up to k rows as (id, score), best first, ties
    // to the lower id, ids in `skip` (ascending) and, when `positive_only`, scores <= 0 left
    // out. The graph search keeps max(ef_search(), k + skip.size()) candidates, all scored in
    // float; when that is at least nodes() every row is reached and the answer is exact.
    // Thread-safe.
    std::vector<std::pair<uint32_t, float>> top(const float* query,
                                                size_t k,
                                                std::span<const uint32_t> skip = {},
                                                bool positive_only = true) const;

  private:
    class Space;

    size_t count_ = 0;
    size_t dim_ = 0;
    RowGraphParams params_;
    std::atomic<size_t> ef_search_;
    double build_seconds_ = 0;
    // The graph holds each distinct non-zero row once (a node per group of equal rows).
    std::vector<size_t> group_offsets_;  // [groups + 1] into group_ids_
    std::vector<uint32_t> group_ids_;    // the ids of each group's rows, ascending
    std::vector<uint32_t> zero_ids_;     // rows of zeros (score 0 whatever the query)
    std::unique_ptr<Space> space_;
    std::unique_ptr<hnswlib::HierarchicalNSW<float>> graph_;
};

// The search a candidate source runs: the exact RowScan (concurrent callers sharing passes
// through a RowScanBatcher) or, when the source allows it, approximate search was on when this
// was built and the rows number at least kMinGraphRows, a RowGraph. Below that size a scan
// reads little and stays exact, so small stores (and the tests on them) get RowScan's answers
// bit for bit.
class RowSearch {
  public:
    static constexpr size_t kMinGraphRows = 4096;

    // Whether a source's rows get a graph.
    enum class Graph { kIfLarge, kNever };

    // As RowScan's constructor. Builds the graph too (see above), which takes seconds for tens
    // of thousands of rows (docs/measurements.md, "Approximate candidate search").
    RowSearch(std::vector<float> rows,
              size_t dim,
              std::vector<uint32_t> ids = {},
              Graph graph = Graph::kIfLarge);
    RowSearch(const RowSearch&) = delete;
    RowSearch& operator=(const RowSearch&) = delete;

    // The graph's answer when there is one and approximate search is on, else the exact
    // scan's (RowScanBatcher::top). Thread-safe.
    std::vector<std::pair<uint32_t, float>> top(const float* query,
                                                size_t k,
                                                std::span<const uint32_t> skip = {},
                                                bool positive_only = true) const;

    const RowScan& scan() const { return scan_; }
    const RowScanBatcher& batcher() const { return batcher_; }
    // Null when no graph was built.
    const RowGraph* graph() const { return graph_.get(); }

    // Process-wide, on by default: whether RowSearch objects built from now on build a graph,
    // and whether existing ones answer from theirs. Set once at start-up (`--exact-scan 1` of
    // the apps turns it off); tests and benchmarks compare the two in one process.
    static void set_approximate(bool enabled);
    static bool approximate();
    // Process-wide graph settings for RowSearch objects built from now on.
    static void set_graph_params(const RowGraphParams& params);
    static RowGraphParams graph_params();

  private:
    RowScan scan_;
    RowScanBatcher batcher_{scan_};
    std::unique_ptr<RowGraph> graph_;
};

}  // namespace lookbook
