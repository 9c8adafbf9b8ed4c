#include "lookbook/encoders/clip_model.hpp"

#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include "lookbook/encoders/safetensors.hpp"
#include "lookbook/util/file.hpp"

namespace lookbook {
namespace {

namespace fs = std::filesystem;

const fs::path kClipFixtures = fs::path(LOOKBOOK_SHARED_DIR) / "fixtures" / "clip";

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
    EXPECT_EQ(a.sizes(), b.sizes());
    return (a - b).abs().max().item<double>();
}

torch::Tensor expected(const std::string& name) {
    auto file = SafeTensorsFile::open(kClipFixtures / "expected_tensors.safetensors");
    EXPECT_TRUE(file.is_ok()) << file.status().to_string();
    auto t = file->tensor(name);
    EXPECT_TRUE(t.is_ok()) << t.status().to_string();
    return *t;
}

// Runs the fixture inputs through `dir`'s model and compares every output with the reference
// computed by openai/CLIP, at the fixture README's tolerances.
void check_fixture_parity(const fs::path& dir, ClipWeightLayout layout) {
    auto model = ClipModel::load(dir);
    ASSERT_TRUE(model.is_ok()) << model.status().to_string();
    ClipModel& m = **model;
    EXPECT_EQ(m.config().layout, layout);
    EXPECT_EQ(m.config().text.heads, 2);
    EXPECT_EQ(m.config().vision.heads, 2);
    EXPECT_EQ(m.config().vision.activation, ClipActivation::kQuickGelu);

    const torch::Tensor pixels = expected("pixel_values");
    const torch::Tensor ids = expected("input_ids");
    EXPECT_LT(max_abs_diff(m.encode_image_pooled(pixels), expected("image_pooled")), 1e-4);
    EXPECT_LT(max_abs_diff(m.encode_text_pooled(ids), expected("text_pooled")), 1e-4);
    const torch::Tensor image = m.encode_image(pixels);
    const torch::Tensor text = m.encode_text(ids);
    EXPECT_LT(max_abs_diff(image, expected("image_embeds")), 1e-4);
    EXPECT_LT(max_abs_diff(text, expected("text_embeds")), 1e-4);

    const torch::Tensor image_n = image / image.norm(2, -1, true);
    const torch::Tensor text_n = text / text.norm(2, -1, true);
    EXPECT_LT(max_abs_diff(image_n, expected("image_embeds_normalized")), 1e-5);
    EXPECT_LT(max_abs_diff(text_n, expected("text_embeds_normalized")), 1e-5);
    const torch::Tensor logits = m.logit_scale() * image_n.matmul(text_n.t());
    EXPECT_LT(max_abs_diff(logits, expected("logits_per_image")), 1e-3);
    EXPECT_EQ(m.logit_scale(), expected("logit_scale").exp().item<float>());
}

TEST(ClipModel, MatchesReferenceWithHuggingFaceWeights) {
    check_fixture_parity(kClipFixtures / "hf", ClipWeightLayout::kHuggingFace);
}

TEST(ClipModel, MatchesReferenceWithOpenClipWeights) {
    check_fixture_parity(kClipFixtures, ClipWeightLayout::kOpenClip);
}

TEST(ClipModel, PadsWithZeroOrEotToSameTextEmbedding) {
    auto model = ClipModel::load(kClipFixtures / "hf");
    ASSERT_TRUE(model.is_ok());
    // The causal mask hides everything after the first EOT, so HF-style padding with 49407
    // must not change the embedding (row 0 has 8 real tokens).
    torch::Tensor ids = expected("input_ids").slice(0, 0, 1).clone();
    torch::Tensor eot_padded = ids.clone();
    eot_padded.slice(1, 8).fill_(49407);
    EXPECT_LT(max_abs_diff((*model)->encode_text(ids), (*model)->encode_text(eot_padded)), 1e-6);
    // A shorter context gives the same result as well.
    EXPECT_LT(max_abs_diff((*model)->encode_text(ids),
                           (*model)->encode_text(ids.slice(1, 0, 8).contiguous())),
              1e-5);
}

// A scratch folder per test, holding small configs and weights written by the test.
class ClipModelFiles : public ::testing::Test {
  protected:
    void SetUp() override {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        dir_ = fs::temp_directory_path() /
               (std::string("lookbook_clip_") + info->name() + "_" + std::to_string(::getpid()));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    void write(const std::string& name, const std::string& text) {
        ASSERT_TRUE(write_file_synced(dir_ / name, text).is_ok());
    }

    // A tiny OpenCLIP config: vision 16 px, patch 8, width 16 (2 heads of 8), text width 8
    // with 2 heads, vocab 20, context 6, embed 4, exact GELU.
    void write_tiny_open_clip_config() {
        write("open_clip_config.json",
              R"({"model_cfg": {"embed_dim": 4,
                  "vision_cfg": {"image_size": 16, "patch_size": 8, "width": 16, "layers": 1,
                                 "head_width": 8},
                  "text_cfg": {"context_length": 6, "vocab_size": 20, "width": 8, "heads": 2,
                               "layers": 1}}})");
    }

