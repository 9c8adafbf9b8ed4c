#include "lookbook/util/row_scan.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <limits>
#include <queue>

#include "lookbook/util/assert.hpp"
#include "lookbook/util/dot.hpp"
#include "lookbook/util/fifo_gate.hpp"
#include "lookbook/util/half.hpp"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LOOKBOOK_ROW_SCAN_X86 1
#endif

namespace lookbook {
namespace {

thread_local size_t rescored_rows = 0;
std::atomic<bool> half_pass_enabled{true};
std::atomic<bool> batching_enabled{true};

// Rows of the first pass scored per block before their bounds are checked.
constexpr size_t kBlock = 256;
// The largest finite half.
constexpr float kHalfMax = 65504.0f;

// Best first, ties to the lower id: the order of top_scores in recommend/.
bool better(const std::pair<uint32_t, float>& a, const std::pair<uint32_t, float>& b) {
    return a.second > b.second || (a.second == b.second && a.first < b.first);
}

// The k best of (id, score) pairs, in place.
void keep_best(std::vector<std::pair<uint32_t, float>>* entries, size_t k) {
    if (entries->size() > k) {
        std::partial_sort(
            entries->begin(), entries->begin() + static_cast<ptrdiff_t>(k), entries->end(), better);
        entries->resize(k);
    } else {
        std::sort(entries->begin(), entries->end(), better);
    }
}

#ifdef LOOKBOOK_ROW_SCAN_X86
// Eight halves from `at`, widened to floats.
__attribute__((target("avx2,fma,f16c"), always_inline)) inline __m256 half8(const uint16_t* at) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(at)));
}

// out[r] = sum over d of half(rows[r, d]) * q[d], for `count` rows of stride `dim` (a multiple
// of 8). Four rows at a time, so each query load feeds four multiply-adds and the four sums
// are reduced together.
__attribute__((target("avx2,fma,f16c"))) void half_dot_rows(
    const uint16_t* rows, size_t count, size_t dim, const float* q, float* out) {
    size_t r = 0;
    for (; r + 4 <= count; r += 4) {
        const uint16_t* row = rows + r * dim;
        __m256 acc0 = _mm256_setzero_ps();
        __m256 acc1 = _mm256_setzero_ps();
        __m256 acc2 = _mm256_setzero_ps();
        __m256 acc3 = _mm256_setzero_ps();
        for (size_t d = 0; d < dim; d += 8) {
            const __m256 qv = _mm256_loadu_ps(q + d);
            acc0 = _mm256_fmadd_ps(half8(row + d), qv, acc0);
            acc1 = _mm256_fmadd_ps(half8(row + dim + d), qv, acc1);
            acc2 = _mm256_fmadd_ps(half8(row + 2 * dim + d), qv, acc2);
            acc3 = _mm256_fmadd_ps(half8(row + 3 * dim + d), qv, acc3);
        }
        // Per 128-bit lane: [sum0, sum1, sum2, sum3]; then the two lanes added.
        const __m256 pairs = _mm256_hadd_ps(_mm256_hadd_ps(acc0, acc1), _mm256_hadd_ps(acc2, acc3));
        _mm_storeu_ps(out + r,
                      _mm_add_ps(_mm256_castps256_ps128(pairs), _mm256_extractf128_ps(pairs, 1)));
    }
    for (; r < count; ++r) {
        const uint16_t* row = rows + r * dim;
        __m256 acc = _mm256_setzero_ps();
        for (size_t d = 0; d < dim; d += 8) {
            acc = _mm256_fmadd_ps(half8(row + d), _mm256_loadu_ps(q + d), acc);
        }
        __m128 sum = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
        sum = _mm_hadd_ps(sum, sum);
        sum = _mm_hadd_ps(sum, sum);
        out[r] = _mm_cvtss_f32(sum);
    }
}

