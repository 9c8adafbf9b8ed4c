#include "lookbook/recommend/projected_search.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>

#include "lookbook/util/assert.hpp"
#include "lookbook/util/dot.hpp"
#include "lookbook/util/half.hpp"
#include "lookbook/util/log.hpp"
#include "lookbook/util/row_graph.hpp"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LOOKBOOK_PROJECTED_X86 1
#endif

namespace lookbook {
namespace {

bool better(const std::pair<uint32_t, float>& a, const std::pair<uint32_t, float>& b) {
    return a.second > b.second || (a.second == b.second && a.first < b.first);
}

// Articles scored per chunk: the chunk's sums (4 KB) stay in the first-level cache while every
// direction adds to them.
constexpr size_t kChunk = 1024;

// out[r] = sum over d of query[d] * values[d * stride + r] for r < stride: the projected rows
// are stored a direction at a time, so each step is a multiply-add over contiguous memory.
void projected_scores_float(
    const float* values, size_t directions, size_t stride, const float* query, float* out) {
    for (size_t begin = 0; begin < stride; begin += kChunk) {
        const size_t length = std::min(stride, begin + kChunk) - begin;
        float* sums = out + begin;
        std::fill(sums, sums + length, 0.0f);
        for (size_t d = 0; d < directions; ++d) {
            const float weight = query[d];
            const float* column = values + d * stride + begin;
            for (size_t r = 0; r < length; ++r) {
                sums[r] += weight * column[r];
            }
        }
    }
}

#ifdef LOOKBOOK_PROJECTED_X86
// projected_scores_float() from half-precision values; `stride` is a multiple of 8.
__attribute__((target("avx2,fma,f16c"))) void projected_scores_half(
    const uint16_t* values, size_t directions, size_t stride, const float* query, float* out) {
    for (size_t begin = 0; begin < stride; begin += kChunk) {
        const size_t length = std::min(stride, begin + kChunk) - begin;
        float* sums = out + begin;
        std::fill(sums, sums + length, 0.0f);
        for (size_t d = 0; d < directions; ++d) {
            const __m256 weight = _mm256_set1_ps(query[d]);
            const uint16_t* column = values + d * stride + begin;
            for (size_t r = 0; r < length; r += 8) {
                const __m256 widened =
                    _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(column + r)));
                _mm256_storeu_ps(sums + r,
                                 _mm256_fmadd_ps(weight, widened, _mm256_loadu_ps(sums + r)));
            }
        }
    }
}
#else
void projected_scores_half(const uint16_t*, size_t, size_t, const float*, float*) {}
#endif

// The positions of the `wanted` largest of the first `count` scores (ties to the lower
// position), in no order. A threshold is guessed from every 16th score, so only the scores
// above it are ranked; when the guess lets too few through, every score is.
std::vector<uint32_t> largest(const std::vector<float>& scores, size_t count, size_t wanted) {
    wanted = std::min(wanted, count);
    std::vector<uint32_t> picked;
    if (wanted == 0) {
        return picked;
    }
    constexpr size_t kStride = 16;
    float threshold = -INFINITY;
    if (wanted * 4 < count && count >= 4 * kStride) {
        std::vector<float> sample;
        sample.reserve(count / kStride + 1);
        for (size_t r = 0; r < count; r += kStride) {
            sample.push_back(scores[r]);
        }
        // Half as many again as the sample's share, so that enough usually pass.
        const size_t rank = std::min(sample.size() - 1, wanted * 3 / 2 / kStride + 1);
        std::nth_element(sample.begin(),
                         sample.begin() + static_cast<ptrdiff_t>(rank),
                         sample.end(),
                         std::greater<>());
        threshold = sample[rank];
    }
    picked.reserve(std::min(count, wanted * 2));
    for (uint32_t r = 0; r < count; ++r) {
        if (scores[r] >= threshold) {
            picked.push_back(r);
        }
    }
    if (picked.size() < wanted) {
        picked.resize(count);
        for (uint32_t r = 0; r < count; ++r) {
            picked[r] = r;
        }
    }
    std::nth_element(picked.begin(),
                     picked.begin() + static_cast<ptrdiff_t>(wanted),
                     picked.end(),
                     [&](uint32_t a, uint32_t b) {
                         return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
                     });
    picked.resize(wanted);
    return picked;
}

}  // namespace

