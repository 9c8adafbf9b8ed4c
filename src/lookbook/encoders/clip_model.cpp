#include "lookbook/encoders/clip_model.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>

#include "lookbook/util/assert.hpp"
#include "lookbook/util/log.hpp"

namespace lookbook {
namespace {

// Submodules and parameters are registered under OpenAI's state-dict names
// ("visual.transformer.resblocks.0.attn.in_proj_weight"), so named_parameters() is the list
// of tensors an OpenCLIP file must hold, and the Hugging Face names are derived from it.

// Speed: on a small shared CPU every parallel kernel pays a thread wake-up, so the forward
// pass keeps the number of kernels per block low. After loading, constants are folded into
// the weights in place (see ClipModel::Modules::folds): the 1/sqrt(head_dim) query scale into
// the q rows of the fused projection, and for QuickGELU 1.702 into c_fc and 1/1.702 into
// c_proj, so that the activation is a single silu_. Folding in place costs no memory;
// openai_state_dict() divides the factors out again.

constexpr double kQuickGeluScale = 1.702;

// residual += x @ weight.t() + bias. For inference a gemm with beta = 1 straight into the
// residual stream, then the bias: two kernels where addmm(bias, ...) + add_ takes three. With
// autograd on (training) the same sum out of place, since the blocks' LayerNorms saved the
// residual stream for their backward pass and an in-place update would invalidate it.
void add_projection(torch::Tensor& residual,
                    const torch::Tensor& x,
                    const torch::Tensor& weight,
                    const torch::Tensor& bias) {
    if (torch::GradMode::is_enabled()) {
        residual = torch::addmm(residual, x, weight.t()) + bias;
    } else {
        residual.addmm_(x, weight.t()).add_(bias);
    }
}

bool ends_with(const std::string& name, const std::string& suffix) {
    return name.size() >= suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

torch::nn::LayerNorm layer_norm(int64_t width, double eps) {
    return torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(eps));
}

// The MLP inside a residual block: c_fc -> activation -> c_proj.
struct MlpImpl : torch::nn::Module {
    MlpImpl(int64_t width, int64_t hidden, ClipActivation activation)
        : c_fc(register_module("c_fc", torch::nn::Linear(width, hidden))),
          c_proj(register_module("c_proj", torch::nn::Linear(hidden, width))),
          activation(activation) {}

    // Adds mlp(x) into `residual` ([N, W]) in place.
    void add_to(torch::Tensor& residual, const torch::Tensor& x) {
        torch::Tensor h = torch::addmm(c_fc->bias, x, c_fc->weight.t());  // [N, hidden]
        const bool training = torch::GradMode::is_enabled();
        if (activation == ClipActivation::kQuickGelu) {
            // With the folded weights: QuickGELU(h) = h sigmoid(1.702 h) = silu(1.702 h) / 1.702.
            h = training ? torch::silu(h) : torch::silu_(h);
        } else {
            h = torch::gelu(h);
        }
        add_projection(residual, h, c_proj->weight, c_proj->bias);
    }

    torch::nn::Linear c_fc;
    torch::nn::Linear c_proj;
    ClipActivation activation;
};
TORCH_MODULE(Mlp);

// Multi-head self-attention with one fused q/k/v projection (one matmul instead of three).
struct AttentionImpl : torch::nn::Module {
    AttentionImpl(int64_t width, int64_t heads)
        : in_proj_weight(register_parameter("in_proj_weight", torch::empty({3 * width, width}))),
          in_proj_bias(register_parameter("in_proj_bias", torch::zeros({3 * width}))),
          out_proj(register_module("out_proj", torch::nn::Linear(width, width))),
          heads(heads),
          head_dim(width / heads) {
        torch::nn::init::xavier_uniform_(in_proj_weight);
    }

    // Adds out_proj(attention(x)) into `residual` in place. x, residual: [B*L, W] (batch-major
    // rows); mask: additive [L, L] or undefined.
    void add_to(torch::Tensor& residual,
                const torch::Tensor& x,
                int64_t batch,
                const torch::Tensor& mask) {
        const int64_t length = x.size(0) / batch;
        const int64_t width = x.size(1);
        // [B*L, 3W] -> [3, B*H, L, D], one copy so that every bmm operand is contiguous.
        torch::Tensor qkv = torch::addmm(in_proj_bias, x, in_proj_weight.t())
                                .view({batch, length, 3, heads, head_dim})
                                .permute({2, 0, 3, 1, 4})
                                .contiguous()
                                .view({3, batch * heads, length, head_dim});
        torch::Tensor q = qkv[0];
        torch::Tensor k_t = qkv[1].transpose(1, 2);  // [B*H, D, L], a view
        torch::Tensor v = qkv[2];
        torch::Tensor scores =
            mask.defined() ? torch::baddbmm(mask, q, k_t) : torch::bmm(q, k_t);  // [B*H, L, L]
        torch::Tensor attention = torch::softmax(scores, -1);
        // [B*H, L, D] -> [B, L, H, D] -> [B*L, W]
        torch::Tensor out = torch::bmm(attention, v)
                                .view({batch, heads, length, head_dim})
                                .transpose(1, 2)
                                .reshape({batch * length, width});
        add_projection(residual, out, out_proj->weight, out_proj->bias);
    }

    torch::Tensor in_proj_weight;
    torch::Tensor in_proj_bias;
    torch::nn::Linear out_proj;
    int64_t heads;
    int64_t head_dim;
};
TORCH_MODULE(Attention);

// Pre-LN residual block: x + attn(ln_1(x)), then x + mlp(ln_2(x)).
struct ResidualBlockImpl : torch::nn::Module {
    ResidualBlockImpl(
        int64_t width, int64_t heads, int64_t mlp_width, ClipActivation activation, double eps)
        : ln_1(register_module("ln_1", layer_norm(width, eps))),
          attn(register_module("attn", Attention(width, heads))),
          ln_2(register_module("ln_2", layer_norm(width, eps))),
          mlp(register_module("mlp", Mlp(width, mlp_width, activation))) {}

