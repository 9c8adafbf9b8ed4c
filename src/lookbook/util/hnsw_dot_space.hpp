#pragma once

#include <cstddef>

// hnswlib's distance as one minus a dot product, for the HNSW graphs of index/hnsw_index.cpp
// and util/row_graph.cpp. Include after <hnswlib/hnswlib.h> (each of those files includes it
// with its own settings).
namespace lookbook {

// hnswlib keeps the smallest distances; kBase - <a, b> orders like the inner product (kBase 0
// gives back the dot product exactly, negated). `Dot` is the kernel (each caller's own AVX2
// kernel chosen at run time, never hnswlib's SIMD code, which this build compiles for SSE
// only).
template <float (*Dot)(const float*, const float*, size_t), float kBase>
class DotSpace : public hnswlib::SpaceInterface<float> {
  public:
    explicit DotSpace(size_t dim) : dim_(dim) {}
    size_t get_data_size() override { return dim_ * sizeof(float); }
    hnswlib::DISTFUNC<float> get_dist_func() override { return &distance; }
    void* get_dist_func_param() override { return &dim_; }

  private:
    static float distance(const void* a, const void* b, const void* dim) {
        return kBase - Dot(static_cast<const float*>(a),
                           static_cast<const float*>(b),
                           *static_cast<const size_t*>(dim));
    }
    size_t dim_;
};

}  // namespace lookbook
