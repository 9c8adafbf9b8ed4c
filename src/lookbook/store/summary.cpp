#include "lookbook/store/summary.hpp"

#include <algorithm>
#include <filesystem>

#include "lookbook/util/date.hpp"

namespace lookbook {

StoreSummary summarize_store(const Store& store, size_t top_n) {
    StoreSummary s;
    const ArticleTable& articles = store.articles();
    const CustomerTable& customers = store.customers();
    const TransactionTable& tx = store.transactions();
    s.generation = store.generation();
    s.size_bytes = store.size_bytes();
    s.articles = articles.size();
    for (uint32_t a = 0; a < articles.size(); ++a) {
        s.catalog_articles += articles.has_metadata(a) ? 1 : 0;
        s.articles_with_image += articles.image_path(a).empty() ? 0 : 1;
    }
    s.customers = customers.size();
    for (uint32_t c = 0; c < customers.size(); ++c) {
        s.catalog_customers += customers.has_metadata(c) ? 1 : 0;
    }
    s.transactions = tx.size();
    if (tx.size() > 0) {
        auto [lo, hi] = std::minmax_element(tx.date().begin(), tx.date().end());
        s.first_date = format_iso_date(*lo);
        s.last_date = format_iso_date(*hi);
    }
    std::vector<uint8_t> sold(articles.size(), 0);
    const CategoricalColumn& types = articles.attribute(ArticleAttribute::kProductType);
    std::vector<uint64_t> type_rows(types.cardinality(), 0);
    for (uint32_t a : tx.article()) {
        sold[a] = 1;
        if (articles.has_metadata(a)) {
            ++s.rows_with_metadata;
            ++type_rows[types.code(a)];
        }
        s.rows_with_image += articles.image_path(a).empty() ? 0 : 1;
    }
    for (uint32_t a = 0; a < articles.size(); ++a) {
        if (sold[a]) {
            ++s.sold_articles;
            s.sold_articles_with_metadata += articles.has_metadata(a) ? 1 : 0;
            s.sold_articles_with_image += articles.image_path(a).empty() ? 0 : 1;
        }
    }
    auto offsets = tx.customer_offsets();
    for (size_t c = 0; c + 1 < offsets.size(); ++c) {
        s.buying_customers += offsets[c + 1] > offsets[c] ? 1 : 0;
    }
    std::vector<std::pair<std::string, uint64_t>> ranked;
    for (size_t code = 0; code < type_rows.size(); ++code) {
        if (type_rows[code] > 0 && !types.values.at(code).empty()) {
            ranked.emplace_back(std::string(types.values.at(code)), type_rows[code]);
        }
    }
    std::sort(ranked.begin(), ranked.end(), [](const auto& x, const auto& y) {
        return x.second != y.second ? x.second > y.second : x.first < y.first;
    });
    if (ranked.size() > top_n) {
        ranked.resize(top_n);
    }
    s.top_product_types = std::move(ranked);
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(store.generation_dir(), ec)) {
        std::string name = entry.path().stem().string();
        if (entry.path().extension() == ".lbc" && name != "articles" && name != "customers" &&
            name != "transactions") {
            s.extra_files.push_back(name);
        }
    }
    std::sort(s.extra_files.begin(), s.extra_files.end());
    return s;
}

}  // namespace lookbook
