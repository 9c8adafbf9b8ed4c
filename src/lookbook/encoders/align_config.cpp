#include "lookbook/encoders/align_config.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "lookbook/encoders/json_fields.hpp"

namespace lookbook {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// HF's round_repeats: depth scaling rounds up, so every stage keeps at least its base repeats.
int64_t round_repeats(const AlignVisionConfig& config, int64_t repeats) {
    return static_cast<int64_t>(std::ceil(config.depth_coefficient * static_cast<double>(repeats)));
}

// Spatial size after a valid convolution of `kernel` and `stride` over `size` + padding.
int64_t conv_out(int64_t size, int64_t pad, int64_t kernel, int64_t stride) {
    return (size + pad - kernel) / stride + 1;
}

Status check_positive(int64_t value, const char* field) {
    if (value < 1) {
        return Status::invalid_argument(
            fmt::format("ALIGN config: {} is {}; expected 1 or more", field, value));
    }
    return Status::ok();
}

Result<AlignTextConfig> parse_text(const JsonFields& fields) {
    AlignTextConfig out;
    LOOKBOOK_ASSIGN_OR_RETURN(out.vocab_size, fields.integer("vocab_size", out.vocab_size));
    LOOKBOOK_ASSIGN_OR_RETURN(out.hidden_size, fields.integer("hidden_size", out.hidden_size));
    LOOKBOOK_ASSIGN_OR_RETURN(out.layers, fields.integer("num_hidden_layers", out.layers));
    LOOKBOOK_ASSIGN_OR_RETURN(out.heads, fields.integer("num_attention_heads", out.heads));
    LOOKBOOK_ASSIGN_OR_RETURN(out.intermediate_size,
                              fields.integer("intermediate_size", out.intermediate_size));
    LOOKBOOK_ASSIGN_OR_RETURN(
        out.max_position_embeddings,
        fields.integer("max_position_embeddings", out.max_position_embeddings));
    LOOKBOOK_ASSIGN_OR_RETURN(out.type_vocab_size,
                              fields.integer("type_vocab_size", out.type_vocab_size));
    LOOKBOOK_ASSIGN_OR_RETURN(out.layer_norm_eps,
                              fields.number("layer_norm_eps", out.layer_norm_eps));
    LOOKBOOK_ASSIGN_OR_RETURN(std::string act, fields.text("hidden_act", "gelu"));
    if (act == "gelu") {
        out.activation = AlignTextActivation::kGelu;
    } else if (act == "gelu_new" || act == "gelu_pytorch_tanh") {
        out.activation = AlignTextActivation::kGeluTanh;
    } else if (act == "relu") {
        out.activation = AlignTextActivation::kRelu;
    } else {
        return Status::unsupported(fields.where("hidden_act") + " is \"" + act +
                                   "\"; lookbook supports \"gelu\", \"gelu_new\", "
                                   "\"gelu_pytorch_tanh\" and \"relu\"");
    }
    LOOKBOOK_ASSIGN_OR_RETURN(std::string position,
                              fields.text("position_embedding_type", "absolute"));
    if (position != "absolute") {
        return Status::unsupported(fields.where("position_embedding_type") + " is \"" + position +
                                   "\"; lookbook supports \"absolute\" only");
    }
    return out;
}

Result<AlignVisionConfig> parse_vision(const JsonFields& fields) {
    AlignVisionConfig out;
    LOOKBOOK_ASSIGN_OR_RETURN(out.num_channels, fields.integer("num_channels", out.num_channels));
    LOOKBOOK_ASSIGN_OR_RETURN(out.image_size, fields.integer("image_size", out.image_size));
    LOOKBOOK_ASSIGN_OR_RETURN(out.width_coefficient,
                              fields.number("width_coefficient", out.width_coefficient));
    LOOKBOOK_ASSIGN_OR_RETURN(out.depth_coefficient,
                              fields.number("depth_coefficient", out.depth_coefficient));
    LOOKBOOK_ASSIGN_OR_RETURN(out.depth_divisor,
                              fields.integer("depth_divisor", out.depth_divisor));
    LOOKBOOK_ASSIGN_OR_RETURN(out.kernel_sizes, fields.integers("kernel_sizes", out.kernel_sizes));
    LOOKBOOK_ASSIGN_OR_RETURN(out.in_channels, fields.integers("in_channels", out.in_channels));
    LOOKBOOK_ASSIGN_OR_RETURN(out.out_channels, fields.integers("out_channels", out.out_channels));
    LOOKBOOK_ASSIGN_OR_RETURN(out.strides, fields.integers("strides", out.strides));
    LOOKBOOK_ASSIGN_OR_RETURN(out.num_block_repeats,
                              fields.integers("num_block_repeats", out.num_block_repeats));
    LOOKBOOK_ASSIGN_OR_RETURN(out.expand_ratios,
                              fields.integers("expand_ratios", out.expand_ratios));
    LOOKBOOK_ASSIGN_OR_RETURN(out.depthwise_padding,
                              fields.integers("depthwise_padding", out.depthwise_padding));
    LOOKBOOK_ASSIGN_OR_RETURN(
        out.squeeze_expansion_ratio,
        fields.number("squeeze_expansion_ratio", out.squeeze_expansion_ratio));
    LOOKBOOK_ASSIGN_OR_RETURN(out.hidden_dim, fields.integer("hidden_dim", out.hidden_dim));
    LOOKBOOK_ASSIGN_OR_RETURN(out.batch_norm_eps,
                              fields.number("batch_norm_eps", out.batch_norm_eps));
    LOOKBOOK_ASSIGN_OR_RETURN(std::string act, fields.text("hidden_act", "swish"));
    if (act != "swish" && act != "silu") {
        return Status::unsupported(fields.where("hidden_act") + " is \"" + act +
                                   "\"; lookbook supports \"swish\" (SiLU) only");
    }
    LOOKBOOK_ASSIGN_OR_RETURN(std::string pooling, fields.text("pooling_type", "mean"));
    if (pooling != "mean" && pooling != "max") {
        return Status::unsupported(fields.where("pooling_type") + " is \"" + pooling +
                                   "\"; expected \"mean\" or \"max\"");
    }
    out.max_pooling = pooling == "max";
    return out;
}

// `size`/`crop_size`: {"height": H, "width": W} or, in older files, one integer.
Status parse_size(const JsonFields& fields,
                  const std::string& key,
                  int64_t* height,
                  int64_t* width) {
    const json* value = fields.find(key);
    if (value == nullptr) {
        return Status::ok();
    }
    if (value->is_number_integer()) {
        *height = *width = value->get<int64_t>();
        return Status::ok();
    }
    if (value->is_object() && value->contains("height") && value->contains("width") &&
        (*value)["height"].is_number_integer() && (*value)["width"].is_number_integer()) {
        *height = (*value)["height"].get<int64_t>();
        *width = (*value)["width"].get<int64_t>();
        return Status::ok();
    }
    return Status::unsupported(fields.where(key) + " is " + value->dump() +
                               "; expected {\"height\": H, \"width\": W}");
}

Result<std::vector<float>> parse_channels(const JsonFields& fields,
                                          const std::string& key,
                                          const std::vector<float>& fallback) {
    const json* value = fields.find(key);
    if (value == nullptr) {
        return fallback;
    }
    if (value->is_number()) {
        return std::vector<float>(3, value->get<float>());
    }
    LOOKBOOK_ASSIGN_OR_RETURN(auto triple, fields.triple(key, {}));
    return std::vector<float>(triple.begin(), triple.end());
}

Result<AlignPreprocess> parse_preprocess(const fs::path& path) {
    AlignPreprocess out;
    LOOKBOOK_ASSIGN_OR_RETURN(json root, read_json_object(path));
    JsonFields fields(root, path.string(), "");
    LOOKBOOK_ASSIGN_OR_RETURN(out.do_resize, fields.boolean("do_resize", out.do_resize));
    LOOKBOOK_RETURN_IF_ERROR(parse_size(fields, "size", &out.resize_height, &out.resize_width));
    LOOKBOOK_ASSIGN_OR_RETURN(out.resample, fields.integer("resample", out.resample));
    if (out.resample != 2 && out.resample != 3) {
        return Status::unsupported(fields.where("resample") + " is " +
                                   std::to_string(out.resample) +
                                   "; lookbook supports 2 (bilinear) and 3 (bicubic)");
    }
    LOOKBOOK_ASSIGN_OR_RETURN(out.do_center_crop,
                              fields.boolean("do_center_crop", out.do_center_crop));
    LOOKBOOK_RETURN_IF_ERROR(parse_size(fields, "crop_size", &out.crop_height, &out.crop_width));
    LOOKBOOK_ASSIGN_OR_RETURN(out.do_rescale, fields.boolean("do_rescale", out.do_rescale));
    LOOKBOOK_ASSIGN_OR_RETURN(out.rescale_factor,
                              fields.number("rescale_factor", out.rescale_factor));
    LOOKBOOK_ASSIGN_OR_RETURN(out.rescale_offset,
                              fields.boolean("rescale_offset", out.rescale_offset));
    LOOKBOOK_ASSIGN_OR_RETURN(out.do_normalize, fields.boolean("do_normalize", out.do_normalize));
    LOOKBOOK_ASSIGN_OR_RETURN(out.image_mean, parse_channels(fields, "image_mean", out.image_mean));
    LOOKBOOK_ASSIGN_OR_RETURN(out.image_std, parse_channels(fields, "image_std", out.image_std));
    LOOKBOOK_ASSIGN_OR_RETURN(out.include_top, fields.boolean("include_top", out.include_top));
    return out;
}

Result<AlignTokenizerOptions> parse_tokenizer(const fs::path& path, int64_t max_positions) {
    AlignTokenizerOptions out;
    LOOKBOOK_ASSIGN_OR_RETURN(json root, read_json_object(path));
    JsonFields fields(root, path.string(), "");
    LOOKBOOK_ASSIGN_OR_RETURN(std::string cls, fields.text("tokenizer_class", "BertTokenizer"));
    if (cls != "BertTokenizer" && cls != "BertTokenizerFast") {
        return Status::unsupported(fields.where("tokenizer_class") + " is \"" + cls +
                                   "\"; lookbook's ALIGN reads BertTokenizer (vocab.txt) only");
    }
    LOOKBOOK_ASSIGN_OR_RETURN(out.do_lower_case, fields.boolean("do_lower_case", true));
    // HF: strip_accents None follows do_lower_case.
    LOOKBOOK_ASSIGN_OR_RETURN(out.strip_accents,
                              fields.boolean("strip_accents", out.do_lower_case));
    LOOKBOOK_ASSIGN_OR_RETURN(out.tokenize_chinese_chars,
                              fields.boolean("tokenize_chinese_chars", true));
    // AlignProcessor pads to 64; a tokenizer with a smaller declared limit is kept to it, and the
    // "no limit" sentinel (1e30) some files carry is ignored.
    const json* limit = fields.find("model_max_length");
    if (limit != nullptr && limit->is_number()) {
        const double value = limit->get<double>();
        if (value >= 2 && value <= static_cast<double>(max_positions)) {
            out.max_length = static_cast<int64_t>(value);
        }
    }
    return out;
}

}  // namespace

