#pragma once

// Synthetic catalogs and CPU clocks shared by the index benchmarks.
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <sys/resource.h>

namespace lookbook::bench {

// Unit vectors around `clusters` centres; the spread makes neighbours inside a cluster close
// but not trivially separated (uniform random vectors are nearly orthogonal, so their
// "nearest neighbours" would say nothing about recall). The centres are the same for every
// seed, so queries drawn with another seed fall into the catalog's clusters.
inline std::vector<float> clustered(size_t count, size_t dim, size_t clusters, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    std::vector<float> centres(clusters * dim);
    std::mt19937 centre_rng(12345);
    for (float& v : centres) {
        v = normal(centre_rng);
    }
    std::uniform_int_distribution<size_t> pick(0, clusters - 1);
    std::vector<float> out(count * dim);
    for (size_t row = 0; row < count; ++row) {
        const float* centre = centres.data() + pick(rng) * dim;
        float* dst = out.data() + row * dim;
        double norm = 0;
        for (size_t i = 0; i < dim; ++i) {
            dst[i] = centre[i] + 0.8f * normal(rng);
            norm += static_cast<double>(dst[i]) * dst[i];
        }
        const float scale = static_cast<float>(1.0 / std::sqrt(norm));
        for (size_t i = 0; i < dim; ++i) {
            dst[i] *= scale;
        }
    }
    return out;
}

// User plus system CPU seconds of the whole process (all threads): beside wall time it shows
// how much of a shared machine a step got.
inline double cpu_seconds() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
           (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

}  // namespace lookbook::bench
