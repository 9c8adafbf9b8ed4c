#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

// The k rows of a float matrix with the largest dot product with a query: the exact scans of
// the recommenders (ALS, profile similarity, two-tower), one query against every article.
//
// The float rows of a catalog of tens of thousands of articles do not fit in the cache, so a
// scan is bound by memory reads. RowScan keeps a second copy of the rows in IEEE half precision
// and reads that one first (half the bytes). A half value differs from its float by at most
// 2^-11 of it, so each approximate score lies within a bound computed from the row's norm and
// the query's; every row whose bound reaches the k-th best lower bound is scored again from the
// float rows with lookbook::dot. The answer (ids, order and scores, bit for bit) is the one a
// scan of every row with dot_rows followed by a full top-k gives; only the work differs.
//
// Without AVX2, FMA and F16C (checked once at run time), or when a value does not fit a half
// (|x| > 65,504, or not finite), every row is scored in float.
namespace lookbook {

class RowScan {
  public:
    // `rows` row-major [count, dim]. `ids` (empty: 0 .. count-1) names each row in answers and
    // in `skip`; they must ascend.
    RowScan(std::vector<float> rows, size_t dim, std::vector<uint32_t> ids = {});

    size_t size() const { return count_; }
    size_t dim() const { return dim_; }
    // Whether top() reads the half copy first (false: every row is scored in float).
    bool uses_half() const { return !half_.empty(); }
    std::span<const float> row(size_t index) const { return {rows_.data() + index * dim_, dim_}; }

    // The k rows with the largest dot(row, query) as (id, score), best first, ties to the lower
    // id. Ids in `skip` (ascending) are left out, and so are scores <= 0 when `positive_only`.
    // `query` holds dim() floats. Thread-safe.
    std::vector<std::pair<uint32_t, float>> top(const float* query,
                                                size_t k,
                                                std::span<const uint32_t> skip = {},
                                                bool positive_only = true) const;

    // The same answer from float scores of every row (the reference the tests compare with).
    std::vector<std::pair<uint32_t, float>> top_exact(const float* query,
                                                      size_t k,
                                                      std::span<const uint32_t> skip = {},
                                                      bool positive_only = true) const;

    // Rows scored in float by the last top() on this thread (for tests and benchmarks).
    static size_t last_rescored();
    static void reset_rescored();
    // Benchmarks only: false makes every top() in the process score all rows in float (the
    // path before the half copy existed), to compare the two on the same models.
    static void set_half_pass(bool enabled);

  private:
    size_t count_ = 0;
    size_t dim_ = 0;
    size_t padded_dim_ = 0;       // dim_ rounded up to 8, the half rows' stride
    std::vector<float> rows_;     // [count_, dim_]
    std::vector<uint32_t> ids_;   // [count_]
    std::vector<uint16_t> half_;  // [count_, padded_dim_], zero padded; empty: float only
    std::vector<float> norms_;    // [count_] Euclidean norm of each float row
};

}  // namespace lookbook
