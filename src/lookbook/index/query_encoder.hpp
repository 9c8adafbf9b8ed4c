#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "lookbook/util/status.hpp"

namespace lookbook {

class Encoder;

// Encodes free text and photos into the embedding space of the model the store's embeddings
// were made with, for SimilarItems::search_by_vector (parts "text" and "image"). Any model
// folder `lookbook embed` takes works (CLIP in Hugging Face or OpenCLIP layout, ALIGN). Needs
// libtorch: compiled only when LOOKBOOK_WITH_TORCH is on. Safe to call from several threads:
// the model runs one query at a time (a query takes milliseconds with the default encoder).
class QueryEncoder {
  public:
    // Loads the model folder (SimilarItems::model_path() names it). Fails with the loader's
    // errors, naming the folder.
    static Result<std::unique_ptr<QueryEncoder>> load(const std::filesystem::path& model_dir);
    ~QueryEncoder();
    // The L2-normalised text embedding of `text`.
    Result<std::vector<float>> encode_text(std::string_view text);
    // The L2-normalised image embedding of the photo at `path`; fails as image decoding does.
    Result<std::vector<float>> encode_image(const std::filesystem::path& path);
    // The same for a photo held in memory (an upload); `name` is used in error messages.
    Result<std::vector<float>> encode_image_bytes(std::string_view bytes, std::string_view name);

  private:
    QueryEncoder() = default;
    std::unique_ptr<Encoder> encoder_;
    std::mutex mutex_;
};

}  // namespace lookbook
