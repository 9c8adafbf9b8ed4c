#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "lookbook/util/dot.hpp"

// Random rows and the brute-force answer the row scan and row graph tests compare with.
namespace lookbook {

// (id, score), best first.
using Answer = std::vector<std::pair<uint32_t, float>>;

// [count, dim] Gaussian rows, each scaled to length 1 when `unit`.
inline std::vector<float> random_rows(size_t count, size_t dim, uint32_t seed, bool unit) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> rows(count * dim);
    for (size_t r = 0; r < count; ++r) {
        double squares = 0;
        for (size_t d = 0; d < dim; ++d) {
            rows[r * dim + d] = normal(rng);
            squares += static_cast<double>(rows[r * dim + d]) * rows[r * dim + d];
        }
        if (unit && squares > 0) {
            for (size_t d = 0; d < dim; ++d) {
                rows[r * dim + d] = static_cast<float>(rows[r * dim + d] / std::sqrt(squares));
            }
        }
    }
    return rows;
}

// Independent reference: every row scored with dot_rows, the whole list sorted.
inline Answer brute_force(const std::vector<float>& rows,
                          size_t dim,
                          const std::vector<uint32_t>& ids,
                          const float* query,
                          size_t k,
                          const std::vector<uint32_t>& skip,
                          bool positive_only) {
    size_t count = rows.size() / dim;
    std::vector<float> scores(count);
    dot_rows(rows.data(), count, dim, query, scores.data());
    Answer all;
    for (size_t r = 0; r < count; ++r) {
        uint32_t id = ids.empty() ? static_cast<uint32_t>(r) : ids[r];
        if (std::find(skip.begin(), skip.end(), id) != skip.end() ||
            (positive_only && scores[r] <= 0.0f)) {
            continue;
        }
        all.emplace_back(id, scores[r]);
    }
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
        return a.second > b.second || (a.second == b.second && a.first < b.first);
    });
    all.resize(std::min(all.size(), k));
    return all;
}

}  // namespace lookbook
