#include "lookbook/encoders/clip_model.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

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
    // `lookbook` is the body of the config's "lookbook" block (none when empty).
    void write_tiny_open_clip_config(const std::string& lookbook = "") {
        write("open_clip_config.json",
              std::string(R"({"model_cfg": {"embed_dim": 4,
                  "vision_cfg": {"image_size": 16, "patch_size": 8, "width": 16, "layers": 1,
                                 "head_width": 8},
                  "text_cfg": {"context_length": 6, "vocab_size": 20, "width": 8, "heads": 2,
                               "layers": 1}})") +
                  (lookbook.empty() ? "" : ", \"lookbook\": {" + lookbook + "}") + "}");
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

TEST_F(ClipModelFiles, ReadsWideFeaturesOnlyFromTheLookbookBlock) {
    write_tiny_open_clip_config();
    EXPECT_FALSE(tiny_config().wide_features);
    write_tiny_open_clip_config(R"("trained_by": "lookbook train-encoder")");
    EXPECT_FALSE(tiny_config().wide_features);
    write_tiny_open_clip_config(R"("wide_features": true)");
    EXPECT_TRUE(tiny_config().wide_features);

    write_tiny_open_clip_config(R"("wide_features": "yes")");
    auto bad = read_open_clip_config(dir_ / "open_clip_config.json");
    EXPECT_EQ(bad.status().code(), StatusCode::kInvalidData);
    EXPECT_EQ(bad.status().message(),
              (dir_ / "open_clip_config.json").string() +
                  ": \"lookbook.wide_features\" is \"yes\"; expected true or false");
}

// The named tensor of a model's state dict.
torch::Tensor state_tensor(const ClipModel& model, const std::string& name) {
    for (const auto& [key, value] : model.openai_state_dict()) {
        if (key == name) {
            return value;
        }
    }
    ADD_FAILURE() << "no tensor " << name;
    return torch::Tensor();
}

TEST_F(ClipModelFiles, RoundTripsWideWeightsThroughOpenClipFile) {
    write_tiny_open_clip_config(R"("wide_features": true)");
    auto original = ClipModel::with_random_weights(tiny_config(), 4);
    ASSERT_TRUE(original.is_ok());
    EXPECT_EQ(state_tensor(**original, "lookbook_wide_image_proj").sizes(),
              (std::vector<int64_t>{192, 4}));
    EXPECT_EQ(state_tensor(**original, "lookbook_wide_text_proj").sizes(),
              (std::vector<int64_t>{8, 4}));
    auto weights = (*original)->openai_state_dict();
    ASSERT_TRUE(write_safetensors(dir_ / "open_clip_model.safetensors", weights).is_ok());

    auto loaded = ClipModel::load(dir_);
    ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
    EXPECT_TRUE((*loaded)->config().wide_features);
    torch::Tensor pixels = torch::randn({2, 3, 16, 16});
    torch::Tensor ids = torch::tensor({{18, 3, 4, 19, 0, 0}, {18, 5, 19, 0, 0, 0}}, torch::kInt64);
    EXPECT_EQ(max_abs_diff((*original)->encode_image(pixels), (*loaded)->encode_image(pixels)),
              0.0);
    EXPECT_EQ(max_abs_diff((*original)->encode_text(ids), (*loaded)->encode_text(ids)), 0.0);

    // Weights of a plain model do not fit a wide config: the missing tensor is named.
    write_tiny_open_clip_config();
    auto plain = ClipModel::with_random_weights(tiny_config(), 4);
    ASSERT_TRUE(plain.is_ok());
    ASSERT_TRUE(
        write_safetensors(dir_ / "open_clip_model.safetensors", (*plain)->openai_state_dict())
            .is_ok());
    write_tiny_open_clip_config(R"("wide_features": true)");
    auto mismatched = ClipModel::load(dir_);
    ASSERT_FALSE(mismatched.is_ok());
    EXPECT_NE(mismatched.status().message().find("\"lookbook_wide_image_proj\" is missing"),
              std::string::npos)
        << mismatched.status().message();
}

// Colours chosen away from every bin edge of the 8x4x4 HSV histogram, so float rounding in
// the normalisation cannot move a pixel to another bin.
const std::array<std::array<uint8_t, 3>, 4> kPalette = {
    {{200, 30, 40}, {30, 180, 60}, {20, 40, 170}, {90, 90, 90}}};

