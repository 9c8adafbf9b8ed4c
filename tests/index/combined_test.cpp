#include "lookbook/index/combined.hpp"

#include <cmath>

#include <gtest/gtest.h>

#include "lookbook/index/dot.hpp"

namespace lookbook {
namespace {

// Three articles: 0 has both parts, 1 only text, 2 only an image.
struct TwoParts {
    std::vector<float> image = {3, 4, 0, 0, 1, 0};  // dim 2
    std::vector<float> text = {1, 0, 2, 0, 0, 0};   // dim 2 (row 2's text is absent)
    std::vector<uint8_t> has_image = {1, 0, 1};
    std::vector<uint8_t> has_text = {1, 1, 0};

    std::vector<EmbeddingPart> parts(float image_weight, float text_weight) const {
        return {EmbeddingPart{"image", PartKind::kImage, 2, image, has_image, image_weight},
                EmbeddingPart{"text", PartKind::kText, 2, text, has_text, text_weight}};
    }
};

TEST(CombineParts, ScoreIsTheShareWeightedSumOfPartCosines) {
    const TwoParts data;
    auto combined = combine_parts(data.parts(3, 1));
    ASSERT_TRUE(combined.is_ok()) << combined.status().message();
    EXPECT_EQ(combined->dim, 4u);
    EXPECT_FLOAT_EQ(combined->parts[0].share, 0.75f);
    EXPECT_FLOAT_EQ(combined->parts[1].share, 0.25f);
    EXPECT_EQ(combined->parts[1].offset, 2u);
    // Article 0 with itself: both cosines are 1, so the score is 0.75 + 0.25.
    const auto a0 = combined->row(0);
    EXPECT_NEAR(vector_kernels::dot(a0.data(), a0.data(), 4), 1.0, 1e-6);
    // Article 0 with article 2 (image only): image cosine (3,4).(1,0)/5 = 0.6, times 0.75.
    const auto a2 = combined->row(2);
    EXPECT_NEAR(vector_kernels::dot(a0.data(), a2.data(), 4), 0.75 * 0.6, 1e-6);
    // Article 0 with article 1 (text only): text cosine (1,0).(2,0)/2 = 1, times 0.25.
    const auto a1 = combined->row(1);
    EXPECT_NEAR(vector_kernels::dot(a0.data(), a1.data(), 4), 0.25, 1e-6);
    EXPECT_EQ(combined->parts_present[0], 3);
    EXPECT_EQ(combined->parts_present[1], 2);
    EXPECT_EQ(combined->parts_present[2], 1);
    // Missing parts are zeros.
    EXPECT_EQ(a1[0], 0.0f);
    EXPECT_EQ(a2[3], 0.0f);
}

TEST(CombineParts, ZeroVectorMarkedPresentCountsAsAbsent) {
    TwoParts data;
    data.has_text[2] = 1;  // its text row is all zeros
    auto combined = combine_parts(data.parts(1, 1));
    ASSERT_TRUE(combined.is_ok());
    EXPECT_EQ(combined->parts_present[2], 1);
}

TEST(CombineParts, RejectsBadWeightsNamesAndSizes) {
    const TwoParts data;
    auto zero = combine_parts(data.parts(0, 0));
    ASSERT_FALSE(zero.is_ok());
    EXPECT_EQ(zero.status().message(),
              "every part has weight 0; give at least one part (image or text) a positive weight");
    auto negative = combine_parts(data.parts(-1, 1));
    ASSERT_FALSE(negative.is_ok());
    EXPECT_EQ(negative.status().message(),
              "the weight of part \"image\" is -1.000000; weights must be numbers >= 0");
    auto parts = data.parts(1, 1);
    parts[1].name = "image";
    EXPECT_EQ(combine_parts(parts).status().message(),
              "two parts are named \"image\"; give each model's parts a distinct prefix");
    parts = data.parts(1, 1);
    parts[1].present = std::span<const uint8_t>(data.has_text).first(2);
    EXPECT_EQ(combine_parts(parts).status().message(),
              "part \"text\" covers 2 articles with 6 floats; expected 3 articles of 2");
    EXPECT_FALSE(combine_parts({}).is_ok());
}

}  // namespace
}  // namespace lookbook
