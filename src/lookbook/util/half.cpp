#include "lookbook/util/half.hpp"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

namespace lookbook {

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

}  // namespace lookbook
#else
namespace lookbook {
bool has_half_kernels() { return false; }
void to_half(const float*, size_t, uint16_t*) {}
}  // namespace lookbook
#endif
