#include "lookbook/index/dot.hpp"

#include <immintrin.h>

namespace lookbook::vector_kernels {
namespace {

float dot_scalar(const float* a, const float* b, size_t dim) {
    // Four accumulators let the compiler vectorise with SSE even without -ffast-math.
    float acc[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= dim; i += 4) {
        for (size_t lane = 0; lane < 4; ++lane) {
            acc[lane] += a[i + lane] * b[i + lane];
        }
    }
    float sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (; i < dim; ++i) {
        sum += a[i] * b[i];
    }
    return sum;
}

__attribute__((target("avx2,fma"))) float horizontal_sum(__m256 v) {
    const __m128 low = _mm256_castps256_ps128(v);
    const __m128 high = _mm256_extractf128_ps(v, 1);
    __m128 sum = _mm_add_ps(low, high);
    sum = _mm_hadd_ps(sum, sum);
    sum = _mm_hadd_ps(sum, sum);
    return _mm_cvtss_f32(sum);
}

// Two independent 8-lane accumulators hide the FMA latency; 16 floats per step.
__attribute__((target("avx2,fma"))) float dot_avx2(const float* a, const float* b, size_t dim) {
    __m256 acc0 = _mm256_setzero_ps();
    __m256 acc1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= dim; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    for (; i + 8 <= dim; i += 8) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    }
    float sum = horizontal_sum(_mm256_add_ps(acc0, acc1));
    for (; i < dim; ++i) {
        sum += a[i] * b[i];
    }
    return sum;
}

// Four rows at once share each load of the query, so the scan is bound by reading the rows.
__attribute__((target("avx2,fma"))) void dot_rows_avx2(
    const float* rows, size_t count, size_t dim, const float* query, float* out) {
    size_t row = 0;
    const size_t vec_end = dim & ~static_cast<size_t>(7);
    for (; row + 4 <= count; row += 4) {
        const float* r0 = rows + row * dim;
        const float* r1 = r0 + dim;
        const float* r2 = r1 + dim;
        const float* r3 = r2 + dim;
        __m256 a0 = _mm256_setzero_ps();
        __m256 a1 = _mm256_setzero_ps();
        __m256 a2 = _mm256_setzero_ps();
        __m256 a3 = _mm256_setzero_ps();
        for (size_t i = 0; i < vec_end; i += 8) {
            const __m256 q = _mm256_loadu_ps(query + i);
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(r0 + i), q, a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(r1 + i), q, a1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(r2 + i), q, a2);
            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(r3 + i), q, a3);
        }
        float s[4] = {
            horizontal_sum(a0), horizontal_sum(a1), horizontal_sum(a2), horizontal_sum(a3)};
        for (size_t i = vec_end; i < dim; ++i) {
            s[0] += r0[i] * query[i];
            s[1] += r1[i] * query[i];
            s[2] += r2[i] * query[i];
            s[3] += r3[i] * query[i];
        }
        out[row] = s[0];
        out[row + 1] = s[1];
        out[row + 2] = s[2];
        out[row + 3] = s[3];
    }
    for (; row < count; ++row) {
        out[row] = dot_avx2(rows + row * dim, query, dim);
    }
}

const bool kHasAvx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");

}  // namespace

float dot(const float* a, const float* b, size_t dim) {
    return kHasAvx2 ? dot_avx2(a, b, dim) : dot_scalar(a, b, dim);
}

void dot_rows(const float* rows, size_t count, size_t dim, const float* query, float* out) {
    if (kHasAvx2) {
        dot_rows_avx2(rows, count, dim, query, out);
        return;
    }
    for (size_t row = 0; row < count; ++row) {
        out[row] = dot_scalar(rows + row * dim, query, dim);
    }
}

bool dot_uses_avx2() { return kHasAvx2; }

}  // namespace lookbook::vector_kernels
