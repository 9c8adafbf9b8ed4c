#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "lookbook/recommend/candidates.hpp"
#include "lookbook/store/store.hpp"

// Training input of the personal recommenders, independent of where it came from (a store cut
// at a day, MovieLens ratings, a synthetic benchmark set), and the sparse matrices built from it.
namespace lookbook {

// Age bands used by trending and by the evaluation's segments.
constexpr uint8_t kAgeBandCount = 5;
constexpr uint8_t kAgeUnknown = 255;
// Band of an age in years: 0 = 16-24 (and younger), 1 = 25-34, ... 4 = 55+; kAgeUnknown for NaN.
uint8_t age_band(float age);
// "16-24", "25-34", "35-44", "45-54", "55+" or "unknown".
const char* age_band_name(uint8_t band);

// One row per purchase, in no particular order.
struct InteractionLog {
    uint32_t customer_count = 0;
    uint32_t article_count = 0;
    std::vector<uint32_t> customer;
    std::vector<uint32_t> article;
    std::vector<int32_t> day;
    // Per customer: age_band() of the customer's age (kAgeUnknown when unknown).
    std::vector<uint8_t> customer_age_band;

    size_t size() const { return customer.size(); }
    // Last day present, or `fallback` when the log is empty.
    int32_t last_day(int32_t fallback = 0) const;
};

// The store's transactions dated strictly before `before_day` (every one by default).
InteractionLog interaction_log_from_store(const Store& store,
                                          int32_t before_day = std::numeric_limits<int32_t>::max());

// The store's purchases of `customer` dated before `before_day`, oldest first, as a history.
std::vector<Interaction> history_from_store(const Store& store,
                                            uint32_t customer,
                                            int32_t before_day);

// Compressed sparse rows: row r's entries are [offsets[r], offsets[r + 1]) of columns/values,
// columns ascending, one entry per distinct (row, column) with the summed value.
struct SparseMatrix {
    uint32_t rows = 0;
    uint32_t cols = 0;
    std::vector<uint64_t> offsets;
    std::vector<uint32_t> columns;
    std::vector<float> values;

    std::span<const uint32_t> row_columns(uint32_t row) const {
        return {columns.data() + offsets[row], columns.data() + offsets[row + 1]};
    }
    std::span<const float> row_values(uint32_t row) const {
        return {values.data() + offsets[row], values.data() + offsets[row + 1]};
    }
    uint64_t nonzeros() const { return columns.size(); }
    SparseMatrix transposed() const;
};

// Builds a rows x cols matrix from coordinate triples (duplicates summed).
SparseMatrix sparse_from_triples(uint32_t rows,
                                 uint32_t cols,
                                 std::span<const uint32_t> row_of,
                                 std::span<const uint32_t> col_of,
                                 std::span<const float> value_of);

// Customer x article purchase counts of a log.
SparseMatrix customer_article_counts(const InteractionLog& log);

}  // namespace lookbook
