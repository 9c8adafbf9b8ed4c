#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lookbook/store/store.hpp"
#include "lookbook/store/summary.hpp"

namespace lookbook::report {

// Baskets of this many distinct articles or more share the last histogram bar.
constexpr size_t kBasketSizeCap = 20;
// Age bins: [kAgeFirst, kAgeFirst + kAgeBin), ... and a last open bin from kAgeLast.
constexpr int kAgeFirst = 15;
constexpr int kAgeBin = 5;
constexpr int kAgeLast = 75;

// The figures the report's data-profile section shows, computed in one pass over the store.
struct DataProfile {
    StoreSummary summary;  // counts, date range, coverage (store/summary.hpp)

    // Transactions (rows) per week; week w starts on day first_week_day + 7 w (days since
    // 1970-01-01), the first week starting on the first transaction day.
    int32_t first_week_day = 0;
    std::vector<uint64_t> weekly_transactions;

    // Baskets = (customer, day); basket_sizes[s] counts baskets of s + 1 distinct articles, the
    // last entry those of kBasketSizeCap or more.
    uint64_t baskets = 0;
    double mean_basket_size = 0;  // distinct articles per basket
    std::vector<uint64_t> basket_sizes;

    // Long tail: the share of transactions of the best-selling 1% and 10% of sold articles
    // (at least one article each), and the sales curve sampled at 1% steps: sales_curve[p] is
    // the share of transactions of the top p% of sold articles (p = 0 .. 100).
    double top1_share = 0;
    double top10_share = 0;
    std::vector<double> sales_curve;

    // Customers with metadata by age bin (see kAgeFirst..); ages below kAgeFirst go to the first
    // bin. age_unknown counts customers with metadata but no age.
    std::vector<uint64_t> age_bins;
    uint64_t age_unknown = 0;
    double median_age = 0;  // NaN-free: 0 when no age is known
};

// Reads the store's three tables once. Never fails: an empty store gives zero counts and empty
// series (the charts then say "no data").
DataProfile profile_store(const Store& store);

// Every figure of the profile, for metrics.json.
nlohmann::json to_json(const DataProfile& profile);

}  // namespace lookbook::report
