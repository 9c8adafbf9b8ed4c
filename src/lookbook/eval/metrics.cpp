#include "lookbook/eval/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace lookbook::eval {
namespace {

// The relevant ids as a sorted set, so membership is a binary search.
std::vector<uint32_t> as_set(std::span<const uint32_t> ids) {
    std::vector<uint32_t> set(ids.begin(), ids.end());
    std::sort(set.begin(), set.end());
    set.erase(std::unique(set.begin(), set.end()), set.end());
    return set;
}

bool contains(const std::vector<uint32_t>& set, uint32_t id) {
    return std::binary_search(set.begin(), set.end(), id);
}

// For each of the first `k` positions: 1 when it holds a relevant item seen there for the first
// time, else 0. Later repeats of an id score nothing.
std::vector<uint8_t> hit_flags(std::span<const uint32_t> ranked,
                               const std::vector<uint32_t>& relevant,
                               size_t k) {
    const size_t n = std::min(k, ranked.size());
    std::vector<uint8_t> flags(n, 0);
    std::vector<uint32_t> seen;
    seen.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        if (std::find(seen.begin(), seen.end(), ranked[i]) != seen.end())
            continue;
        seen.push_back(ranked[i]);
        flags[i] = contains(relevant, ranked[i]) ? 1 : 0;
    }
    return flags;
}

double discount(size_t position) {  // position from 0
    return 1.0 / std::log2(static_cast<double>(position) + 2.0);
}

double ideal_dcg(size_t relevant, size_t k) {
    double ideal = 0;
    for (size_t i = 0; i < std::min(relevant, k); ++i)
        ideal += discount(i);
    return ideal;
}

}  // namespace

double average_precision_at_k(std::span<const uint32_t> ranked,
                              std::span<const uint32_t> relevant,
                              size_t k) {
    const auto set = as_set(relevant);
    if (set.empty() || k == 0)
        return 0;
    const auto flags = hit_flags(ranked, set, k);
    double sum = 0;
    size_t hits = 0;
    for (size_t i = 0; i < flags.size(); ++i) {
        if (!flags[i])
            continue;
        ++hits;
        sum += static_cast<double>(hits) / static_cast<double>(i + 1);
    }
    return sum / static_cast<double>(std::min(set.size(), k));
}

double recall_at_k(std::span<const uint32_t> ranked, std::span<const uint32_t> relevant, size_t k) {
    const auto set = as_set(relevant);
    if (set.empty())
        return 0;
    const auto flags = hit_flags(ranked, set, k);
    const auto hits = std::count(flags.begin(), flags.end(), 1);
    return static_cast<double>(hits) / static_cast<double>(set.size());
}

double capped_recall_at_k(std::span<const uint32_t> ranked,
                          std::span<const uint32_t> relevant,
                          size_t k) {
    const auto set = as_set(relevant);
    if (set.empty() || k == 0)
        return 0;
    const auto flags = hit_flags(ranked, set, k);
    const auto hits = std::count(flags.begin(), flags.end(), 1);
    return static_cast<double>(hits) / static_cast<double>(std::min(set.size(), k));
}

double hit_at_k(std::span<const uint32_t> ranked, std::span<const uint32_t> relevant, size_t k) {
    const auto set = as_set(relevant);
    const auto flags = hit_flags(ranked, set, k);
    return std::find(flags.begin(), flags.end(), 1) != flags.end() ? 1.0 : 0.0;
}

double reciprocal_rank(std::span<const uint32_t> ranked,
                       std::span<const uint32_t> relevant,
                       size_t k) {
    const auto set = as_set(relevant);
    const auto flags = hit_flags(ranked, set, k == 0 ? ranked.size() : k);
    for (size_t i = 0; i < flags.size(); ++i) {
        if (flags[i])
            return 1.0 / static_cast<double>(i + 1);
    }
    return 0;
}

double ndcg_at_k(std::span<const uint32_t> ranked, std::span<const uint32_t> relevant, size_t k) {
    const auto set = as_set(relevant);
    const double ideal = ideal_dcg(set.size(), k);
    if (ideal == 0)
        return 0;
    const auto flags = hit_flags(ranked, set, k);
    double dcg = 0;
    for (size_t i = 0; i < flags.size(); ++i)
        dcg += flags[i] * discount(i);
    return dcg / ideal;
}

double tie_aware_ndcg_at_k(std::span<const uint32_t> ranked,
                           std::span<const float> scores,
                           std::span<const uint32_t> relevant,
                           size_t k) {
    const auto set = as_set(relevant);
    const double ideal = ideal_dcg(set.size(), k);
    if (ideal == 0)
        return 0;
    // Gains over the whole list: a tied group that straddles position k shares its gain with
    // the positions inside k.
    const auto flags = hit_flags(ranked, set, ranked.size());
    const size_t n = std::min(ranked.size(), scores.size());
    double dcg = 0;
    for (size_t begin = 0; begin < n && begin < k;) {
        size_t end = begin + 1;
        while (end < n && scores[end] == scores[begin])
            ++end;
        double gain = 0;
        for (size_t i = begin; i < end; ++i)
            gain += flags[i];
        const double mean_gain = gain / static_cast<double>(end - begin);
        for (size_t i = begin; i < std::min(end, k); ++i)
            dcg += mean_gain * discount(i);
        begin = end;
    }
    return dcg / ideal;
}

double intra_list_diversity(std::span<const uint32_t> ranked,
                            size_t k,
                            const std::function<double(uint32_t, uint32_t)>& distance) {
    const size_t n = std::min(k, ranked.size());
    if (n < 2)
        return 0;
    double sum = 0;
    for (size_t i = 0; i < n; ++i) {
        for (size_t j = i + 1; j < n; ++j)
            sum += distance(ranked[i], ranked[j]);
    }
    return sum / (static_cast<double>(n) * static_cast<double>(n - 1) / 2.0);
}

}  // namespace lookbook::eval
