#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>

#include "lookbook/util/status.hpp"

namespace lookbook {

// The MLP non-linearity of a transformer tower. OpenAI's checkpoints use QuickGELU
// (x * sigmoid(1.702 x)); OpenCLIP's own trainings use the exact erf GELU.
enum class ClipActivation { kQuickGelu, kGelu };

// "quick_gelu" or "gelu".
const char* clip_activation_name(ClipActivation activation);

// Which naming the weight file uses: Hugging Face CLIPModel (separate q/k/v, transposed
// projections) or OpenAI/OpenCLIP (fused in_proj, x @ proj).
enum class ClipWeightLayout { kHuggingFace, kOpenClip };

// The ViT image tower. Defaults are ViT-B/32.
struct ClipVisionConfig {
    int64_t image_size = 224;
    int64_t patch_size = 32;
    int64_t width = 768;
    int64_t layers = 12;
    int64_t heads = 12;
    int64_t mlp_width = 3072;
    ClipActivation activation = ClipActivation::kQuickGelu;
    double layer_norm_eps = 1e-5;
};

// The causal text transformer. Defaults are ViT-B/32's text tower.
struct ClipTextConfig {
    int64_t context_length = 77;
    int64_t vocab_size = 49408;
    int64_t width = 512;
    int64_t layers = 12;
    int64_t heads = 8;
    int64_t mlp_width = 2048;
    ClipActivation activation = ClipActivation::kQuickGelu;
    double layer_norm_eps = 1e-5;
};

// Everything needed to build a CLIP model and to prepare its inputs.
struct ClipConfig {
    int64_t embed_dim = 512;
    ClipVisionConfig vision;
    ClipTextConfig text;
    // Image normalisation; the input size is vision.image_size. Defaults are OpenAI's.
    std::array<float, 3> image_mean{0.48145466f, 0.4578275f, 0.40821073f};
    std::array<float, 3> image_std{0.26862954f, 0.26130258f, 0.27577711f};
    ClipWeightLayout layout = ClipWeightLayout::kOpenClip;
    // lookbook's own extension, which only train-encoder writes ("lookbook": {"wide_features":
    // true} in open_clip_config.json): each tower adds a learned linear projection of fixed,
    // simple features to its embedding — colour histogram and grey thumbnail of the pixels,
    // mean token embedding of the text. Off for every CLIP trained elsewhere.
    bool wide_features = false;
    // lookbook's extension ("lookbook": {"linear_path": true}): a second, linear part of the
    // embedding fitted in closed form (ClipModel::fit_linear_path), concatenated after the
    // contrastively trained part so that both count equally in a cosine. Only train-encoder
    // writes it; embeddings then have embed_dim + ClipModel::wide_image_feature_count()
    // values (ClipModel::embedding_dim()).
    bool linear_path = false;
    // The config file this was read from (empty for a config built in code).
    std::filesystem::path source;
};

// Checks sizes a model can be built from (positive, widths divisible by heads, image size a
// multiple of the patch size). kInvalidArgument naming the field and value otherwise.
Status validate_clip_config(const ClipConfig& config);

// Reads a Hugging Face config.json of a CLIPModel ("text_config"/"vision_config", or the older
// "*_config_dict" variants, which win where both are given), plus preprocessor_config.json next
// to it when present for mean and std. Fails with kNotFound when the file is missing,
// kInvalidData for bad JSON or field types and kUnsupported when "architectures" is not
// ["CLIPModel"]. Messages name the file and the field.
Result<ClipConfig> read_hf_clip_config(const std::filesystem::path& config_json);

// Reads an OpenCLIP open_clip_config.json ("model_cfg" and optional "preprocess_cfg"). Heads:
// text_cfg.heads, vision width / head_width. Fails as read_hf_clip_config does; kUnsupported
// for towers lookbook does not build (ResNet, timm or Hugging Face towers, layer scale,
// attentional pooling, non-argmax text pooling). Reads lookbook's "wide_features" and
// "linear_path" flags.
Result<ClipConfig> read_open_clip_config(const std::filesystem::path& config_json);

}  // namespace lookbook