// Brute force of the wide image features for one RGB image (row-major, side x side): HSV
// histogram, square-rooted and L2-normalised, then the 8x8 grey thumbnail, centred and
// L2-normalised.
std::vector<double> brute_force_wide_features(const std::vector<std::array<uint8_t, 3>>& image,
                                              int side) {
    std::vector<double> hist(128, 0.0), thumb(64, 0.0);
    const int cell = side / 8;
    for (int y = 0; y < side; ++y) {
        for (int x = 0; x < side; ++x) {
            const auto& p = image[y * side + x];
            const double r = p[0] / 255.0, g = p[1] / 255.0, b = p[2] / 255.0;
            const double high = std::max({r, g, b}), low = std::min({r, g, b});
            double hue = 0;
            if (high > low) {
                hue = high == r   ? std::fmod((g - b) / (high - low) + 6, 6)
                      : high == g ? (b - r) / (high - low) + 2
                                  : (r - g) / (high - low) + 4;
            }
            const int hb = static_cast<int>(hue / 6 * 8);
            const int sb = std::min(3, static_cast<int>((high > 0 ? (high - low) / high : 0) * 4));
            const int vb = std::min(3, static_cast<int>(high * 4));
            hist[(hb * 4 + sb) * 4 + vb] += 1;
            thumb[(y / cell) * 8 + x / cell] += (0.299 * r + 0.587 * g + 0.114 * b) / (cell * cell);
        }
    }
    auto unit = [](std::vector<double>& v) {
        double norm = 0;
        for (double x : v) {
            norm += x * x;
        }
        for (double& x : v) {
            x /= std::sqrt(norm);
        }
    };
    for (double& x : hist) {
        x = std::sqrt(x);
    }
    unit(hist);
    const double mean = std::accumulate(thumb.begin(), thumb.end(), 0.0) / 64;
    for (double& x : thumb) {
        x -= mean;
    }
    unit(thumb);
    hist.insert(hist.end(), thumb.begin(), thumb.end());
    return hist;
}

TEST_F(ClipModelFiles, WideImagePathAddsProjectedHistogramAndThumbnail) {
    write_tiny_open_clip_config(R"("wide_features": true)");
    const ClipConfig config = tiny_config();
    auto model = ClipModel::with_random_weights(config, 6);
    ASSERT_TRUE(model.is_ok());

    // Two 16 px photos of palette quadrants (the second rotated), normalised as preprocessing
    // does, and the brute-force features of each.
    constexpr int kSide = 16;
    torch::Tensor pixels = torch::empty({2, 3, kSide, kSide});
    torch::Tensor features = torch::empty({2, 192});
    for (int image_idx = 0; image_idx < 2; ++image_idx) {
        std::vector<std::array<uint8_t, 3>> image;
        for (int y = 0; y < kSide; ++y) {
            for (int x = 0; x < kSide; ++x) {
                const int quadrant = (y < 8 ? 0 : 2) + (x < 8 ? 0 : 1);
                const auto& colour = kPalette[(quadrant + image_idx) % 4];
                image.push_back(colour);
                for (int c = 0; c < 3; ++c) {
                    pixels[image_idx][c][y][x] =
                        (colour[c] / 255.0f - config.image_mean[c]) / config.image_std[c];
                }
            }
        }
        features[image_idx] =
            torch::tensor(brute_force_wide_features(image, kSide)).to(torch::kFloat);
    }

    // The wide part is what the model adds to the projected CLS token.
    torch::Tensor wide =
        (*model)->encode_image(pixels) -
        (*model)->encode_image_pooled(pixels).matmul(state_tensor(**model, "visual.proj"));
    torch::Tensor expected_wide =
        features.matmul(state_tensor(**model, "lookbook_wide_image_proj"));
    EXPECT_LT(max_abs_diff(wide, expected_wide), 1e-5);
    EXPECT_GT(expected_wide.abs().max().item<double>(), 1e-3);
    EXPECT_LT(max_abs_diff((*model)->wide_image_features(pixels), features), 1e-6);
}

// The raw (unscaled) wide image projection the training loop updates.
torch::Tensor live_wide_projection(ClipModel& model) {
    for (auto& [name, tensor] : model.trainable_parameters()) {
        if (name == "lookbook_wide_image_proj") {
            return tensor.detach().clone();
        }
    }
    ADD_FAILURE() << "no wide projection";
    return torch::Tensor();
}