    // x: [B*L, W], updated in place.
    void forward(torch::Tensor& x, int64_t batch, const torch::Tensor& mask) {
        attn->add_to(x, ln_1(x), batch, mask);
        mlp->add_to(x, ln_2(x));
    }

    torch::nn::LayerNorm ln_1;
    Attention attn;
    torch::nn::LayerNorm ln_2;
    Mlp mlp;
};
TORCH_MODULE(ResidualBlock);

// A stack of residual blocks, registered as "resblocks.{i}".
struct TransformerImpl : torch::nn::Module {
    TransformerImpl(int64_t width,
                    int64_t layers,
                    int64_t heads,
                    int64_t mlp_width,
                    ClipActivation activation,
                    double eps)
        : resblocks(register_module("resblocks", torch::nn::ModuleList())) {
        for (int64_t layer_idx = 0; layer_idx < layers; ++layer_idx) {
            resblocks->push_back(ResidualBlock(width, heads, mlp_width, activation, eps));
        }
    }

    // x: [B, L, W] -> [B, L, W]; the blocks work on [B*L, W] rows.
    torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask) {
        const int64_t batch = x.size(0);
        // A private copy: the blocks update the residual stream in place.
        torch::Tensor rows = x.reshape({-1, x.size(2)}).clone();
        for (const auto& block : *resblocks) {
            block->as<ResidualBlock>()->forward(rows, batch, mask);
        }
        return rows.view(x.sizes());
    }

    torch::nn::ModuleList resblocks;
};
TORCH_MODULE(Transformer);

// The ViT image tower ("visual.*").
struct VisionTowerImpl : torch::nn::Module {
    VisionTowerImpl(const ClipVisionConfig& c, int64_t embed_dim)
        : conv1(register_module("conv1",
                                torch::nn::Conv2d(torch::nn::Conv2dOptions(3, c.width, c.patch_size)
                                                      .stride(c.patch_size)
                                                      .bias(false)))),
          class_embedding(register_parameter("class_embedding", torch::randn({c.width}))),
          positional_embedding(register_parameter(
              "positional_embedding",
              torch::randn(
                  {(c.image_size / c.patch_size) * (c.image_size / c.patch_size) + 1, c.width}))),
          ln_pre(register_module("ln_pre", layer_norm(c.width, c.layer_norm_eps))),
          transformer(register_module(
              "transformer",
              Transformer(
                  c.width, c.layers, c.heads, c.mlp_width, c.activation, c.layer_norm_eps))),
          ln_post(register_module("ln_post", layer_norm(c.width, c.layer_norm_eps))),
          proj(register_parameter("proj", torch::randn({c.width, embed_dim}))) {}

    // pixels [B, 3, S, S] -> pooled [B, W]
    torch::Tensor pooled(const torch::Tensor& pixels) {
        torch::Tensor x = conv1(pixels);   // [B, W, G, G]
        x = x.flatten(2).transpose(1, 2);  // [B, G*G, W]
        torch::Tensor cls = class_embedding.view({1, 1, -1}).expand({x.size(0), 1, x.size(2)});
        x = torch::cat({cls, x}, 1) + positional_embedding;  // [B, G*G+1, W]
        x = transformer(ln_pre(x), torch::Tensor());
        return ln_post(x.select(1, 0));
    }

    torch::nn::Conv2d conv1;
    torch::Tensor class_embedding;
    torch::Tensor positional_embedding;
    torch::nn::LayerNorm ln_pre;
    Transformer transformer;
    torch::nn::LayerNorm ln_post;
    torch::Tensor proj;
};
TORCH_MODULE(VisionTower);

// The wide image features: an HSV colour histogram (8 hue x 4 saturation x 4 value bins,
// square-rooted, L2-normalised) and an 8x8 grey thumbnail (mean removed, L2-normalised) of
// the un-normalised pixels. They carry what a colour word or a garment shape needs even when
// the ViT has not learned it. pixels [B, 3, S, S] normalised -> [B, kWideImageFeatures]
// The features see the model input: 32 px for the default encoder, while the baseline of
// bench/encoder_eval reads 64 px. Measured on the H&M sample (30 epochs, seed 1, one run each):
// a 64 px input in 16 px patches (`train-encoder --image-size 64 --patch-size 16`: the same 16
// tokens for the ViT, these features at the baseline's resolution; 493 s user CPU against
// 506) gave recall@1/5/10 0.233 / 0.527 / 0.667 against 0.220 / 0.535 / 0.662 at 32 px: no
// gain beyond the noise, so a second, larger pixel input for this path alone was not built.
constexpr int64_t kHueBins = 8;
constexpr int64_t kSatBins = 4;
constexpr int64_t kValueBins = 4;
constexpr int64_t kThumbSide = 8;
constexpr int64_t kWideImageFeatures = kHueBins * kSatBins * kValueBins + kThumbSide * kThumbSide;

torch::Tensor compute_wide_image_features(const torch::Tensor& pixels,
                                          const torch::Tensor& mean,
                                          const torch::Tensor& std) {
    namespace F = torch::nn::functional;
    torch::NoGradGuard no_grad;  // fixed features: nothing to learn below the projection
    torch::Tensor rgb = (pixels * std.view({1, 3, 1, 1}) + mean.view({1, 3, 1, 1})).clamp(0, 1);
    torch::Tensor r = rgb.select(1, 0), g = rgb.select(1, 1), b = rgb.select(1, 2);  // [B, S, S]
    torch::Tensor high = rgb.amax(1), low = rgb.amin(1);
    torch::Tensor range = high - low;
    torch::Tensor safe = range.clamp_min(1e-12);

    // Hue in [0, 6) as the usual piecewise formula; grey pixels get hue 0.
    torch::Tensor hue =
        torch::where(high == r,
                     torch::fmod((g - b) / safe + 6.0, 6.0),
                     torch::where(high == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0));
    hue = torch::where(range > 0, hue, torch::zeros_like(hue));
    torch::Tensor saturation = torch::where(high > 0, range / high.clamp_min(1e-12), high * 0);
    auto bin = [](const torch::Tensor& x, double scale, int64_t bins) {
        return (x * scale).floor().clamp(0, bins - 1).to(torch::kInt64);
    };
    torch::Tensor index =
        (bin(hue, kHueBins / 6.0, kHueBins) * kSatBins + bin(saturation, kSatBins, kSatBins)) *
            kValueBins +
        bin(high, kValueBins, kValueBins);  // [B, S, S]
    const int64_t batch = pixels.size(0);
    torch::Tensor flat = index.reshape({batch, -1});
    torch::Tensor hist = torch::zeros({batch, kHueBins * kSatBins * kValueBins})
                             .scatter_add_(1, flat, torch::ones(flat.sizes()))
                             .sqrt_();

    // Coarse shape: mean grey level per cell.
    torch::Tensor grey = (0.299 * r + 0.587 * g + 0.114 * b).unsqueeze(1);  // [B, 1, S, S]
    torch::Tensor thumb =
        F::adaptive_avg_pool2d(grey, F::AdaptiveAvgPool2dFuncOptions({kThumbSide, kThumbSide}))
            .flatten(1);  // [B, 64]
    thumb = thumb - thumb.mean(1, true);
    const auto unit = F::NormalizeFuncOptions().dim(1);
    return torch::cat({F::normalize(hist, unit), F::normalize(thumb, unit)}, 1);
}

}  // namespace