    ClipConfig tiny_config() {
        auto config = read_open_clip_config(dir_ / "open_clip_config.json");
        EXPECT_TRUE(config.is_ok()) << config.status().to_string();
        return *config;
    }

    fs::path dir_;
};

TEST_F(ClipModelFiles, ReadsHeadsAndActivationFromOpenClipConfig) {
    write_tiny_open_clip_config();
    ClipConfig c = tiny_config();
    EXPECT_EQ(c.vision.heads, 2);
    EXPECT_EQ(c.vision.mlp_width, 64);
    EXPECT_EQ(c.text.heads, 2);
    EXPECT_EQ(c.text.mlp_width, 32);
    EXPECT_EQ(c.text.activation, ClipActivation::kGelu);
    EXPECT_EQ(c.layout, ClipWeightLayout::kOpenClip);
}

TEST_F(ClipModelFiles, RoundTripsRandomWeightsThroughOpenClipFile) {
    write_tiny_open_clip_config();
    auto original = ClipModel::with_random_weights(tiny_config(), 3);
    ASSERT_TRUE(original.is_ok());
    auto weights = (*original)->openai_state_dict();
    // An HF-style position_ids buffer is ignored; another extra tensor only warns.
    weights.emplace_back("text.position_ids", torch::arange(6));
    weights.emplace_back("unrelated.tensor", torch::ones({2}));
    ASSERT_TRUE(write_safetensors(dir_ / "open_clip_model.safetensors", weights).is_ok());

    auto loaded = ClipModel::load(dir_);
    ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
    torch::Tensor pixels = torch::randn({2, 3, 16, 16});
    torch::Tensor ids = torch::tensor({{19, 3, 4, 0, 0, 0}, {19, 5, 0, 0, 0, 0}}, torch::kInt64);
    EXPECT_LT(max_abs_diff((*original)->encode_image(pixels), (*loaded)->encode_image(pixels)),
              1e-6);
    EXPECT_LT(max_abs_diff((*original)->encode_text(ids), (*loaded)->encode_text(ids)), 1e-6);
}

TEST_F(ClipModelFiles, LoadsHalfPrecisionWeightsAsFloat) {
    write_tiny_open_clip_config();
    auto original = ClipModel::with_random_weights(tiny_config(), 5);
    ASSERT_TRUE(original.is_ok());
    auto weights = (*original)->openai_state_dict();
    for (auto& [name, tensor] : weights) {
        tensor = tensor.to(torch::kFloat16);
    }
    ASSERT_TRUE(write_safetensors(dir_ / "open_clip_model.safetensors", weights).is_ok());

    auto loaded = ClipModel::load(dir_);
    ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
    torch::Tensor pixels = torch::randn({1, 3, 16, 16});
    torch::Tensor a = (*original)->encode_image(pixels);
    torch::Tensor b = (*loaded)->encode_image(pixels);
    EXPECT_EQ(b.scalar_type(), torch::kFloat32);
    // fp16 keeps about 3 significant digits of each weight.
    EXPECT_LT(max_abs_diff(a, b), 2e-2 * a.abs().max().item<double>());
}