// Writes to `out` the positions i < count whose upper bound approximate[i] + norms[i] *
// relative + absolute is not below `floor` (a NaN bound counts as reaching it); returns how
// many. Eight rows per comparison.
__attribute__((target("avx2,fma,f16c"))) size_t rows_reaching(const float* approximate,
                                                              const float* norms,
                                                              size_t count,
                                                              float relative,
                                                              float absolute,
                                                              float floor,
                                                              uint16_t* out) {
    const __m256 rel = _mm256_set1_ps(relative);
    const __m256 abs = _mm256_set1_ps(absolute);
    const __m256 low = _mm256_set1_ps(floor);
    size_t found = 0;
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        const __m256 upper = _mm256_add_ps(_mm256_loadu_ps(approximate + i),
                                           _mm256_fmadd_ps(_mm256_loadu_ps(norms + i), rel, abs));
        auto mask =
            static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(upper, low, _CMP_NLT_UQ)));
        while (mask != 0) {
            out[found++] = static_cast<uint16_t>(i + static_cast<size_t>(__builtin_ctz(mask)));
            mask &= mask - 1;
        }
    }
    for (; i < count; ++i) {
        if (!(approximate[i] + (norms[i] * relative + absolute) < floor)) {
            out[found++] = static_cast<uint16_t>(i);
        }
    }
    return found;
}
#else
size_t rows_reaching(const float*, const float*, size_t, float, float, float, uint16_t*) {
    return 0;
}
void half_dot_rows(const uint16_t*, size_t, size_t, const float*, float*) {}
#endif

// half_dot_rows() of each query over one block of rows: out[q][r] for q < query_count. The
// block (kBlock rows, 32 KB at 64 dimensions) is read from memory for the first query and from
// the core's cache for the others, and each score is the one half_dot_rows() gives alone. A
// kernel that widened each half row once for four queries at a time was slower than this on
// 64-dimensional rows (AVX2 has too few registers for its sixteen accumulators: 436 against 250
// us for four queries over the 24,717 H&M rows, ad-hoc micro-benchmark, stop 19).
void half_dot_rows_batch(const uint16_t* rows,
                         size_t count,
                         size_t dim,
                         const float* const* queries,
                         size_t query_count,
                         float* const* out) {
    for (size_t q = 0; q < query_count; ++q) {
        half_dot_rows(rows, count, dim, queries[q], out[q]);
    }
}

}  // namespace

size_t RowScan::last_rescored() { return rescored_rows; }

void RowScan::reset_rescored() { rescored_rows = 0; }

void RowScan::set_half_pass(bool enabled) { half_pass_enabled = enabled; }

RowScan::RowScan(std::vector<float> rows, size_t dim, std::vector<uint32_t> ids)
    : count_(dim == 0 ? 0 : rows.size() / dim),
      dim_(dim),
      padded_dim_((dim + 7) / 8 * 8),
      rows_(std::move(rows)),
      ids_(std::move(ids)) {
    LOOKBOOK_ASSERT(dim_ == 0 ? rows_.empty() : rows_.size() == count_ * dim_,
                    "the rows hold a whole number of rows");
    if (ids_.empty()) {
        ids_.resize(count_);
        for (size_t r = 0; r < count_; ++r) {
            ids_[r] = static_cast<uint32_t>(r);
        }
    }
    LOOKBOOK_ASSERT(ids_.size() == count_, "one id per row");
    LOOKBOOK_ASSERT(std::is_sorted(ids_.begin(), ids_.end()), "row ids ascend");
    std::vector<float> norms(count_);
    bool fits_half = true;
    for (size_t r = 0; r < count_; ++r) {
        double squares = 0;
        for (size_t d = 0; d < dim_; ++d) {
            const float value = rows_[r * dim_ + d];
            fits_half = fits_half && std::isfinite(value) && std::fabs(value) <= kHalfMax;
            squares += static_cast<double>(value) * value;
        }
        norms[r] = static_cast<float>(std::sqrt(squares));
    }
    // Rows in decreasing norm, so a scan can stop once no row left can reach the k best
    // (ALS factors: popular articles have the long vectors). Each row keeps its values and id,
    // so its scores are unchanged.
    std::vector<uint32_t> order(count_);
    for (size_t r = 0; r < count_; ++r) {
        order[r] = static_cast<uint32_t>(r);
    }
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
        return norms[a] > norms[b] || (std::isnan(norms[b]) && !std::isnan(norms[a]));
    });
    std::vector<float> sorted_rows(count_ * dim_);
    std::vector<uint32_t> sorted_ids(count_);
    norms_.resize(count_);
    for (size_t pos = 0; pos < count_; ++pos) {
        std::copy_n(rows_.data() + static_cast<size_t>(order[pos]) * dim_,
                    dim_,
                    sorted_rows.data() + pos * dim_);
        sorted_ids[pos] = ids_[order[pos]];
        norms_[pos] = norms[order[pos]];
    }
    rows_ = std::move(sorted_rows);
    ids_ = std::move(sorted_ids);
    if (fits_half && count_ > 0 && has_half_kernels()) {
        half_.assign(count_ * padded_dim_, 0);
        for (size_t r = 0; r < count_; ++r) {
            to_half(rows_.data() + r * dim_, dim_, half_.data() + r * padded_dim_);
        }
    }
}

