// build_similar_index updating a saved index in place: the answers must be those of a full
// rebuild (exact) or close to brute force (HNSW), and a failed update must leave the store as
// it was.
#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "index_fixture.hpp"
#include "lookbook/data/ingest.hpp"
#include "lookbook/index/similar.hpp"

namespace lookbook {
namespace {

namespace fs = std::filesystem;

constexpr uint32_t kArticles = 1500;
constexpr size_t kDim = 8;  // per part; the combined vector has 2 * kDim

SimilarOptions exact_options() {
    SimilarOptions options;
    options.approximate_threshold = std::numeric_limits<size_t>::max();
    return options;
}

SimilarOptions hnsw_options() {
    SimilarOptions options;
    options.approximate_threshold = 0;
    options.hnsw.m = 8;
    options.hnsw.ef_construction = 100;
    options.hnsw.ef_search = 64;
    return options;
}

// A store of kArticles articles whose image and text embeddings are clustered vectors; every
// 50th article starts without any embedding, so it can be "added" later.
class SimilarIndexUpdateTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("lookbook_similar_update_" + std::to_string(::getpid()) + "_" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        std::ostringstream articles;
        articles << "article_id,product_code,prod_name,product_type_name,product_group_name,"
                    "colour_group_name,index_group_name\n";
        for (uint32_t a = 0; a < kArticles; ++a) {
            articles << fmt::format(
                "{:010d},{:07d},Item {},Top,Garment Upper body,Red,Ladieswear\n", a + 1, a, a);
        }
        IngestOptions options;
        options.articles = write("articles.csv", articles.str());
        options.transactions = write("transactions.csv",
                                     "t_dat,customer_id,article_id,price,sales_channel_id\n"
                                     "2020-09-01,c1,0000000001,0.05,1\n");
        options.store = store_dir();
        auto report = ingest(options);
        ASSERT_TRUE(report.is_ok()) << report.status().to_string();
        image_ = testing::clustered_vectors(kArticles, kDim, 30, 7);
        text_ = testing::clustered_vectors(kArticles, kDim, 30, 8);
        has_image_.assign(kArticles, 1);
        has_text_.assign(kArticles, 1);
        for (uint32_t a = 0; a < kArticles; a += 50) {
            has_image_[a] = has_text_[a] = 0;
        }
        commit_embeddings();
    }
    void TearDown() override { fs::remove_all(dir_); }

    fs::path store_dir() const { return dir_ / "store"; }
    fs::path write(const std::string& name, const std::string& text) {
        const fs::path path = dir_ / name;
        std::ofstream(path, std::ios::binary) << text;
        return path;
    }
    void commit_embeddings() {
        ColumnFileWriter writer;
        writer.add("image", image_);
        writer.add("text", text_);
        writer.add("has_image", has_image_);
        writer.add("has_text", has_text_);
        writer.set_metadata(fmt::format(R"({{"model": "/models/tiny", "dim": {}}})", kDim));
        auto committed = Store::commit(store_dir(), {{"embeddings", &writer}});
        ASSERT_TRUE(committed.is_ok()) << committed.status().message();
    }
    // 1% of the articles get new vectors, every 50th (absent so far) gets one, and every 97th
    // loses both. Returns the removed rows.
    std::set<uint32_t> change_embeddings() {
        const auto replacement = testing::clustered_vectors(kArticles, kDim, 30, 99);
        for (uint32_t a = 3; a < kArticles; a += 100) {
            std::copy_n(replacement.begin() + a * kDim, kDim, image_.begin() + a * kDim);
        }
        for (uint32_t a = 0; a < kArticles; a += 50) {
            has_image_[a] = has_text_[a] = 1;
        }
        std::set<uint32_t> removed;
        for (uint32_t a = 1; a < kArticles; a += 97) {
            has_image_[a] = has_text_[a] = 0;
            removed.insert(a);
        }
        commit_embeddings();
        return removed;
    }
    SimilarIndexReport build(const SimilarOptions& options) {
        auto report = build_similar_index(store_dir(), options);
        EXPECT_TRUE(report.is_ok()) << report.status().message();
        return report.is_ok() ? *report : SimilarIndexReport{};
    }
    std::unique_ptr<Store> open_store(const fs::path& dir) {
        auto store = Store::open(dir);
        EXPECT_TRUE(store.is_ok()) << store.status().message();
        return store.is_ok() ? std::move(store).value() : nullptr;
    }
    std::unique_ptr<SimilarItems> open_items(const Store& store, const SimilarOptions& options) {
        auto items = SimilarItems::open(store, options);
        EXPECT_TRUE(items.is_ok()) << items.status().message();
        return items.is_ok() ? std::move(items).value() : nullptr;
    }
    std::string live_similar_bytes() {
        std::ifstream current(store_dir() / "CURRENT");
        std::string generation;
        current >> generation;
        std::stringstream bytes;
        bytes << std::ifstream(store_dir() / generation / "similar.lbc", std::ios::binary).rdbuf();
        return bytes.str();
    }
    // The HNSW graph saved in the live generation of `store`.
    std::unique_ptr<HnswIndex> saved_graph(const Store& store) {
        auto file = store.open_file("similar");
        EXPECT_TRUE(file.is_ok()) << file.status().message();
        auto bytes = file->column<char>("hnsw");
        EXPECT_TRUE(bytes.is_ok()) << bytes.status().message();
        auto loaded = HnswIndex::deserialize(*bytes, 2 * kDim, hnsw_options().hnsw);
        EXPECT_TRUE(loaded.is_ok()) << loaded.status().message();
        return loaded.is_ok() ? std::move(loaded).value() : nullptr;
    }
    std::vector<uint32_t> articles_of(const Result<std::vector<SimilarHit>>& hits) {
        EXPECT_TRUE(hits.is_ok()) << hits.status().message();
        std::vector<uint32_t> out;
        if (hits.is_ok()) {
            for (const SimilarHit& hit : *hits) {
                out.push_back(hit.article);
            }
        }
        return out;
    }

