#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include <Eigen/Dense>

#include "lookbook/util/row_scan.hpp"

// Top-k rows by dot product for long rows, through their main directions (issue 7): the
// profile-similarity source compares a customer's profile with every article's content vector,
// 320 values since the catalog encoder gained its linear part. An HNSW graph over those rows
// (RowGraph) visits most of a catalog of a few thousand articles at 20 cache lines a row: 150-180
// us of CPU per request on the H&M store, more than any other source.
//
// ProjectedRowSearch keeps a copy of the rows projected on their `directions` main directions
// (eigenvectors of the rows' second-moment matrix, the directions along which the rows' dot
// products vary most), scores every projected row (32 half-precision values instead of 320
// floats: the copy fits in the core's cache), scores the best of those again in float on the whole
// rows with lookbook::dot, and keeps the k best. A score it returns is therefore the one an exact
// scan gives that row, bit for bit; what can differ is which rows make the list, when a row of the
// exact top k is not among the projected candidates (measured: docs/measurements.md, "Profile
// similarity through main directions").
//
// Exact (a RowScan of the whole rows) when approximate search is off (RowSearch::approximate(),
// `lookbook --exact-scan`), when the catalog is smaller than RowSearch::kMinGraphRows, or when
// the rows are not longer than `directions`: then there is nothing to gain.
namespace lookbook {

// Defaults measured on the H&M store's 11,800 content vectors of 320 values (stop 19, ad-hoc,
// 600 customers' profiles): 32 directions and 300 candidates find 0.9996 of the exact top 100
// in 81 us against 150 us for the HNSW graph (0.9991) and 340 us for the exact scan.
struct ProjectedSearchParams {
    size_t directions = 32;
    // Projected candidates scored again on the whole rows: k times this, at least min_candidates.
    size_t candidates_per_k = 3;
    size_t min_candidates = 256;
    // Rows read to estimate the directions (evenly spaced over the catalog), which bounds the
    // build time on large catalogs.
    size_t sample_rows = 8192;
};

class ProjectedRowSearch {
  public:
    // `rows` row-major [count, dim]; `ids` (empty: 0 .. count-1) name the rows, ascending.
    ProjectedRowSearch(std::vector<float> rows,
                       size_t dim,
                       std::vector<uint32_t> ids = {},
                       const ProjectedSearchParams& params = {});
    ProjectedRowSearch(const ProjectedRowSearch&) = delete;
    ProjectedRowSearch& operator=(const ProjectedRowSearch&) = delete;

    size_t size() const { return ids_.size(); }
    size_t dim() const { return dim_; }
    // The directions searched; 0 when every query is answered by the exact scan.
    size_t directions() const { return stride_ == 0 ? 0 : static_cast<size_t>(basis_.rows()); }

    // RowScan::top()'s contract: up to k rows as (id, score), best first, ties to the lower id,
    // ids in `skip` (ascending) and, when `positive_only`, scores <= 0 left out. Thread-safe.
    std::vector<std::pair<uint32_t, float>> top(const float* query,
                                                size_t k,
                                                std::span<const uint32_t> skip = {},
                                                bool positive_only = true) const;

    // The exact answer (a scan of the whole rows), for comparison.
    std::vector<std::pair<uint32_t, float>> top_exact(const float* query,
                                                      size_t k,
                                                      std::span<const uint32_t> skip = {},
                                                      bool positive_only = true) const;

  private:
    size_t dim_ = 0;
    ProjectedSearchParams params_;
    std::vector<float> rows_;        // [size, dim], in id order
    std::vector<uint32_t> ids_;      // ascending
    Eigen::MatrixXf basis_;          // [directions, dim], one main direction a row; empty: exact
    std::unique_ptr<RowScan> full_;  // the whole rows
    std::unique_ptr<RowScanBatcher> full_batcher_;
    // The projected rows a direction at a time ([directions, stride_], zero padded), in half
    // precision when the CPU widens halves (AVX2, FMA, F16C), else in float; stride_ 0: exact.
    size_t stride_ = 0;
    std::vector<uint16_t> projected_half_;
    std::vector<float> projected_;
};

}  // namespace lookbook
