#include "lookbook/encoders/image.hpp"

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "input_fixture.hpp"

namespace lookbook {
namespace {

namespace fs = std::filesystem;
using testing::clip_fixture_dir;
using testing::encoders_test_data_dir;

fs::path data(const std::string& name) { return encoders_test_data_dir() / name; }

// Reads NAME.expected written by make_images.py: "width height channels\n" + HWC bytes.
RgbImage read_expected(const std::string& name) {
    std::string file = testing::slurp(data(name + ".expected"));
    size_t newline = file.find('\n');
    std::istringstream header(file.substr(0, newline));
    RgbImage image;
    header >> image.width >> image.height >> image.channels;
    image.pixels.assign(file.begin() + static_cast<std::ptrdiff_t>(newline) + 1, file.end());
    return image;
}

RgbImage decode_ok(const std::string& name) {
    auto r = decode_image_file(data(name));
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    return r.is_ok() ? std::move(r).value() : RgbImage{};
}

void expect_same_image(const RgbImage& got, const RgbImage& want, const std::string& what) {
    EXPECT_EQ(got.width, want.width) << what;
    EXPECT_EQ(got.height, want.height) << what;
    EXPECT_EQ(got.channels, want.channels) << what;
    EXPECT_EQ(got.pixels, want.pixels) << what;
}

// The message of a decode that must fail with `code`.
std::string decode_error(const std::string& name, StatusCode code) {
    auto r = decode_image_file(data(name));
    EXPECT_FALSE(r.is_ok()) << name;
    EXPECT_EQ(r.status().code(), code) << r.status().to_string();
    return r.status().message();
}

TEST(ClipPreprocess, ReproducesPilCroppedPixelsAndNormalisedTensorsForFixtureImages) {
    nlohmann::json expected = testing::load_clip_expected_json();
    auto tensors =
        testing::read_fixture_safetensors(clip_fixture_dir() / "expected_tensors.safetensors");
    std::vector<uint8_t> cropped = tensors.at("cropped_rgb_uint8").values<uint8_t>();
    std::vector<float> pixel_values = tensors.at("pixel_values").values<float>();
    ASSERT_EQ(expected["images"].size(), 6u);
    const size_t per_image = 32 * 32 * 3;
    for (size_t idx = 0; idx < 6; ++idx) {
        const auto& info = expected["images"][idx];
        std::string file = info["file"].get<std::string>();
        SCOPED_TRACE(file);
        auto image = decode_image_file(clip_fixture_dir() / file);
        ASSERT_TRUE(image.is_ok()) << image.status().to_string();
        EXPECT_EQ(image->width, info["size_wh"][0].get<int>());
        EXPECT_EQ(image->height, info["size_wh"][1].get<int>());
        const std::string mode = info["mode"].get<std::string>();
        EXPECT_EQ(image->channels, mode == "L" ? 1 : mode == "RGB" ? 3 : 4);

        auto rgb = resize_and_crop(*image, 32);
        ASSERT_TRUE(rgb.is_ok()) << rgb.status().to_string();
        std::vector<uint8_t> want(cropped.begin() + idx * per_image,
                                  cropped.begin() + (idx + 1) * per_image);
        EXPECT_EQ(rgb->pixels, want);

        auto tensor = preprocess_clip(*image, ClipPreprocess{.size = 32});
        ASSERT_TRUE(tensor.is_ok()) << tensor.status().to_string();
        ASSERT_EQ(tensor->sizes(), (std::vector<int64_t>{3, 32, 32}));
        const float* got = tensor->data_ptr<float>();
        double max_diff = 0;
        for (size_t i = 0; i < per_image; ++i) {
            max_diff =
                std::max(max_diff, std::fabs(double(got[i]) - pixel_values[idx * per_image + i]));
        }
        EXPECT_LE(max_diff, 1e-6);
    }
}

TEST(ClipPreprocess, CropOffsetsRoundHalfToEven) {
    // 36x53 gray resizes to 32x47: top = round(7.5) = 8. A ramp image shows the crop row.
    RgbImage ramp{1, 3, 1, {10, 20, 30}};
    RgbImage tall{2, 5, 1, {0, 0, 1, 1, 2, 2, 3, 3, 4, 4}};
    auto crop = resize_and_crop(tall, 2);  // no resize (2x5 -> 2x5), top = round(1.5) = 2
    ASSERT_TRUE(crop.is_ok());
    EXPECT_EQ(crop->pixels, (std::vector<uint8_t>{2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3}));
    RgbImage taller{1, 4, 1, {0, 1, 2, 3}};
    auto crop2 = resize_and_crop(taller, 1);  // top = round(2.5) = 2, not 3
    ASSERT_TRUE(crop2.is_ok());
    EXPECT_EQ(crop2->pixels, (std::vector<uint8_t>{2, 2, 2}));
    auto crop3 = resize_and_crop(ramp, 1);  // top = round(1.0) = 1
    ASSERT_TRUE(crop3.is_ok());
    EXPECT_EQ(crop3->pixels, (std::vector<uint8_t>{20, 20, 20}));
}

TEST(ClipPreprocess, ResizeIsIdentityWhenSizeMatchesAndKeepsFlatColour) {
    RgbImage flat{5, 3, 3, std::vector<uint8_t>(5 * 3 * 3, 77)};
    auto same = resize_bicubic(flat, 5, 3);
    ASSERT_TRUE(same.is_ok());
    EXPECT_EQ(same->pixels, flat.pixels);
    // Normalised weights sum to one, so a flat image stays flat at any scale.
    for (auto [w, h] : {std::pair{2, 7}, std::pair{11, 1}, std::pair{1, 1}, std::pair{5, 9}}) {
        auto resized = resize_bicubic(flat, w, h);
        ASSERT_TRUE(resized.is_ok());
        EXPECT_EQ(resized->pixels, std::vector<uint8_t>(static_cast<size_t>(w) * h * 3, 77));
    }
}

TEST(ClipPreprocess, ResizeMatchesPilBicubicForEveryModeAndDirection) {
    // make_images.py resized random RGBA (with alpha 0 and 255 rows), RGB and L images with PIL.
    for (const char* mode : {"rgba", "rgb", "l"}) {
        RgbImage source = read_expected(std::string("resize_") + mode + "_source");
        for (auto [w, h] : {std::pair{7, 5}, {13, 4}, {5, 9}, {20, 17}, {3, 30}}) {
            std::string name =
                std::string("resize_") + mode + "_" + std::to_string(w) + "x" + std::to_string(h);
            auto resized = resize_bicubic(source, w, h);
            ASSERT_TRUE(resized.is_ok()) << resized.status().to_string();
            expect_same_image(*resized, read_expected(name), name);
        }
    }
    EXPECT_EQ(decode_ok("resize_rgba.png").pixels, read_expected("resize_rgba_source").pixels);
}

TEST(ClipPreprocess, OnePixelImageBecomesFlatCrop) {
    RgbImage one = decode_ok("one_pixel.png");
    expect_same_image(one, read_expected("one_pixel.png"), "one_pixel.png");
    auto rgb = resize_and_crop(one, 4);
    ASSERT_TRUE(rgb.is_ok()) << rgb.status().to_string();
    std::vector<uint8_t> want;
    for (int i = 0; i < 16; ++i) {
        want.insert(want.end(), {200, 100, 50});
    }
    EXPECT_EQ(rgb->pixels, want);
}

TEST(ClipPreprocess, RejectsInconsistentImageAndSize) {
    RgbImage bad{4, 4, 3, std::vector<uint8_t>(10)};
    auto r = resize_and_crop(bad, 2);
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message(),
              "resize_and_crop: image is 4x4 with 3 channels and 10 bytes; expected at least 1x1, "
              "1, 3 or 4 channels and width*height*channels bytes");
    RgbImage ok{2, 2, 1, std::vector<uint8_t>(4)};
    auto r2 = resize_and_crop(ok, 0);
    ASSERT_FALSE(r2.is_ok());
    EXPECT_EQ(r2.status().message(), "resize_and_crop: size is 0; expected at least 1");
}

TEST(ImageDecoder, DecodesFormatsLikePil) {
    for (const char* name : {"cmyk.jpg",
                             "gray.jpg",
                             "palette.png",
                             "rgb16.png",
                             "gray16.png",
                             "gray_alpha.png",
                             "alpha_lossless.webp",
                             "lossy.webp"}) {
        expect_same_image(decode_ok(name), read_expected(name), name);
    }
}

TEST(ImageDecoder, AppliesExifOrientationLikeExifTranspose) {
    for (int orientation = 2; orientation <= 8; ++orientation) {
        std::string name = "orientation_" + std::to_string(orientation) + ".jpg";
        expect_same_image(decode_ok(name), read_expected(name), name);
    }
    expect_same_image(decode_ok("orientation_6.png"), read_expected("orientation_6.png"), "png");
    expect_same_image(decode_ok("orientation_8.webp"), read_expected("orientation_8.webp"), "webp");
}

TEST(ImageDecoder, ReadsOrientationFromBothByteOrders) {
    // "MM" big-endian and "II" little-endian TIFF headers with one IFD entry, tag 0x0112 = 6.
    auto bytes = [](std::initializer_list<int> values) {
        std::string out;
        for (int v : values) {
            out.push_back(static_cast<char>(v));
        }
        return out;
    };
    std::string mm = "Exif" + bytes({0,    0,    'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1,
                                     0x01, 0x12, 0,   3,   0, 0,  0, 1, 0, 6, 0, 0});
    std::string ii =
        bytes({'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0});
    EXPECT_EQ(exif_orientation(mm), 6);
    EXPECT_EQ(exif_orientation(ii), 6);
    EXPECT_EQ(exif_orientation(ii.substr(0, 15)), 1);  // entry cut short
    EXPECT_EQ(exif_orientation("junk"), 1);
}

TEST(ImageDecoder, RejectsDecompressionBombBeforeDecoding) {
    EXPECT_EQ(decode_error("bomb.png", StatusCode::kResourceExhausted),
              data("bomb.png").string() +
                  ": image is 20000x20000 = 400000000 pixels, above the limit of 89478485 "
                  "(possible decompression bomb); skip the file, or raise "
                  "ImageLimits::max_pixels if it is trusted");
    EXPECT_NE(decode_error("bomb.jpg", StatusCode::kResourceExhausted)
                  .find("image is 60000x60000 = 3600000000 pixels"),
              std::string::npos);
    EXPECT_NE(decode_error("bomb.webp", StatusCode::kResourceExhausted)
                  .find("image is 16384x16384 = 268435456 pixels"),
              std::string::npos);
    // A custom limit applies too.
    auto small = decode_image_file(data("cmyk.jpg"), ImageLimits{.max_pixels = 47});
    ASSERT_FALSE(small.is_ok());
    EXPECT_NE(small.status().message().find("8x6 = 48 pixels, above the limit of 47"),
              std::string::npos);
}

TEST(ImageDecoder, ReportsTruncatedAndCorruptFiles) {
    EXPECT_EQ(decode_error("truncated.jpg", StatusCode::kInvalidData),
              data("truncated.jpg").string() +
                  ": JPEG data ends early (the file is truncated); download or copy the image "
                  "again");
    EXPECT_EQ(decode_error("random.bin", StatusCode::kInvalidData),
              data("random.bin").string() +
                  ": not a JPEG, PNG or WebP image (first bytes 42 3c e9 d7 f3 84 79 d9); convert "
                  "it to one of these formats");
    std::string garbage = decode_error("garbage_after_signature.jpg", StatusCode::kInvalidData);
    EXPECT_NE(garbage.find(": JPEG header is unreadable (libjpeg: "), std::string::npos) << garbage;
    EXPECT_NE(garbage.find("); the file is corrupt or not a JPEG"), std::string::npos) << garbage;
}

TEST(ImageDecoder, ReportsEveryPrefixOfValidFilesWithoutCrashing) {
    // Each cut is a truncated file: it must fail cleanly (or, for a few JPEG cuts that only lose
    // the end marker, decode), never crash or longjmp past C++ frames.
    for (const char* name : {"palette.png", "gray.jpg", "lossy.webp", "orientation_6.png"}) {
        std::string bytes = testing::slurp(data(name));
        for (size_t len = 0; len < bytes.size(); ++len) {
            auto r = decode_image_bytes(std::string_view(bytes).substr(0, len), "cut");
            if (!r.is_ok()) {
                EXPECT_EQ(r.status().message().rfind("cut: ", 0), 0u) << r.status().message();
            }
        }
    }
    std::string palette = testing::slurp(data("palette.png"));
    auto png = decode_image_bytes(palette.substr(0, palette.size() - 20), "p.png");
    ASSERT_FALSE(png.is_ok());
    EXPECT_EQ(png.status().message(),
              "p.png: PNG data is corrupt (libpng: file is truncated); re-export or download the "
              "image again");
    auto webp = decode_image_bytes(testing::slurp(data("lossy.webp")).substr(0, 40), "l.webp");
    ASSERT_FALSE(webp.is_ok());
    EXPECT_EQ(webp.status().message(),
              "l.webp: WebP data is corrupt or truncated; re-export or download the image again");
    auto empty = decode_image_bytes("", "e.jpg");
    ASSERT_FALSE(empty.is_ok());
    EXPECT_EQ(empty.status().message(), "e.jpg: file is empty; expected a JPEG, PNG or WebP image");
}

TEST(ImageDecoder, ReportsMissingFile) {
    auto r = decode_image_file("/nonexistent/photo.jpg");
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
    EXPECT_NE(r.status().message().find("/nonexistent/photo.jpg"), std::string::npos);
}

}  // namespace
}  // namespace lookbook
