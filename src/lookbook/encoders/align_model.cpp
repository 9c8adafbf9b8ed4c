#include "lookbook/encoders/align_model.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <unordered_map>

#include <fmt/format.h>
#include <torch/torch.h>

#include "lookbook/util/log.hpp"

namespace lookbook {
namespace {

namespace fs = std::filesystem;
namespace F = torch::nn::functional;

using Shapes = std::vector<std::pair<std::string, std::vector<int64_t>>>;

struct BatchNorm {
    torch::Tensor weight, bias, mean, var;
};

void add_batch_norm(Shapes* shapes, const std::string& prefix, int64_t channels) {
    for (const char* part : {"weight", "bias", "running_mean", "running_var"}) {
        shapes->push_back({prefix + "." + part, {channels}});
    }
}

void add_linear(Shapes* shapes, const std::string& prefix, int64_t out, int64_t in) {
    shapes->push_back({prefix + ".weight", {out, in}});
    shapes->push_back({prefix + ".bias", {out}});
}

std::string block_prefix(size_t block) {
    return "vision_model.encoder.blocks." + std::to_string(block) + ".";
}

std::string layer_prefix(int64_t layer) {
    return "text_model.encoder.layer." + std::to_string(layer) + ".";
}

// Checkpoint tensors that are not weights of the forward pass.
bool is_ignored(const std::string& name) {
    auto ends_with = [&](std::string_view suffix) {
        return name.size() >= suffix.size() &&
               name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    return ends_with("num_batches_tracked") || ends_with("position_ids") ||
           name.rfind("text_model.pooler.", 0) == 0;
}

// A square convolution; spelled out because an integer 0 padding would also convert to the
// string-padding overload of torch::conv2d.
torch::Tensor conv(const torch::Tensor& x,
                   const torch::Tensor& weight,
                   const torch::Tensor& bias,
                   int64_t stride,
                   int64_t padding,
                   int64_t groups = 1) {
    const std::vector<int64_t> strides{stride, stride};
    const std::vector<int64_t> pads{padding, padding};
    const std::vector<int64_t> dilation{1, 1};
    return torch::conv2d(x,
                         weight,
                         bias.defined() ? c10::optional<torch::Tensor>(bias) : c10::nullopt,
                         strides,
                         pads,
                         dilation,
                         groups);
}

// Inference BatchNorm with the running statistics.
torch::Tensor batch_norm(const torch::Tensor& x, const BatchNorm& bn, double eps) {
    return torch::batch_norm(x, bn.weight, bn.bias, bn.mean, bn.var, false, 0.0, eps, false);
}

}  // namespace

struct AlignModel::Weights {
    std::unordered_map<std::string, torch::Tensor> by_name;

    torch::Tensor stem_conv;
    BatchNorm stem_bn;
    struct Block {
        AlignBlockSpec spec;
        torch::Tensor expand_conv;
        BatchNorm expand_bn;
        torch::Tensor depthwise_conv;
        BatchNorm depthwise_bn;
        torch::Tensor se_reduce_w, se_reduce_b, se_expand_w, se_expand_b;
        torch::Tensor project_conv;
        BatchNorm project_bn;
    };
    std::vector<Block> blocks;

    torch::Tensor word, position, token_type, embed_ln_w, embed_ln_b;
    struct Layer {
        torch::Tensor q_w, q_b, k_w, k_b, v_w, v_b;
        torch::Tensor attn_out_w, attn_out_b, attn_ln_w, attn_ln_b;
        torch::Tensor inter_w, inter_b, out_w, out_b, out_ln_w, out_ln_b;
    };
    std::vector<Layer> layers;
    torch::Tensor proj_w, proj_b;

