#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <torch/types.h>

#include "lookbook/encoders/image.hpp"
#include "lookbook/util/status.hpp"

namespace lookbook {

// A text-image embedding model behind one interface, so that `lookbook encode`, `lookbook
// embed` and the catalog code run CLIP or ALIGN alike. Each model brings its own tokenizer and
// image preprocessing; callers see texts, decoded images and [N, dim] float32 embeddings
// (unnormalised; both models compare them by cosine).
//
// Not thread-safe (the models are not): one encoder per thread.
class Encoder {
  public:
    virtual ~Encoder() = default;

    // "clip" or "align": which model family the folder holds.
    virtual std::string kind() const = 0;

    // Width of the embeddings.
    virtual int64_t dim() const = 0;

    // The token ids the text tower sees for `text` (padded as the model takes them).
    // kInvalidArgument when the tokenizer refuses the text (ALIGN: invalid UTF-8).
    virtual Result<std::vector<int64_t>> token_ids(std::string_view text) const = 0;

    // Embeds `texts` in one batch: [N, dim]. Errors as token_ids, naming the text's index.
    virtual Result<torch::Tensor> encode_texts(const std::vector<std::string>& texts) = 0;

    // One decoded image as the image tower's input, float32 [3, H, W]. kInvalidArgument for an
    // empty or inconsistent image.
    virtual Result<torch::Tensor> preprocess_image(const RgbImage& image) const = 0;

    // pixels: [N, 3, H, W] stacked from preprocess_image. Returns [N, dim].
    virtual torch::Tensor encode_pixels(const torch::Tensor& pixels) = 0;

    // preprocess_image on each, then one batch through encode_pixels: [N, dim]. Fails on the
    // first image that cannot be preprocessed, naming its index.
    Result<torch::Tensor> encode_images(const std::vector<RgbImage>& images);
};

// Which model a folder holds, from its files: ALIGN when config.json says model_type "align"
// or architectures ["AlignModel"] (is_align_config), otherwise CLIP (ClipModel::load decides
// between its Hugging Face and OpenCLIP layouts).
enum class EncoderKind { kClip, kAlign };
EncoderKind detect_encoder_kind(const std::filesystem::path& dir);

// Loads the model and tokenizer of `dir` as detect_encoder_kind chooses. Fails with the
// loaders' errors (ClipModel::load, ClipTokenizer::from_model_dir, AlignModel::load,
// WordPieceTokenizer::from_model_dir), which name the file at fault.
Result<std::unique_ptr<Encoder>> load_encoder(const std::filesystem::path& dir);

}  // namespace lookbook
