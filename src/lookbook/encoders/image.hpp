#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <torch/types.h>

#include "lookbook/util/status.hpp"

namespace lookbook {

// A decoded 8-bit image, rows top to bottom, channels interleaved (HWC): 1 (L), 3 (RGB) or
// 4 (RGBA, straight alpha) as decoded. Owns its pixels.
struct RgbImage {
    int width = 0;
    int height = 0;
    int channels = 3;
    std::vector<uint8_t> pixels;
};

// Refuses images with more pixels than this before any pixel is decoded (decompression bombs).
// The default is PIL's Image.MAX_IMAGE_PIXELS.
struct ImageLimits {
    uint64_t max_pixels = 89'478'485;
};

// Decodes JPEG, PNG or WebP (recognised by their first bytes, not the extension), applies the
// EXIF orientation (JPEG APP1, PNG eXIf, WebP EXIF; all 8 values, as PIL's
// ImageOps.exif_transpose) and converts to 8-bit L, RGB or RGBA:
//   JPEG: grayscale -> L, YCbCr/RGB -> RGB, CMYK and YCCK (Adobe, inverted) -> RGB with PIL's
//         CMYK -> RGB formula.
//   PNG:  gray -> L, gray+alpha -> RGBA (gray replicated), palette -> RGB (transparency
//         dropped, as PIL's convert("RGB") of a "P" image), 16-bit -> high byte, 1/2/4-bit
//         gray scaled to 0..255.
//   WebP: RGB, or RGBA when the file has alpha. Animated WebP is refused (kUnsupported).
// Errors name the file: kNotFound/kIOError when it cannot be read, kInvalidData for an unknown
// format or corrupt or truncated data, kResourceExhausted when width*height exceeds
// limits.max_pixels. Never aborts on bad input.
//
// Differences from the OpenAI CLIP pipeline (PIL open + torchvision transform), all rare in
// catalog photos:
// TODO: OpenAI's pipeline ignores EXIF orientation; this applies it, so rotated phone photos
// give different (upright) pixels than the reference — intended, but not bit-compatible.
// TODO: PIL resizes CMYK JPEGs in CMYK and converts after the crop, and resizes palette PNGs
// with NEAREST; here both are converted first and resized bicubic, so their pixels can differ
// from the reference by a few levels (CMYK) or more (palette). Costs exactness on such files.
// TODO: PIL opens 16-bit grayscale PNG as mode "I" and clips values above 255 to white; here the
// high byte is used, which keeps the picture (and differs from the reference).
Result<RgbImage> decode_image_file(const std::filesystem::path& path,
                                   const ImageLimits& limits = {});
Result<RgbImage> decode_image_bytes(std::string_view bytes,
                                    const std::string& name_for_errors,
                                    const ImageLimits& limits = {});

// Rotates/flips as EXIF orientation `orientation` asks (1..8; other values return the image
// unchanged), giving the same pixels as PIL's ImageOps.exif_transpose.
RgbImage apply_exif_orientation(const RgbImage& image, int orientation);

// Reads the orientation tag (0x0112) from EXIF data: a TIFF header, optionally preceded by
// "Exif\0\0". Returns 1 when the tag is absent or the data is malformed.
int exif_orientation(std::string_view exif);

// PIL 9.4's Image.resize((width, height), Image.BICUBIC) on 8-bit data, bit for bit: separable
// cubic convolution (a = -0.5) whose support widens when downscaling, coefficients in 22-bit
// fixed point, horizontal pass then vertical, each pass only when that dimension changes. RGBA
// is resized premultiplied (RGBA -> RGBa -> resize -> RGBA). Fails with kInvalidArgument for an
// empty or inconsistent image or a size below 1.
Result<RgbImage> resize_bicubic(const RgbImage& image, int width, int height);

// PIL's resampling filters that lookbook's models use: BICUBIC (CLIP) and BILINEAR (ALIGN's
// EfficientNet processor, resample 2: a triangle filter of support 1, widened when
// downscaling, so it is antialiased like PIL's and unlike torch's plain bilinear).
enum class ResampleFilter { kBilinear, kBicubic };

// PIL 9.4's Image.resize((width, height), filter) on 8-bit data, bit for bit, as
// resize_bicubic describes (RGBA premultiplied). Errors as resize_bicubic.
Result<RgbImage> resize_image(const RgbImage& image, int width, int height, ResampleFilter filter);

struct ClipPreprocess {
    int size = 224;
    std::array<float, 3> mean{0.48145466f, 0.4578275f, 0.40821073f};
    std::array<float, 3> std{0.26862954f, 0.26130258f, 0.27577711f};
};

// OpenAI CLIP transform: resize so the shortest side is `size` (the long side becomes
// int(size * long / short); PIL bicubic, RGBA premultiplied; skipped when the size already
// matches), centre crop with Python's round-half-to-even offsets, then to RGB (L replicated,
// alpha dropped). Returns HWC uint8 [size, size, 3]. kInvalidArgument for a bad image or size.
Result<RgbImage> resize_and_crop(const RgbImage& image, int size);

// Full transform to a float32 tensor [3, size, size]: resize_and_crop, then
// (float(u8) / 255 - mean[c]) / std[c] in float32, as torchvision's ToTensor + Normalize.
Result<torch::Tensor> preprocess_clip(const RgbImage& image, const ClipPreprocess& options);

}  // namespace lookbook