TEST_F(ClipModelFiles, WideFeatureScaleIsFoldedIntoTheSavedProjection) {
    write_tiny_open_clip_config(R"("wide_features": true)");
    auto model = ClipModel::with_random_weights(tiny_config(), 8);
    ASSERT_TRUE(model.is_ok());
    torch::manual_seed(3);
    torch::Tensor pixels = torch::randn({3, 3, 16, 16});
    const torch::Tensor plain = (*model)->encode_image(pixels);
    const torch::Tensor features = (*model)->wide_image_features(pixels);  // [3, 192]
    const torch::Tensor raw = live_wide_projection(**model);               // [192, 4]

    // Scaled: the wide part sees features * scale through the same live projection.
    const torch::Tensor scale = torch::arange(192, torch::kFloat32) * 0.05f + 0.25f;
    (*model)->set_wide_feature_scale(scale);
    const torch::Tensor scaled = (*model)->encode_image(pixels);
    EXPECT_LT(max_abs_diff(scaled - plain, (features * (scale - 1)).matmul(raw)), 1e-5);
    EXPECT_GT(max_abs_diff(scaled, plain), 1e-3);
    EXPECT_EQ(max_abs_diff(live_wide_projection(**model), raw), 0.0);

    // Saved: the scale lives in the projection's rows, and a reloaded model (which knows
    // nothing of it) computes the scaled embeddings.
    EXPECT_LT(
        max_abs_diff(state_tensor(**model, "lookbook_wide_image_proj"), raw * scale.unsqueeze(1)),
        1e-6);
    ASSERT_TRUE(
        write_safetensors(dir_ / "open_clip_model.safetensors", (*model)->openai_state_dict())
            .is_ok());
    auto loaded = ClipModel::load(dir_);
    ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
    EXPECT_LT(max_abs_diff((*loaded)->encode_image(pixels), scaled), 1e-5);

    // Removed again: the plain model.
    (*model)->set_wide_feature_scale(torch::Tensor());
    EXPECT_EQ(max_abs_diff((*model)->encode_image(pixels), plain), 0.0);
    EXPECT_THROW((*model)->set_wide_feature_scale(torch::ones({191})), std::invalid_argument);

    write_tiny_open_clip_config();
    auto narrow = ClipModel::with_random_weights(tiny_config(), 8);
    ASSERT_TRUE(narrow.is_ok());
    EXPECT_THROW((*narrow)->set_wide_feature_scale(torch::ones({192})), std::logic_error);
    EXPECT_THROW((*narrow)->wide_image_features(pixels), std::logic_error);
}

