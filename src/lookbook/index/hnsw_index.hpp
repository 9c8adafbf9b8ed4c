#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "lookbook/index/vector_index.hpp"

namespace hnswlib {
template <typename T>
class HierarchicalNSW;
}

namespace lookbook {

// HNSW graph parameters, measured with bench/index_bench on clustered 512-d vectors (one core
// searching, 50-200 queries, shared machine): 100k: recall@10 1.00 from ef_search 64 on;
// 1M (ef_construction 200, built in 11 min on 2 threads): recall@10 0.978 at ef_search 128,
// 1.000 at 256 with p50 0.68 ms and p99 1.24 ms — hence 256. A cheaper ef_construction 64
// capped 1M recall at 0.95 whatever ef_search: the graph, not the search, limits it.
struct HnswParams {
    size_t m = 16;                 // links per node (32 on the bottom layer); memory grows with it
    size_t ef_construction = 200;  // candidate list while inserting; build time grows with it
    size_t ef_search = 256;        // candidate list while searching (at least k); recall vs time
    size_t seed = 100;             // level draws, so builds are reproducible
};

// Approximate inner-product search with hnswlib's HNSW graph (Debian's libhnswlib-dev, header
// only). The distance is 1 - <a, b> computed by the kernel of dot.hpp. Deletion marks a node
// (hnswlib markDelete): it stays in the graph for routing and is never returned; adding the id
// again revives and updates it. Filters are applied to an over-fetched candidate list that
// grows until k hits pass or the whole index was asked for.
class HnswIndex : public VectorIndex {
  public:
    // An empty index with room for `capacity` vectors (it grows by doubling).
    HnswIndex(size_t dim, const HnswParams& params, size_t capacity = 1024);
    ~HnswIndex() override;
    HnswIndex(const HnswIndex&) = delete;
    HnswIndex& operator=(const HnswIndex&) = delete;

    size_t dim() const override { return dim_; }
    size_t size() const override { return live_.size(); }
    // Nodes in the graph, removed ones (kept for routing) included.
    size_t graph_size() const;
    // Whether `id` has a node, live or removed (adding it again then updates that node).
    bool in_graph(uint32_t id) const;
    bool contains(uint32_t id) const override { return live_.count(id) > 0; }
    Status add(uint32_t id, std::span<const float> vector) override;
    Status remove(uint32_t id) override;
    Result<std::vector<Hit>> search(std::span<const float> query,
                                    size_t k,
                                    const HitFilter& filter = {}) const override;
    std::string kind() const override { return "hnsw"; }

    // Adds rows[i * dim ..] under ids[i] with `threads` threads (hnswlib inserts concurrently);
    // the bulk path for building. Same errors as add(); on error some vectors may be added.
    Status add_batch(std::span<const uint32_t> ids, std::span<const float> rows, size_t threads);

    // Sets the search candidate list size (recall against speed); not while searching.
    void set_ef_search(size_t ef);
    const HnswParams& params() const { return params_; }
    // Bytes of the graph and its vector copies.
    size_t memory_bytes() const;

    // The graph in hnswlib's own format (vectors included), for storing in a column file.
    Result<std::string> serialize() const;
    // Reads serialize()'s bytes. kCorruption when they are not an index of `dim` floats.
    static Result<std::unique_ptr<HnswIndex>> deserialize(std::span<const char> bytes,
                                                          size_t dim,
                                                          const HnswParams& params);

  private:
    class Space;

    size_t dim_;
    HnswParams params_;
    std::unique_ptr<Space> space_;
    std::unique_ptr<hnswlib::HierarchicalNSW<float>> graph_;
    std::unordered_set<uint32_t> live_;
};

}  // namespace lookbook
