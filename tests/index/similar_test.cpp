#include "lookbook/index/similar.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include "lookbook/data/ingest.hpp"

namespace lookbook {
namespace {

namespace fs = std::filesystem;

// A: the query; B: its colour variant; C and D other products; E text only; F no embedding.
const char* kArticles =
    "article_id,product_code,prod_name,product_type_name,product_group_name,colour_group_name,"
    "index_group_name\n"
    "0100000001,0100000,Red dress,Dress,Garment Full body,Red,Ladieswear\n"
    "0100000002,0100000,Blue dress,Dress,Garment Full body,Blue,Ladieswear\n"
    "0100000003,0100001,Linen top,Top,Garment Upper body,White,Ladieswear\n"
    "0100000004,0100002,Wool jumper,Sweater,Garment Upper body,Grey,Menswear\n"
    "0100000005,0100003,Cap,Cap,Accessories,,Menswear\n"
    "0100000006,0100004,Belt,Belt,Accessories,Black,Menswear\n";

const char* kTransactions =
    "t_dat,customer_id,article_id,price,sales_channel_id\n"
    "2020-09-01,c1,0100000001,0.05,1\n"
    "2020-09-01,c1,0100000002,0.03,1\n"
    "2020-09-02,c2,0100000003,0.02,2\n"
    "2020-09-03,c2,0100000003,0.04,2\n"
    "2020-09-03,c3,0100000004,0.10,2\n";

// Unit vectors chosen so every cosine is a round number (rows in the order above).
const std::vector<float> kImage = {1, 0, 0.8f, 0.6f, 0.6f, 0.8f, 0, 1, 0, 0, 0, 0};
const std::vector<float> kText = {1, 0, 1, 0, 0.8f, 0.6f, 0.6f, 0.8f, 1, 0, 0, 0};
const std::vector<uint8_t> kHasImage = {1, 1, 1, 1, 0, 0};
const std::vector<uint8_t> kHasText = {1, 1, 1, 1, 1, 0};

class SimilarItemsTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("lookbook_similar_" + std::to_string(::getpid()) + "_" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        IngestOptions options;
        options.articles = write("articles.csv", kArticles);
        options.transactions = write("transactions.csv", kTransactions);
        options.store = dir_ / "store";
        auto report = ingest(options);
        ASSERT_TRUE(report.is_ok()) << report.status().to_string();
        ColumnFileWriter writer;
        writer.add("image", kImage);
        writer.add("text", kText);
        writer.add("has_image", kHasImage);
        writer.add("has_text", kHasText);
        writer.set_metadata(R"({"model": "/models/tiny-clip", "dim": 2})");
        auto committed = Store::commit(store_dir(), {{"embeddings", &writer}});
        ASSERT_TRUE(committed.is_ok()) << committed.status().message();
        reopen();
    }
    void TearDown() override { fs::remove_all(dir_); }

    fs::path store_dir() const { return dir_ / "store"; }
    fs::path write(const std::string& name, const std::string& text) {
        fs::path path = dir_ / name;
        std::ofstream(path, std::ios::binary) << text;
        return path;
    }
    void reopen(const SimilarOptions& options = {}) {
        items_.reset();
        auto store = Store::open(store_dir());
        ASSERT_TRUE(store.is_ok()) << store.status().message();
        store_ = std::move(store).value();
        auto items = SimilarItems::open(*store_, options);
        ASSERT_TRUE(items.is_ok()) << items.status().message();
        items_ = std::move(items).value();
    }
    uint32_t row(const std::string& id) const { return *store_->articles().find(id); }
    // Article ids of the hits, for readable comparisons.
    std::vector<std::string> ids(const std::vector<SimilarHit>& hits) const {
        std::vector<std::string> out;
        for (const SimilarHit& hit : hits) {
            out.emplace_back(store_->articles().id(hit.article));
        }
        return out;
    }
    // Runs the built CLI with `args`; returns the exit code and fills *out with stdout+stderr.
    int cli(const std::string& args, std::string* out) {
        const fs::path captured = dir_ / "cli.txt";
        const std::string command = std::string(LOOKBOOK_CLI) + " --log-level off " + args + " > " +
                                    captured.string() + " 2>&1";
        const int status = std::system(command.c_str());
        std::stringstream text;
        text << std::ifstream(captured).rdbuf();
        *out = text.str();
        return WEXITSTATUS(status);
    }
    std::vector<std::string> similar(const SimilarQuery& query) const {
        auto hits = items_->similar_to_article(row("0100000001"), query);
        EXPECT_TRUE(hits.is_ok()) << hits.status().message();
        return hits.is_ok() ? ids(*hits) : std::vector<std::string>{};
    }