std::vector<std::pair<uint32_t, float>> RowScan::top_exact(const float* query,
                                                           size_t k,
                                                           std::span<const uint32_t> skip,
                                                           bool positive_only) const {
    std::vector<float> scores(count_);
    dot_rows(rows_.data(), count_, dim_, query, scores.data());
    std::vector<std::pair<uint32_t, float>> out;
    for (size_t r = 0; r < count_; ++r) {
        if ((positive_only && scores[r] <= 0.0f) ||
            std::binary_search(skip.begin(), skip.end(), ids_[r])) {
            continue;
        }
        out.emplace_back(ids_[r], scores[r]);
    }
    keep_best(&out, k);
    rescored_rows = count_;
    return out;
}

struct RowScan::Pass {
    ScanQuery query;
    std::vector<float> padded;  // the query, zero padded to padded_dim_
    float relative = 0;         // the error bound of a row: norm * relative + absolute
    float absolute = 0;
    // Min-heap of the k largest lower bounds seen: its top only rises, so a row whose upper
    // bound falls below it can never be among the k best.
    std::priority_queue<float, std::vector<float>, std::greater<>> lower_bounds;
    float threshold = -INFINITY;
    std::vector<std::pair<uint32_t, float>> maybe;  // (row, upper bound) to score in float
    // No float score of a row exceeds its norm times this (Cauchy-Schwarz plus rounding).
    float ceiling = INFINITY;
};

bool RowScan::pass_done(const Pass& pass, size_t begin) const {
    // Rows are in decreasing norm: none from `begin` on can score above the threshold.
    return pass.lower_bounds.size() == pass.query.k && pass.threshold > 0.0f &&
           pass.threshold > pass.ceiling * norms_[begin];
}

bool RowScan::start_pass(const ScanQuery& query, Pass* pass) const {
    double query_squares = 0;
    for (size_t d = 0; d < dim_; ++d) {
        query_squares += static_cast<double>(query.query[d]) * query.query[d];
    }
    const double query_norm = std::sqrt(query_squares);
    if (half_.empty() || !std::isfinite(query_norm) || !half_pass_enabled) {
        return false;
    }
    // |approximate - float score| <= query_norm * (row_norm * relative + absolute): a half is
    // within 2^-11 of its value (2^-25 absolute below the normal range), and either sum of
    // dim products rounds by at most dim * 2^-24 of the sum of their magnitudes. Both terms
    // are doubled as a margin for the rounding of the bound itself.
    const auto n = static_cast<double>(dim_);
    pass->query = query;
    pass->relative = static_cast<float>(query_norm * 2.0 *
                                        (std::ldexp(1.0, -11) + 2.0 * n * std::ldexp(1.0, -24)));
    pass->absolute = static_cast<float>(query_norm * 2.0 * std::sqrt(n) * std::ldexp(1.0, -25));
    // A float dot product is within dim * 2^-24 * sum |q_d r_d| <= dim * 2^-24 * |q| |r| of
    // the exact one; the norms and this product round by 2^-24 each: margins of 4 times both.
    pass->ceiling = static_cast<float>(
        query_norm * (1.0 + 4.0 * n * std::ldexp(1.0, -24) + std::ldexp(1.0, -20)));
    pass->padded.assign(padded_dim_, 0.0f);
    std::copy(query.query, query.query + dim_, pass->padded.begin());
    return true;
}

void RowScan::consider_block(Pass* pass,
                             size_t begin,
                             size_t block,
                             const float* approximate) const {
    // The rows whose upper bound reaches the threshold as it stood at the block's start (few,
    // once k lower bounds are in), then each against the threshold as it rises.
    const float floor = pass->query.positive_only
                            ? std::max(pass->threshold, std::numeric_limits<float>::denorm_min())
                            : pass->threshold;
    const float* norms = norms_.data() + begin;
    uint16_t positions[kBlock];
    const size_t reaching =
        rows_reaching(approximate, norms, block, pass->relative, pass->absolute, floor, positions);
    const std::span<const uint32_t> skip = pass->query.skip;
    for (size_t j = 0; j < reaching; ++j) {
        const size_t i = positions[j];
        const float bound = norms[i] * pass->relative + pass->absolute;
        const float upper = approximate[i] + bound;
        if (upper < pass->threshold) {
            continue;
        }
        const size_t r = begin + i;
        if (std::binary_search(skip.begin(), skip.end(), ids_[r])) {
            continue;
        }
        pass->maybe.emplace_back(static_cast<uint32_t>(r), upper);
        const float lower = approximate[i] - bound;
        auto& lower_bounds = pass->lower_bounds;
        if (lower_bounds.size() < pass->query.k) {
            lower_bounds.push(lower);
        } else if (lower > lower_bounds.top()) {
            lower_bounds.pop();
            lower_bounds.push(lower);
        }
        if (lower_bounds.size() == pass->query.k) {
            pass->threshold = lower_bounds.top();
        }
    }
}

