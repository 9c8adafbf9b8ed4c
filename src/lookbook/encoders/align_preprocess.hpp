#pragma once

#include <torch/types.h>

#include "lookbook/encoders/align_config.hpp"
#include "lookbook/encoders/image.hpp"
#include "lookbook/util/status.hpp"

namespace lookbook {

// The uint8 stages of ALIGN's image preprocessing, for tests and debugging.
struct AlignPixelStages {
    RgbImage rgb;      // convert("RGB"): L replicated, alpha dropped without compositing
    RgbImage resized;  // PIL resize to exactly size.height x size.width (aspect not kept)
    RgbImage cropped;  // centre crop, offsets (H - h) // 2 and (W - w) // 2, zero outside
};

// convert("RGB"), then the resize and centre crop of Hugging Face's EfficientNetImageProcessor
// (PIL path), each skipped when its do_* flag is off. kInvalidArgument for a bad image or a
// size below 1.
Result<AlignPixelStages> align_resize_and_crop(const RgbImage& image,
                                               const AlignPreprocess& options);

// The whole processor: align_resize_and_crop, then per value in float32
//   rescale:   float(double(u8) * rescale_factor), minus 1 when rescale_offset
//   normalise: (x - mean[c]) / std[c] when do_normalize, and / std[c] again when include_top
// as transformers computes them (align-base: u8 / 127.5 - 1, bit for bit). Returns float32
// [3, crop height, crop width]. Errors as align_resize_and_crop.
Result<torch::Tensor> preprocess_align(const RgbImage& image, const AlignPreprocess& options);

}  // namespace lookbook
