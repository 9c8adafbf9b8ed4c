#include "lookbook/encoders/encoder.hpp"

#include <algorithm>
#include <utility>

#include <fmt/format.h>
#include <torch/torch.h>

#include "lookbook/encoders/align_config.hpp"
#include "lookbook/encoders/align_model.hpp"
#include "lookbook/encoders/align_preprocess.hpp"
#include "lookbook/encoders/align_tokenizer.hpp"
#include "lookbook/encoders/clip_encode.hpp"
#include "lookbook/encoders/clip_model.hpp"
#include "lookbook/encoders/tokenizer.hpp"

namespace lookbook {
namespace {

namespace fs = std::filesystem;

class ClipEncoder final : public Encoder {
  public:
    ClipEncoder(std::unique_ptr<ClipModel> model, ClipTokenizer tokenizer)
        : model_(std::move(model)),
          tokenizer_(std::move(tokenizer)),
          preprocess_(clip_preprocess_for(model_->config())) {}

    std::string kind() const override { return "clip"; }
    int64_t dim() const override { return model_->embedding_dim(); }

    Result<std::vector<int64_t>> token_ids(std::string_view text) const override {
        return tokenizer_.encode(text, context());
    }

    Result<torch::Tensor> encode_texts(const std::vector<std::string>& texts) override {
        std::vector<int64_t> ids;
        for (const std::string& text : texts) {
            std::vector<int64_t> row = tokenizer_.encode(text, context());
            ids.insert(ids.end(), row.begin(), row.end());
        }
        torch::Tensor input = torch::tensor(ids, torch::kInt64)
                                  .view({static_cast<int64_t>(texts.size()),
                                         static_cast<int64_t>(context())});  // [N, context]
        return model_->encode_text(input);
    }

    Result<torch::Tensor> preprocess_image(const RgbImage& image) const override {
        return preprocess_clip(image, preprocess_);
    }

    torch::Tensor encode_pixels(const torch::Tensor& pixels) override {
        return model_->encode_image(pixels);
    }

  private:
    size_t context() const { return static_cast<size_t>(model_->config().text.context_length); }

    std::unique_ptr<ClipModel> model_;
    ClipTokenizer tokenizer_;
    ClipPreprocess preprocess_;
};

class AlignEncoder final : public Encoder {
  public:
    AlignEncoder(std::unique_ptr<AlignModel> model, WordPieceTokenizer tokenizer)
        : model_(std::move(model)), tokenizer_(std::move(tokenizer)) {}

    std::string kind() const override { return "align"; }
    int64_t dim() const override { return model_->config().projection_dim; }

    Result<std::vector<int64_t>> token_ids(std::string_view text) const override {
        LOOKBOOK_ASSIGN_OR_RETURN(WordPieceEncoding encoded, tokenizer_.encode(text));
        return std::move(encoded.input_ids);
    }

    Result<torch::Tensor> encode_texts(const std::vector<std::string>& texts) override {
        const auto max_length = static_cast<size_t>(model_->config().tokenizer.max_length);
        std::vector<WordPieceEncoding> rows;
        size_t longest = 2;
        for (size_t i = 0; i < texts.size(); ++i) {
            auto encoded = tokenizer_.encode(texts[i], max_length);
            if (!encoded.is_ok()) {
                return Status::invalid_argument(
                    fmt::format("text {}: {}", i, encoded.status().message()));
            }
            longest = std::max(longest, std::min(encoded->untruncated_tokens, max_length));
            rows.push_back(std::move(encoded).value());
        }
        // Padding past the longest text is masked out, so the batch is cut there: the same
        // embeddings, less work for short catalog texts.
        const auto n = static_cast<int64_t>(rows.size());
        const auto length = static_cast<int64_t>(longest);
        torch::Tensor ids = torch::empty({n, length}, torch::kInt64);   // [N, L]
        torch::Tensor mask = torch::empty({n, length}, torch::kInt64);  // [N, L]
        for (int64_t row = 0; row < n; ++row) {
            std::copy_n(rows[row].input_ids.data(), length, ids[row].data_ptr<int64_t>());
            std::copy_n(rows[row].attention_mask.data(), length, mask[row].data_ptr<int64_t>());
        }
        return model_->encode_text(ids, mask);
    }

    Result<torch::Tensor> preprocess_image(const RgbImage& image) const override {
        return preprocess_align(image, model_->config().preprocess);
    }

    torch::Tensor encode_pixels(const torch::Tensor& pixels) override {
        return model_->encode_image(pixels);
    }

  private:
    std::unique_ptr<AlignModel> model_;
    WordPieceTokenizer tokenizer_;
};

}  // namespace

Result<torch::Tensor> Encoder::encode_images(const std::vector<RgbImage>& images) {
    std::vector<torch::Tensor> batch;
    for (size_t i = 0; i < images.size(); ++i) {
        auto pixels = preprocess_image(images[i]);
        if (!pixels.is_ok()) {
            return Status::invalid_argument(
                fmt::format("image {}: {}", i, pixels.status().message()));
        }
        batch.push_back(std::move(pixels).value());
    }
    if (batch.empty()) {
        return torch::empty({0, dim()}, torch::kFloat32);
    }
    return encode_pixels(torch::stack(batch));  // [N, dim]
}

EncoderKind detect_encoder_kind(const fs::path& dir) {
    return is_align_config(dir / "config.json") ? EncoderKind::kAlign : EncoderKind::kClip;
}

Result<std::unique_ptr<Encoder>> load_encoder(const fs::path& dir) {
    if (detect_encoder_kind(dir) == EncoderKind::kAlign) {
        LOOKBOOK_ASSIGN_OR_RETURN(std::unique_ptr<AlignModel> model, AlignModel::load(dir));
        LOOKBOOK_ASSIGN_OR_RETURN(
            WordPieceTokenizer tokenizer,
            WordPieceTokenizer::from_model_dir(dir, model->config().tokenizer));
        return std::unique_ptr<Encoder>(
            std::make_unique<AlignEncoder>(std::move(model), std::move(tokenizer)));
    }
    LOOKBOOK_ASSIGN_OR_RETURN(std::unique_ptr<ClipModel> model, ClipModel::load(dir));
    LOOKBOOK_ASSIGN_OR_RETURN(ClipTokenizer tokenizer, ClipTokenizer::from_model_dir(dir));
    return std::unique_ptr<Encoder>(
        std::make_unique<ClipEncoder>(std::move(model), std::move(tokenizer)));
}

}  // namespace lookbook
