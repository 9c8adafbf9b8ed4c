#pragma once

#include <filesystem>
#include <memory>
#include <string_view>
#include <vector>

#include "lookbook/util/status.hpp"

namespace lookbook {

class ClipModel;
class ClipTokenizer;

// Encodes free text and photos into the embedding space of the model the store's embeddings
// were made with, for SimilarItems::search_by_vector (parts "text" and "image"). Needs
// libtorch: compiled only when LOOKBOOK_WITH_TORCH is on.
class QueryEncoder {
  public:
    // Loads the CLIP model folder (Hugging Face or OpenCLIP layout; SimilarItems::model_path()
    // names it). Fails with the loader's errors, naming the folder.
    static Result<std::unique_ptr<QueryEncoder>> load(const std::filesystem::path& model_dir);
    ~QueryEncoder();

    // The L2-normalised text embedding of `text`.
    Result<std::vector<float>> encode_text(std::string_view text);
    // The L2-normalised image embedding of the photo at `path`; fails as image decoding does.
    Result<std::vector<float>> encode_image(const std::filesystem::path& path);

  private:
    QueryEncoder() = default;
    std::unique_ptr<ClipModel> model_;
    std::unique_ptr<ClipTokenizer> tokenizer_;
};

}  // namespace lookbook