// The whole model; the text tower's parts sit at the top level, as in OpenAI's state dict.
struct ClipModel::Modules : torch::nn::Module {
    explicit Modules(const ClipConfig& c)
        : visual(register_module("visual", VisionTower(c.vision, c.embed_dim))),
          token_embedding(register_module("token_embedding",
                                          torch::nn::Embedding(c.text.vocab_size, c.text.width))),
          positional_embedding(register_parameter(
              "positional_embedding", torch::randn({c.text.context_length, c.text.width}))),
          transformer(register_module("transformer",
                                      Transformer(c.text.width,
                                                  c.text.layers,
                                                  c.text.heads,
                                                  c.text.mlp_width,
                                                  c.text.activation,
                                                  c.text.layer_norm_eps))),
          ln_final(register_module("ln_final", layer_norm(c.text.width, c.text.layer_norm_eps))),
          text_projection(
              register_parameter("text_projection", torch::randn({c.text.width, c.embed_dim}))),
          logit_scale(register_parameter("logit_scale", torch::tensor(std::log(1 / 0.07f)))),
          causal_mask(torch::full({c.text.context_length, c.text.context_length},
                                  -std::numeric_limits<float>::infinity())
                          .triu(1)),
          image_mean(torch::tensor(std::vector<float>(c.image_mean.begin(), c.image_mean.end()))),
          image_std(torch::tensor(std::vector<float>(c.image_std.begin(), c.image_std.end()))) {
        // The wide paths' weights exist only when the config asks for them, so a CLIP from
        // elsewhere has exactly OpenAI's tensors.
        if (c.wide_features) {
            wide_image_proj = register_parameter("lookbook_wide_image_proj",
                                                 torch::zeros({kWideImageFeatures, c.embed_dim}));
            wide_text_proj = register_parameter("lookbook_wide_text_proj",
                                                torch::zeros({c.text.width, c.embed_dim}));
        }
        // The linear path: zeros until ClipModel::fit_linear_path (a zero part adds nothing
        // to a cosine, so training before the fit sees the trained part alone).
        if (c.linear_path) {
            linear_idf =
                register_parameter("lookbook_linear_idf", torch::zeros({c.text.vocab_size}), false);
            linear_map = register_parameter("lookbook_linear_map",
                                            torch::zeros({c.text.vocab_size, kWideImageFeatures}),
                                            false);
            linear_image_mean = register_parameter(
                "lookbook_linear_image_mean", torch::zeros({kWideImageFeatures}), false);
            linear_image_scale = register_parameter(
                "lookbook_linear_image_scale", torch::zeros({kWideImageFeatures}), false);
        }
    }

    // A constant multiplied into the first `rows` rows of a parameter.
    struct Fold {
        torch::Tensor param;
        int64_t rows;
        double factor;
    };

    // The folds for this config, keyed by parameter name (see the note at the top).
    std::map<std::string, Fold> folds(const ClipConfig& c) {
        std::map<std::string, Fold> out;
        for (auto& item : named_parameters()) {
            const std::string& name = item.key();
            const bool vision = name.rfind("visual.", 0) == 0;
            const int64_t heads = vision ? c.vision.heads : c.text.heads;
            const int64_t width = vision ? c.vision.width : c.text.width;
            const bool quick_gelu =
                (vision ? c.vision.activation : c.text.activation) == ClipActivation::kQuickGelu;
            if (ends_with(name, "attn.in_proj_weight") || ends_with(name, "attn.in_proj_bias")) {
                const double head_dim = static_cast<double>(width / heads);
                out[name] = {item.value(), width, 1.0 / std::sqrt(head_dim)};
            } else if (quick_gelu &&
                       (ends_with(name, "mlp.c_fc.weight") || ends_with(name, "mlp.c_fc.bias"))) {
                out[name] = {item.value(), item.value().size(0), kQuickGeluScale};
            } else if (quick_gelu && ends_with(name, "mlp.c_proj.weight")) {
                out[name] = {item.value(), item.value().size(0), 1.0 / kQuickGeluScale};
            }
        }
        return out;
    }

