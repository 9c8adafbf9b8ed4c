#pragma once

#include <cstddef>

// In their own namespace: util/dot.hpp declares lookbook::dot and lookbook::dot_rows for the
// recommenders (another summation order), and two definitions of one name in two static
// libraries let the link order pick which one a caller got.
namespace lookbook::vector_kernels {

// Inner products, the only arithmetic the vector indexes need. The AVX2+FMA kernel is chosen at
// run time (__builtin_cpu_supports), so the library stays portable without -march flags and the
// same binary still scans at memory speed on the machines that have the instructions.

// The inner product of a and b, `dim` floats each.
float dot(const float* a, const float* b, size_t dim);

// out[row] = <rows[row * dim ..], query> for row in [0, count): one pass over the rows.
void dot_rows(const float* rows, size_t count, size_t dim, const float* query, float* out);

// Whether the vectorised kernel is in use (for benchmarks and logs).
bool dot_uses_avx2();

}  // namespace lookbook::vector_kernels
