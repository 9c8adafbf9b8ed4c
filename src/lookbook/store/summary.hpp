#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "lookbook/store/store.hpp"

namespace lookbook {

// What `lookbook info` reports about a store.
struct StoreSummary {
    std::string generation;
    uint64_t size_bytes = 0;
    uint64_t articles = 0;          // all, with or without metadata
    uint64_t catalog_articles = 0;  // with metadata from the articles file
    uint64_t articles_with_image = 0;
    uint64_t customers = 0;
    uint64_t catalog_customers = 0;  // with metadata from the customers file
    uint64_t transactions = 0;
    std::string first_date;  // ISO dates; empty without transactions
    std::string last_date;
    uint64_t sold_articles = 0;  // distinct articles in transactions
    uint64_t sold_articles_with_metadata = 0;
    uint64_t sold_articles_with_image = 0;
    uint64_t rows_with_metadata = 0;  // transaction rows whose article has metadata
    uint64_t rows_with_image = 0;
    uint64_t buying_customers = 0;  // distinct customers in transactions
    // Product types by number of transaction rows (articles with metadata only), largest first.
    std::vector<std::pair<std::string, uint64_t>> top_product_types;
    std::vector<std::string> extra_files;  // column files beyond the three tables
};

StoreSummary summarize_store(const Store& store, size_t top_n = 10);

}  // namespace lookbook
