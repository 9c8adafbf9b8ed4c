#pragma once

#include <cstddef>
#include <cstdint>

// IEEE half-precision copies of float rows, read by the recommenders' first-pass scans (RowScan,
// ProjectedRowSearch): half the bytes to read per query.
namespace lookbook {

// Whether the CPU has AVX2, FMA and F16C (checked once): the half-precision kernels need all
// three; without them callers keep their rows in float.
bool has_half_kernels();

// out[i] = in[i] rounded to the nearest half, for i < n. Values beyond 65,504 become
// infinities: callers check the range first. Call only when has_half_kernels().
void to_half(const float* in, size_t n, uint16_t* out);

}  // namespace lookbook
