#include "lookbook/index/query_encoder.hpp"

#include <torch/torch.h>

#include "lookbook/encoders/clip_encode.hpp"
#include "lookbook/encoders/clip_model.hpp"
#include "lookbook/encoders/tokenizer.hpp"

namespace lookbook {

QueryEncoder::~QueryEncoder() = default;

Result<std::unique_ptr<QueryEncoder>> QueryEncoder::load(const std::filesystem::path& model_dir) {
    std::unique_ptr<QueryEncoder> out(new QueryEncoder());
    LOOKBOOK_ASSIGN_OR_RETURN(out->model_, ClipModel::load(model_dir));
    LOOKBOOK_ASSIGN_OR_RETURN(ClipTokenizer tokenizer, ClipTokenizer::from_model_dir(model_dir));
    out->tokenizer_ = std::make_unique<ClipTokenizer>(std::move(tokenizer));
    return out;
}

Result<std::vector<float>> QueryEncoder::encode_text(std::string_view text) {
    torch::NoGradGuard no_grad;
    LOOKBOOK_ASSIGN_OR_RETURN(ClipEncoding encoding, encode_clip_text(*model_, *tokenizer_, text));
    return std::move(encoding.normalized);
}

Result<std::vector<float>> QueryEncoder::encode_image(const std::filesystem::path& path) {
    torch::NoGradGuard no_grad;
    LOOKBOOK_ASSIGN_OR_RETURN(ClipEncoding encoding, encode_clip_image_file(*model_, path));
    return std::move(encoding.normalized);
}

}  // namespace lookbook
