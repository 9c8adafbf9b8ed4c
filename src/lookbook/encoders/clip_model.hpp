#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "lookbook/encoders/clip_config.hpp"
#include "lookbook/encoders/safetensors.hpp"
#include "lookbook/util/status.hpp"

namespace lookbook {

// A CLIP model (ViT image tower + causal text transformer) in libtorch, float32 on the CPU.
// It reproduces OpenAI's clip/model.py, which Hugging Face's CLIPModel and OpenCLIP's CLIP
// also compute: pre-LN residual attention blocks, CLS pooling for images, pooling at the
// first end-of-text token (argmax of the ids) for texts, linear projections without bias.
//
// Not thread-safe: one model per thread, or a lock around the encode calls. The encode calls
// run under torch::InferenceMode, so their outputs cannot enter autograd. For speed on
// Debian's OpenBLAS-backed libtorch, call configure_cpu_threads() once at start-up.
//
// TODO: CPU and float32 only — no CUDA device or fp16/bf16 inference yet; a GPU host runs
// these towers on the CPU.
class ClipModel {
  public:
    ~ClipModel();
    ClipModel(const ClipModel&) = delete;
    ClipModel& operator=(const ClipModel&) = delete;

    // Loads a model folder. The config file decides the layout:
    //   config.json (Hugging Face CLIPModel)   + model.safetensors
    //   open_clip_config.json (OpenCLIP)       + open_clip_model.safetensors (or
    //       tiny_clip_openai.safetensors, or the folder's only *.safetensors)
    // Every tensor the config implies must be present with its exact shape; position_ids
    // buffers are ignored and other extra tensors are logged as a warning. Fails with
    // kNotFound (folder, config or weights missing), kInvalidData (bad config or weights, a
    // missing tensor or wrong shape, naming the tensor and both shapes), kUnsupported
    // (another architecture or format).
    static Result<std::unique_ptr<ClipModel>> load(const std::filesystem::path& dir);

    // Builds the model for `config` and copies its weights from `weights`, named as
    // config.layout says. Errors as for load().
    static Result<std::unique_ptr<ClipModel>> from_weights(const ClipConfig& config,
                                                           const SafeTensorsFile& weights);

    // A model with random weights drawn after torch::manual_seed(seed) (this reseeds torch's
    // global generator), for benchmarks and tests. kInvalidArgument for a bad config.
    static Result<std::unique_ptr<ClipModel>> with_random_weights(const ClipConfig& config,
                                                                  uint64_t seed);

    const ClipConfig& config() const { return config_; }

    // pixels: float [B, 3, S, S], normalised, S = config().vision.image_size.
    // Returns [B, embedding_dim()], not normalised. Throws std::invalid_argument on a wrong shape
    // or dtype (a caller bug: the preprocessing decides the shape).
    torch::Tensor encode_image(const torch::Tensor& pixels);

    // input_ids: integer [B, L], L <= context_length, ids < vocab_size, each row holding an
    // end-of-text token (the largest id, 49407). Returns [B, embedding_dim()], not normalised.
    // Throws std::invalid_argument on a wrong shape, dtype or id.
    torch::Tensor encode_text(const torch::Tensor& input_ids);

    // The pooled tower outputs before the projection: image [B, vision.width] (ln_post of the
    // CLS token), text [B, text.width] (ln_final at the first end-of-text token).
    // With config().wide_features the wide paths are added after the projection only, so
    // they are not part of these.
    torch::Tensor encode_image_pooled(const torch::Tensor& pixels);
    torch::Tensor encode_text_pooled(const torch::Tensor& input_ids);

    // The weights under OpenAI/OpenCLIP names (the names an open_clip_model.safetensors holds),
    // as copies; write them with write_safetensors to save the model. Equal to the loaded
    // weights within float rounding (constants folded in for speed are divided out again).
    // With wide_features two more tensors: "lookbook_wide_image_proj" [192, embed_dim] and
    // "lookbook_wide_text_proj" [text.width, embed_dim].
    std::vector<std::pair<std::string, torch::Tensor>> openai_state_dict() const;

    // exp of the stored logit scale: image-text logits are logit_scale * cos(image, text).
    float logit_scale() const;

