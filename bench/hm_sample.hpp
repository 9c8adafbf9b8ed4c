#pragma once

#include <cstdio>
#include <filesystem>
#include <string>

#include "lookbook/data/ingest.hpp"

namespace lookbook::bench {

// Ingests the H&M sample of the shared folder (LOOKBOOK_SHARED_DIR) into `store_dir`, replacing
// what is there. Prints the reason on stderr and returns false when ingest fails.
inline bool ingest_hm_sample(const std::filesystem::path& store_dir) {
    std::string data = std::string(LOOKBOOK_SHARED_DIR) + "/data/hm_hungle45_pse";
    std::filesystem::remove_all(store_dir);
    IngestOptions ingest_options;
    ingest_options.articles = data + "/articles_train_sample.csv";
    ingest_options.customers = data + "/customers_sample.csv";
    ingest_options.transactions = data + "/transactions_train_sample.csv";
    ingest_options.store = store_dir;
    auto report = ingest(ingest_options);
    if (!report.is_ok()) {
        std::fprintf(stderr, "ingest failed: %s\n", report.status().to_string().c_str());
        return false;
    }
    return true;
}

}  // namespace lookbook::bench