    // Folds the constants into freshly loaded weights; call exactly once per load.
    void fold_constants(const ClipConfig& c) {
        torch::NoGradGuard no_grad;
        for (auto& [name, fold] : folds(c)) {
            fold.param.slice(0, 0, fold.rows).mul_(fold.factor);
        }
    }

    // ids [B, L] int64 -> pooled [B, Wt]
    torch::Tensor text_pooled(const torch::Tensor& all_ids) {
        // The first end-of-text token is the largest id. Under the causal mask no token sees
        // a later one, so the columns after the batch's last end-of-text token cannot change
        // the pooled rows: cutting them is exact and makes catalog texts (a few dozen tokens
        // padded to 77) several times cheaper.
        torch::Tensor eot = all_ids.argmax(-1);
        const int64_t length = all_ids.size(0) > 0 ? eot.max().item<int64_t>() + 1 : 1;
        torch::Tensor ids = all_ids.slice(1, 0, length);
        torch::Tensor x = token_embedding(ids) + positional_embedding.slice(0, 0, length);
        torch::Tensor mask = causal_mask.slice(0, 0, length).slice(1, 0, length);
        x = transformer(x, mask);  // [B, L, Wt]
        // LayerNorm is per token, so pooling before ln_final equals OpenAI's order and skips
        // the other L-1 rows.
        torch::Tensor rows = torch::arange(ids.size(0), eot.options());
        return ln_final(x.index({rows, eot}));
    }

    // pixels [B, 3, S, S] -> [B, E] (E + F with the linear path): the projected CLS token
    // plus, with the wide paths, the projected fixed image features; with the linear path,
    // that sum as a unit vector followed by the linear part.
    torch::Tensor image_embedding(const torch::Tensor& pixels) {
        torch::Tensor out = visual->pooled(pixels).matmul(visual->proj);
        torch::Tensor features;
        if (wide_image_proj.defined() || linear_map.defined()) {
            features = compute_wide_image_features(pixels, image_mean, image_std);
        }
        if (wide_image_proj.defined()) {
            torch::Tensor scaled =
                wide_image_scale.defined() ? features * wide_image_scale : features;
            out = out + scaled.matmul(wide_image_proj);
        }
        if (linear_map.defined()) {
            out = torch::cat({unit_rows(out), linear_image_part(features)}, 1);
        }
        return out;
    }

    // The linear path's image part: the standardised features as unit rows [B, F].
    torch::Tensor linear_image_part(const torch::Tensor& features) const {
        return unit_rows((features - linear_image_mean) * linear_image_scale);
    }

    // The linear path's text part: TF-IDF of the tokens between start and end of text (idf 0
    // for tokens fitting did not count), L2-normalised, mapped onto the standardised image
    // features, as unit rows [B, F].
    torch::Tensor linear_text_part(const torch::Tensor& ids) const {
        torch::NoGradGuard no_grad;  // fitted in closed form, never trained
        return unit_rows(unit_rows(token_counts(ids) * linear_idf).matmul(linear_map));
    }

    // How often each token stands between start and end of text: ids [B, L] -> [B, V].
    torch::Tensor token_counts(const torch::Tensor& ids) const {
        torch::Tensor eot = ids.argmax(-1).unsqueeze(1);
        torch::Tensor position = torch::arange(ids.size(1), ids.options());
        torch::Tensor inside = ((position >= 1) & (position < eot)).to(torch::kFloat32);
        return torch::zeros({ids.size(0), token_embedding->weight.size(0)})
            .scatter_add_(1, ids, inside);
    }

    static torch::Tensor unit_rows(const torch::Tensor& x) {
        namespace F = torch::nn::functional;
        return F::normalize(x, F::NormalizeFuncOptions().dim(1));
    }

    // ids [B, L] -> [B, E]: the projected end-of-text token plus, with the wide paths, the
    // projected mean embedding of the tokens between start and end of text (a bag of words:
    // the text tower's shortcut to "black" or "trousers" wherever they stand).
    torch::Tensor text_embedding(const torch::Tensor& ids) {
        torch::Tensor out = text_pooled(ids).matmul(text_projection);
        if (wide_text_proj.defined()) {
            torch::Tensor eot = ids.argmax(-1).unsqueeze(1);                     // [B, 1]
            torch::Tensor position = torch::arange(ids.size(1), ids.options());  // [L]
            torch::Tensor inside =
                ((position >= 1) & (position < eot)).to(torch::kFloat32);             // [B, L]
            torch::Tensor sum = (token_embedding(ids) * inside.unsqueeze(2)).sum(1);  // [B, Wt]
            torch::Tensor bag = sum / inside.sum(1, true).clamp_min(1.0);
            out = out + bag.matmul(wide_text_proj);
        }
        if (linear_map.defined()) {
            out = torch::cat({unit_rows(out), linear_text_part(ids)}, 1);
        }
        return out;
    }

    VisionTower visual;
    torch::nn::Embedding token_embedding;
    torch::Tensor positional_embedding;
    Transformer transformer;
    torch::nn::LayerNorm ln_final;
    torch::Tensor text_projection;
    torch::Tensor logit_scale;
    torch::Tensor causal_mask;
    torch::Tensor image_mean;       // [3], to undo the normalisation for the wide features
    torch::Tensor image_std;        // [3]
    torch::Tensor wide_image_proj;  // [kWideImageFeatures, E]; undefined without wide paths
    torch::Tensor wide_text_proj;   // [Wt, E]; undefined without wide paths
    // Training only (ClipModel::set_wide_feature_scale): a factor per wide image feature,
    // multiplied in before the projection and folded into it by openai_state_dict().
    torch::Tensor wide_image_scale;  // [kWideImageFeatures] or undefined
    // The linear path (ClipModel::fit_linear_path); undefined without it.
    torch::Tensor linear_idf;          // [V]
    torch::Tensor linear_map;          // [V, kWideImageFeatures]
    torch::Tensor linear_image_mean;   // [kWideImageFeatures]
    torch::Tensor linear_image_scale;  // [kWideImageFeatures]: 1 / standard deviation
};

