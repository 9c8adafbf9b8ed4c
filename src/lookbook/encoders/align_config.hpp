#pragma once

// ALIGN (kakaobrain/align-base, Hugging Face AlignModel): an EfficientNet image tower and a BERT
// text tower whose [CLS] state is projected to the image embedding's width. This header holds
// the settings read from a model folder: config.json (towers), preprocessor_config.json (image
// preprocessing) and tokenizer_config.json (WordPiece options).

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "lookbook/util/status.hpp"

namespace lookbook {

// The non-linearity of the BERT feed-forward layers ("gelu" is the exact erf form).
enum class AlignTextActivation { kGelu, kGeluTanh, kRelu };

// BERT text tower. Defaults are Hugging Face's AlignTextConfig (BERT-base).
struct AlignTextConfig {
    int64_t vocab_size = 30522;
    int64_t hidden_size = 768;
    int64_t layers = 12;
    int64_t heads = 12;
    int64_t intermediate_size = 3072;
    int64_t max_position_embeddings = 512;
    int64_t type_vocab_size = 2;
    AlignTextActivation activation = AlignTextActivation::kGelu;
    double layer_norm_eps = 1e-12;
};

// EfficientNet image tower. Defaults are Hugging Face's AlignVisionConfig (EfficientNet-B7
// scaling); kakaobrain/align-base overrides image_size (289) and hidden_dim (640).
struct AlignVisionConfig {
    int64_t num_channels = 3;
    int64_t image_size = 600;
    double width_coefficient = 2.0;
    double depth_coefficient = 3.1;
    int64_t depth_divisor = 8;
    std::vector<int64_t> kernel_sizes{3, 3, 5, 3, 5, 5, 3};
    std::vector<int64_t> in_channels{32, 16, 24, 40, 80, 112, 192};
    std::vector<int64_t> out_channels{16, 24, 40, 80, 112, 192, 320};
    std::vector<int64_t> strides{1, 2, 2, 2, 1, 2, 1};
    std::vector<int64_t> num_block_repeats{1, 2, 2, 3, 3, 4, 1};
    std::vector<int64_t> expand_ratios{1, 6, 6, 6, 6, 6, 6};
    // Global block indices whose stride-2 depthwise conv is padded k/2 on every side instead of
    // (k/2 - 1, k/2) (Keras' correct_pad).
    std::vector<int64_t> depthwise_padding;
    double squeeze_expansion_ratio = 0.25;
    int64_t hidden_dim = 2560;  // the final pooling's kernel size
    bool max_pooling = false;   // pooling_type "max" instead of "mean"
    double batch_norm_eps = 1e-3;
};

// One MBConv block as the config derives it (Hugging Face AlignVisionEncoder's loop).
struct AlignBlockSpec {
    int64_t in_dim = 0;
    int64_t expand_dim = 0;  // in_dim * expand_ratio; equal to in_dim when there is no expansion
    int64_t out_dim = 0;
    int64_t kernel = 3;
    int64_t stride = 1;
    int64_t se_dim = 0;  // squeeze-excite width: max(1, int(in_dim * squeeze_expansion_ratio))
    bool expand = false;
    bool residual = false;                 // repeats after the first of a stage
    std::vector<int64_t> pad{0, 0, 0, 0};  // stride-2 zero pad (left, right, top, bottom)
};

// round_filters of Hugging Face's EfficientNet: channels scaled by width_coefficient, rounded
// to a multiple of depth_divisor, plus one divisor when rounding lost more than 10 %.
int64_t align_round_filters(const AlignVisionConfig& config, int64_t channels);

// The stem width and every block, in order.
int64_t align_stem_channels(const AlignVisionConfig& config);
std::vector<AlignBlockSpec> align_blocks(const AlignVisionConfig& config);

// EfficientNetImageProcessor settings (preprocessor_config.json). Defaults are align-base's.
struct AlignPreprocess {
    bool do_resize = true;
    int64_t resize_height = 346;
    int64_t resize_width = 346;
    int64_t resample = 2;  // PIL code: 2 bilinear, 3 bicubic (the only two lookbook supports)
    bool do_center_crop = true;
    int64_t crop_height = 289;
    int64_t crop_width = 289;
    bool do_rescale = true;
    double rescale_factor = 1.0 / 127.5;
    bool rescale_offset = true;  // x * factor - 1 instead of x * factor
    bool do_normalize = false;
    std::vector<float> image_mean{0.5f, 0.5f, 0.5f};
    std::vector<float> image_std{0.5f, 0.5f, 0.5f};
    bool include_top = false;  // divides by image_std once more after normalising
};

// WordPiece options (tokenizer_config.json). Defaults are align-base's.
struct AlignTokenizerOptions {
    bool do_lower_case = true;
    // null in the file: strip accents exactly when lower-casing.
    bool strip_accents = true;
    bool tokenize_chinese_chars = true;
    int64_t max_length = 64;
};

struct AlignConfig {
    int64_t projection_dim = 640;
    AlignTextConfig text;
    AlignVisionConfig vision;
    AlignPreprocess preprocess;
    AlignTokenizerOptions tokenizer;
    std::filesystem::path source;  // the config.json read (empty when built in code)
};

// The settings of kakaobrain/align-base (for benchmarks and tests): HF defaults with image size
// 289, hidden_dim 640, projection 640.
AlignConfig align_base_config();

// Checks that a model can be built: positive sizes, per-stage lists of equal length, hidden
// size divisible by heads, a final feature map no larger than hidden_dim (the pooling is then
// global, as align-base's), last stage width equal to projection_dim. kInvalidArgument naming
// the field and value otherwise.
Status validate_align_config(const AlignConfig& config);

// True when `config_json` is a Hugging Face ALIGN config: "model_type" "align" or
// "architectures" containing "AlignModel". False for any other file, including unreadable ones.
bool is_align_config(const std::filesystem::path& config_json);

// Reads DIR/config.json, plus DIR/preprocessor_config.json and DIR/tokenizer_config.json when
// present (defaults otherwise). Fails with kNotFound when config.json is missing, kInvalidData
// for bad JSON or field types (naming the file and field), kUnsupported for another
// architecture or a setting lookbook does not implement (naming it and the allowed values).
Result<AlignConfig> read_align_config(const std::filesystem::path& dir);

}  // namespace lookbook
