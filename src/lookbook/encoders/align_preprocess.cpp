#include "lookbook/encoders/align_preprocess.hpp"

#include <string>
#include <vector>

#include <torch/torch.h>

namespace lookbook {
namespace {

// Python's floor division, for crop offsets that go negative when the crop is larger.
int floor_div2(int value) { return value >= 0 ? value / 2 : -((-value + 1) / 2); }

// PIL's convert("RGB") of an L, RGB or RGBA image: no premultiplication, no background.
RgbImage to_rgb(const RgbImage& image) {
    if (image.channels == 3) {
        return image;
    }
    RgbImage out{image.width, image.height, 3, {}};
    const size_t n = static_cast<size_t>(image.width) * image.height;
    out.pixels.resize(n * 3);
    for (size_t i = 0; i < n; ++i) {
        const uint8_t* src = &image.pixels[i * image.channels];
        out.pixels[i * 3] = src[0];
        out.pixels[i * 3 + 1] = image.channels == 1 ? src[0] : src[1];
        out.pixels[i * 3 + 2] = image.channels == 1 ? src[0] : src[2];
    }
    return out;
}

}  // namespace

Result<AlignPixelStages> align_resize_and_crop(const RgbImage& image,
                                               const AlignPreprocess& options) {
    const bool channels_ok = image.channels == 1 || image.channels == 3 || image.channels == 4;
    if (image.width < 1 || image.height < 1 || !channels_ok ||
        image.pixels.size() != static_cast<size_t>(image.width) * image.height * image.channels) {
        return Status::invalid_argument(
            "ALIGN preprocessing: image is " + std::to_string(image.width) + "x" +
            std::to_string(image.height) + " with " + std::to_string(image.channels) +
            " channels and " + std::to_string(image.pixels.size()) +
            " bytes; expected at least 1x1, 1, 3 or 4 channels and width*height*channels bytes");
    }
    AlignPixelStages out;
    // The processor is given RGB (transformers' load_image converts first), so alpha is dropped
    // before resizing: a transparent band keeps its stored colour, as in the reference.
    out.rgb = to_rgb(image);
    if (options.do_resize) {
        const ResampleFilter filter =
            options.resample == 3 ? ResampleFilter::kBicubic : ResampleFilter::kBilinear;
        LOOKBOOK_ASSIGN_OR_RETURN(out.resized,
                                  resize_image(out.rgb,
                                               static_cast<int>(options.resize_width),
                                               static_cast<int>(options.resize_height),
                                               filter));
    } else {
        out.resized = out.rgb;
    }
    if (!options.do_center_crop) {
        out.cropped = out.resized;
        return out;
    }
    const int crop_h = static_cast<int>(options.crop_height);
    const int crop_w = static_cast<int>(options.crop_width);
    if (crop_h < 1 || crop_w < 1) {
        return Status::invalid_argument("ALIGN preprocessing: crop size is " +
                                        std::to_string(crop_w) + "x" + std::to_string(crop_h) +
                                        "; expected at least 1x1");
    }
    // transformers' center_crop: floor offsets; a crop larger than the image is zero-padded.
    const RgbImage& src = out.resized;
    const int top = floor_div2(src.height - crop_h);
    const int left = floor_div2(src.width - crop_w);
    out.cropped = RgbImage{crop_w, crop_h, 3, std::vector<uint8_t>(size_t(crop_w) * crop_h * 3)};
    for (int y = 0; y < crop_h; ++y) {
        const int sy = y + top;
        for (int x = 0; x < crop_w; ++x) {
            const int sx = x + left;
            if (sy < 0 || sy >= src.height || sx < 0 || sx >= src.width) {
                continue;
            }
            const uint8_t* from = &src.pixels[(static_cast<size_t>(sy) * src.width + sx) * 3];
            uint8_t* to = &out.cropped.pixels[(static_cast<size_t>(y) * crop_w + x) * 3];
            to[0] = from[0];
            to[1] = from[1];
            to[2] = from[2];
        }
    }
    return out;
}

Result<torch::Tensor> preprocess_align(const RgbImage& image, const AlignPreprocess& options) {
    LOOKBOOK_ASSIGN_OR_RETURN(AlignPixelStages stages, align_resize_and_crop(image, options));
    const RgbImage& rgb = stages.cropped;
    torch::Tensor pixels = torch::empty({3, rgb.height, rgb.width}, torch::kFloat32);  // [3, H, W]
    float* out = pixels.data_ptr<float>();
    const size_t plane = static_cast<size_t>(rgb.width) * rgb.height;
    for (int c = 0; c < 3; ++c) {
        const float mean = options.image_mean.size() == 3 ? options.image_mean[c] : 0.0f;
        const float std = options.image_std.size() == 3 ? options.image_std[c] : 1.0f;
        for (size_t i = 0; i < plane; ++i) {
            // Each step in transformers' precision: the product in double, the rest in float.
            float x = static_cast<float>(rgb.pixels[i * 3 + c]);
            if (options.do_rescale) {
                x = static_cast<float>(static_cast<double>(rgb.pixels[i * 3 + c]) *
                                       options.rescale_factor);
                if (options.rescale_offset) {
                    x -= 1.0f;
                }
            }
            if (options.do_normalize) {
                x = (x - mean) / std;
            }
            if (options.include_top) {
                x /= std;
            }
            out[c * plane + i] = x;
        }
    }
    return pixels;
}

}  // namespace lookbook
