#include "lookbook/encoders/clip_config.hpp"

#include <cmath>

#include <nlohmann/json.hpp>

#include "lookbook/encoders/json_fields.hpp"
#include "lookbook/util/file.hpp"

namespace lookbook {
namespace {

using nlohmann::json;

Result<ClipActivation> parse_hf_activation(const JsonFields& fields) {
    const json* value = fields.find("hidden_act");
    if (value == nullptr || *value == "quick_gelu") {
        return ClipActivation::kQuickGelu;
    }
    if (*value == "gelu") {
        return ClipActivation::kGelu;
    }
    return Status::unsupported(fields.where("hidden_act") + " is " + value->dump() +
                               "; lookbook supports \"quick_gelu\" and \"gelu\"");
}

// HF lets "text_config_dict" override "text_config" key by key; merge them the same way.
json merged_tower(const json& root, const std::string& name) {
    json out = json::object();
    for (const std::string& key : {name, name + "_dict"}) {
        auto it = root.find(key);
        if (it != root.end() && it->is_object()) {
            out.update(*it);
        }
    }
    return out;
}

Status check_positive(const std::string& where, int64_t value) {
    if (value <= 0) {
        return Status::invalid_argument(where + " is " + std::to_string(value) +
                                        "; expected a positive number");
    }
    return Status::ok();
}

}  // namespace

const char* clip_activation_name(ClipActivation activation) {
    return activation == ClipActivation::kGelu ? "gelu" : "quick_gelu";
}

Status validate_clip_config(const ClipConfig& c) {
    const std::string from = c.source.empty() ? "CLIP config" : c.source.string();
    const std::pair<const char*, int64_t> sizes[] = {
        {"embed_dim", c.embed_dim},
        {"vision.image_size", c.vision.image_size},
        {"vision.patch_size", c.vision.patch_size},
        {"vision.width", c.vision.width},
        {"vision.layers", c.vision.layers},
        {"vision.heads", c.vision.heads},
        {"vision.mlp_width", c.vision.mlp_width},
        {"text.context_length", c.text.context_length},
        {"text.vocab_size", c.text.vocab_size},
        {"text.width", c.text.width},
        {"text.layers", c.text.layers},
        {"text.heads", c.text.heads},
        {"text.mlp_width", c.text.mlp_width},
    };
    for (const auto& [name, value] : sizes) {
        LOOKBOOK_RETURN_IF_ERROR(check_positive(from + ": " + name, value));
    }
    if (c.vision.width % c.vision.heads != 0) {
        return Status::invalid_argument(from + ": vision width " + std::to_string(c.vision.width) +
                                        " is not divisible by " + std::to_string(c.vision.heads) +
                                        " heads; check the head count in the config");
    }
    if (c.text.width % c.text.heads != 0) {
        return Status::invalid_argument(from + ": text width " + std::to_string(c.text.width) +
                                        " is not divisible by " + std::to_string(c.text.heads) +
                                        " heads; check the head count in the config");
    }
    if (c.vision.image_size % c.vision.patch_size != 0) {
        return Status::invalid_argument(
            from + ": image size " + std::to_string(c.vision.image_size) +
            " is not a multiple of the patch size " + std::to_string(c.vision.patch_size));
    }
    return Status::ok();
}

Result<ClipConfig> read_hf_clip_config(const std::filesystem::path& config_json) {
    LOOKBOOK_ASSIGN_OR_RETURN(json root, read_json_object(config_json));
    const std::string file = config_json.string();

    // Only the two-tower CLIPModel; a vision-only or text-only export lacks half the weights.
    auto arch = root.find("architectures");
    if (arch != root.end()) {
        bool is_clip = arch->is_array() && arch->size() == 1 && (*arch)[0] == "CLIPModel";
        if (!is_clip) {
            return Status::unsupported(file + ": unknown architecture: \"architectures\" is " +
                                       arch->dump() +
                                       "; lookbook loads only [\"CLIPModel\"] checkpoints");
        }
    } else if (root.value("model_type", std::string()) != "clip") {
        return Status::unsupported(
            file + ": unknown architecture: no \"architectures\" and \"model_type\" is " +
            (root.contains("model_type") ? root["model_type"].dump() : std::string("missing")) +
            "; lookbook loads only CLIPModel checkpoints");
    }

    ClipConfig config;
    config.layout = ClipWeightLayout::kHuggingFace;
    config.source = config_json;
    JsonFields top(root, file, "");
    LOOKBOOK_ASSIGN_OR_RETURN(config.embed_dim, top.integer("projection_dim", 512));

    const json text_json = merged_tower(root, "text_config");
    JsonFields text(text_json, file, "text_config.");
    ClipTextConfig& t = config.text;
    LOOKBOOK_ASSIGN_OR_RETURN(t.width, text.integer("hidden_size", 512));
    LOOKBOOK_ASSIGN_OR_RETURN(t.mlp_width, text.integer("intermediate_size", 2048));
    LOOKBOOK_ASSIGN_OR_RETURN(t.layers, text.integer("num_hidden_layers", 12));
    LOOKBOOK_ASSIGN_OR_RETURN(t.heads, text.integer("num_attention_heads", 8));
    LOOKBOOK_ASSIGN_OR_RETURN(t.context_length, text.integer("max_position_embeddings", 77));
    LOOKBOOK_ASSIGN_OR_RETURN(t.vocab_size, text.integer("vocab_size", 49408));
    LOOKBOOK_ASSIGN_OR_RETURN(t.layer_norm_eps, text.number("layer_norm_eps", 1e-5));
    LOOKBOOK_ASSIGN_OR_RETURN(t.activation, parse_hf_activation(text));

    const json vision_json = merged_tower(root, "vision_config");
    JsonFields vision(vision_json, file, "vision_config.");
    ClipVisionConfig& v = config.vision;
    LOOKBOOK_ASSIGN_OR_RETURN(v.width, vision.integer("hidden_size", 768));
    LOOKBOOK_ASSIGN_OR_RETURN(v.mlp_width, vision.integer("intermediate_size", 3072));
    LOOKBOOK_ASSIGN_OR_RETURN(v.layers, vision.integer("num_hidden_layers", 12));
    LOOKBOOK_ASSIGN_OR_RETURN(v.heads, vision.integer("num_attention_heads", 12));
    LOOKBOOK_ASSIGN_OR_RETURN(v.image_size, vision.integer("image_size", 224));
    LOOKBOOK_ASSIGN_OR_RETURN(v.patch_size, vision.integer("patch_size", 32));
    LOOKBOOK_ASSIGN_OR_RETURN(v.layer_norm_eps, vision.number("layer_norm_eps", 1e-5));
    LOOKBOOK_ASSIGN_OR_RETURN(v.activation, parse_hf_activation(vision));
    LOOKBOOK_ASSIGN_OR_RETURN(int64_t channels, vision.integer("num_channels", 3));
    if (channels != 3) {
        return Status::unsupported(vision.where("num_channels") + " is " +
                                   std::to_string(channels) + "; lookbook feeds RGB images (3)");
    }

    // Mean and std live in the image processor's file, when the folder has one.
    const auto preprocessor = config_json.parent_path() / "preprocessor_config.json";
    if (std::filesystem::exists(preprocessor)) {
        LOOKBOOK_ASSIGN_OR_RETURN(json pre, read_json_object(preprocessor));
        JsonFields fields(pre, preprocessor.string(), "");
        LOOKBOOK_ASSIGN_OR_RETURN(config.image_mean,
                                  fields.triple("image_mean", config.image_mean));
        LOOKBOOK_ASSIGN_OR_RETURN(config.image_std, fields.triple("image_std", config.image_std));
    }
    LOOKBOOK_RETURN_IF_ERROR(validate_clip_config(config));
    return config;
}

Result<ClipConfig> read_open_clip_config(const std::filesystem::path& config_json) {
    LOOKBOOK_ASSIGN_OR_RETURN(json root, read_json_object(config_json));
    const std::string file = config_json.string();
    JsonFields top(root, file, "");
    LOOKBOOK_ASSIGN_OR_RETURN(JsonFields model, top.object("model_cfg"));

    ClipConfig config;
    config.layout = ClipWeightLayout::kOpenClip;
    config.source = config_json;
    LOOKBOOK_ASSIGN_OR_RETURN(config.embed_dim, model.integer("embed_dim", 512));
    // OpenCLIP's default is exact GELU; OpenAI-trained weights set quick_gelu.
    LOOKBOOK_ASSIGN_OR_RETURN(bool quick_gelu, model.boolean("quick_gelu", false));
    const ClipActivation activation =
        quick_gelu ? ClipActivation::kQuickGelu : ClipActivation::kGelu;
    // TODO: CustomTextCLIP ("custom_text") stores the text tower under "text." — those
    // checkpoints (and any HF/timm tower) fail here until the loader maps that prefix.
    LOOKBOOK_RETURN_IF_ERROR(model.reject("custom_text", "a custom text tower"));

    // Vision tower: OpenCLIP derives heads from width / head_width.
    LOOKBOOK_ASSIGN_OR_RETURN(JsonFields vision, model.object("vision_cfg"));
    const json* layers = vision.find("layers");
    if (layers != nullptr && layers->is_array()) {
        return Status::unsupported(vision.where("layers") + " is " + layers->dump() +
                                   "; ResNet image towers are not supported, only ViT");
    }
    LOOKBOOK_RETURN_IF_ERROR(vision.reject("timm_model_name", "a timm image tower"));
    LOOKBOOK_RETURN_IF_ERROR(vision.reject("ls_init_value", "layer scale"));
    LOOKBOOK_RETURN_IF_ERROR(vision.reject("attentional_pool", "attentional pooling"));
    LOOKBOOK_RETURN_IF_ERROR(vision.reject("no_ln_pre", "a tower without ln_pre"));
    LOOKBOOK_RETURN_IF_ERROR(vision.reject("final_ln_after_pool", "final_ln_after_pool"));
    ClipVisionConfig& v = config.vision;
    LOOKBOOK_ASSIGN_OR_RETURN(v.layers, vision.integer("layers", 12));
    LOOKBOOK_ASSIGN_OR_RETURN(v.width, vision.integer("width", 768));
    LOOKBOOK_ASSIGN_OR_RETURN(int64_t head_width, vision.integer("head_width", 64));
    LOOKBOOK_ASSIGN_OR_RETURN(double vision_mlp_ratio, vision.number("mlp_ratio", 4.0));
    LOOKBOOK_ASSIGN_OR_RETURN(v.patch_size, vision.square_size("patch_size", 16));
    LOOKBOOK_ASSIGN_OR_RETURN(v.image_size, vision.square_size("image_size", 224));
    LOOKBOOK_RETURN_IF_ERROR(check_positive(vision.where("head_width"), head_width));
    if (v.width % head_width != 0) {
        return Status::invalid_data(vision.where("width") + " is " + std::to_string(v.width) +
                                    ", not a multiple of head_width " + std::to_string(head_width));
    }
    v.heads = v.width / head_width;
    v.mlp_width = static_cast<int64_t>(v.width * vision_mlp_ratio);
    v.activation = activation;

    // Text tower: heads are explicit; pooling must be OpenAI's argmax (first EOT).
    LOOKBOOK_ASSIGN_OR_RETURN(JsonFields text, model.object("text_cfg"));
    LOOKBOOK_RETURN_IF_ERROR(text.reject("hf_model_name", "a Hugging Face text tower"));
    LOOKBOOK_RETURN_IF_ERROR(text.reject("ls_init_value", "layer scale"));
    LOOKBOOK_RETURN_IF_ERROR(text.reject("embed_cls", "a CLS-token text tower"));
    LOOKBOOK_RETURN_IF_ERROR(text.reject("no_causal_mask", "a text tower without causal mask"));
    LOOKBOOK_RETURN_IF_ERROR(text.reject("proj_bias", "a text projection with bias"));
    const json* pool = text.find("pool_type");
    if (pool != nullptr && *pool != "argmax") {
        return Status::unsupported(text.where("pool_type") + " is " + pool->dump() +
                                   "; lookbook pools text at the first EOT (\"argmax\") only");
    }
    ClipTextConfig& t = config.text;
    LOOKBOOK_ASSIGN_OR_RETURN(t.context_length, text.integer("context_length", 77));
    LOOKBOOK_ASSIGN_OR_RETURN(t.vocab_size, text.integer("vocab_size", 49408));
    LOOKBOOK_ASSIGN_OR_RETURN(t.width, text.integer("width", 512));
    LOOKBOOK_ASSIGN_OR_RETURN(t.heads, text.integer("heads", 8));
    LOOKBOOK_ASSIGN_OR_RETURN(t.layers, text.integer("layers", 12));
    LOOKBOOK_ASSIGN_OR_RETURN(double text_mlp_ratio, text.number("mlp_ratio", 4.0));
    t.mlp_width = static_cast<int64_t>(t.width * text_mlp_ratio);
    t.activation = activation;

    // Preprocessing is optional; older configs only have model_cfg.
    if (top.find("preprocess_cfg") != nullptr) {
        LOOKBOOK_ASSIGN_OR_RETURN(JsonFields pre, top.object("preprocess_cfg"));
        LOOKBOOK_ASSIGN_OR_RETURN(config.image_mean, pre.triple("mean", config.image_mean));
        LOOKBOOK_ASSIGN_OR_RETURN(config.image_std, pre.triple("std", config.image_std));
    }
    // lookbook's block: only a model train-encoder wrote has it, and only that one can turn on
    // the wide paths and the linear path.
    if (top.find("lookbook") != nullptr) {
        LOOKBOOK_ASSIGN_OR_RETURN(JsonFields own, top.object("lookbook"));
        LOOKBOOK_ASSIGN_OR_RETURN(config.wide_features, own.boolean("wide_features", false));
        LOOKBOOK_ASSIGN_OR_RETURN(config.linear_path, own.boolean("linear_path", false));
    }
    LOOKBOOK_RETURN_IF_ERROR(validate_clip_config(config));
    return config;
}

}  // namespace lookbook