TEST_F(ClipModelFiles, RejectsMissingTensorNamingIt) {
    write_tiny_open_clip_config();
    auto model = ClipModel::with_random_weights(tiny_config(), 1);
    ASSERT_TRUE(model.is_ok());
    auto weights = (*model)->openai_state_dict();
    std::erase_if(weights, [](const auto& item) { return item.first == "visual.ln_post.bias"; });
    ASSERT_TRUE(write_safetensors(dir_ / "open_clip_model.safetensors", weights).is_ok());

    auto loaded = ClipModel::load(dir_);
    EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidData);
    EXPECT_EQ(loaded.status().message(),
              (dir_ / "open_clip_model.safetensors").string() +
                  ": tensor \"visual.ln_post.bias\" is missing (expected shape [16] from "
                  "open_clip_config.json); the weights do not belong to this config");
}

TEST_F(ClipModelFiles, RejectsShapeMismatchNamingBothShapes) {
    write_tiny_open_clip_config();
    auto model = ClipModel::with_random_weights(tiny_config(), 1);
    ASSERT_TRUE(model.is_ok());
    auto weights = (*model)->openai_state_dict();
    for (auto& [name, tensor] : weights) {
        if (name == "text_projection") {
            tensor = torch::zeros({8, 5});
        }
    }
    ASSERT_TRUE(write_safetensors(dir_ / "weights.safetensors", weights).is_ok());

    auto loaded = ClipModel::load(dir_);
    EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidData);
    EXPECT_EQ(loaded.status().message(),
              (dir_ / "weights.safetensors").string() +
                  ": tensor \"text_projection\" has shape [8, 5]; open_clip_config.json asks "
                  "for [8, 4]. The weights do not belong to this config.");
}

TEST_F(ClipModelFiles, RejectsHuggingFaceWeightsThatDisagreeWithConfig) {
    // The fixture's HF weights under a config whose text MLP is narrower.
    auto text = read_file(kClipFixtures / "hf" / "config.json");
    ASSERT_TRUE(text.is_ok());
    std::string config = *text;
    const std::string from = "\"intermediate_size\": 128";
    ASSERT_NE(config.find(from), std::string::npos);
    config.replace(config.find(from), from.size(), "\"intermediate_size\": 96");
    write("config.json", config);
    fs::create_symlink(kClipFixtures / "hf" / "model.safetensors", dir_ / "model.safetensors");

    auto loaded = ClipModel::load(dir_);
    EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidData);
    EXPECT_EQ(loaded.status().message(),
              (dir_ / "model.safetensors").string() +
                  ": tensor \"text_model.encoder.layers.0.mlp.fc1.weight\" has shape [128, 32]; "
                  "config.json asks for [96, 32]. The weights do not belong to this config.");
}

TEST_F(ClipModelFiles, RejectsHuggingFaceFileWithoutOneOfQkv) {
    auto fixture = SafeTensorsFile::open(kClipFixtures / "hf" / "model.safetensors");
    ASSERT_TRUE(fixture.is_ok());
    std::vector<std::pair<std::string, torch::Tensor>> weights;
    for (const std::string& name : fixture->names()) {
        if (name != "vision_model.encoder.layers.1.self_attn.k_proj.bias") {
            weights.emplace_back(name, *fixture->tensor(name));
        }
    }
    ASSERT_TRUE(write_safetensors(dir_ / "model.safetensors", weights).is_ok());
    fs::copy_file(kClipFixtures / "hf" / "config.json", dir_ / "config.json");

    auto loaded = ClipModel::load(dir_);
    EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidData);
    EXPECT_EQ(loaded.status().message(),
              (dir_ / "model.safetensors").string() +
                  ": tensor \"vision_model.encoder.layers.1.self_attn.k_proj.bias\" is missing "
                  "(expected shape [128] from config.json); the weights do not belong to this "
                  "config");
}