    const torch::Tensor& at(const std::string& name) const { return by_name.at(name); }
    BatchNorm bn(const std::string& prefix) const {
        return {at(prefix + ".weight"),
                at(prefix + ".bias"),
                at(prefix + ".running_mean"),
                at(prefix + ".running_var")};
    }
};

std::vector<std::pair<std::string, std::vector<int64_t>>> align_weight_shapes(
    const AlignConfig& config) {
    Shapes shapes;
    const AlignVisionConfig& vision = config.vision;
    const int64_t stem = align_stem_channels(vision);
    shapes.push_back({"vision_model.embeddings.convolution.weight", {stem, 3, 3, 3}});
    add_batch_norm(&shapes, "vision_model.embeddings.batchnorm", stem);
    const std::vector<AlignBlockSpec> blocks = align_blocks(vision);
    for (size_t b = 0; b < blocks.size(); ++b) {
        const AlignBlockSpec& s = blocks[b];
        const std::string p = block_prefix(b);
        if (s.expand) {
            shapes.push_back({p + "expansion.expand_conv.weight", {s.expand_dim, s.in_dim, 1, 1}});
            add_batch_norm(&shapes, p + "expansion.expand_bn", s.expand_dim);
        }
        shapes.push_back(
            {p + "depthwise_conv.depthwise_conv.weight", {s.expand_dim, 1, s.kernel, s.kernel}});
        add_batch_norm(&shapes, p + "depthwise_conv.depthwise_norm", s.expand_dim);
        shapes.push_back({p + "squeeze_excite.reduce.weight", {s.se_dim, s.expand_dim, 1, 1}});
        shapes.push_back({p + "squeeze_excite.reduce.bias", {s.se_dim}});
        shapes.push_back({p + "squeeze_excite.expand.weight", {s.expand_dim, s.se_dim, 1, 1}});
        shapes.push_back({p + "squeeze_excite.expand.bias", {s.expand_dim}});
        shapes.push_back({p + "projection.project_conv.weight", {s.out_dim, s.expand_dim, 1, 1}});
        add_batch_norm(&shapes, p + "projection.project_bn", s.out_dim);
    }

    const AlignTextConfig& text = config.text;
    const int64_t h = text.hidden_size;
    shapes.push_back({"text_model.embeddings.word_embeddings.weight", {text.vocab_size, h}});
    shapes.push_back(
        {"text_model.embeddings.position_embeddings.weight", {text.max_position_embeddings, h}});
    shapes.push_back(
        {"text_model.embeddings.token_type_embeddings.weight", {text.type_vocab_size, h}});
    shapes.push_back({"text_model.embeddings.LayerNorm.weight", {h}});
    shapes.push_back({"text_model.embeddings.LayerNorm.bias", {h}});
    for (int64_t l = 0; l < text.layers; ++l) {
        const std::string p = layer_prefix(l);
        add_linear(&shapes, p + "attention.self.query", h, h);
        add_linear(&shapes, p + "attention.self.key", h, h);
        add_linear(&shapes, p + "attention.self.value", h, h);
        add_linear(&shapes, p + "attention.output.dense", h, h);
        shapes.push_back({p + "attention.output.LayerNorm.weight", {h}});
        shapes.push_back({p + "attention.output.LayerNorm.bias", {h}});
        add_linear(&shapes, p + "intermediate.dense", text.intermediate_size, h);
        add_linear(&shapes, p + "output.dense", h, text.intermediate_size);
        shapes.push_back({p + "output.LayerNorm.weight", {h}});
        shapes.push_back({p + "output.LayerNorm.bias", {h}});
    }
    add_linear(&shapes, "text_projection", config.projection_dim, h);
    shapes.push_back({"temperature", {}});
    return shapes;
}

AlignModel::AlignModel(AlignConfig config, ConstructionKey)
    : config_(std::move(config)), weights_(std::make_unique<Weights>()) {}

AlignModel::~AlignModel() = default;

template <typename Getter>
Result<std::unique_ptr<AlignModel>> AlignModel::build(const AlignConfig& config, Getter get) {
    Status valid = validate_align_config(config);
    if (!valid.is_ok()) {
        return Status::invalid_argument(valid.message());
    }
    auto model = std::make_unique<AlignModel>(config, ConstructionKey{});
    Weights& w = *model->weights_;
    for (const auto& [name, shape] : align_weight_shapes(config)) {
        LOOKBOOK_ASSIGN_OR_RETURN(torch::Tensor tensor, get(name, shape));
        w.by_name[name] = tensor.to(torch::kFloat32).contiguous();
    }
    model->temperature_ = w.at("temperature").item<float>();

    // Named tensors into the per-block and per-layer records the forward pass walks.
    w.stem_conv = w.at("vision_model.embeddings.convolution.weight");
    w.stem_bn = w.bn("vision_model.embeddings.batchnorm");
    const std::vector<AlignBlockSpec> specs = align_blocks(config.vision);
    for (size_t b = 0; b < specs.size(); ++b) {
        const std::string p = block_prefix(b);
        Weights::Block block;
        block.spec = specs[b];
        if (block.spec.expand) {
            block.expand_conv = w.at(p + "expansion.expand_conv.weight");
            block.expand_bn = w.bn(p + "expansion.expand_bn");
        }
        block.depthwise_conv = w.at(p + "depthwise_conv.depthwise_conv.weight");
        block.depthwise_bn = w.bn(p + "depthwise_conv.depthwise_norm");
        block.se_reduce_w = w.at(p + "squeeze_excite.reduce.weight");
        block.se_reduce_b = w.at(p + "squeeze_excite.reduce.bias");
        block.se_expand_w = w.at(p + "squeeze_excite.expand.weight");
        block.se_expand_b = w.at(p + "squeeze_excite.expand.bias");
        block.project_conv = w.at(p + "projection.project_conv.weight");
        block.project_bn = w.bn(p + "projection.project_bn");
        w.blocks.push_back(std::move(block));
    }
    w.word = w.at("text_model.embeddings.word_embeddings.weight");
    w.position = w.at("text_model.embeddings.position_embeddings.weight");
    w.token_type = w.at("text_model.embeddings.token_type_embeddings.weight");
    w.embed_ln_w = w.at("text_model.embeddings.LayerNorm.weight");
    w.embed_ln_b = w.at("text_model.embeddings.LayerNorm.bias");
    for (int64_t l = 0; l < config.text.layers; ++l) {
        const std::string p = layer_prefix(l);
        Weights::Layer layer;
        layer.q_w = w.at(p + "attention.self.query.weight");
        layer.q_b = w.at(p + "attention.self.query.bias");
        layer.k_w = w.at(p + "attention.self.key.weight");
        layer.k_b = w.at(p + "attention.self.key.bias");
        layer.v_w = w.at(p + "attention.self.value.weight");
        layer.v_b = w.at(p + "attention.self.value.bias");
        layer.attn_out_w = w.at(p + "attention.output.dense.weight");
        layer.attn_out_b = w.at(p + "attention.output.dense.bias");
        layer.attn_ln_w = w.at(p + "attention.output.LayerNorm.weight");
        layer.attn_ln_b = w.at(p + "attention.output.LayerNorm.bias");
        layer.inter_w = w.at(p + "intermediate.dense.weight");
        layer.inter_b = w.at(p + "intermediate.dense.bias");
        layer.out_w = w.at(p + "output.dense.weight");
        layer.out_b = w.at(p + "output.dense.bias");
        layer.out_ln_w = w.at(p + "output.LayerNorm.weight");
        layer.out_ln_b = w.at(p + "output.LayerNorm.bias");
        w.layers.push_back(std::move(layer));
    }
    w.proj_w = w.at("text_projection.weight");
    w.proj_b = w.at("text_projection.bias");
    return model;
}

Result<std::unique_ptr<AlignModel>> AlignModel::from_weights(const AlignConfig& config,
                                                             const SafeTensorsFile& weights) {
    const std::string file = weights.path().string();
    std::unordered_map<std::string, bool> used;
    auto get = [&](const std::string& name,
                   const std::vector<int64_t>& shape) -> Result<torch::Tensor> {
        const SafeTensorInfo* info = weights.info(name);
        if (info == nullptr) {
            return Status::invalid_data(fmt::format(
                "{}: tensor \"{}\" is missing (expected shape {}); the weights do not belong to "
                "an ALIGN model with this config.json",
                file,
                name,
                shape_to_string(shape)));
        }
        if (info->shape != shape) {
            return Status::invalid_data(fmt::format(
                "{}: tensor \"{}\" has shape {}; config.json implies {}. Use the config.json "
                "that came with these weights",
                file,
                name,
                shape_to_string(info->shape),
                shape_to_string(shape)));
        }
        const bool floating =
            info->dtype == SafeTensorsDtype::kF32 || info->dtype == SafeTensorsDtype::kF16 ||
            info->dtype == SafeTensorsDtype::kBF16 || info->dtype == SafeTensorsDtype::kF64;
        if (!floating) {
            return Status::invalid_data(fmt::format("{}: tensor \"{}\" is {}; expected floats",
                                                    file,
                                                    name,
                                                    safetensors_dtype_name(info->dtype)));
        }
        used[name] = true;
        return weights.tensor(name);
    };
    LOOKBOOK_ASSIGN_OR_RETURN(auto model, build(config, get));

    // Extra tensors mean a different architecture or a newer format: worth a warning.
    size_t extra = 0;
    std::string first_extra;
    for (const std::string& name : weights.names()) {
        if (used.count(name) == 0 && !is_ignored(name)) {
            first_extra = extra == 0 ? name : first_extra;
            ++extra;
        }
    }
    if (extra > 0) {
        log::warn("{}: {} tensors are not used by the ALIGN model (first: \"{}\")",
                  file,
                  extra,
                  first_extra);
    }
    return model;
}

Result<std::unique_ptr<AlignModel>> AlignModel::load(const fs::path& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        return Status::not_found(dir.string() +
                                 ": not a folder; expected an ALIGN model folder with "
                                 "config.json and model.safetensors");
    }
    LOOKBOOK_ASSIGN_OR_RETURN(AlignConfig config, read_align_config(dir));
    const fs::path weights_path = dir / "model.safetensors";
    if (!fs::exists(weights_path, ec) && fs::exists(dir / "pytorch_model.bin", ec)) {
        return Status::unsupported(
            (dir / "pytorch_model.bin").string() +
            ": lookbook reads safetensors only; convert it with transformers "
            "(AlignModel.from_pretrained(dir).save_pretrained(dir, safe_serialization=True))");
    }
    LOOKBOOK_ASSIGN_OR_RETURN(SafeTensorsFile weights, SafeTensorsFile::open(weights_path));
    return from_weights(config, weights);
}

Result<std::unique_ptr<AlignModel>> AlignModel::with_random_weights(const AlignConfig& config,
                                                                    uint64_t seed) {
    torch::manual_seed(seed);
    auto get = [](const std::string& name,
                  const std::vector<int64_t>& shape) -> Result<torch::Tensor> {
        if (name == "temperature") {
            return torch::tensor(0.07f);
        }
        auto ends_with = [&](std::string_view suffix) {
            return name.size() >= suffix.size() &&
                   name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
        };
        // Unit variance and zero mean keep BatchNorm an affine map; weights scaled by fan-in.
        if (ends_with("running_var") || ends_with("LayerNorm.weight") ||
            (ends_with(".weight") && shape.size() == 1)) {
            return torch::ones(shape);
        }
        if (shape.size() == 1) {
            return torch::zeros(shape);
        }
        int64_t fan_in = 1;
        for (size_t d = 1; d < shape.size(); ++d) {
            fan_in *= shape[d];
        }
        return torch::randn(shape) / std::sqrt(static_cast<double>(fan_in));
    };
    return build(config, get);
}

torch::Tensor AlignModel::run_vision(const torch::Tensor& pixels,
                                     std::vector<torch::Tensor>* maps) {
    if (pixels.dim() != 4 || pixels.size(1) != 3 || pixels.scalar_type() != torch::kFloat32) {
        throw std::invalid_argument("AlignModel: pixels must be float32 [B, 3, H, W], got " +
                                    shape_to_string(pixels.sizes()));
    }
    const Weights& w = *weights_;
    const double eps = config_.vision.batch_norm_eps;
    // TODO: BatchNorm runs as its own pass after each conv; folding it into the conv weights at
    // load time would save one memory pass per layer (an estimated 10-20 % of image time on
    // align-base) at the price of float rounding that differs from the reference by ~1e-6.
    // Stem: Keras-style "valid" stride-2 conv after padding one pixel right and bottom.
    torch::Tensor x = F::pad(pixels, F::PadFuncOptions({0, 1, 0, 1}));
    x = conv(x, w.stem_conv, {}, 2, 0);
    x = torch::silu(batch_norm(x, w.stem_bn, eps));  // [B, stem, H/2, W/2]
    if (maps != nullptr) {
        maps->push_back(x);
    }
    for (const Weights::Block& block : w.blocks) {
        const AlignBlockSpec& s = block.spec;
        torch::Tensor input = x;
        if (s.expand) {
            x = torch::silu(batch_norm(conv(x, block.expand_conv, {}, 1, 0), block.expand_bn, eps));
        }
        // Stride 2: explicit (possibly asymmetric) zero pad, then a valid conv; stride 1: "same".
        if (s.stride == 2) {
            x = F::pad(x, F::PadFuncOptions({s.pad[0], s.pad[1], s.pad[2], s.pad[3]}));
            x = conv(x, block.depthwise_conv, {}, 2, 0, s.expand_dim);
        } else {
            x = conv(x, block.depthwise_conv, {}, 1, s.kernel / 2, s.expand_dim);
        }
        x = torch::silu(batch_norm(x, block.depthwise_bn, eps));
        // Squeeze-excite: per-channel gates from the spatial mean.
        torch::Tensor gate = x.mean({2, 3}, true);  // [B, E, 1, 1]
        gate = torch::silu(conv(gate, block.se_reduce_w, block.se_reduce_b, 1, 0));
        gate = torch::sigmoid(conv(gate, block.se_expand_w, block.se_expand_b, 1, 0));
        x = x * gate;
        x = batch_norm(conv(x, block.project_conv, {}, 1, 0), block.project_bn, eps);
        if (s.residual) {
            x = x + input;
        }
        if (maps != nullptr) {
            maps->push_back(x);
        }
    }
    // HF's AvgPool2d(hidden_dim, ceil_mode=True): one window covering the whole final map.
    const int64_t k = config_.vision.hidden_dim;
    const std::vector<int64_t> window{k, k};
    const std::vector<int64_t> no_pad{0, 0};
    const std::vector<int64_t> unit{1, 1};
    torch::Tensor pooled = config_.vision.max_pooling
                               ? torch::max_pool2d(x, window, window, no_pad, unit, true)
                               : torch::avg_pool2d(x, window, window, no_pad, true);
    return pooled.flatten(1);  // [B, C]
}

torch::Tensor AlignModel::encode_image(const torch::Tensor& pixels) {
    torch::InferenceMode guard;
    return run_vision(pixels, nullptr);
}

std::vector<torch::Tensor> AlignModel::image_feature_maps(const torch::Tensor& pixels) {
    torch::InferenceMode guard;
    std::vector<torch::Tensor> maps;
    run_vision(pixels, &maps);
    return maps;
}

torch::Tensor AlignModel::run_text(const torch::Tensor& input_ids,
                                   const torch::Tensor& attention_mask,
                                   std::vector<torch::Tensor>* states) {
    const AlignTextConfig& c = config_.text;
    if (input_ids.dim() != 2 || input_ids.scalar_type() != torch::kInt64 ||
        attention_mask.sizes() != input_ids.sizes() || input_ids.size(1) < 1 ||
        input_ids.size(1) > c.max_position_embeddings) {
        throw std::invalid_argument(
            "AlignModel: input_ids and attention_mask must be int64 [B, L] with 1 <= L <= " +
            std::to_string(c.max_position_embeddings) + ", got " +
            shape_to_string(input_ids.sizes()) + " and " + shape_to_string(attention_mask.sizes()));
    }
    if (input_ids.numel() > 0 &&
        (input_ids.min().item<int64_t>() < 0 || input_ids.max().item<int64_t>() >= c.vocab_size)) {
        throw std::invalid_argument("AlignModel: token id outside 0.." +
                                    std::to_string(c.vocab_size - 1));
    }
    const Weights& w = *weights_;
    const int64_t batch = input_ids.size(0);
    const int64_t length = input_ids.size(1);
    const int64_t heads = c.heads;
    const int64_t head_dim = c.hidden_size / heads;
    const std::vector<int64_t> norm_shape{c.hidden_size};

    // Embeddings: word + position + token type 0 (HF's default token_type_ids).
    torch::Tensor x = w.word.index_select(0, input_ids.reshape({-1})).view({batch, length, -1});
    x = x + w.position.slice(0, 0, length) + w.token_type[0];
    x = torch::layer_norm(x, norm_shape, w.embed_ln_w, w.embed_ln_b, c.layer_norm_eps);
    if (states != nullptr) {
        states->push_back(x);
    }
    // HF's extended mask: 0 where attended, the lowest float where padded. [B, 1, 1, L]
    torch::Tensor mask_add =
        (1.0f - attention_mask.to(torch::kFloat32)).view({batch, 1, 1, length}) *
        std::numeric_limits<float>::lowest();
    // Divided, not multiplied by the inverse, as HF does: the rounding then matches.
    const double scale = std::sqrt(static_cast<double>(head_dim));
    auto split_heads = [&](const torch::Tensor& t) {
        return t.view({batch, length, heads, head_dim}).transpose(1, 2);  // [B, heads, L, d]
    };
    for (const Weights::Layer& layer : w.layers) {
        torch::Tensor q = split_heads(torch::linear(x, layer.q_w, layer.q_b));
        torch::Tensor k = split_heads(torch::linear(x, layer.k_w, layer.k_b));
        torch::Tensor v = split_heads(torch::linear(x, layer.v_w, layer.v_b));
        torch::Tensor scores = torch::matmul(q, k.transpose(-1, -2)) / scale + mask_add;
        torch::Tensor context = torch::matmul(torch::softmax(scores, -1), v);  // [B, heads, L, d]
        context = context.transpose(1, 2).reshape({batch, length, c.hidden_size});
        torch::Tensor attended =
            torch::layer_norm(torch::linear(context, layer.attn_out_w, layer.attn_out_b) + x,
                              norm_shape,
                              layer.attn_ln_w,
                              layer.attn_ln_b,
                              c.layer_norm_eps);
        torch::Tensor inner = torch::linear(attended, layer.inter_w, layer.inter_b);
        switch (c.activation) {
            case AlignTextActivation::kGelu:
                inner = torch::gelu(inner);
                break;
            case AlignTextActivation::kGeluTanh:
                inner = torch::gelu(inner, "tanh");
                break;
            case AlignTextActivation::kRelu:
                inner = torch::relu(inner);
                break;
        }
        x = torch::layer_norm(torch::linear(inner, layer.out_w, layer.out_b) + attended,
                              norm_shape,
                              layer.out_ln_w,
                              layer.out_ln_b,
                              c.layer_norm_eps);
        if (states != nullptr) {
            states->push_back(x);
        }
    }
    // ALIGN projects the [CLS] state itself, not BERT's tanh pooler output.
    return torch::linear(x.select(1, 0), w.proj_w, w.proj_b);  // [B, projection_dim]
}

torch::Tensor AlignModel::encode_text(const torch::Tensor& input_ids,
                                      const torch::Tensor& attention_mask) {
    torch::InferenceMode guard;
    return run_text(input_ids, attention_mask, nullptr);
}

std::vector<torch::Tensor> AlignModel::text_hidden_states(const torch::Tensor& input_ids,
                                                          const torch::Tensor& attention_mask) {
    torch::InferenceMode guard;
    std::vector<torch::Tensor> states;
    run_text(input_ids, attention_mask, &states);
    return states;
}

}  // namespace lookbook
