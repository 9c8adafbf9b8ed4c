#include "lookbook/index/query_encoder.hpp"

#include <string>

#include <torch/torch.h>

#include "lookbook/encoders/encoder.hpp"
#include "lookbook/encoders/image.hpp"

namespace lookbook {
namespace {

// Row 0 of an [1, dim] embedding, L2-normalised.
std::vector<float> normalized_row(const torch::Tensor& embeddings) {
    torch::Tensor row = embeddings[0].to(torch::kFloat32).contiguous();
    row = row / row.norm().clamp_min(1e-12);
    return std::vector<float>(row.data_ptr<float>(), row.data_ptr<float>() + row.numel());
}

}  // namespace

QueryEncoder::~QueryEncoder() = default;

Result<std::unique_ptr<QueryEncoder>> QueryEncoder::load(const std::filesystem::path& model_dir) {
    std::unique_ptr<QueryEncoder> out(new QueryEncoder());
    LOOKBOOK_ASSIGN_OR_RETURN(out->encoder_, load_encoder(model_dir));
    return out;
}

Result<std::vector<float>> QueryEncoder::encode_text(std::string_view text) {
    std::lock_guard lock(mutex_);
    c10::InferenceMode inference;
    LOOKBOOK_ASSIGN_OR_RETURN(torch::Tensor embeddings,
                              encoder_->encode_texts({std::string(text)}));
    return normalized_row(embeddings);
}

Result<std::vector<float>> QueryEncoder::encode_image(const std::filesystem::path& path) {
    LOOKBOOK_ASSIGN_OR_RETURN(RgbImage image, decode_image_file(path));
    std::lock_guard lock(mutex_);
    c10::InferenceMode inference;
    LOOKBOOK_ASSIGN_OR_RETURN(torch::Tensor embeddings, encoder_->encode_images({image}));
    return normalized_row(embeddings);
}

Result<std::vector<float>> QueryEncoder::encode_image_bytes(std::string_view bytes,
                                                            std::string_view name) {
    LOOKBOOK_ASSIGN_OR_RETURN(RgbImage image, decode_image_bytes(bytes, std::string(name)));
    std::lock_guard lock(mutex_);
    c10::InferenceMode inference;
    LOOKBOOK_ASSIGN_OR_RETURN(torch::Tensor embeddings, encoder_->encode_images({image}));
    return normalized_row(embeddings);
}

}  // namespace lookbook