    fs::path dir_;
    std::unique_ptr<Store> store_;
    std::unique_ptr<SimilarItems> items_;
};

using Ids = std::vector<std::string>;

TEST_F(SimilarItemsTest, RanksByCombinedScoreAndNeverReturnsTheArticle) {
    auto hits = items_->similar_to_article(row("0100000001"), SimilarQuery{});
    ASSERT_TRUE(hits.is_ok());
    EXPECT_EQ(ids(*hits), (Ids{"0100000002", "0100000003", "0100000005", "0100000004"}));
    // B: image 0.8, text 1 -> 0.9; E has no image: text 1 at half weight -> 0.5.
    EXPECT_NEAR((*hits)[0].score, 0.9, 1e-6);
    EXPECT_NEAR(*(*hits)[0].image_score, 0.8, 1e-6);
    EXPECT_NEAR(*(*hits)[0].text_score, 1.0, 1e-6);
    EXPECT_NEAR((*hits)[2].score, 0.5, 1e-6);
    EXPECT_FALSE((*hits)[2].image_score.has_value());
    EXPECT_NEAR(*(*hits)[2].text_score, 1.0, 1e-6);
    EXPECT_NEAR((*hits)[3].score, 0.3, 1e-6);
    EXPECT_EQ(items_->size(), 5u);
    EXPECT_EQ(items_->model_path(), "/models/tiny-clip");
}

TEST_F(SimilarItemsTest, FiltersVariantsGroupsPriceAndAllowList) {
    SimilarQuery query;
    query.exclude_colour_variants = true;
    EXPECT_EQ(similar(query), (Ids{"0100000003", "0100000005", "0100000004"}));
    query = {};
    query.index_groups = {"Menswear"};
    EXPECT_EQ(similar(query), (Ids{"0100000005", "0100000004"}));
    query = {};
    query.product_groups = {"Garment Upper body", "Accessories"};
    EXPECT_EQ(similar(query), (Ids{"0100000003", "0100000005", "0100000004"}));
    // Mean prices: B 0.03, C (0.02 + 0.04) / 2, D 0.10; E was never sold.
    query = {};
    query.max_price = 0.035;
    EXPECT_EQ(similar(query), (Ids{"0100000002", "0100000003"}));
    query.min_price = 0.031;
    EXPECT_EQ(similar(query), Ids{});
    query = {};
    query.allow = std::vector<uint32_t>{row("0100000004"), row("0100000005"), row("0100000001")};
    EXPECT_EQ(similar(query), (Ids{"0100000005", "0100000004"}));
    query = {};
    query.k = 2;
    EXPECT_EQ(similar(query), (Ids{"0100000002", "0100000003"}));
}

TEST_F(SimilarItemsTest, UnknownFilterValueIsAnError) {
    SimilarQuery query;
    query.index_groups = {"Kidswear"};
    auto hits = items_->similar_to_article(row("0100000001"), query);
    ASSERT_FALSE(hits.is_ok());
    EXPECT_EQ(hits.status().message(),
              "index group \"Kidswear\" is not in the catalog; known values include "
              "\"Ladieswear\", \"Menswear\"");
}

TEST_F(SimilarItemsTest, DiversityPicksTheLeastRedundantSecondArticle) {
    SimilarQuery query;
    query.k = 2;
    query.mmr_lambda = 0.0f;
    // B first (best match), then E: its similarity to B (0.5) is the lowest of C, D, E.
    EXPECT_EQ(similar(query), (Ids{"0100000002", "0100000005"}));
    query.mmr_lambda = 1.5f;
    auto bad = items_->similar_to_article(row("0100000001"), query);
    ASSERT_FALSE(bad.is_ok());
    EXPECT_EQ(bad.status().message(),
              "the MMR lambda is 1.5; it must lie in [0, 1] (1 = no diversity)");
}

TEST_F(SimilarItemsTest, ArticleWithoutEmbeddingIsNotFound) {
    auto hits = items_->similar_to_article(row("0100000006"), SimilarQuery{});
    ASSERT_FALSE(hits.is_ok());
    EXPECT_EQ(hits.status().code(), StatusCode::kNotFound);
    EXPECT_EQ(hits.status().message(),
              "article 0100000006 has no embedding (no photo and no text, or it was removed), "
              "so nothing can be compared with it");
    EXPECT_FALSE(items_->similar_to_article(99, SimilarQuery{}).is_ok());
}

TEST_F(SimilarItemsTest, TextSearchRanksByTextCosineOnly) {
    const std::vector<float> query = {0.6f, 0.8f};  // the text of D
    auto hits = items_->search_by_vector("text", query, SimilarQuery{});
    ASSERT_TRUE(hits.is_ok()) << hits.status().message();
    // Text cosines: D 1, C 0.96, then A, B, E at 0.6 (ties by store row).
    EXPECT_EQ(ids(*hits),
              (Ids{"0100000004", "0100000003", "0100000001", "0100000002", "0100000005"}));
    EXPECT_NEAR((*hits)[0].score, 1.0, 1e-6);
    EXPECT_NEAR((*hits)[1].score, 0.96, 1e-6);
    EXPECT_FALSE((*hits)[0].image_score.has_value());
    // The vector is normalised here: a longer one ranks the same.
    auto image = items_->search_by_vector("image", std::vector<float>{0, 5}, SimilarQuery{});
    ASSERT_TRUE(image.is_ok());
    EXPECT_EQ(ids(*image).front(), "0100000004");
    EXPECT_EQ(image->size(), 4u);  // E and F have no image
    // "*" matches both parts at once, weighted like the combined score.
    auto both = items_->search_by_vector("*", std::vector<float>{1, 0}, SimilarQuery{});
    ASSERT_TRUE(both.is_ok());
    EXPECT_EQ(ids(*both),
              (Ids{"0100000001", "0100000002", "0100000003", "0100000005", "0100000004"}));
    EXPECT_NEAR((*both)[1].score, 0.9, 1e-6);
}

TEST_F(SimilarItemsTest, SearchRejectsUnknownPartAndWrongDimension) {
    auto part = items_->search_by_vector("audio", std::vector<float>{1, 0}, SimilarQuery{});
    EXPECT_EQ(part.status().message(), "no part \"audio\" in the index; parts are image, text");
    auto dim = items_->search_by_vector("text", std::vector<float>{1, 0, 0}, SimilarQuery{});
    EXPECT_EQ(dim.status().message(),
              "the text query has 3 dimensions; the index holds 2-dimensional vectors (was it "
              "made by another model?)");
}

TEST_F(SimilarItemsTest, SavedIndexIsUsedOnlyForTheSameWeights) {
    EXPECT_FALSE(items_->from_saved());
    auto report = build_similar_index(store_dir(), SimilarOptions{});
    ASSERT_TRUE(report.is_ok()) << report.status().message();
    EXPECT_EQ(report->indexed, 5u);
    EXPECT_EQ(report->kind, "exact");
    reopen();
    EXPECT_TRUE(items_->from_saved());
    EXPECT_EQ(similar({}), (Ids{"0100000002", "0100000003", "0100000005", "0100000004"}));
    SimilarOptions text_heavy;
    text_heavy.weights = {0.1f, 0.9f};
    reopen(text_heavy);
    EXPECT_FALSE(items_->from_saved());
    // Text-heavy: E (text 1, no image) now beats C.
    EXPECT_EQ(similar({}), (Ids{"0100000002", "0100000005", "0100000003", "0100000004"}));
}

TEST_F(SimilarItemsTest, HnswIsSavedAndReloadedAboveTheThreshold) {
    SimilarOptions options;
    options.approximate_threshold = 0;
    auto report = build_similar_index(store_dir(), options);
    ASSERT_TRUE(report.is_ok()) << report.status().message();
    EXPECT_EQ(report->kind, "hnsw");
    reopen(options);
    EXPECT_TRUE(items_->from_saved());
    EXPECT_EQ(items_->index_kind(), "hnsw");
    EXPECT_EQ(similar({}), (Ids{"0100000002", "0100000003", "0100000005", "0100000004"}));
    SimilarQuery query;
    query.exclude_colour_variants = true;
    query.index_groups = {"Menswear"};
    EXPECT_EQ(similar(query), (Ids{"0100000005", "0100000004"}));
}

TEST_F(SimilarItemsTest, RemoveAndUpdateArticlesWithoutRebuild) {
    ASSERT_TRUE(items_->remove_article(row("0100000003")).is_ok());
    EXPECT_EQ(similar({}), (Ids{"0100000002", "0100000005", "0100000004"}));
    EXPECT_EQ(items_->remove_article(row("0100000003")).code(), StatusCode::kNotFound);
    const std::vector<float> image = {1, 0};
    const std::vector<float> text = {2, 0};  // normalised on the way in
    ASSERT_TRUE(items_->update_article(row("0100000006"), {image, text}).is_ok());
    auto hits = items_->similar_to_article(row("0100000001"), SimilarQuery{});
    ASSERT_TRUE(hits.is_ok());
    EXPECT_EQ(ids(*hits).front(), "0100000006");
    EXPECT_NEAR(hits->front().score, 1.0, 1e-6);
    EXPECT_FALSE(items_->update_article(row("0100000006"), {image}).is_ok());
}

TEST_F(SimilarItemsTest, StoreWithoutEmbeddingsTellsToRunEmbed) {
    IngestOptions options;
    options.articles = write("one.csv", "article_id\n0100000001\n");
    options.store = dir_ / "bare";
    ASSERT_TRUE(ingest(options).is_ok());
    auto store = Store::open(options.store);
    ASSERT_TRUE(store.is_ok());
    auto items = SimilarItems::open(**store);
    ASSERT_FALSE(items.is_ok());
    const std::string path = options.store.string();
    EXPECT_EQ(items.status().message(),
              path + ": the store has no embeddings yet; run `lookbook build " + path +
                  "` (it trains the catalog's own encoder and embeds every article), or `lookbook "
                  "embed " +
                  path + " --model DIR` with a pretrained CLIP folder.");
}

TEST_F(SimilarItemsTest, CommandsIndexAndAnswerAsJson) {
    std::string out;
    const std::string store = store_dir().string();
    ASSERT_EQ(cli("index " + store, &out), 0) << out;
    EXPECT_NE(out.find("Indexed 5 of 6 articles (4 dimensions, exact search)"), std::string::npos)
        << out;
    EXPECT_NE(out.find("Built from scratch: the store has no saved index"), std::string::npos)
        << out;
    // A second run finds nothing to do; --rebuild builds anyway.
    ASSERT_EQ(cli("index " + store, &out), 0) << out;
    EXPECT_NE(out.find("The saved index is up to date (5 of 6 articles, exact search)"),
              std::string::npos)
        << out;
    ASSERT_EQ(cli("index " + store + " --rebuild", &out), 0) << out;
    EXPECT_NE(out.find("Built from scratch: incremental updates are off"), std::string::npos)
        << out;
    ASSERT_EQ(cli("similar " + store + " 0100000001 -k 2 --json", &out), 0) << out;
    const auto json = nlohmann::json::parse(out);
    ASSERT_EQ(json.size(), 2u);
    // Colour variants are left out by default: C, then E (text only, no image score).
    EXPECT_EQ(json[0]["article_id"], "0100000003");
    EXPECT_NEAR(json[0]["score"].get<double>(), 0.7, 1e-6);
    EXPECT_EQ(json[1]["article_id"], "0100000005");
    EXPECT_TRUE(json[1]["image_score"].is_null());
    ASSERT_EQ(cli("similar " + store + " 0100000001 --keep-variants -k 1", &out), 0);
    EXPECT_NE(out.find(" 1. 0100000002 Blue dress (Dress, Blue)  score 0.900  image 0.800  "
                       "text 1.000"),
              std::string::npos)
        << out;
    // An empty colour leaves no empty slot behind (a fresh-user trial saw "(Socks, )").
    ASSERT_EQ(cli("similar " + store + " 0100000001 -k 2", &out), 0);
    EXPECT_NE(out.find(" 2. 0100000005 Cap (Cap)  score 0.500  image -  text "), std::string::npos)
        << out;
    EXPECT_EQ(cli("similar " + store + " 0999999999", &out), 2);
    EXPECT_EQ(out,
              "lookbook similar: article \"0999999999\" is not in the store's catalog; check the "
              "id (article ids here look like \"0100000001\", 10 characters, leading zeros "
              "included).\n");
    EXPECT_EQ(cli("similar " + store + " 0100000006", &out), 1);
    EXPECT_NE(out.find("has no embedding"), std::string::npos);
}

}  // namespace
}  // namespace lookbook