namespace {

// Where one OpenAI-named parameter comes from in a file: one tensor, or q/k/v to concatenate,
// possibly transposed (HF stores projections as nn.Linear weights, [E, W]).
struct WeightSource {
    std::vector<std::string> names;
    std::vector<int64_t> shape;  // each source tensor's expected shape
    bool transpose = false;
};

const std::vector<std::pair<std::string, std::string>>& hf_block_names() {
    static const std::vector<std::pair<std::string, std::string>> kNames = {
        {"attn.out_proj.", "self_attn.out_proj."},
        {"ln_1.", "layer_norm1."},
        {"ln_2.", "layer_norm2."},
        {"mlp.c_fc.", "mlp.fc1."},
        {"mlp.c_proj.", "mlp.fc2."},
    };
    return kNames;
}

// Maps an OpenAI parameter name to its Hugging Face CLIPModel source (see the table in the
// shared fixture README, after transformers' convert_clip_original_pytorch_to_hf.py).
WeightSource hf_source(const std::string& name, c10::IntArrayRef shape) {
    static const std::map<std::string, std::string> kDirect = {
        {"token_embedding.weight", "text_model.embeddings.token_embedding.weight"},
        {"positional_embedding", "text_model.embeddings.position_embedding.weight"},
        {"ln_final.weight", "text_model.final_layer_norm.weight"},
        {"ln_final.bias", "text_model.final_layer_norm.bias"},
        {"visual.class_embedding", "vision_model.embeddings.class_embedding"},
        {"visual.conv1.weight", "vision_model.embeddings.patch_embedding.weight"},
        {"visual.positional_embedding", "vision_model.embeddings.position_embedding.weight"},
        {"visual.ln_pre.weight", "vision_model.pre_layrnorm.weight"},
        {"visual.ln_pre.bias", "vision_model.pre_layrnorm.bias"},
        {"visual.ln_post.weight", "vision_model.post_layernorm.weight"},
        {"visual.ln_post.bias", "vision_model.post_layernorm.bias"},
        {"logit_scale", "logit_scale"},
    };
    WeightSource out;
    out.shape = shape.vec();
    if (auto it = kDirect.find(name); it != kDirect.end()) {
        out.names = {it->second};
        return out;
    }
    if (name == "text_projection" || name == "visual.proj") {
        out.names = {name == "text_projection" ? "text_projection.weight"
                                               : "visual_projection.weight"};
        out.shape = {shape[1], shape[0]};
        out.transpose = true;
        return out;
    }

    // Blocks: "[visual.]transformer.resblocks.{i}.<rest>".
    static const std::regex kBlock(R"(^(visual\.)?transformer\.resblocks\.(\d+)\.(.*)$)");
    std::smatch m;
    LOOKBOOK_ASSERT(std::regex_match(name, m, kBlock), "every parameter has an HF mapping");
    const std::string prefix = std::string(m[1].matched ? "vision_model" : "text_model") +
                               ".encoder.layers." + m[2].str() + ".";
    const std::string rest = m[3].str();
    if (rest == "attn.in_proj_weight" || rest == "attn.in_proj_bias") {
        const std::string suffix = rest == "attn.in_proj_weight" ? "weight" : "bias";
        for (const char* part : {"q", "k", "v"}) {
            out.names.push_back(prefix + "self_attn." + part + "_proj." + suffix);
        }
        out.shape[0] /= 3;
        return out;
    }
    for (const auto& [openai, hf] : hf_block_names()) {
        if (rest.rfind(openai, 0) == 0) {
            out.names = {prefix + hf + rest.substr(openai.size())};
            return out;
        }
    }
    LOOKBOOK_ASSERT(false, "every block parameter has an HF mapping");
    return out;
}

// Reads one parameter's source tensors, checking presence and shape.
Result<torch::Tensor> read_source(const SafeTensorsFile& weights,
                                  const WeightSource& source,
                                  const std::string& config_name) {
    std::vector<torch::Tensor> parts;
    for (const std::string& name : source.names) {
        const SafeTensorInfo* info = weights.info(name);
        if (info == nullptr) {
            return Status::invalid_data(weights.path().string() + ": tensor \"" + name +
                                        "\" is missing (expected shape " +
                                        shape_to_string(source.shape) + " from " + config_name +
                                        "); the weights do not belong to this config");
        }
        if (info->shape != source.shape) {
            return Status::invalid_data(weights.path().string() + ": tensor \"" + name +
                                        "\" has shape " + shape_to_string(info->shape) + "; " +
                                        config_name + " asks for " + shape_to_string(source.shape) +
                                        ". The weights do not belong to this config.");
        }
        LOOKBOOK_ASSIGN_OR_RETURN(torch::Tensor t, weights.tensor(name));
        parts.push_back(t.to(torch::kFloat32));
    }
    torch::Tensor out = parts.size() == 1 ? parts[0] : torch::cat(parts, 0);
    return source.transpose ? out.t() : out;
}

void check_input(bool ok, const std::string& what) {
    if (!ok) {
        throw std::invalid_argument("ClipModel: " + what);
    }
}

}  // namespace

ClipModel::ClipModel(ClipConfig config, ConstructionKey /*key*/)
    : config_(std::move(config)), modules_(std::make_unique<Modules>(config_)) {
    modules_->eval();
}

ClipModel::~ClipModel() = default;

