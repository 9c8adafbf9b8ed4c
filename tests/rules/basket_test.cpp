#include "lookbook/rules/basket.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace lookbook::rules {
namespace {

std::vector<std::vector<std::string>> spelled(const BasketSet& baskets) {
    std::vector<std::vector<std::string>> out;
    for (size_t basket_idx = 0; basket_idx < baskets.size(); ++basket_idx) {
        std::vector<std::string> names;
        for (ItemId item : baskets.basket(basket_idx)) {
            names.push_back(baskets.item_name(item));
        }
        out.push_back(names);
    }
    return out;
}

TEST(BasketReader, ReadsFimiNumbersWithBlankLinesAndCrlf) {
    auto baskets = parse_baskets("1 2 3 \r\n\r\n007\t2\n5", BasketFileFormat::kFimi, "t.dat");
    ASSERT_TRUE(baskets.is_ok()) << baskets.status().to_string();
    std::vector<std::vector<std::string>> expected = {{"1", "2", "3"}, {}, {"7", "2"}, {"5"}};
    EXPECT_EQ(spelled(*baskets), expected);
    EXPECT_EQ(baskets->item_count(), 5u);
    EXPECT_EQ(baskets->total_weight(), 4u);
}

TEST(BasketReader, ReadsNamesTrimmedAndKeepsRepeats) {
    auto baskets = parse_baskets("whole milk, yogurt\r\n\ncitrus fruit,whole milk,whole milk\n",
                                 BasketFileFormat::kAuto,
                                 "g.csv");
    ASSERT_TRUE(baskets.is_ok()) << baskets.status().to_string();
    std::vector<std::vector<std::string>> expected = {
        {"whole milk", "yogurt"}, {}, {"citrus fruit", "whole milk", "whole milk"}};
    EXPECT_EQ(spelled(*baskets), expected);
    EXPECT_EQ(baskets->item_count(), 3u);
}

// Found by the break-it review: the first item of a file saved with a byte order mark was
// read with the mark in its name (and a FIMI file failed on it).
TEST(BasketReader, SkipsAUtf8ByteOrderMark) {
    auto names =
        parse_baskets("\xEF\xBB\xBFwhole milk,yogurt\nyogurt\n", BasketFileFormat::kAuto, "g.csv");
    ASSERT_TRUE(names.is_ok()) << names.status().to_string();
    std::vector<std::vector<std::string>> expected = {{"whole milk", "yogurt"}, {"yogurt"}};
    EXPECT_EQ(spelled(*names), expected);
    auto fimi = parse_baskets(
        "\xEF\xBB\xBF"
        "1 2\n2\n",
        BasketFileFormat::kFimi,
        "t.dat");
    ASSERT_TRUE(fimi.is_ok()) << fimi.status().to_string();
    EXPECT_EQ(fimi->item_count(), 2u);
    EXPECT_EQ(fimi->item_name(0), "1");
}

TEST(BasketReader, AutoDetectsFimiWithoutCommas) {
    auto baskets = parse_baskets("10 20\n20\n", BasketFileFormat::kAuto, "t.dat");
    ASSERT_TRUE(baskets.is_ok());
    EXPECT_EQ(baskets->size(), 2u);
    EXPECT_EQ(baskets->item_count(), 2u);
}

TEST(BasketReader, RejectsNonNumberInFimiFileNamingLine) {
    auto baskets = parse_baskets("1 2\n3 x4 5\n", BasketFileFormat::kFimi, "retail.dat");
    ASSERT_FALSE(baskets.is_ok());
    EXPECT_EQ(baskets.status().code(), StatusCode::kInvalidData);
    EXPECT_EQ(baskets.status().message(),
              "retail.dat:2: item \"x4\" is not a whole number from 0 to 4294967294; a FIMI "
              "basket file holds item numbers separated by spaces. Fix the line, or read the "
              "file as names separated by commas (--format names).");
    EXPECT_FALSE(parse_baskets("12a\n", BasketFileFormat::kFimi, "t.dat").is_ok());
    EXPECT_FALSE(parse_baskets("99999999999\n", BasketFileFormat::kFimi, "t.dat").is_ok());
}

TEST(BasketReader, RejectsEmptyNameBetweenCommas) {
    auto baskets = parse_baskets("a,b\nc,,d\n", BasketFileFormat::kNames, "groceries.csv");
    ASSERT_FALSE(baskets.is_ok());
    EXPECT_EQ(baskets.status().message(),
              "groceries.csv:2: empty item name at column 3 (two commas in a row, or a comma at "
              "the start or end of the line). Remove the extra comma.");
    EXPECT_FALSE(parse_baskets("a,b,\n", BasketFileFormat::kNames, "g.csv").is_ok());
}

TEST(BasketReader, ReadsFixtureFile) {
    auto baskets = read_basket_file(std::string(LOOKBOOK_RULES_TEST_DATA) + "/small.csv");
    ASSERT_TRUE(baskets.is_ok()) << baskets.status().to_string();
    EXPECT_EQ(baskets->size(), 4u);
    EXPECT_EQ(baskets->basket(2).size(), 0u);
}

TEST(BasketReader, MissingFileNamesThePath) {
    auto baskets = read_basket_file("/nonexistent/baskets.dat");
    ASSERT_FALSE(baskets.is_ok());
    EXPECT_EQ(baskets.status().code(), StatusCode::kNotFound);
    EXPECT_EQ(baskets.status().message(),
              "basket file \"/nonexistent/baskets.dat\" does not exist; check the path given to "
              "--baskets.");
}

TEST(BasketFileFormat, ParsesNamesAndRejectsOthersWithChoices) {
    auto names = parse_basket_file_format("names");
    ASSERT_TRUE(names.is_ok());
    EXPECT_EQ(*names, BasketFileFormat::kNames);
    EXPECT_EQ(parse_basket_file_format("csv").status().message(),
              "--format is \"csv\"; expected auto, fimi (numbers separated by spaces) or names "
              "(names separated by commas).");
}

}  // namespace
}  // namespace lookbook::rules