TEST_F(ClipModelFiles, RejectsUnknownHuggingFaceArchitecture) {
    write("config.json", R"({"architectures": ["CLIPVisionModelWithProjection"]})");
    auto loaded = ClipModel::load(dir_);
    EXPECT_EQ(loaded.status().code(), StatusCode::kUnsupported);
    EXPECT_EQ(loaded.status().message(),
              (dir_ / "config.json").string() +
                  ": unknown architecture: \"architectures\" is "
                  "[\"CLIPVisionModelWithProjection\"]; lookbook loads only [\"CLIPModel\"] "
                  "checkpoints");
}

TEST_F(ClipModelFiles, RejectsMissingFolderConfigAndWeights) {
    auto no_folder = ClipModel::load(dir_ / "absent");
    EXPECT_EQ(no_folder.status().code(), StatusCode::kNotFound);
    EXPECT_EQ(no_folder.status().message(),
              (dir_ / "absent").string() + ": model folder does not exist");

    auto no_config = ClipModel::load(dir_);
    EXPECT_EQ(no_config.status().code(), StatusCode::kNotFound);
    EXPECT_EQ(no_config.status().message(),
              dir_.string() +
                  ": no config.json (Hugging Face) or open_clip_config.json (OpenCLIP) in the "
                  "folder; download the model's config with its weights.");

    write_tiny_open_clip_config();
    auto no_weights = ClipModel::load(dir_);
    EXPECT_EQ(no_weights.status().code(), StatusCode::kNotFound);
    EXPECT_EQ(no_weights.status().message(),
              dir_.string() +
                  ": open_clip_config.json is there but no .safetensors weights; download "
                  "open_clip_model.safetensors into the folder.");

    write("a.safetensors", "");
    write("b.safetensors", "");
    auto ambiguous = ClipModel::load(dir_);
    EXPECT_EQ(ambiguous.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(ambiguous.status().message(),
              dir_.string() +
                  ": several .safetensors files (a.safetensors, b.safetensors) and none is "
                  "open_clip_model.safetensors; rename the model's weights to that name.");

    write("config.json", R"({"architectures": ["CLIPModel"]})");
    write("pytorch_model.bin", "");
    auto no_hf_weights = ClipModel::load(dir_);
    EXPECT_EQ(no_hf_weights.status().code(), StatusCode::kNotFound);
    EXPECT_EQ(no_hf_weights.status().message(),
              dir_.string() +
                  ": config.json is there but model.safetensors is not; lookbook reads "
                  "safetensors only, not pytorch_model.bin. Download the model's "
                  "model.safetensors.");
}

TEST_F(ClipModelFiles, RejectsShardedHuggingFaceWeights) {
    write("config.json", R"({"architectures": ["CLIPModel"]})");
    write("model.safetensors.index.json", "{}");
    auto loaded = ClipModel::load(dir_);
    EXPECT_EQ(loaded.status().code(), StatusCode::kUnsupported);
    EXPECT_EQ(loaded.status().message(),
              dir_.string() +
                  ": sharded weights (model.safetensors.index.json) are not supported yet; merge "
                  "the shards into model.safetensors.");
}

TEST_F(ClipModelFiles, RejectsBadConfigValuesNamingTheField) {
    write("config.json",
          R"({"architectures": ["CLIPModel"], "vision_config": {"patch_size": "8"}})");
    auto bad_type = read_hf_clip_config(dir_ / "config.json");
    EXPECT_EQ(bad_type.status().code(), StatusCode::kInvalidData);
    EXPECT_EQ(bad_type.status().message(),
              (dir_ / "config.json").string() +
                  ": \"vision_config.patch_size\" is \"8\"; expected an integer");

    write("config.json",
          R"({"architectures": ["CLIPModel"], "text_config": {"hidden_act": "relu"}})");
    auto bad_act = read_hf_clip_config(dir_ / "config.json");
    EXPECT_EQ(bad_act.status().code(), StatusCode::kUnsupported);
    EXPECT_EQ(bad_act.status().message(),
              (dir_ / "config.json").string() +
                  ": \"text_config.hidden_act\" is \"relu\"; lookbook supports \"quick_gelu\" "
                  "and \"gelu\"");

    write("open_clip_config.json",
          R"({"model_cfg": {"embed_dim": 4, "vision_cfg": {"layers": [3, 4, 6, 3]},
              "text_cfg": {}}})");
    auto resnet = read_open_clip_config(dir_ / "open_clip_config.json");
    EXPECT_EQ(resnet.status().code(), StatusCode::kUnsupported);
    EXPECT_EQ(resnet.status().message(),
              (dir_ / "open_clip_config.json").string() +
                  ": \"model_cfg.vision_cfg.layers\" is [3,4,6,3]; ResNet image towers are not "
                  "supported, only ViT");
}

