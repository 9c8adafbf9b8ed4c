#include "lookbook/util/row_scan.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <limits>
#include <queue>

#include "lookbook/util/assert.hpp"
#include "lookbook/util/dot.hpp"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LOOKBOOK_ROW_SCAN_X86 1
#endif

namespace lookbook {
namespace {

thread_local size_t rescored_rows = 0;
std::atomic<bool> half_pass_enabled{true};

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
bool has_half_kernels() {
    static const bool supported = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                                  __builtin_cpu_supports("f16c");
    return supported;
}

__attribute__((target("avx2,fma,f16c"))) void to_half(const float* in, size_t n, uint16_t* out) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), h);
    }
    for (; i < n; ++i) {
        out[i] = _cvtss_sh(in[i], _MM_FROUND_TO_NEAREST_INT);
    }
}

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
bool has_half_kernels() { return false; }
size_t rows_reaching(const float*, const float*, size_t, float, float, float, uint16_t*) {
    return 0;
}
void to_half(const float*, size_t, uint16_t*) {}
void half_dot_rows(const uint16_t*, size_t, size_t, const float*, float*) {}
#endif

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
    norms_.resize(count_);
    bool fits_half = true;
    for (size_t r = 0; r < count_; ++r) {
        double squares = 0;
        for (float value : row(r)) {
            fits_half = fits_half && std::isfinite(value) && std::fabs(value) <= kHalfMax;
            squares += static_cast<double>(value) * value;
        }
        norms_[r] = static_cast<float>(std::sqrt(squares));
    }
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
    size_t skip_pos = 0;
    for (size_t r = 0; r < count_; ++r) {
        while (skip_pos < skip.size() && skip[skip_pos] < ids_[r]) {
            ++skip_pos;
        }
        if ((skip_pos < skip.size() && skip[skip_pos] == ids_[r]) ||
            (positive_only && scores[r] <= 0.0f)) {
            continue;
        }
        out.emplace_back(ids_[r], scores[r]);
    }
    keep_best(&out, k);
    rescored_rows = count_;
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
    double query_squares = 0;
    for (size_t d = 0; d < dim_; ++d) {
        query_squares += static_cast<double>(query[d]) * query[d];
    }
    const double query_norm = std::sqrt(query_squares);
    if (half_.empty() || !std::isfinite(query_norm) || !half_pass_enabled) {
        return top_exact(query, k, skip, positive_only);
    }
    // |approximate - float score| <= query_norm * (row_norm * relative + absolute): a half is
    // within 2^-11 of its value (2^-25 absolute below the normal range), and either sum of
    // dim products rounds by at most dim * 2^-24 of the sum of their magnitudes. Both terms
    // are doubled as a margin for the rounding of the bound itself.
    const auto n = static_cast<double>(dim_);
    const auto relative = static_cast<float>(
        query_norm * 2.0 * (std::ldexp(1.0, -11) + 2.0 * n * std::ldexp(1.0, -24)));
    const auto absolute =
        static_cast<float>(query_norm * 2.0 * std::sqrt(n) * std::ldexp(1.0, -25));

    std::vector<float> padded(padded_dim_, 0.0f);
    std::copy(query, query + dim_, padded.begin());
    // Min-heap of the k largest lower bounds seen: its top only rises, so a row whose upper
    // bound falls below it can never be among the k best.
    std::priority_queue<float, std::vector<float>, std::greater<>> lower_bounds;
    float threshold = -INFINITY;
    std::vector<std::pair<uint32_t, float>> maybe;  // (row, upper bound) to score in float
    float approximate[kBlock];
    uint16_t positions[kBlock];
    for (size_t begin = 0; begin < count_; begin += kBlock) {
        const size_t block = std::min(kBlock, count_ - begin);
        half_dot_rows(
            half_.data() + begin * padded_dim_, block, padded_dim_, padded.data(), approximate);
        // The rows whose upper bound reaches the threshold as it stood at the block's start
        // (few, once k lower bounds are in), then each against the threshold as it rises.
        const float floor = positive_only
                                ? std::max(threshold, std::numeric_limits<float>::denorm_min())
                                : threshold;
        const float* norms = norms_.data() + begin;
        const size_t reaching =
            rows_reaching(approximate, norms, block, relative, absolute, floor, positions);
        for (size_t j = 0; j < reaching; ++j) {
            const size_t i = positions[j];
            const float bound = norms[i] * relative + absolute;
            const float upper = approximate[i] + bound;
            if (upper < threshold) {
                continue;
            }
            const size_t r = begin + i;
            if (std::binary_search(skip.begin(), skip.end(), ids_[r])) {
                continue;
            }
            maybe.emplace_back(static_cast<uint32_t>(r), upper);
            const float lower = approximate[i] - bound;
            if (lower_bounds.size() < k) {
                lower_bounds.push(lower);
            } else if (lower > lower_bounds.top()) {
                lower_bounds.pop();
                lower_bounds.push(lower);
            }
            if (lower_bounds.size() == k) {
                threshold = lower_bounds.top();
            }
        }
    }
    // Score the survivors in float, as dot_rows would, and rank them. Rows kept before the
    // threshold rose to its final value are dropped here if it has passed them.
    std::vector<std::pair<uint32_t, float>> out;
    size_t rescored = 0;
    for (auto [r, upper] : maybe) {
        if (upper < threshold) {
            continue;
        }
        ++rescored;
        const float score = dot(rows_.data() + static_cast<size_t>(r) * dim_, query, dim_);
        if (!(positive_only && score <= 0.0f)) {
            out.emplace_back(ids_[r], score);
        }
    }
    rescored_rows = rescored;
    keep_best(&out, k);
    return out;
}

}  // namespace lookbook
