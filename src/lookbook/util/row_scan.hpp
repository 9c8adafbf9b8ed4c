#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
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
// The rows are kept in decreasing norm, and a scan stops at the first block whose longest
// row cannot reach the k-th best lower bound even if it pointed along the query (its score is
// at most |query| |row|, plus the float rounding): on ALS factors, where popular articles
// have the long vectors, most rows are never read. Unit rows (profile, two-tower) are all read.
//
// Without AVX2, FMA and F16C (checked once at run time), or when a value does not fit a half
// (|x| > 65,504, or not finite), every row is scored in float.
//
// Several queries can share one pass (top_many): each block of half rows is read from memory
// once and scored for every query while it sits in the core's cache, with the kernel top() uses,
// so each answer is the one top() gives. RowScanBatcher gathers the queries of concurrent callers
// into such passes.
namespace lookbook {

// One query of RowScan::top_many(); the arguments of top(). `query` and `skip` are borrowed.
struct ScanQuery {
    const float* query = nullptr;
    size_t k = 0;
    std::span<const uint32_t> skip;
    bool positive_only = true;
};

class RowScan {
  public:
    // `rows` row-major [count, dim]. `ids` (empty: 0 .. count-1) names each row in answers and
    // in `skip`; they must ascend.
    RowScan(std::vector<float> rows, size_t dim, std::vector<uint32_t> ids = {});

    size_t size() const { return count_; }
    size_t dim() const { return dim_; }
    // Whether top() reads the half copy first (false: every row is scored in float).
    bool uses_half() const { return !half_.empty(); }

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

    // top() of each query, answers in the same order, each identical to top()'s: each block of
    // half rows is read from memory once for all the queries instead of once per query. When
    // `rescored` is not empty (one entry per query) it receives each query's rows scored in
    // float.
    std::vector<std::vector<std::pair<uint32_t, float>>> top_many(
        std::span<const ScanQuery> queries, std::span<size_t> rescored = {}) const;

    // Rows scored in float by the last top() on this thread (for tests and benchmarks); after
    // top_many(), the sum over its queries.
    static size_t last_rescored();
    static void reset_rescored();
    // Benchmarks only: false makes every top() in the process score all rows in float (the
    // path before the half copy existed), to compare the two on the same models.
    static void set_half_pass(bool enabled);

  private:
    struct Pass;  // one query's first pass: its bounds, threshold and surviving rows
    bool start_pass(const ScanQuery& query, Pass* pass) const;
    bool pass_done(const Pass& pass, size_t begin) const;
    void consider_block(Pass* pass, size_t begin, size_t block, const float* approximate) const;
    std::vector<std::pair<uint32_t, float>> finish_pass(const Pass& pass, size_t* rescored) const;

    size_t count_ = 0;
    size_t dim_ = 0;
    size_t padded_dim_ = 0;  // dim_ rounded up to 8, the half rows' stride
    // Rows in decreasing norm (a scan stops once the rest cannot reach the k best), each with
    // its id.
    std::vector<float> rows_;     // [count_, dim_]
    std::vector<uint32_t> ids_;   // [count_]
    std::vector<uint16_t> half_;  // [count_, padded_dim_], zero padded; empty: float only
    std::vector<float> norms_;    // [count_] Euclidean norm of each float row
};

// Answers top() for many threads at once by scanning their queries together: a caller that
// finds no scan running takes every query waiting (up to `max_batch`) and runs top_many() for
// them, the others wait for their answer, and the next waiting caller scans the queries that
// arrived meanwhile. Alone, a caller scans at once. A server with more requests in flight than
// cores (the web server runs 64 threads on 2) thus reads the article vectors once for several
// customers. The answers are top()'s, bit for bit. `scan` is borrowed and must outlive this.
class RowScanBatcher {
  public:
    explicit RowScanBatcher(const RowScan& scan, size_t max_batch = 16);
    RowScanBatcher(const RowScanBatcher&) = delete;
    RowScanBatcher& operator=(const RowScanBatcher&) = delete;

    const RowScan& scan() const { return scan_; }
    // RowScan::top(), answered from a shared pass. Thread-safe; blocks while another caller's
    // pass runs. last_rescored() afterwards gives this query's own count.
    std::vector<std::pair<uint32_t, float>> top(const float* query,
                                                size_t k,
                                                std::span<const uint32_t> skip = {},
                                                bool positive_only = true) const;

    // Queries answered and passes run so far (for tests and benchmarks).
    size_t queries() const;
    size_t passes() const;
    // Benchmarks only: false makes every batcher in the process answer each caller with its
    // own RowScan::top() (the path before batching), to compare the two in one binary.
    static void set_batching(bool enabled);

  private:
    struct Waiter;

    const RowScan& scan_;
    size_t max_batch_;
    mutable std::mutex mutex_;
    mutable std::vector<Waiter*> waiting_;  // oldest first
    mutable bool scanning_ = false;
    mutable size_t queries_ = 0;
    mutable size_t passes_ = 0;
};

}  // namespace lookbook
