#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <unistd.h>

#include "lookbook/data/ingest.hpp"
#include "lookbook/store/store.hpp"

namespace lookbook::testing {

// A temporary folder per test holding a store ingested from tests/data/report (11 transaction
// rows, 6 baskets over two weeks); removed when the test ends.
class ReportFixtureStore : public ::testing::Test {
  public:
    static std::string fixture_dir() { return std::string(LOOKBOOK_TEST_DATA_DIR) + "/report"; }

  protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("lookbook_report_" + std::to_string(::getpid()) + "_" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir_);
        std::filesystem::create_directories(dir_);
        std::string data = fixture_dir();
        IngestOptions options;
        options.articles = data + "/articles.csv";
        options.customers = data + "/customers.csv";
        options.transactions = data + "/transactions.csv";
        options.store = dir_ / "store";
        auto report = ingest(options);
        ASSERT_TRUE(report.is_ok()) << report.status().to_string();
        auto store = Store::open(dir_ / "store");
        ASSERT_TRUE(store.is_ok()) << store.status().to_string();
        store_ = std::move(store).value();
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::filesystem::path dir_;
    std::unique_ptr<Store> store_;
};

}  // namespace lookbook::testing
