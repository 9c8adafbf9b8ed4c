#include "lookbook/encoders/catalog_embed.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <unistd.h>

#include "input_fixture.hpp"
#include "lookbook/data/ingest.hpp"
#include "lookbook/encoders/clip_encode.hpp"
#include "lookbook/encoders/encoder.hpp"

namespace lookbook {
namespace {

namespace fs = std::filesystem;

const fs::path kModel = fs::path(LOOKBOOK_SHARED_DIR) / "fixtures" / "clip" / "hf";

// Five articles: two share one photo, one photo is truncated, one article has no photo.
constexpr const char* kArticles =
    "article_id,prod_name,product_type_name,colour_group_name,detail_desc\n"
    "0000000001,Strap top,Vest top,Black,Jersey top with narrow straps.\n"
    "0000000002,Strap top twin,Vest top,Black,Same photo as the first\n"
    "0000000003,Palette dress,Dress,Red,\n"
    "0000000004,Broken photo,Shirt,White,Its file is cut short\n"
    "0000000005,No photo,Trousers,,Nothing to look at\n";

class CatalogEmbedTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("lookbook_embed_" + std::to_string(::getpid()) + "_" +
                std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
        fs::remove_all(dir_);
        fs::create_directories(dir_ / "images");
        const fs::path data = testing::encoders_test_data_dir();
        fs::copy_file(data / "gray.jpg", dir_ / "images" / "0000000001.jpg");
        fs::copy_file(data / "gray.jpg", dir_ / "images" / "0000000002.jpg");
        fs::copy_file(data / "palette.png", dir_ / "images" / "0000000003.png");
        fs::copy_file(data / "truncated.jpg", dir_ / "images" / "0000000004.jpg");
        ASSERT_TRUE(testing::ingest_articles(dir_, kArticles).is_ok());
    }
    void TearDown() override { fs::remove_all(dir_); }