std::vector<std::pair<uint32_t, float>> RowScan::finish_pass(const Pass& pass,
                                                             size_t* rescored) const {
    // Score the survivors in float, as dot_rows would, and rank them. Rows kept before the
    // threshold rose to its final value are dropped here if it has passed them.
    std::vector<std::pair<uint32_t, float>> out;
    const float* query = pass.query.query;
    for (auto [r, upper] : pass.maybe) {
        if (upper < pass.threshold) {
            continue;
        }
        ++*rescored;
        const float score = dot(rows_.data() + static_cast<size_t>(r) * dim_, query, dim_);
        if (!(pass.query.positive_only && score <= 0.0f)) {
            out.emplace_back(ids_[r], score);
        }
    }
    keep_best(&out, pass.query.k);
    return out;
}

std::vector<std::pair<uint32_t, float>> RowScan::top(const float* query,
                                                     size_t k,
                                                     std::span<const uint32_t> skip,
                                                     bool positive_only) const {
    if (k == 0 || count_ == 0) {
        rescored_rows = 0;
        return {};
    }
    Pass pass;
    if (!start_pass(ScanQuery{query, k, skip, positive_only}, &pass)) {
        return top_exact(query, k, skip, positive_only);
    }
    float approximate[kBlock];
    for (size_t begin = 0; begin < count_ && !pass_done(pass, begin); begin += kBlock) {
        const size_t block = std::min(kBlock, count_ - begin);
        half_dot_rows(half_.data() + begin * padded_dim_,
                      block,
                      padded_dim_,
                      pass.padded.data(),
                      approximate);
        consider_block(&pass, begin, block, approximate);
    }
    size_t rescored = 0;
    auto out = finish_pass(pass, &rescored);
    rescored_rows = rescored;
    return out;
}

std::vector<std::vector<std::pair<uint32_t, float>>> RowScan::top_many(
    std::span<const ScanQuery> queries, std::span<size_t> rescored) const {
    LOOKBOOK_ASSERT(rescored.empty() || rescored.size() == queries.size(),
                    "one rescored count per query");
    std::vector<std::vector<std::pair<uint32_t, float>>> answers(queries.size());
    std::vector<size_t> counts(queries.size(), 0);
    // Queries that take the half pass; the others are answered here as top() answers them.
    std::vector<Pass> passes;
    std::vector<size_t> answer_of;
    passes.reserve(queries.size());
    for (size_t q = 0; q < queries.size(); ++q) {
        const ScanQuery& query = queries[q];
        if (query.k == 0 || count_ == 0) {
            continue;
        }
        passes.emplace_back();
        if (start_pass(query, &passes.back())) {
            answer_of.push_back(q);
        } else {
            passes.pop_back();
            answers[q] = top_exact(query.query, query.k, query.skip, query.positive_only);
            counts[q] = rescored_rows;
        }
    }
    // The passes still scanning, with their padded queries and score rows; a pass leaves when
    // no row left can reach its k best, at the block where top() would stop.
    std::vector<size_t> active;
    std::vector<const float*> padded;
    std::vector<float> approximate(passes.size() * kBlock);
    std::vector<float*> out;
    for (size_t begin = 0; begin < count_; begin += kBlock) {
        active.clear();
        for (size_t p = 0; p < passes.size(); ++p) {
            if (!pass_done(passes[p], begin)) {
                active.push_back(p);
            }
        }
        if (active.empty()) {
            break;
        }
        padded.clear();
        out.clear();
        for (size_t p : active) {
            padded.push_back(passes[p].padded.data());
            out.push_back(approximate.data() + p * kBlock);
        }
        const size_t block = std::min(kBlock, count_ - begin);
        half_dot_rows_batch(half_.data() + begin * padded_dim_,
                            block,
                            padded_dim_,
                            padded.data(),
                            active.size(),
                            out.data());
        for (size_t p : active) {
            consider_block(&passes[p], begin, block, approximate.data() + p * kBlock);
        }
    }
    for (size_t p = 0; p < passes.size(); ++p) {
        answers[answer_of[p]] = finish_pass(passes[p], &counts[answer_of[p]]);
    }
    size_t total = 0;
    for (size_t q = 0; q < queries.size(); ++q) {
        total += counts[q];
        if (!rescored.empty()) {
            rescored[q] = counts[q];
        }
    }
    rescored_rows = total;
    return answers;
}

