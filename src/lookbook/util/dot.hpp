#pragma once

#include <cstddef>

// Dot products for the exact scans of the recommenders (ALS, profile similarity, two-tower):
// one query against every article row, tens of thousands of rows per request. The release
// build targets baseline x86-64 (SSE2, 4 floats per instruction, no FMA), so these kernels are
// also compiled for AVX2 with FMA and picked at run time when the CPU has both
// instructions. The two versions round differently (FMA rounds once per
// multiply-add), by a few units in the last place; results are deterministic on one machine.
// The choice is made once, by CPU features (AVX2 and FMA).
namespace lookbook {

// Sum of a[i] * b[i] for i < n, in a fixed order of 16 partial sums.
float dot(const float* a, const float* b, size_t n);

// out[r] = dot(rows + r * dim, query, dim) for r < count; `rows` is row-major [count, dim].
void dot_rows(const float* rows, size_t count, size_t dim, const float* query, float* out);

}  // namespace lookbook