    fs::path dir_;
};

float norm(std::span<const float> row) {
    double sum = 0;
    for (float v : row) {
        sum += static_cast<double>(v) * v;
    }
    return static_cast<float>(std::sqrt(sum));
}

TEST(CatalogText, JoinsNameTypeColourAndDescriptionSkippingEmptyFields) {
    // Built by hand from kArticles: article 3 has no description, article 5 no colour.
    const fs::path dir =
        fs::temp_directory_path() / ("lookbook_catalog_text_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::ofstream(dir / "articles.csv", std::ios::binary) << kArticles;
    IngestOptions options;
    options.articles = dir / "articles.csv";
    options.store = dir / "store";
    ASSERT_TRUE(ingest(options).is_ok());
    auto store = Store::open(dir / "store");
    ASSERT_TRUE(store.is_ok());
    const ArticleTable& a = (*store)->articles();
    EXPECT_EQ(catalog_text(a, *a.find("0000000001")),
              "Strap top. Vest top. Black. Jersey top with narrow straps.");
    EXPECT_EQ(catalog_text(a, *a.find("0000000003")), "Palette dress. Dress. Red.");
    EXPECT_EQ(catalog_text(a, *a.find("0000000005")), "No photo. Trousers. Nothing to look at.");
    fs::remove_all(dir);
}

TEST_F(CatalogEmbedTest, StoresNormalisedVectorsEqualToSingleEncodes) {
    auto report = embed_catalog(dir_ / "store", kModel, {.batch_size = 2});
    ASSERT_TRUE(report.is_ok()) << report.status().to_string();
    EXPECT_EQ(report->articles, 5u);
    EXPECT_EQ(report->texts, 5u);
    EXPECT_EQ(report->images, 4u);
    EXPECT_EQ(report->image_errors, 1u);
    EXPECT_EQ(report->images_encoded, 2u);  // gray.jpg once for two articles, palette.png
    EXPECT_EQ(report->images_cached, 1u);
    EXPECT_EQ(report->dim, 32);
    EXPECT_EQ(report->cache_file.parent_path(), dir_ / "store" / "cache" / "image-embeddings");
    EXPECT_TRUE(fs::exists(report->cache_file));

    auto store = Store::open(dir_ / "store");
    ASSERT_TRUE(store.is_ok());
    auto emb = load_catalog_embeddings(**store);
    ASSERT_TRUE(emb.is_ok()) << emb.status().to_string();
    const ArticleTable& a = (*store)->articles();
    const uint32_t first = *a.find("0000000001");
    const uint32_t twin = *a.find("0000000002");
    const uint32_t broken = *a.find("0000000004");
    const uint32_t none = *a.find("0000000005");
    EXPECT_EQ((*emb)->dim, 32);
    EXPECT_EQ((*emb)->has_image[first], 1);
    EXPECT_EQ((*emb)->has_image[broken], 0);
    EXPECT_EQ((*emb)->has_image[none], 0);
    EXPECT_EQ(norm((*emb)->image_row(broken)), 0.0f);
    EXPECT_NEAR(norm((*emb)->image_row(first)), 1.0f, 1e-5);
    EXPECT_NEAR(norm((*emb)->text_row(none)), 1.0f, 1e-5);

    // The batched path against the one-at-a-time path of `lookbook encode`.
    auto model = ClipModel::load(kModel);
    auto tokenizer = ClipTokenizer::from_model_dir(kModel);
    ASSERT_TRUE(model.is_ok() && tokenizer.is_ok());
    auto image = encode_clip_image_file(**model, dir_ / "images" / "0000000001.jpg");
    auto text = encode_clip_text(**model, *tokenizer, catalog_text(a, none));
    ASSERT_TRUE(image.is_ok() && text.is_ok());
    for (int64_t i = 0; i < 32; ++i) {
        EXPECT_NEAR((*emb)->image_row(first)[i], image->normalized[i], 1e-5) << i;
        EXPECT_EQ((*emb)->image_row(twin)[i], (*emb)->image_row(first)[i]) << i;
        EXPECT_NEAR((*emb)->text_row(none)[i], text->normalized[i], 1e-5) << i;
    }
    // The ingest's tables are still there (the commit kept the other files).
    EXPECT_EQ(a.size(), 5u);
}

TEST_F(CatalogEmbedTest, AlignFolderStoresAlignVectorsEqualToSingleEncodes) {
    const fs::path align = fs::path(LOOKBOOK_SHARED_DIR) / "fixtures" / "align";
    // Batches of 3 texts of different lengths: each batch is cut at its longest text.
    auto report = embed_catalog(dir_ / "store", align, {.batch_size = 3});
    ASSERT_TRUE(report.is_ok()) << report.status().to_string();
    EXPECT_EQ(report->dim, 16);
    EXPECT_EQ(report->texts, 5u);
    EXPECT_EQ(report->text_errors, 0u);
    EXPECT_EQ(report->image_errors, 1u);

    auto store = Store::open(dir_ / "store");
    ASSERT_TRUE(store.is_ok());
    auto emb = load_catalog_embeddings(**store);
    ASSERT_TRUE(emb.is_ok()) << emb.status().to_string();
    EXPECT_NE((*emb)->file.metadata().find("\"model_type\":\"align\""), std::string::npos)
        << (*emb)->file.metadata();
    const ArticleTable& a = (*store)->articles();
    const uint32_t first = *a.find("0000000001");
    const uint32_t none = *a.find("0000000005");

    // One text and one photo at a time through the same interface `lookbook encode` uses.
    auto encoder = load_encoder(align);
    ASSERT_TRUE(encoder.is_ok()) << encoder.status().to_string();
    auto text = (*encoder)->encode_texts({catalog_text(a, none)});
    auto photo = decode_image_file(dir_ / "images" / "0000000001.jpg");
    ASSERT_TRUE(text.is_ok() && photo.is_ok());
    auto image = (*encoder)->encode_images({*photo});
    ASSERT_TRUE(image.is_ok());
    torch::Tensor text_unit = *text / text->norm();     // [1, 16]
    torch::Tensor image_unit = *image / image->norm();  // [1, 16]
    for (int64_t i = 0; i < 16; ++i) {
        EXPECT_NEAR((*emb)->text_row(none)[i], text_unit[0][i].item<float>(), 1e-5) << i;
        EXPECT_NEAR((*emb)->image_row(first)[i], image_unit[0][i].item<float>(), 1e-5) << i;
    }
}

TEST_F(CatalogEmbedTest, RerunTakesEveryPhotoFromTheCache) {
    ASSERT_TRUE(embed_catalog(dir_ / "store", kModel).is_ok());
    auto again = embed_catalog(dir_ / "store", kModel);
    ASSERT_TRUE(again.is_ok());
    EXPECT_EQ(again->images_encoded, 0u);
    EXPECT_EQ(again->images_cached, 3u);
    EXPECT_EQ(again->image_errors, 1u);
}

TEST_F(CatalogEmbedTest, RejectsZeroBatch) {
    auto report = embed_catalog(dir_ / "store", kModel, {.batch_size = 0});
    ASSERT_FALSE(report.is_ok());
    EXPECT_EQ(report.status().message(), "--batch is 0; expected 1 or more");
}

TEST_F(CatalogEmbedTest, LoadingBeforeEmbedSaysToRunEmbed) {
    auto store = Store::open(dir_ / "store");
    ASSERT_TRUE(store.is_ok());
    auto emb = load_catalog_embeddings(**store);
    ASSERT_FALSE(emb.is_ok());
    EXPECT_EQ(emb.status().code(), StatusCode::kNotFound);
    EXPECT_NE(emb.status().message().find("run `lookbook build"), std::string::npos)
        << emb.status().message();
}

TEST(ContentKey, DiffersForDifferentBytesAndIsStable) {
    EXPECT_EQ(content_key("abc"), content_key("abc"));
    EXPECT_NE(content_key("abc"), content_key("abd"));
    EXPECT_EQ(content_key("").size(), 32u);
    // FNV-1a 64 of "" is the offset basis; CRC-32C of "" is 0; length 0.
    EXPECT_EQ(content_key(""), "cbf29ce4842223250000000000000000");
}

}  // namespace
}  // namespace lookbook
