#include "lookbook/rules/json_lines.hpp"

#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace lookbook::rules {
namespace {

TEST(JsonLines, QuotesAndEscapesNames) {
    EXPECT_EQ(json_quote("whole milk"), "\"whole milk\"");
    EXPECT_EQ(json_quote("12\" vinyl \\ b"), "\"12\\\" vinyl \\\\ b\"");
    EXPECT_EQ(json_quote("a\tb\nc\x01"), "\"a\\tb\\nc\\u0001\"");
    EXPECT_EQ(json_quote("crème brûlée"), "\"crème brûlée\"");
}

TEST(JsonLines, ItemsetLineParsesBack) {
    BasketSet baskets;
    baskets.intern("whole milk");
    baskets.intern("say \"cheese\"\\");
    auto quoted = quoted_item_names(baskets);
    std::string line;
    std::vector<ItemId> items = {0, 1};
    append_itemset_line(items, 205, quoted, &line);
    EXPECT_EQ(line,
              "{\"items\": [\"whole milk\", \"say \\\"cheese\\\"\\\\\"], \"support\": 205}\n");
    auto parsed = nlohmann::json::parse(line);
    EXPECT_EQ(parsed["items"][1], "say \"cheese\"\\");
    EXPECT_EQ(parsed["support"], 205);
}

TEST(JsonLines, InfiniteConvictionIsNull) {
    BasketSet baskets;
    baskets.intern("a");
    baskets.intern("b");
    auto quoted = quoted_item_names(baskets);
    // b -> a in {a,b} {a,b} {a} {c}: confidence 1.
    AssociationRule rule = make_rule({1}, 0, 2, 2, 3, 4);
    std::string line;
    append_rule_line(rule, quoted, &line);
    EXPECT_EQ(line,
              "{\"body\": [\"b\"], \"head\": \"a\", \"support\": 2, \"confidence\": 1, \"lift\": "
              "1.3333333333333333, \"leverage\": 0.125, \"conviction\": null}\n");
    EXPECT_TRUE(nlohmann::json::parse(line)["conviction"].is_null());
    EXPECT_EQ(json_number(std::numeric_limits<double>::infinity()), "null");
    EXPECT_EQ(json_number(0.5), "0.5");
}

}  // namespace
}  // namespace lookbook::rules