Result<std::unique_ptr<ClipModel>> ClipModel::from_weights(const ClipConfig& config,
                                                           const SafeTensorsFile& weights) {
    LOOKBOOK_RETURN_IF_ERROR(validate_clip_config(config));
    auto model = std::make_unique<ClipModel>(config, ConstructionKey());
    const std::string config_name =
        config.source.empty() ? std::string("the config") : config.source.filename().string();

    // Copy every parameter from its source; all must be present with the exact shape.
    torch::NoGradGuard no_grad;
    std::set<std::string> used;
    for (auto& item : model->modules_->named_parameters()) {
        WeightSource source = config.layout == ClipWeightLayout::kHuggingFace
                                  ? hf_source(item.key(), item.value().sizes())
                                  : WeightSource{{item.key()}, item.value().sizes().vec(), false};
        LOOKBOOK_ASSIGN_OR_RETURN(torch::Tensor value, read_source(weights, source, config_name));
        item.value().copy_(value);
        used.insert(source.names.begin(), source.names.end());
    }
    model->modules_->fold_constants(config);

    // Extra tensors are not fatal (a newer export may add buffers), but worth a warning; the
    // position_ids buffers of older HF exports are expected and skipped silently.
    std::vector<std::string> extra;
    for (const std::string& name : weights.names()) {
        if (used.count(name) == 0 && !ends_with(name, "position_ids")) {
            extra.push_back(name);
        }
    }
    if (!extra.empty()) {
        log::warn("{}: ignored {} tensor(s) the CLIP model does not use (first: \"{}\")",
                  weights.path().string(),
                  extra.size(),
                  extra.front());
    }
    log::info(
        "loaded CLIP model from {}: vision {}x{} patch {}, width {}, {} layers; text "
        "width {}, {} layers; embed {}{}",
        weights.path().string(),
        config.vision.image_size,
        config.vision.image_size,
        config.vision.patch_size,
        config.vision.width,
        config.vision.layers,
        config.text.width,
        config.text.layers,
        config.embed_dim,
        config.linear_path
            ? fmt::format(
                  " + linear path {} = {} values", kWideImageFeatures, model->embedding_dim())
            : std::string());
    return model;
}

Result<std::unique_ptr<ClipModel>> ClipModel::with_random_weights(const ClipConfig& config,
                                                                  uint64_t seed) {
    LOOKBOOK_RETURN_IF_ERROR(validate_clip_config(config));
    torch::manual_seed(seed);
    auto model = std::make_unique<ClipModel>(config, ConstructionKey());
    // Small matrices keep activations in a realistic range through many layers.
    torch::NoGradGuard no_grad;
    for (auto& item : model->modules_->named_parameters()) {
        if (item.value().dim() >= 2 && item.key().rfind("lookbook_linear_", 0) != 0) {
            item.value().normal_(0.0, 0.02);
        }
    }
    model->modules_->fold_constants(config);
    return model;
}

Result<std::unique_ptr<ClipModel>> ClipModel::load(const std::filesystem::path& dir) {
    namespace fs = std::filesystem;
    const std::string d = dir.string();
    if (!fs::exists(dir)) {
        return Status::not_found(d + ": model folder does not exist");
    }
    if (!fs::is_directory(dir)) {
        return Status::invalid_argument(d +
                                        ": is a file; pass the folder that holds config.json "
                                        "(Hugging Face) or open_clip_config.json (OpenCLIP)");
    }

    // Hugging Face layout first: hub folders of OpenCLIP models often carry both.
    ClipConfig config;
    fs::path weights_path;
    if (fs::exists(dir / "config.json")) {
        LOOKBOOK_ASSIGN_OR_RETURN(config, read_hf_clip_config(dir / "config.json"));
        weights_path = dir / "model.safetensors";
        // TODO: sharded checkpoints (model.safetensors.index.json + model-0000x-of-0000y files)
        // are refused — CLIP checkpoints up to ViT-L fit one file; larger ones need merging.
        if (!fs::exists(weights_path) && fs::exists(dir / "model.safetensors.index.json")) {
            return Status::unsupported(d +
                                       ": sharded weights (model.safetensors.index.json) are not "
                                       "supported yet; merge the shards into model.safetensors.");
        }
        if (!fs::exists(weights_path)) {
            return Status::not_found(
                d + ": config.json is there but model.safetensors is not" +
                (fs::exists(dir / "pytorch_model.bin")
                     ? std::string("; lookbook reads safetensors only, not pytorch_model.bin. "
                                   "Download the model's model.safetensors.")
                     : std::string("; download the model's model.safetensors into the folder.")));
        }
    } else if (fs::exists(dir / "open_clip_config.json")) {
        LOOKBOOK_ASSIGN_OR_RETURN(config, read_open_clip_config(dir / "open_clip_config.json"));
        // OpenCLIP's hub name, then the shared fixture's name, then the only candidate.
        for (const char* name : {"open_clip_model.safetensors", "tiny_clip_openai.safetensors"}) {
            if (weights_path.empty() && fs::exists(dir / name)) {
                weights_path = dir / name;
            }
        }
        std::vector<std::string> candidates;
        for (const auto& entry : fs::directory_iterator(dir)) {
            if (entry.path().extension() == ".safetensors") {
                candidates.push_back(entry.path().filename().string());
            }
        }
        std::sort(candidates.begin(), candidates.end());
        if (weights_path.empty() && candidates.size() == 1) {
            weights_path = dir / candidates[0];
        }
        if (weights_path.empty() && candidates.empty()) {
            return Status::not_found(d +
                                     ": open_clip_config.json is there but no .safetensors "
                                     "weights; download open_clip_model.safetensors into "
                                     "the folder.");
        }
        if (weights_path.empty()) {
            std::string list;
            for (const std::string& name : candidates) {
                list += (list.empty() ? "" : ", ") + name;
            }
            return Status::invalid_argument(d + ": several .safetensors files (" + list +
                                            ") and none is open_clip_model.safetensors; rename "
                                            "the model's weights to that name.");
        }
    } else {
        return Status::not_found(d +
                                 ": no config.json (Hugging Face) or open_clip_config.json "
                                 "(OpenCLIP) in the folder; download the model's config "
                                 "with its weights.");
    }
    LOOKBOOK_ASSIGN_OR_RETURN(SafeTensorsFile weights, SafeTensorsFile::open(weights_path));
    return from_weights(config, weights);
}

