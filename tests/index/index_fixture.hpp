#pragma once

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "lookbook/index/vector_index.hpp"

namespace lookbook::testing {

// `count` unit vectors of `dim` floats around `clusters` random centres, so nearest neighbours
// are meaningful (uniform random vectors are all nearly orthogonal).
inline std::vector<float> clustered_vectors(size_t count,
                                            size_t dim,
                                            size_t clusters,
                                            uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    std::vector<float> centres(clusters * dim);
    for (float& v : centres) {
        v = normal(rng);
    }
    std::vector<float> out(count * dim);
    std::uniform_int_distribution<size_t> pick(0, clusters - 1);
    for (size_t row = 0; row < count; ++row) {
        const size_t centre = pick(rng);
        double norm = 0;
        for (size_t i = 0; i < dim; ++i) {
            const float v = centres[centre * dim + i] + 0.6f * normal(rng);
            out[row * dim + i] = v;
            norm += static_cast<double>(v) * v;
        }
        for (size_t i = 0; i < dim; ++i) {
            out[row * dim + i] = static_cast<float>(out[row * dim + i] / std::sqrt(norm));
        }
    }
    return out;
}

// The k best ids by a plain double-precision loop, independent of the kernels under test.
inline std::vector<Hit> brute_force(const std::vector<float>& rows,
                                    size_t dim,
                                    const float* query,
                                    size_t k,
                                    const HitFilter& filter = {}) {
    std::vector<Hit> all;
    for (size_t row = 0; row * dim < rows.size(); ++row) {
        if (filter && !filter(static_cast<uint32_t>(row))) {
            continue;
        }
        double score = 0;
        for (size_t i = 0; i < dim; ++i) {
            score += static_cast<double>(rows[row * dim + i]) * query[i];
        }
        all.push_back(Hit{static_cast<uint32_t>(row), static_cast<float>(score)});
    }
    std::sort(all.begin(), all.end(), hit_before);
    all.resize(std::min(k, all.size()));
    return all;
}

}  // namespace lookbook::testing
