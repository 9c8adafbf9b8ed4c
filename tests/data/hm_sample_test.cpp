// Ingests the whole H&M sample from ../shared and checks the store against counts made here
// independently: plain line splitting (the sample's transactions hold no quotes, and no article
// record spans lines), std::set and a directory walk.
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <unistd.h>

#include "lookbook/data/ingest.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/store/summary.hpp"

namespace lookbook {
namespace {
namespace fs = std::filesystem;

const fs::path kSample = fs::path(LOOKBOOK_SHARED_DIR) / "data" / "hm_hungle45_pse";

std::vector<std::string> split(const std::string& line) {
    std::vector<std::string> out;
    size_t start = 0;
    while (true) {
        size_t comma = line.find(',', start);
        out.push_back(line.substr(start, comma - start));
        if (comma == std::string::npos) {
            return out;
        }
        start = comma + 1;
    }
}

TEST(HmSample, IngestMatchesIndependentCounts) {
    if (!fs::exists(kSample)) {
        GTEST_SKIP() << "no H&M sample at " << kSample;
    }
    // Independent counts.
    std::set<std::string> catalog;
    {
        std::ifstream in(kSample / "articles_train_sample.csv");
        std::string line;
        std::getline(in, line);
        while (std::getline(in, line)) {
            catalog.insert(line.substr(0, line.find(',')));
        }
    }
    std::set<std::string> sold;
    std::set<std::string> buyers;
    std::map<std::string, uint64_t> channels;
    uint64_t rows = 0;
    uint64_t rows_in_catalog = 0;
    std::string first_date = "9999";
    std::string last_date;
    {
        std::ifstream in(kSample / "transactions_train_sample.csv");
        std::string line;
        std::getline(in, line);
        while (std::getline(in, line)) {
            auto f = split(line);
            ASSERT_EQ(f.size(), 5u);
            ++rows;
            sold.insert(f[2]);
            buyers.insert(f[1]);
            ++channels[f[4]];
            rows_in_catalog += catalog.count(f[2]);
            first_date = std::min(first_date, f[0]);
            last_date = std::max(last_date, f[0]);
        }
    }
    uint64_t photos = 0;
    for (const auto& entry : fs::recursive_directory_iterator(kSample / "images")) {
        photos += entry.is_regular_file() && entry.path().extension() == ".jpg" ? 1 : 0;
    }
    uint64_t sold_in_catalog = 0;
    for (const auto& id : sold) {
        sold_in_catalog += catalog.count(id);
    }
    // The PROVENANCE figures, as a check on the independent counts themselves.
    ASSERT_EQ(rows, 31662u);
    ASSERT_EQ(sold.size(), 17033u);
    ASSERT_EQ(sold_in_catalog, 4116u);
    ASSERT_EQ(rows_in_catalog, 9925u);

    IngestOptions options;
    options.articles = kSample / "articles_train_sample.csv";
    options.customers = kSample / "customers_sample.csv";
    options.transactions = kSample / "transactions_train_sample.csv";
    options.images = kSample / "images";
    options.store =
        fs::temp_directory_path() / ("lookbook_hm_sample_test_" + std::to_string(::getpid()));
    fs::remove_all(options.store);
    auto report = ingest(options);
    ASSERT_TRUE(report.is_ok()) << report.status().to_string();
    EXPECT_EQ(report->articles.rows_kept, catalog.size());
    EXPECT_EQ(report->customers.rows_kept, 1364u);
    EXPECT_EQ(report->transactions.rows_kept, rows);
    EXPECT_EQ(report->unknown_articles, sold.size() - sold_in_catalog);
    EXPECT_EQ(report->unknown_article_rows, rows - rows_in_catalog);
    EXPECT_EQ(report->unknown_customers, 0u);
    EXPECT_EQ(report->images_found, photos);

    auto store = Store::open(options.store);
    ASSERT_TRUE(store.is_ok());
    ASSERT_TRUE((*store)->verify().is_ok());
    StoreSummary s = summarize_store(**store);
    EXPECT_EQ(s.articles, catalog.size() + sold.size() - sold_in_catalog);
    EXPECT_EQ(s.catalog_articles, catalog.size());
    EXPECT_EQ(s.transactions, rows);
    EXPECT_EQ(s.sold_articles, sold.size());
    EXPECT_EQ(s.sold_articles_with_metadata, sold_in_catalog);
    EXPECT_EQ(s.sold_articles_with_image, sold_in_catalog);
    EXPECT_EQ(s.rows_with_metadata, rows_in_catalog);
    EXPECT_EQ(s.buying_customers, buyers.size());
    EXPECT_EQ(s.first_date, first_date);
    EXPECT_EQ(s.last_date, last_date);

    const TransactionTable& tx = (*store)->transactions();
    std::map<std::string, uint64_t> stored_channels;
    for (uint8_t c : tx.channel()) {
        ++stored_channels[std::to_string(c)];
    }
    EXPECT_EQ(stored_channels, channels);
    for (size_t r = 1; r < tx.size(); ++r) {
        ASSERT_TRUE(tx.customer()[r - 1] < tx.customer()[r] ||
                    (tx.customer()[r - 1] == tx.customer()[r] && tx.date()[r - 1] <= tx.date()[r]))
            << "row " << r;
    }
    fs::remove_all(options.store);
}

}  // namespace
}  // namespace lookbook
