#pragma once

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <unistd.h>

#include "lookbook/data/ingest.hpp"
#include "lookbook/store/store.hpp"

namespace lookbook::testing {

// A hand-made store whose figures are worked out by hand in the tests.
//   articles: A (top), P (top), Q (trousers), R (trousers), X (dress), S (socks, never sold)
//   c1 20 y: A on 09-01, P on 09-10; test: A on 09-18 (a repurchase)
//   c2 40 y: P then Q on 09-10; test: Q on 09-20
//   c3 30 y: P, Q, R on 09-11; nothing in the test week
//   c4 60 y: only in the test week: P on 09-22 (a new customer)
// Last day 2020-09-22, so one test week is 09-16..09-22 and the week before it 09-09..09-15,
// where P sold 3, Q 2 and R 1.
inline const char* kArticles =
    "article_id,product_code,prod_name,product_type_name,product_group_name\n"
    "1001,1001,Strap top A,Top,Garment Upper body\n"
    "1002,1002,Shirt P,Top,Garment Upper body\n"
    "1003,1003,Jeans Q,Trousers,Garment Lower body\n"
    "1004,1004,Chinos R,Trousers,Garment Lower body\n"
    "1005,1005,Dress X,Dress,Garment Full body\n"
    "1006,1006,Socks S,Socks,Socks & Tights\n";
inline const char* kCustomers =
    "customer_id,age,club_member_status\n"
    "c1,20,ACTIVE\n"
    "c2,40,ACTIVE\n"
    "c3,30,PRE-CREATE\n"
    "c4,60,\n";
inline const char* kTransactions =
    "t_dat,customer_id,article_id,price,sales_channel_id\n"
    "2020-09-01,c1,1001,0.02,1\n"
    "2020-09-10,c1,1002,0.02,1\n"
    "2020-09-18,c1,1001,0.02,1\n"
    "2020-09-10,c2,1002,0.02,2\n"
    "2020-09-10,c2,1003,0.03,2\n"
    "2020-09-20,c2,1003,0.03,2\n"
    "2020-09-11,c3,1002,0.02,2\n"
    "2020-09-11,c3,1003,0.03,2\n"
    "2020-09-11,c3,1004,0.03,2\n"
    "2020-09-22,c4,1002,0.02,1\n";

class HandMadeStore : public ::testing::Test {
  protected:
    void SetUp() override {
        namespace fs = std::filesystem;
        dir_ = fs::temp_directory_path() /
               ("lookbook_recommend_" + std::to_string(::getpid()) + "_" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        IngestOptions options;
        options.articles = write("articles.csv", articles());
        options.customers = write("customers.csv", customers());
        options.transactions = write("transactions.csv", transactions());
        options.store = dir_ / "store";
        auto report = ingest(options);
        ASSERT_TRUE(report.is_ok()) << report.status().to_string();
        reopen();
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    // The CSVs ingested; a derived fixture may bring its own.
    virtual std::string articles() const { return kArticles; }
    virtual std::string customers() const { return kCustomers; }
    virtual std::string transactions() const { return kTransactions; }

    void reopen() {
        auto store = Store::open(dir_ / "store");
        ASSERT_TRUE(store.is_ok()) << store.status().to_string();
        store_ = std::move(store).value();
    }
    std::filesystem::path write(const std::string& name, const std::string& text) {
        std::filesystem::path path = dir_ / name;
        std::ofstream(path, std::ios::binary) << text;
        return path;
    }
    uint32_t article(const char* id) const { return *store_->articles().find(id); }
    uint32_t customer(const char* id) const { return *store_->customers().find(id); }

    std::filesystem::path dir_;
    std::unique_ptr<Store> store_;
};

}  // namespace lookbook::testing
