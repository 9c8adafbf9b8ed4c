#include "lookbook/recommend/neighbours.hpp"

#include <algorithm>
#include <cmath>

#include "lookbook/util/progress.hpp"

namespace lookbook {

ItemNeighbours fit_item_neighbours(const SparseMatrix& user_items,
                                   uint32_t max_neighbours,
                                   float shrink) {
    SparseMatrix item_users = user_items.transposed();
    uint32_t n_items = user_items.cols;
    // Distinct customers per item: the matrix has one entry per (customer, item).
    std::vector<float> norms(n_items);
    for (uint32_t item = 0; item < n_items; ++item) {
        norms[item] = std::sqrt(static_cast<float>(item_users.row_columns(item).size()));
    }

    ItemNeighbours model;
    model.offsets.assign(1, 0);
    std::vector<float> co_counts(n_items, 0.0f);
    std::vector<uint32_t> touched;
    std::vector<std::pair<float, uint32_t>> ranked;
    Progress progress("item-to-item similarity", n_items, "articles");
    for (uint32_t item = 0; item < n_items; ++item) {
        // Co-purchase counts through the item's customers; `touched` lists the non-zeros.
        for (uint32_t user : item_users.row_columns(item)) {
            for (uint32_t other : user_items.row_columns(user)) {
                if (other != item && co_counts[other]++ == 0.0f) {
                    touched.push_back(other);
                }
            }
        }
        ranked.clear();
        for (uint32_t other : touched) {
            ranked.emplace_back(co_counts[other] / (norms[item] * norms[other] + shrink), other);
            co_counts[other] = 0.0f;
        }
        touched.clear();
        size_t keep =
            max_neighbours == 0 ? ranked.size() : std::min<size_t>(max_neighbours, ranked.size());
        // Ties broken by item number so the model does not depend on hash or visit order.
        auto better = [](const auto& a, const auto& b) {
            return a.first > b.first || (a.first == b.first && a.second < b.second);
        };
        std::partial_sort(ranked.begin(), ranked.begin() + keep, ranked.end(), better);
        for (size_t pos = 0; pos < keep; ++pos) {
            model.items.push_back(ranked[pos].second);
            model.similarities.push_back(ranked[pos].first);
        }
        model.offsets.push_back(model.items.size());
        progress.add();
    }
    progress.finish();
    return model;
}

TrendingModel fit_trending(const InteractionLog& log, int32_t as_of, float half_life_days) {
    TrendingModel model;
    model.as_of = as_of;
    model.half_life_days = half_life_days;
    model.overall.assign(log.article_count, 0.0f);
    model.by_band.assign(kAgeBandCount, std::vector<float>(log.article_count, 0.0f));
    double decay = std::log(2.0) / half_life_days;
    for (size_t row = 0; row < log.size(); ++row) {
        if (log.day[row] >= as_of) {
            continue;
        }
        auto weight = static_cast<float>(std::exp(-decay * (as_of - 1 - log.day[row])));
        model.overall[log.article[row]] += weight;
        uint8_t band =
            log.customer_age_band.empty() ? kAgeUnknown : log.customer_age_band[log.customer[row]];
        if (band < kAgeBandCount) {
            model.by_band[band][log.article[row]] += weight;
        }
    }
    return model;
}

}  // namespace lookbook