// Checks pixels for the image tower; returns them as contiguous float32.
torch::Tensor ClipModel::checked_pixels(const torch::Tensor& pixels) const {
    const int64_t size = config_.vision.image_size;
    check_input(pixels.dim() == 4 && pixels.size(1) == 3 && pixels.size(2) == size &&
                    pixels.size(3) == size,
                "pixels have shape " + shape_to_string(pixels.sizes()) + "; expected [B, 3, " +
                    std::to_string(size) + ", " + std::to_string(size) + "]");
    check_input(pixels.is_floating_point(),
                "pixels are " + std::string(c10::toString(pixels.scalar_type())) +
                    "; expected normalised floats");
    return pixels.to(torch::kFloat32).contiguous();
}

// Checks token ids for the text tower; returns them as int64.
torch::Tensor ClipModel::checked_ids(const torch::Tensor& input_ids) const {
    const ClipTextConfig& t = config_.text;
    check_input(
        input_ids.dim() == 2 && input_ids.size(1) >= 1 && input_ids.size(1) <= t.context_length,
        "input_ids have shape " + shape_to_string(input_ids.sizes()) +
            "; expected [B, L] with 1 <= L <= " + std::to_string(t.context_length));
    check_input(!input_ids.is_floating_point() && !input_ids.is_complex(),
                "input_ids are " + std::string(c10::toString(input_ids.scalar_type())) +
                    "; expected integers");
    torch::Tensor ids = input_ids.to(torch::kInt64);
    if (ids.numel() > 0) {
        const int64_t low = ids.min().item<int64_t>();
        const int64_t high = ids.max().item<int64_t>();
        check_input(low >= 0 && high < t.vocab_size,
                    "input_ids hold ids from " + std::to_string(low) + " to " +
                        std::to_string(high) + "; the vocabulary has " +
                        std::to_string(t.vocab_size));
    }
    return ids;
}

torch::Tensor ClipModel::encode_image_pooled(const torch::Tensor& pixels) {
    torch::Tensor input = checked_pixels(pixels);
    c10::InferenceMode inference;
    return modules_->visual->pooled(input);
}

torch::Tensor ClipModel::encode_image(const torch::Tensor& pixels) {
    torch::Tensor input = checked_pixels(pixels);
    c10::InferenceMode inference;
    return modules_->image_embedding(input);
}

torch::Tensor ClipModel::encode_text_pooled(const torch::Tensor& input_ids) {
    torch::Tensor ids = checked_ids(input_ids);
    c10::InferenceMode inference;
    return modules_->text_pooled(ids);
}

torch::Tensor ClipModel::encode_text(const torch::Tensor& input_ids) {
    torch::Tensor ids = checked_ids(input_ids);
    c10::InferenceMode inference;
    return modules_->text_embedding(ids);
}

std::vector<std::pair<std::string, torch::Tensor>> ClipModel::openai_state_dict() const {
    std::map<std::string, Modules::Fold> folds = modules_->folds(config_);
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (const auto& item : modules_->named_parameters()) {
        torch::Tensor value = item.value().detach().clone();
        if (auto it = folds.find(item.key()); it != folds.end()) {
            value.slice(0, 0, it->second.rows).div_(it->second.factor);
        }
        if (item.key() == "lookbook_wide_image_proj" && modules_->wide_image_scale.defined()) {
            value.mul_(modules_->wide_image_scale.unsqueeze(1));
        }
        out.emplace_back(item.key(), value);
    }
    return out;
}

std::vector<std::pair<std::string, torch::Tensor>> ClipModel::trainable_parameters() {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (auto& item : modules_->named_parameters()) {
        if (item.key().rfind("lookbook_linear_", 0) != 0) {  // fitted, not trained
            out.emplace_back(item.key(), item.value());
        }
    }
    return out;
}

int64_t ClipModel::embedding_dim() const {
    return config_.embed_dim + (config_.linear_path ? kWideImageFeatures : 0);
}

Status ClipModel::fit_linear_path(const torch::Tensor& pixels,
                                  const torch::Tensor& input_ids,
                                  double ridge) {
    if (pixels.dim() == 0 || input_ids.dim() != 2 || pixels.size(0) != input_ids.size(0)) {
        return Status::invalid_argument("ClipModel: fitting the linear path: pixels " +
                                        shape_to_string(pixels.sizes()) + " and ids " +
                                        shape_to_string(input_ids.sizes()) +
                                        " do not hold the same number of pairs");
    }
    return fit_linear_path(
        input_ids,
        [&pixels](int64_t begin, int64_t end) { return pixels.slice(0, begin, end); },
        ridge);
}