ProjectedRowSearch::ProjectedRowSearch(std::vector<float> rows,
                                       size_t dim,
                                       std::vector<uint32_t> ids,
                                       const ProjectedSearchParams& params)
    : dim_(dim), params_(params), rows_(std::move(rows)), ids_(std::move(ids)) {
    const size_t count = dim_ == 0 ? 0 : rows_.size() / dim_;
    LOOKBOOK_ASSERT(dim_ > 0 && rows_.size() == count * dim_, "rows hold whole rows of dim floats");
    if (ids_.empty()) {
        ids_.resize(count);
        for (size_t r = 0; r < count; ++r) {
            ids_[r] = static_cast<uint32_t>(r);
        }
    }
    LOOKBOOK_ASSERT(ids_.size() == count, "one id per row");
    LOOKBOOK_ASSERT(std::is_sorted(ids_.begin(), ids_.end()), "row ids ascend");
    full_ = std::make_unique<RowScan>(rows_, dim_, ids_);
    full_batcher_ = std::make_unique<RowScanBatcher>(*full_);

    const size_t directions = params_.directions;
    const bool finite =
        std::all_of(rows_.begin(), rows_.end(), [](float v) { return std::isfinite(v); });
    if (directions == 0 || directions >= dim_ || count < RowSearch::kMinGraphRows ||
        !RowSearch::approximate() || !finite) {
        return;
    }
    const auto start = std::chrono::steady_clock::now();
    // Second-moment matrix of (a sample of) the rows; its eigenvectors of largest eigenvalue
    // are the directions that carry most of sum_r (q . r)^2 for queries like the rows.
    const size_t sample = std::min(count, std::max<size_t>(params_.sample_rows, 1));
    Eigen::MatrixXf picked(static_cast<Eigen::Index>(sample), static_cast<Eigen::Index>(dim_));
    for (size_t s = 0; s < sample; ++s) {
        const size_t r = s * count / sample;
        picked.row(static_cast<Eigen::Index>(s)) = Eigen::Map<const Eigen::RowVectorXf>(
            rows_.data() + r * dim_, static_cast<Eigen::Index>(dim_));
    }
    const Eigen::MatrixXd moment = (picked.transpose() * picked).cast<double>();
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(moment);
    if (solver.info() != Eigen::Success) {
        log::warn(
            "profile search: the rows' main directions could not be computed; every query "
            "scans the whole rows");
        return;
    }
    // Eigenvalues ascend: the last columns are the main directions, largest first here.
    basis_ = solver.eigenvectors()
                 .rightCols(static_cast<Eigen::Index>(directions))
                 .rowwise()
                 .reverse()
                 .transpose()
                 .cast<float>();
    // Direction-major, each direction's row padded to a multiple of 8 articles.
    stride_ = (count + 7) / 8 * 8;
    std::vector<float> projected(directions * stride_, 0.0f);
    using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    Eigen::Map<RowMajor, 0, Eigen::OuterStride<>>(
        projected.data(),
        static_cast<Eigen::Index>(directions),
        static_cast<Eigen::Index>(count),
        Eigen::OuterStride<>(static_cast<Eigen::Index>(stride_))) =
        basis_ * Eigen::Map<const Eigen::MatrixXf>(rows_.data(),
                                                   static_cast<Eigen::Index>(dim_),
                                                   static_cast<Eigen::Index>(count));
    // Half precision holds magnitudes up to 65,504 (unit content vectors project to at most 1);
    // larger values stay in float, as RowScan does.
    const bool fits_half = std::all_of(
        projected.begin(), projected.end(), [](float v) { return std::fabs(v) <= 65504.0f; });
    if (has_half_kernels() && fits_half) {
        projected_half_.resize(projected.size());  // half the bytes to read per query
        to_half(projected.data(), projected.size(), projected_half_.data());
    } else {
        projected_ = std::move(projected);
    }
    const double total = solver.eigenvalues().sum();
    const double kept = solver.eigenvalues().tail(static_cast<Eigen::Index>(directions)).sum();
    log::info(
        "profile search: {} rows of {} values through their {} main directions ({:.1f}% of the "
        "rows' second moment) in {:.2f} s",
        count,
        dim_,
        directions,
        total > 0 ? 100.0 * kept / total : 0.0,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

std::vector<std::pair<uint32_t, float>> ProjectedRowSearch::top_exact(
    const float* query, size_t k, std::span<const uint32_t> skip, bool positive_only) const {
    return full_batcher_->top(query, k, skip, positive_only);
}

std::vector<std::pair<uint32_t, float>> ProjectedRowSearch::top(const float* query,
                                                                size_t k,
                                                                std::span<const uint32_t> skip,
                                                                bool positive_only) const {
    if (stride_ == 0 || !RowSearch::approximate() ||
        !std::all_of(query, query + dim_, [](float v) { return std::isfinite(v); })) {
        return top_exact(query, k, skip, positive_only);
    }
    std::vector<std::pair<uint32_t, float>> out;
    if (k == 0) {
        return out;
    }
    const size_t count = ids_.size();
    const size_t directions = static_cast<size_t>(basis_.rows());
    const Eigen::VectorXf projected_query =
        basis_ * Eigen::Map<const Eigen::VectorXf>(query, static_cast<Eigen::Index>(dim_));
    // Every row's projected score, then the best: as many as asked for plus the skipped ids,
    // which may be among them.
    std::vector<float> scores(stride_);
    if (!projected_half_.empty()) {
        projected_scores_half(
            projected_half_.data(), directions, stride_, projected_query.data(), scores.data());
    } else {
        projected_scores_float(
            projected_.data(), directions, stride_, projected_query.data(), scores.data());
    }
    const size_t wanted =
        std::max(k * params_.candidates_per_k, params_.min_candidates) + skip.size();
    // Scored again on the whole rows, as RowScan scores them. Projected scores may be <= 0
    // where whole ones are not, so the positive filter comes after.
    for (const uint32_t r : largest(scores, count, wanted)) {
        const uint32_t id = ids_[r];
        if (std::binary_search(skip.begin(), skip.end(), id)) {
            continue;
        }
        const float score = dot(rows_.data() + static_cast<size_t>(r) * dim_, query, dim_);
        if (!positive_only || score > 0.0f) {
            out.emplace_back(id, score);
        }
    }
    const size_t length = std::min(k, out.size());
    std::partial_sort(out.begin(), out.begin() + static_cast<ptrdiff_t>(length), out.end(), better);
    out.resize(length);
    return out;
}

}  // namespace lookbook