struct RowScanBatcher::Waiter {
    ScanQuery query;
    std::vector<std::pair<uint32_t, float>> answer;
    size_t rescored = 0;
    bool done = false;
    std::condition_variable wake;
};

RowScanBatcher::RowScanBatcher(const RowScan& scan, size_t max_batch)
    : scan_(scan), max_batch_(std::max<size_t>(1, max_batch)) {}

std::vector<std::pair<uint32_t, float>> RowScanBatcher::top(const float* query,
                                                            size_t k,
                                                            std::span<const uint32_t> skip,
                                                            bool positive_only) const {
    if (!batching_enabled.load(std::memory_order_relaxed)) {
        return scan_.top(query, k, skip, positive_only);
    }
    Waiter self;
    self.query = ScanQuery{query, k, skip, positive_only};
    std::unique_lock lock(mutex_);
    waiting_.push_back(&self);
    // A caller that has to wait for another's pass lends its compute slot, if the server gave
    // it one (FifoGate), to a queued request meanwhile, so that the slots keep computing and
    // more queries gather for the next pass; it takes a slot back, without holding mutex_
    // (the other slots' holders may need it to lend theirs), before it goes on.
    FifoGate::Lend lend;
    while (true) {
        if (scanning_ && !self.done) {
            lend.start();
        }
        // Woken with the answer, or because no pass runs and this query still waits.
        self.wake.wait(lock, [&] { return self.done || !scanning_; });
        if (self.done) {
            rescored_rows = self.rescored;
            lock.unlock();
            lend.finish();
            return std::move(self.answer);
        }
        // No pass runs: this caller scans the oldest waiting queries, its own among them
        // unless more than max_batch_ came first (it then scans again, or is answered).
        scanning_ = true;
        const size_t take = std::min(max_batch_, waiting_.size());
        std::vector<Waiter*> batch(waiting_.begin(),
                                   waiting_.begin() + static_cast<ptrdiff_t>(take));
        waiting_.erase(waiting_.begin(), waiting_.begin() + static_cast<ptrdiff_t>(take));
        ++passes_;
        queries_ += take;
        lock.unlock();
        lend.finish();

        std::vector<ScanQuery> queries;
        queries.reserve(batch.size());
        for (const Waiter* waiter : batch) {
            queries.push_back(waiter->query);
        }
        std::vector<size_t> rescored(batch.size());
        try {
            auto answers = scan_.top_many(queries, rescored);
            for (size_t i = 0; i < batch.size(); ++i) {
                batch[i]->answer = std::move(answers[i]);
                batch[i]->rescored = rescored[i];
            }
        } catch (...) {
            // Out of memory: the other queries wait again, first in line, and this caller's
            // request fails alone.
            lock.lock();
            scanning_ = false;
            std::erase(batch, &self);
            waiting_.insert(waiting_.begin(), batch.begin(), batch.end());
            std::erase(waiting_, &self);
            if (!waiting_.empty()) {
                waiting_.front()->wake.notify_one();
            }
            throw;
        }

        lock.lock();
        scanning_ = false;
        for (Waiter* waiter : batch) {
            waiter->done = true;
            if (waiter != &self) {
                waiter->wake.notify_one();
            }
        }
        // The oldest query left waiting runs the next pass (unless a new caller does first).
        if (!waiting_.empty()) {
            waiting_.front()->wake.notify_one();
        }
    }
}

void RowScanBatcher::set_batching(bool enabled) { batching_enabled = enabled; }

size_t RowScanBatcher::queries() const {
    std::lock_guard lock(mutex_);
    return queries_;
}

size_t RowScanBatcher::passes() const {
    std::lock_guard lock(mutex_);
    return passes_;
}

}  // namespace lookbook