Status ClipModel::fit_linear_path(const torch::Tensor& input_ids,
                                  const PixelRows& pixel_rows,
                                  double ridge) {
    if (!config_.linear_path) {
        return Status::invalid_argument("ClipModel: the model has no linear path to fit");
    }
    const int64_t n = input_ids.dim() == 2 ? input_ids.size(0) : 0;
    if (n < 2 || !(ridge > 0)) {
        return Status::invalid_argument(
            "ClipModel: fitting the linear path needs at least 2 photo-text pairs and a "
            "positive ridge; got ids " +
            shape_to_string(input_ids.sizes()) + ", ridge " + std::to_string(ridge));
    }
    torch::Tensor ids = checked_ids(input_ids);
    Modules& m = *modules_;
    // Rows a chunk: every table below is chunk x vocabulary at most, besides the features
    // [N, F] and the Gram matrix [U, U], so memory does not grow with N x vocabulary.
    constexpr int64_t kChunk = 1024;

    // Image side: the fixed features, standardised with the training photos' mean and
    // standard deviation. A feature that barely varies in training (a colour bin no training
    // photo has) would get a huge factor, and one such pixel would swamp a new photo's
    // whole part; deviations are floored at the median of the features that vary.
    std::vector<torch::Tensor> chunks;
    for (int64_t begin = 0; begin < n; begin += kChunk) {
        const int64_t end = std::min(n, begin + kChunk);
        torch::Tensor input = checked_pixels(pixel_rows(begin, end));
        if (input.size(0) != end - begin) {
            return Status::invalid_argument(
                "ClipModel: fitting the linear path: the photos of pairs " + std::to_string(begin) +
                " to " + std::to_string(end) + " came as " + shape_to_string(input.sizes()));
        }
        c10::InferenceMode inference;
        chunks.push_back(
            compute_wide_image_features(input, m.image_mean, m.image_std).to(torch::kFloat64));
    }
    c10::InferenceMode inference;
    torch::Tensor features = torch::cat(chunks);  // [N, F]
    chunks.clear();
    torch::Tensor mean = features.mean(0);
    torch::Tensor deviation = features.std(0);
    torch::Tensor varying = deviation.masked_select(deviation > 1e-6);
    const double floor = varying.numel() > 0 ? varying.median().item<double>() : 1e-6;
    torch::Tensor scale = 1.0 / deviation.clamp_min(floor);
    torch::Tensor y = (features - mean) * scale;

    // Text side: TF-IDF over the tokens found in two or more texts (a token of one text says
    // nothing about another), rows L2-normalised.
    torch::Tensor df = torch::zeros({m.token_embedding->weight.size(0)}, torch::kFloat64);
    for (int64_t begin = 0; begin < n; begin += kChunk) {
        df += (m.token_counts(ids.slice(0, begin, std::min(n, begin + kChunk))) > 0).sum(0);
    }
    torch::Tensor idf = torch::where(
        df >= 2, (static_cast<double>(n) / df.clamp_min(1)).log(), torch::zeros_like(df));
    torch::Tensor used = (idf > 0).nonzero().squeeze(1);
    torch::Tensor used_idf = idf.index_select(0, used);

    // Ridge regression from TF-IDF to the standardised features over those tokens (the others
    // keep zero rows): (X'X + ridge I) W = X'Y, X'X and X'Y summed chunk by chunk.
    const int64_t u = used.size(0);
    torch::Tensor gram = ridge * torch::eye(u, torch::kFloat64);
    torch::Tensor xty = torch::zeros({u, features.size(1)}, torch::kFloat64);
    for (int64_t begin = 0; begin < n && u > 0; begin += kChunk) {
        const int64_t end = std::min(n, begin + kChunk);
        torch::Tensor x = Modules::unit_rows(
            m.token_counts(ids.slice(0, begin, end)).index_select(1, used).to(torch::kFloat64) *
            used_idf);  // [chunk, U]
        gram.addmm_(x.t(), x);
        xty.addmm_(x.t(), y.slice(0, begin, end));
    }
    torch::Tensor w = torch::zeros({idf.size(0), features.size(1)}, torch::kFloat64);
    if (u > 0) {
        w.index_copy_(0, used, torch::linalg::solve(gram, xty, true));
    }
    m.linear_idf.copy_(idf);
    m.linear_map.copy_(w);
    m.linear_image_mean.copy_(mean);
    m.linear_image_scale.copy_(scale);
    if (u == 0) {
        log::warn(
            "fitted the linear path on {} photo-text pairs, but no token is in two of their "
            "texts: the text side of the linear part is zero (only the trained part matches "
            "texts to photos)",
            n);
    } else {
        log::info("fitted the linear path on {} photo-text pairs: {} tokens counted", n, u);
    }
    return Status::ok();
}

ClipModel::TrainOutput ClipModel::train_forward(const torch::Tensor& pixels,
                                                const torch::Tensor& input_ids) {
    LOOKBOOK_ASSERT(torch::GradMode::is_enabled(), "train_forward runs with autograd on");
    TrainOutput out;
    out.image = modules_->image_embedding(pixels.contiguous());
    out.text = modules_->text_embedding(input_ids);
    out.log_logit_scale = modules_->logit_scale;
    return out;
}

torch::Tensor ClipModel::wide_image_features(const torch::Tensor& pixels) const {
    if (!config_.wide_features) {
        throw std::logic_error("ClipModel: the model has no wide paths");
    }
    torch::Tensor input = checked_pixels(pixels);
    c10::InferenceMode inference;
    return compute_wide_image_features(input, modules_->image_mean, modules_->image_std);
}

int64_t ClipModel::wide_image_feature_count() { return kWideImageFeatures; }

void ClipModel::set_wide_feature_scale(const torch::Tensor& scale) {
    if (!config_.wide_features) {
        throw std::logic_error("ClipModel: the model has no wide paths");
    }
    if (!scale.defined()) {
        modules_->wide_image_scale = torch::Tensor();
        return;
    }
    check_input(scale.dim() == 1 && scale.size(0) == kWideImageFeatures,
                "wide feature scale has shape " + shape_to_string(scale.sizes()) + "; expected [" +
                    std::to_string(kWideImageFeatures) + "]");
    modules_->wide_image_scale = scale.detach().to(torch::kFloat32).clone();
}

float ClipModel::logit_scale() const {
    // torch's exp, so the value matches a Python reference to the last bit.
    c10::InferenceMode inference;
    return modules_->logit_scale.exp().item<float>();
}

}  // namespace lookbook
