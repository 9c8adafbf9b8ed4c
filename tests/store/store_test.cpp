#include "lookbook/store/store.hpp"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

namespace lookbook {
namespace {
namespace fs = std::filesystem;

// Minimal valid tables: two articles, one customer, `article_codes` as its transactions.
struct Tables {
    ColumnFileWriter articles;
    ColumnFileWriter customers;
    ColumnFileWriter transactions;

    explicit Tables(std::vector<uint32_t> article_codes) {
        articles.add_owned_strings("id", {"0001", "0002"});
        articles.add_owned("has_metadata", std::vector<uint8_t>{1, 0});
        for (const char* name : {"name", "description", "image_path"}) {
            articles.add_owned_strings(name, {"x", ""});
        }
        for (size_t a = 0; a < kArticleAttributeCount; ++a) {
            std::string name = article_attribute_name(static_cast<ArticleAttribute>(a));
            articles.add_owned(name, std::vector<uint32_t>{0, 1});
            articles.add_owned_strings(name + ".dict", {"v", ""});
        }
        customers.add_owned_strings("id", {"c1"});
        customers.add_owned("has_metadata", std::vector<uint8_t>{1});
        customers.add_owned("age", std::vector<float>{30});
        for (const char* name : {"club_status", "news_frequency", "postal_code"}) {
            customers.add_owned(name, std::vector<uint32_t>{0});
            customers.add_owned_strings(std::string(name) + ".dict", {"v"});
        }
        size_t n = article_codes.size();
        transactions.add_owned("customer", std::vector<uint32_t>(n, 0));
        transactions.add_owned("article", std::move(article_codes));
        transactions.add_owned("date", std::vector<int32_t>(n, 18000));
        transactions.add_owned("price", std::vector<double>(n, 0.5));
        transactions.add_owned("channel", std::vector<uint8_t>(n, 1));
        transactions.add_owned("customer_offsets", std::vector<uint64_t>{0, n});
    }
    std::vector<std::pair<std::string, const ColumnFileWriter*>> files() const {
        return {
            {"articles", &articles}, {"customers", &customers}, {"transactions", &transactions}};
    }
};

class StoreTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("lookbook_store_" + std::to_string(::getpid()) + "_" +
                std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
        fs::remove_all(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    fs::path dir_;
};

TEST_F(StoreTest, OpensWhatWasCommitted) {
    Tables tables({1, 0, 1});
    auto gen = Store::commit(dir_, tables.files());
    ASSERT_TRUE(gen.is_ok()) << gen.status().to_string();
    EXPECT_EQ(*gen, "gen-000001");
    auto store = Store::open(dir_);
    ASSERT_TRUE(store.is_ok()) << store.status().to_string();
    EXPECT_EQ((*store)->articles().size(), 2u);
    EXPECT_EQ((*store)->articles().find("0002"), 1u);
    EXPECT_FALSE((*store)->articles().has_metadata(1));
    EXPECT_EQ((*store)->transactions().size(), 3u);
    EXPECT_EQ((*store)->customers().age(0), 30.0f);
    EXPECT_TRUE((*store)->verify().is_ok());
}

TEST_F(StoreTest, NewGenerationReplacesTheOldAndKeepsOtherFilesByHardLink) {
    Tables tables({0});
    ASSERT_TRUE(Store::commit(dir_, tables.files()).is_ok());
    ColumnFileWriter rules;
    rules.add_owned("support", std::vector<uint32_t>{5, 3});
    auto gen = Store::commit(dir_, {{"rules", &rules}});
    ASSERT_TRUE(gen.is_ok());
    EXPECT_EQ(*gen, "gen-000002");
    EXPECT_FALSE(fs::exists(dir_ / "gen-000001"));
    auto store = Store::open(dir_);
    ASSERT_TRUE(store.is_ok());
    EXPECT_TRUE((*store)->has_file("rules"));
    auto file = (*store)->open_file("rules");
    ASSERT_TRUE(file.is_ok());
    EXPECT_EQ((*file->column<uint32_t>("support"))[0], 5u);
    struct stat st {};
    ASSERT_EQ(stat((dir_ / "gen-000002" / "transactions.lbc").c_str(), &st), 0);
    EXPECT_EQ(st.st_nlink, 1u);  // the old generation's link is gone with it
    auto missing = (*store)->open_file("embeddings");
    ASSERT_FALSE(missing.is_ok());
    EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, ReadersOfAnOldGenerationKeepWorkingAfterACommit) {
    Tables first({0, 1});
    ASSERT_TRUE(Store::commit(dir_, first.files()).is_ok());
    auto old_store = Store::open(dir_);
    ASSERT_TRUE(old_store.is_ok());
    Tables second({1});
    ASSERT_TRUE(Store::commit(dir_, second.files(), false).is_ok());
    EXPECT_EQ((*old_store)->transactions().size(), 2u);
    EXPECT_EQ((*old_store)->transactions().article()[1], 1u);
    EXPECT_EQ((*Store::open(dir_))->transactions().size(), 1u);
}

TEST_F(StoreTest, NonStoreFolderSaysHowToCreateOne) {
    fs::create_directories(dir_);
    auto store = Store::open(dir_);
    ASSERT_FALSE(store.is_ok());
    EXPECT_EQ(store.status().code(), StatusCode::kNotFound);
    EXPECT_EQ(store.status().message(),
              dir_.string() +
                  ": not a lookbook store (no CURRENT file). Create one with "
                  "`lookbook ingest --store " +
                  dir_.string() + "`.");
}

TEST_F(StoreTest, GarbageInCurrentIsCorruption) {
    fs::create_directories(dir_);
    std::ofstream(dir_ / "CURRENT") << "../etc\n";
    auto store = Store::open(dir_);
    ASSERT_FALSE(store.is_ok());
    EXPECT_EQ(store.status().code(), StatusCode::kCorruption);
}

TEST_F(StoreTest, TransactionNamingAMissingArticleIsCaughtAtOpen) {
    Tables tables({0, 7});
    ASSERT_TRUE(Store::commit(dir_, tables.files()).is_ok());
    auto store = Store::open(dir_);
    ASSERT_FALSE(store.is_ok());
    EXPECT_EQ(store.status().code(), StatusCode::kCorruption);
    EXPECT_NE(store.status().message().find("article code 7 but the store has 2 articles"),
              std::string::npos);
}

TEST_F(StoreTest, LeftoverTemporaryGenerationIsIgnoredAndReplaced) {
    Tables tables({0});
    fs::create_directories(dir_ / "gen-000001.tmp");
    std::ofstream(dir_ / "gen-000001.tmp" / "junk") << "from a crashed writer";
    ASSERT_TRUE(Store::commit(dir_, tables.files()).is_ok());
    EXPECT_TRUE(Store::open(dir_).is_ok());
    EXPECT_FALSE(fs::exists(dir_ / "gen-000001.tmp"));
}

TEST_F(StoreTest, CommitBasedOnAnOldGenerationIsRefused) {
    Tables tables({0});
    ASSERT_TRUE(Store::commit(dir_, tables.files()).is_ok());
    ASSERT_TRUE(Store::commit(dir_, tables.files()).is_ok());
    ColumnFileWriter rules;
    rules.add_owned("support", std::vector<uint32_t>{1});
    auto stale = Store::commit(dir_, {{"rules", &rules}}, true, "gen-000001");
    ASSERT_FALSE(stale.is_ok());
    EXPECT_EQ(stale.status().message(),
              dir_.string() +
                  ": the store changed while this command ran (it read gen-000001, "
                  "the store is now at gen-000002). Nothing was written; run the "
                  "command again.");
    EXPECT_TRUE(Store::commit(dir_, {{"rules", &rules}}, true, "gen-000002").is_ok());
}

TEST_F(StoreTest, OnlyGenerationFoldersAreCleanedUp) {
    Tables tables({0});
    ASSERT_TRUE(Store::commit(dir_, tables.files()).is_ok());
    fs::create_directories(dir_ / "gen-photos");
    ASSERT_TRUE(Store::commit(dir_, tables.files()).is_ok());
    EXPECT_TRUE(fs::exists(dir_ / "gen-photos"));
    EXPECT_FALSE(fs::exists(dir_ / "gen-000001"));
}

TEST_F(StoreTest, MissingTableFileSaysTheStoreIsDamaged) {
    Tables tables({0});
    ASSERT_TRUE(Store::commit(dir_, tables.files()).is_ok());
    fs::remove(dir_ / "gen-000001" / "customers.lbc");
    auto store = Store::open(dir_);
    ASSERT_FALSE(store.is_ok());
    EXPECT_EQ(store.status().code(), StatusCode::kCorruption);
    EXPECT_NE(store.status().message().find(
                  "The store is damaged or incomplete; re-run `lookbook ingest` to rebuild it."),
              std::string::npos);
}

TEST_F(StoreTest, DecreasingCustomerOffsetsAreCorruption) {
    Tables tables({0, 1});
    ColumnFileWriter tx;
    tx.add_owned("customer", std::vector<uint32_t>{0, 0});
    tx.add_owned("article", std::vector<uint32_t>{0, 1});
    tx.add_owned("date", std::vector<int32_t>{1, 2});
    tx.add_owned("price", std::vector<double>{1, 2});
    tx.add_owned("channel", std::vector<uint8_t>{1, 1});
    tx.add_owned("customer_offsets", std::vector<uint64_t>{3, 2});
    ASSERT_TRUE(Store::commit(dir_,
                              {{"articles", &tables.articles},
                               {"customers", &tables.customers},
                               {"transactions", &tx}})
                    .is_ok());
    auto store = Store::open(dir_);
    ASSERT_FALSE(store.is_ok());
    EXPECT_NE(store.status().message().find("customer_offsets decrease at customer 1"),
              std::string::npos);
}

// Found by a fresh-user trial: embeddings recorded their model as an absolute path, so a copied
// or moved store lost text and photo search.
TEST_F(StoreTest, PathsInsideTheStoreAreRecordedRelativeToIt) {
    fs::create_directories(dir_ / "models" / "encoder");
    EXPECT_EQ(path_for_store(dir_, dir_ / "models" / "encoder"), "models/encoder");
    EXPECT_EQ(path_for_store(dir_ / ".", dir_ / "models" / ".." / "models" / "encoder"),
              "models/encoder");
    // Outside the store (a sibling whose name starts like the store's too): absolute.
    const fs::path outside = dir_.string() + "-models";
    EXPECT_EQ(path_for_store(dir_, outside), outside.string());
    EXPECT_EQ(path_for_store(dir_, dir_), fs::absolute(dir_).lexically_normal().string());
}

TEST_F(StoreTest, RecordedPathsResolveAgainstTheStoreTheyAreOpenedFrom) {
    const fs::path copy = dir_ / "copy";
    fs::create_directories(copy / "models" / "encoder");
    EXPECT_EQ(resolve_store_path(copy, "models/encoder"), copy / "models" / "encoder");
    EXPECT_EQ(resolve_store_path(copy, ""), fs::path());
    // An absolute path that exists is kept, even when the store holds the same tail.
    const fs::path elsewhere = dir_ / "elsewhere" / "models" / "encoder";
    fs::create_directories(elsewhere);
    EXPECT_EQ(resolve_store_path(copy, elsewhere.string()), elsewhere);
    // A store written before paths were relative, then copied: the old absolute path is gone,
    // and its tail models/encoder exists inside the copy.
    const std::string old_store = (dir_ / "gone" / "hm-store" / "models" / "encoder").string();
    EXPECT_EQ(resolve_store_path(copy, old_store), copy / "models" / "encoder");
    // Nothing of it inside the store: the recorded path comes back for the caller to report.
    const std::string lost = (dir_ / "gone" / "model-x").string();
    EXPECT_EQ(resolve_store_path(copy, lost), fs::path(lost));
}

}  // namespace
}  // namespace lookbook
