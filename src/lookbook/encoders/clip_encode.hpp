#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>
#include <vector>

#include "lookbook/encoders/clip_model.hpp"
#include "lookbook/encoders/image.hpp"
#include "lookbook/encoders/tokenizer.hpp"
#include "lookbook/util/status.hpp"

namespace lookbook {

// One text or image through a CLIP model, as `lookbook encode` prints it.
struct ClipEncoding {
    std::vector<int64_t> token_ids;  // texts only: the context_length ids fed to the model
    std::vector<float> embedding;    // [embed_dim], as the model outputs it
    std::vector<float> normalized;   // embedding / max(||embedding||, 1e-12)
};

// The preprocessing a model expects: its input size, mean and std.
ClipPreprocess clip_preprocess_for(const ClipConfig& config);

// Tokenizes `text` to the model's context length and encodes it. Never fails today (any
// string tokenizes); returns Result so callers are ready for length or encoding limits.
Result<ClipEncoding> encode_clip_text(ClipModel& model,
                                      const ClipTokenizer& tokenizer,
                                      std::string_view text);

// Decodes, preprocesses and encodes one image file. Fails as decode_image_file does (the
// message names the file).
Result<ClipEncoding> encode_clip_image_file(ClipModel& model, const std::filesystem::path& image);

}  // namespace lookbook
