#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "lookbook/recommend/interactions.hpp"

// Item-to-item similarity over co-purchases and time-decayed popularity: the two trained models
// besides ALS. Both are plain arrays so they save into a store as columns as they are.
namespace lookbook {

// For each item its most similar items by cosine over the binary customer x item matrix:
// sim(i, j) = customers who bought both / sqrt(customers of i * customers of j).
struct ItemNeighbours {
    std::vector<uint64_t> offsets;  // [items + 1]
    std::vector<uint32_t> items;    // neighbours, most similar first
    std::vector<float> similarities;

    uint32_t item_count() const { return offsets.empty() ? 0 : uint32_t(offsets.size() - 1); }
    std::span<const uint32_t> neighbours(uint32_t item) const {
        return {items.data() + offsets[item], items.data() + offsets[item + 1]};
    }
    std::span<const float> neighbour_similarities(uint32_t item) const {
        return {similarities.data() + offsets[item], similarities.data() + offsets[item + 1]};
    }
};

// Keeps at most `max_neighbours` per item (0 keeps all). `shrink` is added to the denominator
// so pairs seen once between rare items do not reach similarity 1.
ItemNeighbours fit_item_neighbours(const SparseMatrix& user_items,
                                   uint32_t max_neighbours,
                                   float shrink = 0.0f);

// Popularity with exponential time decay, overall and per age band, as of a day.
struct TrendingModel {
    int32_t as_of = 0;           // first day not counted (the day recommendations are for)
    float half_life_days = 7;    // a sale this many days old counts half
    std::vector<float> overall;  // [articles]
    std::vector<std::vector<float>> by_band;  // [kAgeBandCount][articles]
};

TrendingModel fit_trending(const InteractionLog& log, int32_t as_of, float half_life_days);

}  // namespace lookbook
