#include "lookbook/encoders/align_model.hpp"

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "align_fixture.hpp"
#include "lookbook/encoders/align_config.hpp"
#include "lookbook/encoders/encoder.hpp"

namespace lookbook {
namespace {

namespace fs = std::filesystem;
using testing::align_expected_tensor;
using testing::align_fixture_dir;
using testing::max_abs_diff;

// Tolerances of the fixture README.
constexpr double kHidden = 1e-4;
constexpr double kEmbed = 1e-4;
constexpr double kNormalized = 1e-5;
constexpr double kLogits = 1e-3;

AlignModel& fixture_model() {
    static std::unique_ptr<AlignModel> model = [] {
        auto loaded = AlignModel::load(align_fixture_dir());
        EXPECT_TRUE(loaded.is_ok()) << loaded.status().message();
        return loaded.is_ok() ? std::move(loaded).value() : nullptr;
    }();
    return *model;
}

torch::Tensor normalized(const torch::Tensor& x) { return x / x.norm(2, 1, true); }

// A copy of the fixture folder whose config.json is `edit`ed; the weights are linked.
fs::path fixture_with_config(const std::string& name,
                             const std::function<void(nlohmann::json&)>& edit) {
    const fs::path dir = fs::temp_directory_path() / ("lookbook_align_" + name);
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::ifstream in(align_fixture_dir() / "config.json");
    nlohmann::json config = nlohmann::json::parse(in);
    edit(config);
    std::ofstream(dir / "config.json") << config.dump(2);
    fs::create_symlink(align_fixture_dir() / "model.safetensors", dir / "model.safetensors");
    return dir;
}

TEST(AlignConfig, DerivesFixtureBlockTable) {
    auto config = read_align_config(align_fixture_dir());
    ASSERT_TRUE(config.is_ok()) << config.status().message();
    EXPECT_EQ(align_stem_channels(config->vision), 16);
    const std::vector<AlignBlockSpec> blocks = align_blocks(config->vision);
    ASSERT_EQ(blocks.size(), 9u);
    const nlohmann::json expected = testing::load_align_expected_json();
    // The README's table: in, out, kernel, stride, SE dim, residual; pads of stride-2 blocks.
    const int64_t in[] = {16, 8, 8, 16, 16, 24, 24, 24, 16};
    const int64_t out[] = {8, 8, 16, 16, 24, 24, 24, 16, 16};
    const int64_t se[] = {4, 2, 2, 4, 4, 6, 6, 6, 4};
    const bool residual[] = {false, true, false, true, false, true, true, false, true};
    for (size_t b = 0; b < blocks.size(); ++b) {
        SCOPED_TRACE(b);
        EXPECT_EQ(blocks[b].in_dim, in[b]);
        EXPECT_EQ(blocks[b].out_dim, out[b]);
        EXPECT_EQ(blocks[b].se_dim, se[b]);
        EXPECT_EQ(blocks[b].residual, residual[b]);
    }
    EXPECT_EQ(blocks[2].pad, (std::vector<int64_t>{0, 1, 0, 1}));
    EXPECT_EQ(blocks[4].pad, (std::vector<int64_t>{2, 2, 2, 2}));
    EXPECT_EQ(blocks[4].expand_dim, 96);
    EXPECT_FALSE(blocks[0].expand);
}

TEST(AlignConfig, AlignBaseHas55BlocksEndingAt640Channels) {
    const AlignConfig base = align_base_config();
    ASSERT_TRUE(validate_align_config(base).is_ok());
    const std::vector<AlignBlockSpec> blocks = align_blocks(base.vision);
    EXPECT_EQ(blocks.size(), 55u);
    EXPECT_EQ(align_stem_channels(base.vision), 64);
    EXPECT_EQ(blocks.back().out_dim, 640);
}

TEST(AlignModel, ImageTowerMatchesReferenceBlockByBlock) {
    AlignModel& model = fixture_model();
    torch::Tensor pixels = align_expected_tensor("pixel_values");
    std::vector<torch::Tensor> maps = model.image_feature_maps(pixels);
    ASSERT_EQ(maps.size(), 10u);
    EXPECT_LT(max_abs_diff(maps[0], align_expected_tensor("vision_stem_output")), kHidden);
    for (size_t b = 0; b < 9; ++b) {
        const std::string name = fmt::format("vision_block_{:02d}_output", b);
        EXPECT_LT(max_abs_diff(maps[b + 1], align_expected_tensor(name)), kHidden) << name;
    }
    torch::Tensor embeds = model.encode_image(pixels);
    EXPECT_LT(max_abs_diff(embeds, align_expected_tensor("image_embeds")), kEmbed);
    EXPECT_LT(max_abs_diff(normalized(embeds), align_expected_tensor("image_embeds_normalized")),
              kNormalized);
}

TEST(AlignModel, TextTowerMatchesReferenceLayerByLayer) {
    AlignModel& model = fixture_model();
    torch::Tensor ids = align_expected_tensor("input_ids");
    torch::Tensor mask = align_expected_tensor("attention_mask");
    std::vector<torch::Tensor> states = model.text_hidden_states(ids, mask);
    ASSERT_EQ(states.size(), 3u);
    for (size_t l = 0; l < states.size(); ++l) {
        const std::string name = "text_hidden_states_" + std::to_string(l);
        EXPECT_LT(max_abs_diff(states[l], align_expected_tensor(name)), kHidden) << name;
    }
    EXPECT_LT(max_abs_diff(states.back().select(1, 0), align_expected_tensor("text_cls")), kEmbed);
    torch::Tensor embeds = model.encode_text(ids, mask);
    EXPECT_LT(max_abs_diff(embeds, align_expected_tensor("text_embeds")), kEmbed);
    EXPECT_LT(max_abs_diff(normalized(embeds), align_expected_tensor("text_embeds_normalized")),
              kNormalized);
}

TEST(AlignModel, LogitsUseTheStoredTemperature) {
    AlignModel& model = fixture_model();
    EXPECT_EQ(model.temperature(), align_expected_tensor("temperature").item<float>());
    torch::Tensor text = normalized(model.encode_text(align_expected_tensor("input_ids"),
                                                      align_expected_tensor("attention_mask")));
    torch::Tensor image = normalized(model.encode_image(align_expected_tensor("pixel_values")));
    torch::Tensor logits = torch::matmul(text, image.t()) / model.temperature();  // [8, 6]
    EXPECT_LT(max_abs_diff(logits, align_expected_tensor("logits_per_text")), kLogits);
}

TEST(AlignModel, MissingFolderIsNotFound) {
    auto model = AlignModel::load("/nonexistent/align-model");
    ASSERT_FALSE(model.is_ok());
    EXPECT_EQ(model.status().code(), StatusCode::kNotFound);
    EXPECT_EQ(model.status().message(),
              "/nonexistent/align-model: not a folder; expected an ALIGN model folder with "
              "config.json and model.safetensors");
}

TEST(AlignModel, MissingWeightsFileIsNotFound) {
    const fs::path dir = fixture_with_config("noweights", [](nlohmann::json&) {});
    fs::remove(dir / "model.safetensors");
    auto model = AlignModel::load(dir);
    ASSERT_FALSE(model.is_ok());
    EXPECT_EQ(model.status().code(), StatusCode::kNotFound);
    EXPECT_NE(model.status().message().find((dir / "model.safetensors").string()),
              std::string::npos)
        << model.status().message();
}

TEST(AlignModel, OtherArchitectureIsUnsupported) {
    const fs::path dir = fixture_with_config("bert", [](nlohmann::json& c) {
        c["model_type"] = "bert";
        c["architectures"] = {"BertModel"};
    });
    auto model = AlignModel::load(dir);
    ASSERT_FALSE(model.is_ok());
    EXPECT_EQ(model.status().code(), StatusCode::kUnsupported);
    EXPECT_EQ(model.status().message(),
              (dir / "config.json").string() +
                  ": model_type is \"bert\"; expected \"align\" (Hugging Face AlignModel)");
}

TEST(AlignModel, ShapeMismatchNamesTensorAndBothShapes) {
    const fs::path dir = fixture_with_config(
        "shape", [](nlohmann::json& c) { c["text_config"]["intermediate_size"] = 40; });
    auto model = AlignModel::load(dir);
    ASSERT_FALSE(model.is_ok());
    EXPECT_EQ(model.status().code(), StatusCode::kInvalidData);
    EXPECT_EQ(model.status().message(),
              (dir / "model.safetensors").string() +
                  ": tensor \"text_model.encoder.layer.0.intermediate.dense.weight\" has shape "
                  "[37, 32]; config.json implies [40, 32]. Use the config.json that came with "
                  "these weights");
}

TEST(AlignModel, UnsupportedActivationNamesField) {
    const fs::path dir = fixture_with_config(
        "act", [](nlohmann::json& c) { c["vision_config"]["hidden_act"] = "relu"; });
    auto model = AlignModel::load(dir);
    ASSERT_FALSE(model.is_ok());
    EXPECT_EQ(model.status().code(), StatusCode::kUnsupported);
    EXPECT_EQ(model.status().message(),
              (dir / "config.json").string() +
                  ": \"vision_config.hidden_act\" is \"relu\"; lookbook supports \"swish\" "
                  "(SiLU) only");
}

TEST(AlignModel, ProjectionWidthMustMatchLastStage) {
    const fs::path dir =
        fixture_with_config("proj", [](nlohmann::json& c) { c["projection_dim"] = 24; });
    auto model = AlignModel::load(dir);
    ASSERT_FALSE(model.is_ok());
    EXPECT_EQ(model.status().code(), StatusCode::kInvalidData);
    EXPECT_NE(model.status().message().find("the image tower ends with 16 channels"),
              std::string::npos)
        << model.status().message();
}

TEST(Encoder, LoadsAlignFolderAndEmbedsFixtureInputs) {
    auto encoder = load_encoder(align_fixture_dir());
    ASSERT_TRUE(encoder.is_ok()) << encoder.status().message();
    EXPECT_EQ((*encoder)->kind(), "align");
    EXPECT_EQ((*encoder)->dim(), 16);
    const nlohmann::json expected = testing::load_align_expected_json();
    std::vector<std::string> texts;
    for (const nlohmann::json& text : expected["texts"]) {
        texts.push_back(text["text"]);
    }
    // The batch is cut at its longest text; masked padding leaves the embeddings unchanged.
    auto text_embeds = (*encoder)->encode_texts(texts);
    ASSERT_TRUE(text_embeds.is_ok()) << text_embeds.status().message();
    EXPECT_LT(max_abs_diff(*text_embeds, align_expected_tensor("text_embeds")), kEmbed);
    // From the PNG files: decoding and preprocessing are exact, so the tower tolerance holds.
    std::vector<RgbImage> images;
    for (const nlohmann::json& image : expected["images"]) {
        auto decoded = decode_image_file(align_fixture_dir() / image["file"].get<std::string>());
        ASSERT_TRUE(decoded.is_ok());
        images.push_back(std::move(decoded).value());
    }
    auto image_embeds = (*encoder)->encode_images(images);
    ASSERT_TRUE(image_embeds.is_ok()) << image_embeds.status().message();
    EXPECT_LT(max_abs_diff(*image_embeds, align_expected_tensor("image_embeds")), kEmbed);
}

TEST(Encoder, InvalidUtf8TextNamesItsIndex) {
    auto encoder = load_encoder(align_fixture_dir());
    ASSERT_TRUE(encoder.is_ok());
    auto out = (*encoder)->encode_texts({"fine", std::string("bad \xFF")});
    ASSERT_FALSE(out.is_ok());
    EXPECT_EQ(out.status().message(),
              "text 1: text is not valid UTF-8 (byte 0xff at offset 4); re-encode it as UTF-8");
}

TEST(Encoder, DetectsClipFolders) {
    const fs::path clip = fs::path(LOOKBOOK_SHARED_DIR) / "fixtures" / "clip" / "hf";
    EXPECT_EQ(detect_encoder_kind(clip), EncoderKind::kClip);
    EXPECT_EQ(detect_encoder_kind(align_fixture_dir()), EncoderKind::kAlign);
    auto encoder = load_encoder(clip);
    ASSERT_TRUE(encoder.is_ok()) << encoder.status().message();
    EXPECT_EQ((*encoder)->kind(), "clip");
}

TEST(AlignModel, RandomWeightsGiveFiniteEmbeddingsOfProjectionWidth) {
    auto config = read_align_config(align_fixture_dir());
    ASSERT_TRUE(config.is_ok());
    auto model = AlignModel::with_random_weights(*config, 7);
    ASSERT_TRUE(model.is_ok()) << model.status().message();
    torch::Tensor image = (*model)->encode_image(torch::randn({2, 3, 32, 32}));
    EXPECT_EQ(image.sizes(), (std::vector<int64_t>{2, 16}));
    EXPECT_TRUE(torch::isfinite(image).all().item<bool>());
}

}  // namespace
}  // namespace lookbook
