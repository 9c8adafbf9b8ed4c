#include "lookbook/util/dot.hpp"

namespace lookbook {
namespace {

// Sixteen independent partial sums: two AVX registers (or four SSE ones) of multiply-adds in
// flight, which the compiler vectorises without -ffast-math because no sum is reordered.
inline __attribute__((always_inline)) float dot_inline(const float* a, const float* b, size_t n) {
    float lanes[16] = {};
    size_t d = 0;
    for (; d + 16 <= n; d += 16) {
        for (size_t lane = 0; lane < 16; ++lane) {
            lanes[lane] += a[d + lane] * b[d + lane];
        }
    }
    float sum = 0;
    for (float lane : lanes) {
        sum += lane;
    }
    for (; d < n; ++d) {
        sum += a[d] * b[d];
    }
    return sum;
}

float dot_baseline(const float* a, const float* b, size_t n) { return dot_inline(a, b, n); }

void dot_rows_baseline(const float* rows, size_t count, size_t dim, const float* q, float* out) {
    for (size_t r = 0; r < count; ++r) {
        out[r] = dot_inline(rows + r * dim, q, dim);
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
// The same loops compiled for AVX2 and FMA. Chosen by CPU features rather than by GCC's
// target_clones("arch=..."), which matches CPU models and so missed newer CPUs than the named one.
__attribute__((target("avx2,fma"))) float dot_avx2(const float* a, const float* b, size_t n) {
    return dot_inline(a, b, n);
}

__attribute__((target("avx2,fma"))) void dot_rows_avx2(
    const float* rows, size_t count, size_t dim, const float* q, float* out) {
    for (size_t r = 0; r < count; ++r) {
        out[r] = dot_inline(rows + r * dim, q, dim);
    }
}

bool has_avx2() {
    static const bool supported = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return supported;
}
#else
bool has_avx2() { return false; }
float dot_avx2(const float* a, const float* b, size_t n) { return dot_baseline(a, b, n); }
void dot_rows_avx2(const float* rows, size_t count, size_t dim, const float* q, float* out) {
    dot_rows_baseline(rows, count, dim, q, out);
}
#endif

}  // namespace

float dot(const float* a, const float* b, size_t n) {
    return has_avx2() ? dot_avx2(a, b, n) : dot_baseline(a, b, n);
}

void dot_rows(const float* rows, size_t count, size_t dim, const float* query, float* out) {
    if (has_avx2()) {
        dot_rows_avx2(rows, count, dim, query, out);
    } else {
        dot_rows_baseline(rows, count, dim, query, out);
    }
}

}  // namespace lookbook