    fs::path dir_;
    std::vector<float> image_;
    std::vector<float> text_;
    std::vector<uint8_t> has_image_;
    std::vector<uint8_t> has_text_;
};

TEST_F(SimilarIndexUpdateTest, ExactUpdateAnswersLikeAFullRebuild) {
    EXPECT_EQ(build(exact_options()).mode, "full");
    const std::set<uint32_t> removed = change_embeddings();
    fs::copy(store_dir(), dir_ / "rebuilt", fs::copy_options::recursive);

    const SimilarIndexReport report = build(exact_options());
    EXPECT_EQ(report.mode, "incremental");
    EXPECT_EQ(report.added, 30u);    // every 50th article
    EXPECT_EQ(report.updated, 15u);  // every 100th from 3
    EXPECT_EQ(report.removed, 16u);  // every 97th from 1, none of them every 50th
    SimilarOptions full = exact_options();
    full.incremental = false;
    auto rebuilt = build_similar_index(dir_ / "rebuilt", full);
    ASSERT_TRUE(rebuilt.is_ok()) << rebuilt.status().message();
    EXPECT_EQ(rebuilt->mode, "full");
    EXPECT_EQ(rebuilt->rebuild_reason, "incremental updates are off");

    const auto store = open_store(store_dir());
    const auto rebuilt_store = open_store(dir_ / "rebuilt");
    const auto items = open_items(*store, exact_options());
    const auto reference = open_items(*rebuilt_store, exact_options());
    ASSERT_TRUE(items && reference);
    EXPECT_TRUE(items->from_saved());
    EXPECT_TRUE(reference->from_saved());
    EXPECT_EQ(items->size(), reference->size());
    for (uint32_t article = 0; article < kArticles; article += 7) {
        if (removed.count(article) > 0) {
            EXPECT_EQ(items->similar_to_article(article, {}).status().code(),
                      StatusCode::kNotFound);
            continue;
        }
        EXPECT_EQ(articles_of(items->similar_to_article(article, {})),
                  articles_of(reference->similar_to_article(article, {})))
            << "article row " << article;
    }
}

TEST_F(SimilarIndexUpdateTest, HnswUpdateKeepsRecallAndNeverReturnsRemovedArticles) {
    EXPECT_EQ(build(hnsw_options()).mode, "full");
    const std::set<uint32_t> removed = change_embeddings();
    const SimilarIndexReport report = build(hnsw_options());
    ASSERT_EQ(report.mode, "incremental") << report.rebuild_reason;
    EXPECT_EQ(report.kind, "hnsw");

    const auto store = open_store(store_dir());
    const auto items = open_items(*store, hnsw_options());
    SimilarOptions brute = exact_options();
    brute.use_saved = false;
    const auto truth = open_items(*store, brute);
    ASSERT_TRUE(items && truth);
    EXPECT_TRUE(items->from_saved());
    EXPECT_EQ(items->index_kind(), "hnsw");
    EXPECT_EQ(truth->index_kind(), "exact");
    size_t found = 0;
    size_t total = 0;
    for (uint32_t article = 0; article < kArticles; article += 3) {
        if (removed.count(article) > 0) {
            continue;
        }
        const auto got = articles_of(items->similar_to_article(article, {}));
        const auto want = articles_of(truth->similar_to_article(article, {}));
        for (uint32_t hit : got) {
            EXPECT_EQ(removed.count(hit), 0u) << "removed article " << hit << " was returned";
            found += std::count(want.begin(), want.end(), hit);
        }
        total += want.size();
    }
    EXPECT_GE(static_cast<double>(found) / total, 0.98);
    // The saved graph itself no longer holds them (the query filter would also hide them).
    const auto graph = saved_graph(*store);
    ASSERT_TRUE(graph);
    EXPECT_EQ(graph->size(), report.indexed);
    for (uint32_t article : removed) {
        EXPECT_FALSE(graph->contains(article)) << "article row " << article;
    }
    // Removed articles are not found by a vector query right on top of them either.
    for (uint32_t article : removed) {
        const std::span<const float> own(image_.data() + article * kDim, kDim);
        SimilarQuery query;
        query.k = 50;
        for (uint32_t hit : articles_of(items->search_by_vector("image", own, query))) {
            EXPECT_EQ(removed.count(hit), 0u) << "removed article " << hit << " was returned";
        }
    }
}

TEST_F(SimilarIndexUpdateTest, UnchangedEmbeddingsWriteNothing) {
    const SimilarIndexReport first = build(exact_options());
    const SimilarIndexReport second = build(exact_options());
    EXPECT_EQ(second.mode, "unchanged");
    EXPECT_EQ(second.generation, first.generation);
}

TEST_F(SimilarIndexUpdateTest, ChangedLayoutOrParametersRebuild) {
    build(hnsw_options());
    SimilarOptions other_m = hnsw_options();
    other_m.hnsw.m = 12;
    EXPECT_EQ(build(other_m).rebuild_reason, "the HNSW parameters changed");
    SimilarOptions text_heavy = other_m;
    text_heavy.weights = {0.2f, 0.8f};
    EXPECT_EQ(build(text_heavy).rebuild_reason, "the dimensions, parts or weights changed");
    SimilarOptions text_heavy_exact = exact_options();
    text_heavy_exact.weights = text_heavy.weights;
    const SimilarIndexReport exact = build(text_heavy_exact);
    EXPECT_EQ(exact.mode, "full");
    EXPECT_EQ(exact.rebuild_reason, "the index kind changed to exact");
}

TEST_F(SimilarIndexUpdateTest, ManyRemovalsRebuildTheGraph) {
    build(hnsw_options());
    for (uint32_t a = 0; a < kArticles; a += 3) {
        has_image_[a] = has_text_[a] = 0;
    }
    commit_embeddings();
    const SimilarIndexReport report = build(hnsw_options());
    EXPECT_EQ(report.mode, "full");
    EXPECT_EQ(report.rebuild_reason.find("nodes are removed articles") != std::string::npos, true)
        << report.rebuild_reason;
}

TEST_F(SimilarIndexUpdateTest, MostIndexedArticlesChangedRebuildsEvenWithManyUnindexed) {
    // Two thirds of the store has no vectors (like articles without photo or text; the fixture
    // also leaves out every 50th article, so 490 are indexed); 294 of them then change (the six
    // left-out articles among 1000..1299 do not count): more than half of what is indexed, a
    // fifth of the store.
    for (uint32_t a = 0; a < 1000; ++a) {
        has_image_[a] = has_text_[a] = 0;
    }
    commit_embeddings();
    ASSERT_EQ(build(hnsw_options()).indexed, 490u);
    const auto replacement = testing::clustered_vectors(kArticles, kDim, 30, 123);
    for (uint32_t a = 1000; a < 1300; ++a) {
        std::copy_n(replacement.begin() + a * kDim, kDim, image_.begin() + a * kDim);
    }
    commit_embeddings();
    const SimilarIndexReport report = build(hnsw_options());
    EXPECT_EQ(report.mode, "full");
    EXPECT_EQ(report.rebuild_reason, "294 of 490 indexed articles changed");
}

TEST_F(SimilarIndexUpdateTest, FailureBeforeCommitLosesNothing) {
    const SimilarIndexReport first = build(hnsw_options());
    const std::string saved = live_similar_bytes();
    change_embeddings();
    const auto crash = [] { return Status::io_error("simulated crash before the rename"); };
    auto failed = build_similar_index(store_dir(), hnsw_options(), crash);
    ASSERT_FALSE(failed.is_ok());
    EXPECT_EQ(failed.status().message(), "simulated crash before the rename");
    // The live generation still holds the old index, byte for byte, and it still loads.
    EXPECT_EQ(live_similar_bytes(), saved);
    {
        const auto store = open_store(store_dir());
        ASSERT_TRUE(store);
        const auto graph = saved_graph(*store);
        ASSERT_TRUE(graph);
        EXPECT_EQ(graph->size(), first.indexed);
    }
    // The next run picks up the same changes.
    const SimilarIndexReport retry = build(hnsw_options());
    EXPECT_EQ(retry.mode, "incremental");
    EXPECT_EQ(retry.added, 30u);
    EXPECT_EQ(retry.removed, 16u);
    EXPECT_NE(live_similar_bytes(), saved);
}

}  // namespace
}  // namespace lookbook
