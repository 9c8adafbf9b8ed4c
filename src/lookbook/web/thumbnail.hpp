#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "lookbook/util/status.hpp"

namespace lookbook::web {

// Reads the width and height of a JPEG or PNG from its header without decoding pixels;
// kInvalidArgument for other data ("expected a JPEG or PNG photo").
struct ImageSize {
    uint32_t width = 0;
    uint32_t height = 0;
    std::string mime;  // "image/jpeg" or "image/png"
};
Result<ImageSize> probe_image(std::string_view bytes);

// A JPEG no wider or taller than `max_side` (aspect kept), made from JPEG `bytes` with libjpeg's
// DCT scaling followed by a box filter. kInvalidArgument for data that is not a JPEG,
// kResourceExhausted when the photo has more than `max_pixels` pixels.
Result<std::string> make_jpeg_thumbnail(std::string_view bytes,
                                        int max_side,
                                        uint64_t max_pixels = 40'000'000);

// Thumbnails made once and kept under `dir` (STORE/cache/thumbnails). The cache file is named
// by a key the caller derives from the article (never from a request path).
class ThumbnailCache {
  public:
    explicit ThumbnailCache(std::filesystem::path dir) : dir_(std::move(dir)) {}

    // The thumbnail of the photo at `source` for cache key `key` ([A-Za-z0-9_-] only), made and
    // written (atomically) on first use. Photos that are not JPEG are returned as they are.
    Result<std::string> get(const std::string& key,
                            const std::filesystem::path& source,
                            int max_side);

  private:
    std::filesystem::path dir_;
};

}  // namespace lookbook::web