TEST_F(ClipModelFiles, RejectsConfigWithoutArchitectureOrClipModelType) {
    write("config.json", R"({"model_type": "siglip"})");
    auto config = read_hf_clip_config(dir_ / "config.json");
    EXPECT_EQ(config.status().code(), StatusCode::kUnsupported);
    EXPECT_EQ(config.status().message(),
              (dir_ / "config.json").string() +
                  ": unknown architecture: no \"architectures\" and \"model_type\" is "
                  "\"siglip\"; lookbook loads only CLIPModel checkpoints");
}

TEST(ValidateClipConfig, RejectsWidthNotDivisibleByHeads) {
    ClipConfig config;
    config.text.heads = 7;
    Status s = validate_clip_config(config);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(s.message(),
              "CLIP config: text width 512 is not divisible by 7 heads; check the head count in "
              "the config");
    EXPECT_TRUE(validate_clip_config(ClipConfig{}).is_ok());
}

TEST_F(ClipModelFiles, PrefersTextConfigDictOverTextConfig) {
    write("config.json",
          R"({"architectures": ["CLIPModel"], "projection_dim": 16,
              "text_config": {"hidden_size": 64, "num_attention_heads": 4},
              "text_config_dict": {"hidden_size": 32},
              "vision_config_dict": {"hidden_size": 48, "num_attention_heads": 3,
                                     "hidden_act": "gelu"}})");
    auto config = read_hf_clip_config(dir_ / "config.json");
    ASSERT_TRUE(config.is_ok()) << config.status().to_string();
    EXPECT_EQ(config->text.width, 32);
    EXPECT_EQ(config->text.heads, 4);
    EXPECT_EQ(config->vision.width, 48);
    EXPECT_EQ(config->vision.heads, 3);
    EXPECT_EQ(config->vision.activation, ClipActivation::kGelu);
    EXPECT_EQ(config->embed_dim, 16);
}

TEST(ClipModel, RejectsWrongInputShapes) {
    auto model = ClipModel::load(kClipFixtures / "hf");
    ASSERT_TRUE(model.is_ok());
    try {
        (*model)->encode_image(torch::zeros({1, 3, 16, 16}));
        FAIL() << "expected std::invalid_argument";
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(),
                     "ClipModel: pixels have shape [1, 3, 16, 16]; expected [B, 3, 32, 32]");
    }
    EXPECT_THROW((*model)->encode_text(torch::full({1, 77}, 49408, torch::kInt64)),
                 std::invalid_argument);
    EXPECT_THROW((*model)->encode_text(torch::zeros({1, 78}, torch::kInt64)),
                 std::invalid_argument);
}

}  // namespace
}  // namespace lookbook
