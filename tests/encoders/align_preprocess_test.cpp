#include "lookbook/encoders/align_preprocess.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "align_fixture.hpp"
#include "lookbook/encoders/align_config.hpp"

namespace lookbook {
namespace {

using testing::align_expected_tensor;
using testing::align_fixture_dir;

AlignPreprocess fixture_preprocess() {
    auto config = read_align_config(align_fixture_dir());
    EXPECT_TRUE(config.is_ok()) << config.status().message();
    return config->preprocess;
}

torch::Tensor as_tensor(const RgbImage& image) {
    return torch::from_blob(const_cast<uint8_t*>(image.pixels.data()),
                            {image.height, image.width, 3},
                            torch::kUInt8)
        .clone();
}

TEST(AlignPreprocess, ReadsFixtureProcessorSettings) {
    const AlignPreprocess p = fixture_preprocess();
    EXPECT_EQ(p.resize_height, 41);
    EXPECT_EQ(p.resize_width, 41);
    EXPECT_EQ(p.crop_height, 32);
    EXPECT_EQ(p.resample, 2);
    EXPECT_TRUE(p.rescale_offset);
    EXPECT_FALSE(p.do_normalize);
    EXPECT_DOUBLE_EQ(p.rescale_factor, 0.00784313725490196);
}

TEST(AlignPreprocess, MatchesPilResizeCropAndPixelsForEveryFixtureImage) {
    const AlignPreprocess options = fixture_preprocess();
    const nlohmann::json expected = testing::load_align_expected_json();
    torch::Tensor resized = align_expected_tensor("resized_rgb_uint8");  // [6, 41, 41, 3]
    torch::Tensor cropped = align_expected_tensor("cropped_rgb_uint8");  // [6, 32, 32, 3]
    torch::Tensor pixels = align_expected_tensor("pixel_values");        // [6, 3, 32, 32]
    ASSERT_EQ(expected["images"].size(), 6u);
    for (size_t i = 0; i < expected["images"].size(); ++i) {
        const std::string file = expected["images"][i]["file"];
        SCOPED_TRACE(file);
        auto image = decode_image_file(align_fixture_dir() / file);
        ASSERT_TRUE(image.is_ok()) << image.status().message();
        auto stages = align_resize_and_crop(*image, options);
        ASSERT_TRUE(stages.is_ok()) << stages.status().message();
        // PIL's bilinear reproduced bit for bit: exact bytes, so exact pixels.
        EXPECT_TRUE(torch::equal(as_tensor(stages->resized), resized[i]))
            << "max diff " << testing::max_abs_diff(as_tensor(stages->resized), resized[i]);
        EXPECT_TRUE(torch::equal(as_tensor(stages->cropped), cropped[i]));
        auto tensor = preprocess_align(*image, options);
        ASSERT_TRUE(tensor.is_ok());
        EXPECT_TRUE(torch::equal(*tensor, pixels[i]))
            << "max diff " << testing::max_abs_diff(*tensor, pixels[i]);
    }
}

TEST(AlignPreprocess, BilinearDownscaleAveragesWithTriangleWeights) {
    // 2x1 -> 1x1: support widens to 2, both taps weigh 0.75 before normalising: the mean.
    RgbImage image{2, 1, 3, {10, 20, 30, 20, 40, 61}};
    auto out = resize_image(image, 1, 1, ResampleFilter::kBilinear);
    ASSERT_TRUE(out.is_ok());
    // (10+20)/2 = 15, (20+40)/2 = 30, (30+61)/2 = 45.5 -> 46 (fixed point rounds half up).
    EXPECT_EQ(out->pixels, (std::vector<uint8_t>{15, 30, 46}));
}

TEST(AlignPreprocess, RescalesWithOffsetAndDropsAlpha) {
    // 1x1 RGBA, no resize or crop: alpha ignored (not composited), values u8 / 127.5 - 1.
    AlignPreprocess options;
    options.do_resize = false;
    options.do_center_crop = false;
    RgbImage image{1, 1, 4, {0, 255, 51, 0}};
    auto pixels = preprocess_align(image, options);
    ASSERT_TRUE(pixels.is_ok());
    EXPECT_EQ(pixels->sizes(), (std::vector<int64_t>{3, 1, 1}));
    EXPECT_FLOAT_EQ((*pixels)[0][0][0].item<float>(), -1.0f);
    EXPECT_FLOAT_EQ((*pixels)[1][0][0].item<float>(), 1.0f);
    EXPECT_FLOAT_EQ((*pixels)[2][0][0].item<float>(), 51.0f / 127.5f - 1.0f);
}

TEST(AlignPreprocess, CropUsesFloorOffsetsAndZeroPadsLargerCrops) {
    AlignPreprocess options;
    options.do_resize = false;
    options.crop_height = 1;
    options.crop_width = 2;
    // 3x1 gray image 0, 100, 200: width offset (3 - 2) // 2 = 0, so 0 and 100 are kept.
    RgbImage gray{3, 1, 1, {0, 100, 200}};
    auto stages = align_resize_and_crop(gray, options);
    ASSERT_TRUE(stages.is_ok());
    EXPECT_EQ(stages->cropped.pixels, (std::vector<uint8_t>{0, 0, 0, 100, 100, 100}));
    // A 3-wide crop of a 1-wide image: offset (1 - 3) // 2 = -1, zero on both sides.
    options.crop_width = 3;
    RgbImage one{1, 1, 1, {7}};
    stages = align_resize_and_crop(one, options);
    ASSERT_TRUE(stages.is_ok());
    EXPECT_EQ(stages->cropped.pixels, (std::vector<uint8_t>{0, 0, 0, 7, 7, 7, 0, 0, 0}));
}

TEST(AlignPreprocess, RejectsInconsistentImage) {
    RgbImage bad{2, 2, 3, {1, 2, 3}};
    auto stages = align_resize_and_crop(bad, AlignPreprocess{});
    ASSERT_FALSE(stages.is_ok());
    EXPECT_EQ(stages.status().message(),
              "ALIGN preprocessing: image is 2x2 with 3 channels and 3 bytes; expected at least "
              "1x1, 1, 3 or 4 channels and width*height*channels bytes");
}

}  // namespace
}  // namespace lookbook