    // Training (the catalog-trained encoder). The live parameters under OpenAI names, in their
    // internal form (constants folded in, see clip_model.cpp): hand them to an optimizer, save
    // and restore them for checkpoints. They share storage with the model. Save a finished
    // model with openai_state_dict(), never these.
    // The linear path's tensors are not among them (fit_linear_path sets those).
    std::vector<std::pair<std::string, torch::Tensor>> trainable_parameters();

    // Values in an embedding encode_image and encode_text return: embed_dim, plus
    // wide_image_feature_count() with the linear path.
    int64_t embedding_dim() const;

    // The linear path (config().linear_path): fits, in closed form, the part of the embedding
    // that follows the trained one, from training pairs (pixels [N, 3, S, S] normalised as
    // for encode_image, input_ids [N, L] as for encode_text): the fixed image features
    // (colour histogram and thumbnail) standardised with the pairs' mean and deviation (each
    // deviation at least the median of those that vary, so a colour the pairs lack cannot swamp a
    // new photo's part); TF-IDF of the text's tokens (idf from the pairs, tokens of fewer than two
    // texts left out) mapped onto those standardised features by ridge regression (penalty
    // `ridge`). The text part is the map's output as a unit vector, the image part the standardised
    // features as a unit vector; each tower's output is [unit(trained part), linear part],
    // so a cosine weighs both parts equally. Before a fit the linear part is zero: the
    // cosine is the trained part's. kInvalidArgument without a linear path, for fewer than
    // 2 pairs, mismatched counts or ridge <= 0; input errors throw as for encode_*.
    Status fit_linear_path(const torch::Tensor& pixels,
                           const torch::Tensor& input_ids,
                           double ridge = 1.0);
    // The same with the photos asked for in chunks: pixel_rows(begin, end) returns the
    // pixels of pairs [begin, end) ([end - begin, 3, S, S]), so a large catalog's photos need
    // not be in memory at once. kInvalidArgument when a chunk has another count of rows.
    using PixelRows = std::function<torch::Tensor(int64_t begin, int64_t end)>;
    Status fit_linear_path(const torch::Tensor& input_ids,
                           const PixelRows& pixel_rows,
                           double ridge = 1.0);

    struct TrainOutput {
        torch::Tensor image;            // [B, embedding_dim()], not normalised
        torch::Tensor text;             // [B, embedding_dim()], not normalised
        torch::Tensor log_logit_scale;  // the learnable scalar; logits scale is its exp
    };
    // Both towers with autograd on (call outside InferenceMode/NoGradGuard). pixels: float
    // [B, 3, S, S]; input_ids: int64 [B, L] as for encode_text. No input checks: the training
    // loop builds the batches.
    TrainOutput train_forward(const torch::Tensor& pixels, const torch::Tensor& input_ids);

    // The fixed wide image features (colour histogram and grey thumbnail, see clip_model.cpp)
    // of pixels [B, 3, S, S]: [B, wide_image_feature_count()]. Throws std::invalid_argument
    // as encode_image, and std::logic_error when the model has no wide paths.
    torch::Tensor wide_image_features(const torch::Tensor& pixels) const;
    static int64_t wide_image_feature_count();

    // Training: multiplies each wide image feature by `scale` [wide_image_feature_count()]
    // before its projection, a reparametrisation that changes how fast AdamW moves each
    // feature's weights, not what the model can express. openai_state_dict() folds the scale
    // into "lookbook_wide_image_proj", so a saved model computes the same embeddings without
    // it; trainable_parameters() hold the unscaled projection. An undefined tensor removes it.
    // Throws std::invalid_argument on a wrong shape, std::logic_error without wide paths.
    void set_wide_feature_scale(const torch::Tensor& scale);

  private:
    // Only the factories above can make the key, so they are the only way to build a model.
    struct ConstructionKey {
        explicit ConstructionKey() = default;
    };

  public:
    ClipModel(ClipConfig config, ConstructionKey key);

  private:
    struct Modules;

    // The input checks of encode_*; throw std::invalid_argument as documented there.
    torch::Tensor checked_pixels(const torch::Tensor& pixels) const;
    torch::Tensor checked_ids(const torch::Tensor& input_ids) const;

    ClipConfig config_;
    std::unique_ptr<Modules> modules_;
};

}  // namespace lookbook
