#include "lookbook/encoders/clip_encode.hpp"

#include <cmath>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "lookbook/encoders/safetensors.hpp"

namespace lookbook {
namespace {

namespace fs = std::filesystem;

const fs::path kClip = fs::path(LOOKBOOK_SHARED_DIR) / "fixtures" / "clip";

torch::Tensor expected_row(const std::string& name, int64_t row) {
    auto file = SafeTensorsFile::open(kClip / "expected_tensors.safetensors");
    EXPECT_TRUE(file.is_ok());
    auto t = file->tensor(name);
    EXPECT_TRUE(t.is_ok());
    return t->select(0, row);
}

void expect_close(const std::vector<float>& got, const torch::Tensor& want, double tolerance) {
    ASSERT_EQ(static_cast<int64_t>(got.size()), want.numel());
    for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_NEAR(got[i], want[i].item<float>(), tolerance) << "element " << i;
    }
}

// Text 0 of the fixture, from raw text through the tokenizer and both weight namings.
TEST(EncodeClipText, MatchesFixtureFromRawTextForBothLayouts) {
    for (const fs::path& dir : {kClip / "hf", kClip}) {
        auto model = ClipModel::load(dir);
        ASSERT_TRUE(model.is_ok()) << model.status().to_string();
        auto tokenizer = ClipTokenizer::from_model_dir(dir);
        ASSERT_TRUE(tokenizer.is_ok()) << tokenizer.status().to_string();
        auto encoded = encode_clip_text(**model, *tokenizer, "a photo of a red dress");
        ASSERT_TRUE(encoded.is_ok());

        torch::Tensor ids = expected_row("input_ids", 0);
        ASSERT_EQ(encoded->token_ids.size(), 77u);
        for (int64_t i = 0; i < 77; ++i) {
            EXPECT_EQ(encoded->token_ids[i], ids[i].item<int64_t>()) << "id " << i;
        }
        expect_close(encoded->embedding, expected_row("text_embeds", 0), 1e-4);
        expect_close(encoded->normalized, expected_row("text_embeds_normalized", 0), 1e-5);
    }
}

// Image 4 (RGBA, premultiplied resize, half-to-even crop) from the PNG file.
TEST(EncodeClipImageFile, MatchesFixtureFromPngFile) {
    auto model = ClipModel::load(kClip / "hf");
    ASSERT_TRUE(model.is_ok());
    auto encoded = encode_clip_image_file(**model, kClip / "images" / "rgba_57x40.png");
    ASSERT_TRUE(encoded.is_ok()) << encoded.status().to_string();
    EXPECT_TRUE(encoded->token_ids.empty());
    expect_close(encoded->embedding, expected_row("image_embeds", 4), 1e-4);
    expect_close(encoded->normalized, expected_row("image_embeds_normalized", 4), 1e-5);
    double norm = 0;
    for (float v : encoded->normalized) {
        norm += static_cast<double>(v) * v;
    }
    EXPECT_NEAR(std::sqrt(norm), 1.0, 1e-6);
}

TEST(EncodeClipImageFile, ReportsMissingImageByName) {
    auto model = ClipModel::load(kClip / "hf");
    ASSERT_TRUE(model.is_ok());
    auto encoded = encode_clip_image_file(**model, "/nonexistent/shirt.jpg");
    EXPECT_EQ(encoded.status().code(), StatusCode::kNotFound);
    EXPECT_NE(encoded.status().message().find("/nonexistent/shirt.jpg"), std::string::npos)
        << encoded.status().message();
}

TEST(ClipPreprocessFor, TakesSizeMeanAndStdFromConfig) {
    ClipConfig config;
    config.vision.image_size = 336;
    config.image_mean = {0.5f, 0.5f, 0.5f};
    config.image_std = {0.25f, 0.5f, 1.0f};
    ClipPreprocess p = clip_preprocess_for(config);
    EXPECT_EQ(p.size, 336);
    EXPECT_EQ(p.mean[1], 0.5f);
    EXPECT_EQ(p.std[0], 0.25f);
}

}  // namespace
}  // namespace lookbook