TEST_F(ClipModelFiles, WideTextPathAddsProjectedMeanTokenEmbedding) {
    write_tiny_open_clip_config(R"("wide_features": true)");
    auto model = ClipModel::with_random_weights(tiny_config(), 7);
    ASSERT_TRUE(model.is_ok());
    // Start 18, end 19 (the largest id), padding 0: the bag is tokens 3 and 4, then token 5.
    torch::Tensor ids = torch::tensor({{18, 3, 4, 19, 0, 0}, {18, 5, 19, 0, 0, 0}}, torch::kInt64);
    torch::Tensor table = state_tensor(**model, "token_embedding.weight");  // [20, 8]
    torch::Tensor bags = torch::stack({(table[3] + table[4]) / 2, table[5]});
    torch::Tensor expected_wide = bags.matmul(state_tensor(**model, "lookbook_wide_text_proj"));

    torch::Tensor wide = (*model)->encode_text(ids) - (*model)->encode_text_pooled(ids).matmul(
                                                          state_tensor(**model, "text_projection"));
    EXPECT_LT(max_abs_diff(wide, expected_wide), 1e-6);
    EXPECT_GT(expected_wide.abs().max().item<double>(), 1e-5);
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

// Six texts over tokens 1-5 (start 18, end 19, padding 0) for the linear path tests: token 1
// is in every text (idf 0), token 5 in one only (left out), tokens 2-4 in two or more.
torch::Tensor linear_path_ids() {
    return torch::tensor({{18, 1, 2, 2, 19, 0},
                          {18, 1, 3, 19, 0, 0},
                          {18, 1, 2, 4, 19, 0},
                          {18, 1, 4, 5, 19, 0},
                          {18, 1, 3, 4, 19, 0},
                          {18, 1, 19, 0, 0, 0}},
                         torch::kInt64);
}

TEST_F(ClipModelFiles, LinearPathIsRidgeRegressionOfTfIdfOntoStandardisedFeatures) {
    write_tiny_open_clip_config(R"("wide_features": true, "linear_path": true)");
    const ClipConfig config = tiny_config();
    EXPECT_TRUE(config.linear_path);
    auto model = ClipModel::with_random_weights(config, 9);
    ASSERT_TRUE(model.is_ok());
    EXPECT_EQ((*model)->embedding_dim(), 4 + 192);
    torch::manual_seed(5);
    torch::Tensor pixels = torch::randn({6, 3, 16, 16});
    torch::Tensor ids = linear_path_ids();

    // Before a fit the linear part is zero and the rest a unit vector.
    torch::Tensor before = (*model)->encode_text(ids);
    ASSERT_EQ(before.sizes(), (std::vector<int64_t>{6, 4 + 192}));
    EXPECT_EQ(before.slice(1, 4).abs().max().item<double>(), 0.0);
    EXPECT_LT(max_abs_diff(before.slice(1, 0, 4).norm(2, 1), torch::ones({6})), 1e-6);

    const double ridge = 0.5;
    ASSERT_TRUE((*model)->fit_linear_path(pixels, ids, ridge).is_ok());

    // By hand: document frequencies over the six texts, idf = ln(6 / df) for df >= 2.
    const std::array<double, 6> df = {0, 6, 2, 2, 3, 1};
    std::vector<std::vector<double>> x(6, std::vector<double>(20, 0.0));
    auto id_rows = ids.accessor<int64_t, 2>();
    for (int i = 0; i < 6; ++i) {
        for (int j = 1; j < 6 && id_rows[i][j] != 19; ++j) {
            const int64_t t = id_rows[i][j];
            x[i][t] += df[t] >= 2 ? std::log(6.0 / df[t]) : 0.0;
        }
        double norm = 0;
        for (double v : x[i]) {
            norm += v * v;
        }
        for (double& v : x[i]) {
            v = norm > 0 ? v / std::sqrt(norm) : 0.0;
        }
    }
    // The standardised features (sample standard deviation, at least the median of those
    // that vary), and the fitted map.
    torch::Tensor features = (*model)->wide_image_features(pixels).to(torch::kFloat64);
    torch::Tensor deviation = features.std(0);
    const double floor = deviation.masked_select(deviation > 1e-6).median().item<double>();
    torch::Tensor y = (features - features.mean(0)) / deviation.clamp_min(floor);
    torch::Tensor xt = torch::empty({6, 20}, torch::kFloat64);
    for (int i = 0; i < 6; ++i) {
        for (int t = 0; t < 20; ++t) {
            xt[i][t] = x[i][t];
        }
    }
    torch::Tensor w = state_tensor(**model, "lookbook_linear_map").to(torch::kFloat64);
    // Ridge optimality on the counted tokens: X'(XW - Y) + ridge W = 0; zero rows elsewhere.
    torch::Tensor gradient = xt.t().matmul(xt.matmul(w) - y) + ridge * w;
    for (int t : {2, 3, 4}) {
        EXPECT_LT(gradient[t].abs().max().item<double>(), 1e-4) << "token " << t;
        EXPECT_GT(w[t].abs().max().item<double>(), 1e-3) << "token " << t;
    }
    for (int t : {0, 1, 5, 18, 19}) {
        EXPECT_EQ(w[t].abs().max().item<double>(), 0.0) << "token " << t;
    }

    // The towers end with the linear parts as unit vectors.
    // A text of uncounted tokens only (the last) has a zero linear part.
    auto unit = [](const torch::Tensor& v) { return v / v.norm(2, 1, true).clamp_min(1e-12); };
    torch::Tensor text = (*model)->encode_text(ids);
    EXPECT_LT(max_abs_diff(text.slice(1, 4), unit(xt.matmul(w)).to(torch::kFloat)), 1e-5);
    EXPECT_LT(max_abs_diff(text.slice(1, 0, 4), before.slice(1, 0, 4)), 1e-6);
    torch::Tensor image = (*model)->encode_image(pixels);
    EXPECT_LT(max_abs_diff(image.slice(1, 4), unit(y).to(torch::kFloat)), 1e-5);
    EXPECT_LT(max_abs_diff(image.slice(1, 0, 4).norm(2, 1), torch::ones({6})), 1e-6);

    // Saved and loaded: the same embeddings; the fitted tensors are not trainable.
    ASSERT_TRUE(
        write_safetensors(dir_ / "open_clip_model.safetensors", (*model)->openai_state_dict())
            .is_ok());
    auto loaded = ClipModel::load(dir_);
    ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
    EXPECT_LT(max_abs_diff((*loaded)->encode_text(ids), text), 1e-6);
    EXPECT_LT(max_abs_diff((*loaded)->encode_image(pixels), image), 1e-6);
    for (const auto& [name, tensor] : (*model)->trainable_parameters()) {
        EXPECT_EQ(name.rfind("lookbook_linear_", 0), std::string::npos) << name;
    }
}

TEST_F(ClipModelFiles, LinearPathKeepsAColourTheTrainingPhotosLackFromSwampingAPhoto) {
    // Training photos of two colours: most histogram bins never occur (deviation 0). A
    // training photo with a small patch of a third colour must stay close to itself in the
    // linear part (a review found a 3% patch of an unseen green took over the whole part when
    // the deviation was floored at 1e-6 only).
    write_tiny_open_clip_config(R"("wide_features": true, "linear_path": true)");
    const ClipConfig config = tiny_config();
    auto model = ClipModel::with_random_weights(config, 3);
    ASSERT_TRUE(model.is_ok());
    auto flat = [&](std::array<uint8_t, 3> colour) {
        torch::Tensor image = torch::empty({3, 16, 16});
        for (int c = 0; c < 3; ++c) {
            image[c].fill_((colour[c] / 255.0f - config.image_mean[c]) / config.image_std[c]);
        }
        return image;
    };
    std::vector<torch::Tensor> photos;
    for (int i = 0; i < 6; ++i) {
        // Slight shape differences so the thumbnail varies too.
        torch::Tensor photo = flat(i % 2 == 0 ? kPalette[0] : kPalette[2]);
        photo.slice(1, 0, 2 + i).slice(2, 0, 2).fill_(i % 2 == 0 ? 1.5f : -1.5f);
        photos.push_back(photo);
    }
    ASSERT_TRUE((*model)->fit_linear_path(torch::stack(photos), linear_path_ids()).is_ok());

    torch::Tensor scale = state_tensor(**model, "lookbook_linear_image_scale");
    EXPECT_LT(scale.max().item<double>(), 1e3);  // was 1e6 for the bins no photo has

    // The first training photo, and the same with 4 of its 256 pixels green at the far corner.
    torch::Tensor plain = photos[0].unsqueeze(0);
    torch::Tensor patched = plain.clone();
    for (int c = 0; c < 3; ++c) {
        patched[0][c].slice(0, 14).slice(1, 14).fill_(
            (kPalette[1][c] / 255.0f - config.image_mean[c]) / config.image_std[c]);
    }
    torch::Tensor a = (*model)->encode_image(plain).slice(1, 4);
    torch::Tensor b = (*model)->encode_image(patched).slice(1, 4);
    EXPECT_GT((a * b).sum().item<double>(), 0.3);  // about 0 with the 1e-6 floor
    EXPECT_LT(b.abs().max().item<double>(), 0.9);  // no single feature takes the part
}

TEST_F(ClipModelFiles, LinearPathFitRejectsBadInput) {
    write_tiny_open_clip_config();
    auto plain = ClipModel::with_random_weights(tiny_config(), 2);
    ASSERT_TRUE(plain.is_ok());
    EXPECT_EQ((*plain)->embedding_dim(), 4);
    torch::Tensor pixels = torch::randn({6, 3, 16, 16});
    Status no_path = (*plain)->fit_linear_path(pixels, linear_path_ids());
    EXPECT_EQ(no_path.code(), StatusCode::kInvalidArgument);

    write_tiny_open_clip_config(R"("linear_path": true)");
    auto model = ClipModel::with_random_weights(tiny_config(), 2);
    ASSERT_TRUE(model.is_ok());
    EXPECT_EQ(
        (*model)->fit_linear_path(pixels.slice(0, 0, 1), linear_path_ids().slice(0, 0, 1)).code(),
        StatusCode::kInvalidArgument);
    EXPECT_EQ((*model)->fit_linear_path(pixels, linear_path_ids().slice(0, 0, 5)).code(),
              StatusCode::kInvalidArgument);
    EXPECT_EQ((*model)->fit_linear_path(pixels, linear_path_ids(), 0.0).code(),
              StatusCode::kInvalidArgument);
    // Without the wide paths the linear path works alone.
    ASSERT_TRUE((*model)->fit_linear_path(pixels, linear_path_ids()).is_ok());
    EXPECT_EQ((*model)->encode_image(pixels).size(1), 4 + 192);
}

}  // namespace
}  // namespace lookbook