int64_t align_round_filters(const AlignVisionConfig& config, int64_t channels) {
    const double divisor = static_cast<double>(config.depth_divisor);
    const double scaled = static_cast<double>(channels) * config.width_coefficient;
    // int(x + d/2) // d * d in Python: truncation then floor division of a non-negative value.
    double rounded = std::floor(std::trunc(scaled + divisor / 2.0) / divisor) * divisor;
    rounded = std::max(divisor, rounded);
    if (rounded < 0.9 * scaled) {
        rounded += divisor;
    }
    return static_cast<int64_t>(rounded);
}

int64_t align_stem_channels(const AlignVisionConfig& config) {
    // HF hard-codes 32 here instead of in_channels[0].
    return align_round_filters(config, 32);
}

std::vector<AlignBlockSpec> align_blocks(const AlignVisionConfig& config) {
    std::vector<AlignBlockSpec> blocks;
    const size_t stages = std::min({config.in_channels.size(),
                                    config.out_channels.size(),
                                    config.kernel_sizes.size(),
                                    config.strides.size(),
                                    config.num_block_repeats.size(),
                                    config.expand_ratios.size()});
    for (size_t stage = 0; stage < stages; ++stage) {
        const int64_t stage_in = align_round_filters(config, config.in_channels[stage]);
        const int64_t out_dim = align_round_filters(config, config.out_channels[stage]);
        const int64_t repeats = round_repeats(config, config.num_block_repeats[stage]);
        for (int64_t repeat = 0; repeat < repeats; ++repeat) {
            AlignBlockSpec block;
            block.in_dim = repeat == 0 ? stage_in : out_dim;
            block.out_dim = out_dim;
            block.kernel = config.kernel_sizes[stage];
            block.stride = repeat == 0 ? config.strides[stage] : 1;
            block.expand = config.expand_ratios[stage] != 1;
            block.expand_dim = block.in_dim * config.expand_ratios[stage];
            block.se_dim =
                std::max<int64_t>(1,
                                  static_cast<int64_t>(static_cast<double>(block.in_dim) *
                                                       config.squeeze_expansion_ratio));
            // Only the first block of a stage changes shape; the others add their input back.
            block.residual = repeat > 0;
            const auto index = static_cast<int64_t>(blocks.size());
            const bool symmetric = std::find(config.depthwise_padding.begin(),
                                             config.depthwise_padding.end(),
                                             index) != config.depthwise_padding.end();
            const int64_t half = block.kernel / 2;
            block.pad = symmetric ? std::vector<int64_t>{half, half, half, half}
                                  : std::vector<int64_t>{half - 1, half, half - 1, half};
            blocks.push_back(block);
        }
    }
    return blocks;
}

