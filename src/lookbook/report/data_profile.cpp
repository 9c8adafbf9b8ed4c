#include "lookbook/report/data_profile.hpp"

#include <algorithm>
#include <cmath>
#include <functional>

#include "lookbook/util/date.hpp"

namespace lookbook::report {
namespace {

// Weekly counts, basket sizes: rows are sorted by (customer, date), so a basket is a run of
// rows with the same customer and day.
void profile_transactions(const TransactionTable& tx, DataProfile* profile) {
    auto dates = tx.date();
    auto customers = tx.customer();
    auto articles = tx.article();
    if (dates.empty()) {
        return;
    }
    int32_t first_day = *std::min_element(dates.begin(), dates.end());
    int32_t last_day = *std::max_element(dates.begin(), dates.end());
    profile->first_week_day = first_day;
    profile->weekly_transactions.assign(static_cast<size_t>((last_day - first_day) / 7 + 1), 0);
    for (int32_t day : dates) {
        ++profile->weekly_transactions[static_cast<size_t>((day - first_day) / 7)];
    }

    profile->basket_sizes.assign(kBasketSizeCap, 0);
    std::vector<uint32_t> basket;
    uint64_t distinct_total = 0;
    size_t begin = 0;
    while (begin < dates.size()) {
        size_t end = begin;
        while (end < dates.size() && customers[end] == customers[begin] &&
               dates[end] == dates[begin]) {
            ++end;
        }
        basket.assign(articles.begin() + static_cast<ptrdiff_t>(begin),
                      articles.begin() + static_cast<ptrdiff_t>(end));
        std::sort(basket.begin(), basket.end());
        size_t distinct =
            static_cast<size_t>(std::unique(basket.begin(), basket.end()) - basket.begin());
        ++profile->basket_sizes[std::min(distinct, kBasketSizeCap) - 1];
        distinct_total += distinct;
        ++profile->baskets;
        begin = end;
    }
    profile->mean_basket_size =
        static_cast<double>(distinct_total) / static_cast<double>(profile->baskets);
}

// Share of sales of the top p% of sold articles, p = 0..100.
void profile_long_tail(const TransactionTable& tx, uint32_t article_count, DataProfile* profile) {
    std::vector<uint64_t> sales(article_count, 0);
    for (uint32_t article : tx.article()) {
        ++sales[article];
    }
    sales.erase(std::remove(sales.begin(), sales.end(), 0), sales.end());
    if (sales.empty()) {
        return;
    }
    std::sort(sales.begin(), sales.end(), std::greater<>());
    // prefix[n] = sales of the n best sellers.
    std::vector<uint64_t> prefix(sales.size() + 1, 0);
    for (size_t idx = 0; idx < sales.size(); ++idx) {
        prefix[idx + 1] = prefix[idx] + sales[idx];
    }
    double total = static_cast<double>(prefix.back());
    double sold = static_cast<double>(sales.size());
    for (int percent = 0; percent <= 100; ++percent) {
        // Rounded up, so the top 1% of 50 articles is the single best seller, not none.
        auto n = static_cast<size_t>(std::ceil(sold * percent / 100.0 - 1e-9));
        profile->sales_curve.push_back(static_cast<double>(prefix[std::min(n, sales.size())]) /
                                       total);
    }
    profile->top1_share = profile->sales_curve[1];
    profile->top10_share = profile->sales_curve[10];
}

void profile_ages(const CustomerTable& customers, DataProfile* profile) {
    profile->age_bins.assign(static_cast<size_t>((kAgeLast - kAgeFirst) / kAgeBin + 1), 0);
    std::vector<float> ages;
    for (uint32_t customer = 0; customer < customers.size(); ++customer) {
        if (!customers.has_metadata(customer)) {
            continue;
        }
        float age = customers.age(customer);
        if (!std::isfinite(age)) {
            ++profile->age_unknown;
            continue;
        }
        ages.push_back(age);
        int bin = (std::clamp(static_cast<int>(age), kAgeFirst, kAgeLast) - kAgeFirst) / kAgeBin;
        ++profile->age_bins[static_cast<size_t>(bin)];
    }
    if (!ages.empty()) {
        auto middle = ages.begin() + static_cast<ptrdiff_t>(ages.size() / 2);
        std::nth_element(ages.begin(), middle, ages.end());
        profile->median_age = *middle;
        // An even count takes the mean of the two middle ages.
        if (ages.size() % 2 == 0) {
            float below = *std::max_element(ages.begin(), middle);
            profile->median_age = (below + *middle) / 2;
        }
    }
}

}  // namespace

DataProfile profile_store(const Store& store) {
    DataProfile profile;
    profile.summary = summarize_store(store);
    profile_transactions(store.transactions(), &profile);
    profile_long_tail(store.transactions(), store.articles().size(), &profile);
    profile_ages(store.customers(), &profile);
    return profile;
}

nlohmann::json to_json(const DataProfile& profile) {
    const StoreSummary& s = profile.summary;
    nlohmann::json out;
    out["generation"] = s.generation;
    out["articles"] = s.articles;
    out["catalog_articles"] = s.catalog_articles;
    out["articles_with_image"] = s.articles_with_image;
    out["customers"] = s.customers;
    out["catalog_customers"] = s.catalog_customers;
    out["buying_customers"] = s.buying_customers;
    out["transactions"] = s.transactions;
    out["first_date"] = s.first_date;
    out["last_date"] = s.last_date;
    out["sold_articles"] = s.sold_articles;
    out["sold_articles_with_metadata"] = s.sold_articles_with_metadata;
    out["sold_articles_with_image"] = s.sold_articles_with_image;
    out["transactions_with_metadata"] = s.rows_with_metadata;
    out["transactions_with_image"] = s.rows_with_image;
    out["top_product_types"] = nlohmann::json::array();
    for (const auto& [type, rows] : s.top_product_types) {
        out["top_product_types"].push_back({{"product_type", type}, {"transactions", rows}});
    }
    nlohmann::json weeks = nlohmann::json::array();
    for (size_t week = 0; week < profile.weekly_transactions.size(); ++week) {
        weeks.push_back({{"week_start",
                          format_iso_date(profile.first_week_day + static_cast<int32_t>(7 * week))},
                         {"transactions", profile.weekly_transactions[week]}});
    }
    out["weekly_transactions"] = weeks;
    out["baskets"] = profile.baskets;
    out["mean_basket_size"] = profile.mean_basket_size;
    out["basket_sizes"] = profile.basket_sizes;
    out["basket_size_cap"] = kBasketSizeCap;
    out["top1_percent_sales_share"] = profile.top1_share;
    out["top10_percent_sales_share"] = profile.top10_share;
    out["sales_curve_by_percent"] = profile.sales_curve;
    nlohmann::json bins = nlohmann::json::array();
    for (size_t bin = 0; bin < profile.age_bins.size(); ++bin) {
        int lo = kAgeFirst + kAgeBin * static_cast<int>(bin);
        bool last = bin + 1 == profile.age_bins.size();
        bins.push_back({{"ages",
                         last ? std::to_string(lo) + "+"
                              : std::to_string(lo) + "-" + std::to_string(lo + kAgeBin - 1)},
                        {"customers", profile.age_bins[bin]}});
    }
    out["age_bins"] = bins;
    out["age_unknown"] = profile.age_unknown;
    out["median_age"] = profile.median_age;
    return out;
}

}  // namespace lookbook::report
