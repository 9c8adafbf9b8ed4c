#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "lookbook/encoders/align_config.hpp"
#include "lookbook/encoders/safetensors.hpp"
#include "lookbook/util/status.hpp"

namespace lookbook {

// Every tensor an AlignModel of `config` reads, in Hugging Face AlignModel state-dict names,
// with its shape. BatchNorm num_batches_tracked, position_ids and the unused text pooler are
// not listed (a checkpoint may carry them; they are ignored).
std::vector<std::pair<std::string, std::vector<int64_t>>> align_weight_shapes(
    const AlignConfig& config);

// ALIGN (Hugging Face AlignModel) in libtorch, float32 on the CPU, inference only:
//   image: EfficientNet stem, MBConv blocks (expansion, depthwise conv, squeeze-excite,
//          projection, residual on repeats), BatchNorm with the running statistics, then the
//          final pooling; the pooled vector is the image embedding (ALIGN has no image
//          projection).
//   text:  BERT embeddings (word + position + token type 0, LayerNorm), post-LN encoder
//          layers with the attention mask, then text_projection of the [CLS] state (not the
//          tanh pooler).
// Embeddings are returned unnormalised; ALIGN compares them by cosine.
//
// Not thread-safe: one model per thread, or a lock around the calls. Calls run under
// torch::InferenceMode. For speed on Debian's libtorch call configure_cpu_threads() first.
//
// TODO: CPU and float32 only, and no conversion from align-base's pytorch_model.bin (a pickle):
// the folder needs a model.safetensors (transformers' save_pretrained writes one).
class AlignModel {
  public:
    ~AlignModel();
    AlignModel(const AlignModel&) = delete;
    AlignModel& operator=(const AlignModel&) = delete;

    // Loads DIR (config.json, model.safetensors; the processor files as read_align_config
    // reads them). Fails with kNotFound (folder, config or weights missing), kUnsupported
    // (not an ALIGN config, a setting lookbook does not build, or only pytorch_model.bin),
    // kInvalidData (bad config, a missing tensor or a wrong shape, naming the tensor, the
    // expected and the found shape).
    static Result<std::unique_ptr<AlignModel>> load(const std::filesystem::path& dir);

    // Builds the model for `config` with the tensors of `weights`. Errors as load().
    static Result<std::unique_ptr<AlignModel>> from_weights(const AlignConfig& config,
                                                            const SafeTensorsFile& weights);

    // Random weights drawn after torch::manual_seed(seed) (reseeds torch's global generator)
    // and unit BatchNorm statistics, for benchmarks. kInvalidArgument for a bad config.
    static Result<std::unique_ptr<AlignModel>> with_random_weights(const AlignConfig& config,
                                                                   uint64_t seed);

    const AlignConfig& config() const { return config_; }

    // The stored temperature (logits are cos / temperature). Not config.json's init value.
    float temperature() const { return temperature_; }

    // pixels: float [B, 3, H, W] as preprocess_align makes them. Returns [B, projection_dim].
    // Throws std::invalid_argument on a wrong rank, channel count or dtype (a caller bug).
    torch::Tensor encode_image(const torch::Tensor& pixels);

    // The stem output and each block's output, in order (for comparing with a reference).
    std::vector<torch::Tensor> image_feature_maps(const torch::Tensor& pixels);

    // input_ids, attention_mask: int64 [B, L], L <= max_position_embeddings, ids < vocab_size.
    // Returns [B, projection_dim]. Throws std::invalid_argument on bad shapes or ids.
    torch::Tensor encode_text(const torch::Tensor& input_ids, const torch::Tensor& attention_mask);

    // The embeddings after LayerNorm, then each layer's output: text.layers + 1 tensors
    // [B, L, hidden]. The [CLS] state is the last one's row 0.
    std::vector<torch::Tensor> text_hidden_states(const torch::Tensor& input_ids,
                                                  const torch::Tensor& attention_mask);

  private:
    struct ConstructionKey {
        explicit ConstructionKey() = default;
    };

  public:
    AlignModel(AlignConfig config, ConstructionKey key);

  private:
    struct Weights;

    // Takes every tensor align_weight_shapes lists from `get` (which may fail), checking shapes.
    template <typename Getter>
    static Result<std::unique_ptr<AlignModel>> build(const AlignConfig& config, Getter get);
    torch::Tensor run_vision(const torch::Tensor& pixels, std::vector<torch::Tensor>* maps);
    torch::Tensor run_text(const torch::Tensor& input_ids,
                           const torch::Tensor& attention_mask,
                           std::vector<torch::Tensor>* states);

    AlignConfig config_;
    float temperature_ = 1.0f;
    std::unique_ptr<Weights> weights_;
};

}  // namespace lookbook
