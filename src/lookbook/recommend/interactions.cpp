#include "lookbook/recommend/interactions.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace lookbook {

uint8_t age_band(float age) {
    if (std::isnan(age)) {
        return kAgeUnknown;
    }
    if (age < 25) {
        return 0;
    }
    if (age >= 55) {
        return 4;
    }
    return static_cast<uint8_t>(1 + (static_cast<int>(age) - 25) / 10);
}

const char* age_band_name(uint8_t band) {
    static const char* kNames[] = {"16-24", "25-34", "35-44", "45-54", "55+"};
    return band < kAgeBandCount ? kNames[band] : "unknown";
}

int32_t InteractionLog::last_day(int32_t fallback) const {
    return day.empty() ? fallback : *std::max_element(day.begin(), day.end());
}

InteractionLog interaction_log_from_store(const Store& store, int32_t before_day) {
    const TransactionTable& rows = store.transactions();
    InteractionLog log;
    log.customer_count = store.customers().size();
    log.article_count = store.articles().size();
    for (uint64_t row = 0; row < rows.size(); ++row) {
        if (rows.date()[row] >= before_day) {
            continue;
        }
        log.customer.push_back(rows.customer()[row]);
        log.article.push_back(rows.article()[row]);
        log.day.push_back(rows.date()[row]);
    }
    log.customer_age_band.resize(log.customer_count);
    for (uint32_t customer = 0; customer < log.customer_count; ++customer) {
        log.customer_age_band[customer] = age_band(store.customers().age(customer));
    }
    return log;
}

std::vector<Interaction> history_from_store(const Store& store,
                                            uint32_t customer,
                                            int32_t before_day) {
    std::vector<Interaction> history;
    if (customer >= store.customers().size()) {
        return history;
    }
    // Rows are sorted by (customer, date), so the customer's rows are one oldest-first run.
    const TransactionTable& rows = store.transactions();
    for (uint64_t row = rows.customer_offsets()[customer];
         row < rows.customer_offsets()[customer + 1];
         ++row) {
        if (rows.date()[row] >= before_day) {
            break;
        }
        history.push_back({rows.article()[row], rows.date()[row], Interaction::Kind::kPurchase});
    }
    return history;
}

SparseMatrix sparse_from_triples(uint32_t rows,
                                 uint32_t cols,
                                 std::span<const uint32_t> row_of,
                                 std::span<const uint32_t> col_of,
                                 std::span<const float> value_of) {
    // Counting sort by row, then sort and merge each row's columns.
    SparseMatrix m;
    m.rows = rows;
    m.cols = cols;
    std::vector<uint64_t> starts(rows + 1, 0);
    for (uint32_t r : row_of) {
        ++starts[r + 1];
    }
    std::partial_sum(starts.begin(), starts.end(), starts.begin());
    std::vector<std::pair<uint32_t, float>> entries(row_of.size());
    std::vector<uint64_t> next(starts.begin(), starts.end() - 1);
    for (size_t i = 0; i < row_of.size(); ++i) {
        entries[next[row_of[i]]++] = {col_of[i], value_of[i]};
    }
    m.offsets.assign(1, 0);
    for (uint32_t r = 0; r < rows; ++r) {
        auto begin = entries.begin() + static_cast<ptrdiff_t>(starts[r]);
        auto end = entries.begin() + static_cast<ptrdiff_t>(starts[r + 1]);
        std::sort(begin, end, [](const auto& a, const auto& b) { return a.first < b.first; });
        for (auto it = begin; it != end; ++it) {
            if (m.columns.size() > m.offsets.back() && m.columns.back() == it->first) {
                m.values.back() += it->second;
            } else {
                m.columns.push_back(it->first);
                m.values.push_back(it->second);
            }
        }
        m.offsets.push_back(m.columns.size());
    }
    return m;
}

SparseMatrix SparseMatrix::transposed() const {
    std::vector<uint32_t> row_of(columns.size());
    for (uint32_t r = 0; r < rows; ++r) {
        std::fill(row_of.begin() + static_cast<ptrdiff_t>(offsets[r]),
                  row_of.begin() + static_cast<ptrdiff_t>(offsets[r + 1]),
                  r);
    }
    return sparse_from_triples(cols, rows, columns, row_of, values);
}

SparseMatrix customer_article_counts(const InteractionLog& log) {
    std::vector<float> ones(log.size(), 1.0f);
    return sparse_from_triples(
        log.customer_count, log.article_count, log.customer, log.article, ones);
}

}  // namespace lookbook