AlignConfig align_base_config() {
    AlignConfig config;
    config.vision.image_size = 289;
    config.vision.hidden_dim = 640;
    config.projection_dim = 640;
    return config;
}

Status validate_align_config(const AlignConfig& config) {
    const AlignTextConfig& text = config.text;
    const AlignVisionConfig& vision = config.vision;
    LOOKBOOK_RETURN_IF_ERROR(check_positive(config.projection_dim, "projection_dim"));
    LOOKBOOK_RETURN_IF_ERROR(check_positive(text.vocab_size, "text_config.vocab_size"));
    LOOKBOOK_RETURN_IF_ERROR(check_positive(text.hidden_size, "text_config.hidden_size"));
    LOOKBOOK_RETURN_IF_ERROR(check_positive(text.layers, "text_config.num_hidden_layers"));
    LOOKBOOK_RETURN_IF_ERROR(check_positive(text.heads, "text_config.num_attention_heads"));
    LOOKBOOK_RETURN_IF_ERROR(
        check_positive(text.intermediate_size, "text_config.intermediate_size"));
    LOOKBOOK_RETURN_IF_ERROR(
        check_positive(text.max_position_embeddings, "text_config.max_position_embeddings"));
    LOOKBOOK_RETURN_IF_ERROR(check_positive(text.type_vocab_size, "text_config.type_vocab_size"));
    if (text.hidden_size % text.heads != 0) {
        return Status::invalid_argument(fmt::format(
            "ALIGN config: text_config.hidden_size {} is not divisible by num_attention_heads {}",
            text.hidden_size,
            text.heads));
    }
    if (config.tokenizer.max_length < 2 ||
        config.tokenizer.max_length > text.max_position_embeddings) {
        return Status::invalid_argument(
            fmt::format("ALIGN config: tokenizer max length {} must be 2..{} "
                        "(text_config.max_position_embeddings)",
                        config.tokenizer.max_length,
                        text.max_position_embeddings));
    }
    LOOKBOOK_RETURN_IF_ERROR(check_positive(vision.image_size, "vision_config.image_size"));
    LOOKBOOK_RETURN_IF_ERROR(check_positive(vision.depth_divisor, "vision_config.depth_divisor"));
    LOOKBOOK_RETURN_IF_ERROR(check_positive(vision.hidden_dim, "vision_config.hidden_dim"));
    if (vision.num_channels != 3) {
        return Status::invalid_argument(
            fmt::format("ALIGN config: vision_config.num_channels is {}; expected 3 (RGB)",
                        vision.num_channels));
    }
    const size_t stages = vision.in_channels.size();
    if (stages == 0 || vision.out_channels.size() != stages ||
        vision.kernel_sizes.size() != stages || vision.strides.size() != stages ||
        vision.num_block_repeats.size() != stages || vision.expand_ratios.size() != stages) {
        return Status::invalid_argument(fmt::format(
            "ALIGN config: vision_config lists have lengths in_channels {}, out_channels {}, "
            "kernel_sizes {}, strides {}, num_block_repeats {}, expand_ratios {}; expected one "
            "equal, non-zero length (one entry per stage)",
            stages,
            vision.out_channels.size(),
            vision.kernel_sizes.size(),
            vision.strides.size(),
            vision.num_block_repeats.size(),
            vision.expand_ratios.size()));
    }
    for (size_t stage = 0; stage < stages; ++stage) {
        const int64_t k = vision.kernel_sizes[stage];
        const int64_t s = vision.strides[stage];
        if (k < 1 || k % 2 == 0 || (s != 1 && s != 2) || vision.expand_ratios[stage] < 1 ||
            vision.num_block_repeats[stage] < 1 || vision.in_channels[stage] < 1 ||
            vision.out_channels[stage] < 1) {
            return Status::invalid_argument(fmt::format(
                "ALIGN config: vision_config stage {} has kernel {}, stride {}, expand ratio {}, "
                "repeats {}, channels {} -> {}; expected an odd kernel, stride 1 or 2 and "
                "positive ratio, repeats and channels",
                stage,
                k,
                s,
                vision.expand_ratios[stage],
                vision.num_block_repeats[stage],
                vision.in_channels[stage],
                vision.out_channels[stage]));
        }
    }

    // The final map must fit in one pooling window, or HF's reshape of the pooled output fails.
    int64_t size = conv_out(vision.image_size, 1, 3, 2);
    for (const AlignBlockSpec& block : align_blocks(vision)) {
        if (block.stride == 2) {
            size = conv_out(size, block.pad[0] + block.pad[1], block.kernel, 2);
        }
    }
    if (size < 1 || size > vision.hidden_dim) {
        return Status::invalid_argument(fmt::format(
            "ALIGN config: image_size {} gives a final feature map of {}x{}, which does not fit "
            "the pooling window vision_config.hidden_dim {}",
            vision.image_size,
            size,
            size,
            vision.hidden_dim));
    }
    const int64_t last = align_round_filters(vision, vision.out_channels.back());
    if (last != config.projection_dim) {
        return Status::invalid_argument(fmt::format(
            "ALIGN config: the image tower ends with {} channels (round_filters of "
            "out_channels[-1] = {}) but projection_dim is {}; ALIGN has no image projection, so "
            "they must be equal",
            last,
            vision.out_channels.back(),
            config.projection_dim));
    }
    return Status::ok();
}

bool is_align_config(const fs::path& config_json) {
    auto root = read_json_object(config_json);
    if (!root.is_ok()) {
        return false;
    }
    const json& top = *root;
    if (top.contains("model_type") && top["model_type"] == "align") {
        return true;
    }
    if (top.contains("architectures") && top["architectures"].is_array()) {
        for (const json& arch : top["architectures"]) {
            if (arch == "AlignModel") {
                return true;
            }
        }
    }
    return false;
}

Result<AlignConfig> read_align_config(const fs::path& dir) {
    const fs::path config_json = dir / "config.json";
    LOOKBOOK_ASSIGN_OR_RETURN(json root, read_json_object(config_json));
    const std::string file = config_json.string();
    if (!is_align_config(config_json)) {
        const std::string type =
            root.contains("model_type") ? root["model_type"].dump() : std::string("(none)");
        return Status::unsupported(file + ": model_type is " + type +
                                   "; expected \"align\" (Hugging Face AlignModel)");
    }
    AlignConfig config;
    config.source = config_json;
    JsonFields top(root, file, "");
    LOOKBOOK_ASSIGN_OR_RETURN(config.projection_dim,
                              top.integer("projection_dim", config.projection_dim));
    LOOKBOOK_ASSIGN_OR_RETURN(JsonFields text, top.object("text_config"));
    LOOKBOOK_ASSIGN_OR_RETURN(config.text, parse_text(text));
    LOOKBOOK_ASSIGN_OR_RETURN(JsonFields vision, top.object("vision_config"));
    LOOKBOOK_ASSIGN_OR_RETURN(config.vision, parse_vision(vision));

    // The processor files are optional: align-base's values are the defaults.
    std::error_code ec;
    if (fs::exists(dir / "preprocessor_config.json", ec)) {
        LOOKBOOK_ASSIGN_OR_RETURN(config.preprocess,
                                  parse_preprocess(dir / "preprocessor_config.json"));
    } else {
        config.preprocess.crop_height = config.preprocess.crop_width = config.vision.image_size;
    }
    if (fs::exists(dir / "tokenizer_config.json", ec)) {
        LOOKBOOK_ASSIGN_OR_RETURN(
            config.tokenizer,
            parse_tokenizer(dir / "tokenizer_config.json", config.text.max_position_embeddings));
    }
    Status valid = validate_align_config(config);
    if (!valid.is_ok()) {
        return Status::invalid_data(file + ": " + valid.message());
    }
    return config;
}

}  // namespace lookbook
