#include "lookbook/rules/association_rules.hpp"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lookbook/rules/basket.hpp"
#include "lookbook/rules/fp_growth.hpp"

namespace lookbook::rules {
namespace {

FrequentItemsets mine_all(const BasketSet& baskets) {
    MiningOptions options;
    options.min_support = MinSupport::of_count(1);
    auto mined = mine_frequent_itemsets(baskets, options);
    EXPECT_TRUE(mined.is_ok());
    return std::move(mined).value();
}

std::string describe(const AssociationRule& rule, const BasketSet& baskets) {
    std::string text;
    for (ItemId item : rule.body) {
        text += baskets.item_name(item) + " ";
    }
    return text + "-> " + baskets.item_name(rule.head);
}

const AssociationRule* find_rule(const std::vector<AssociationRule>& rules,
                                 const BasketSet& baskets,
                                 const std::string& text) {
    for (const auto& rule : rules) {
        if (describe(rule, baskets) == text) {
            return &rule;
        }
    }
    return nullptr;
}

TEST(AssociationRules, HandComputedMeasures) {
    // {a,b} {a,b} {a} {c}, N = 4: a 3, b 2, c 1, ab 2.
    BasketSet baskets;
    baskets.add_named_basket({"a", "b"});
    baskets.add_named_basket({"a", "b"});
    baskets.add_named_basket({"a"});
    baskets.add_named_basket({"c"});
    auto rules = derive_rules(mine_all(baskets), RuleOptions{});
    ASSERT_TRUE(rules.is_ok());
    ASSERT_EQ(rules->size(), 2u);

    // a -> b: support 2/4, confidence 2/3, lift (2/3)/(2/4) = 4/3,
    // leverage 2/4 - 3/4 * 2/4 = 1/8, conviction (1 - 2/4) / (1 - 2/3) = 3/2.
    const AssociationRule* a_b = find_rule(*rules, baskets, "a -> b");
    ASSERT_NE(a_b, nullptr);
    EXPECT_EQ(a_b->support_count, 2u);
    EXPECT_EQ(a_b->body_count, 3u);
    EXPECT_EQ(a_b->head_count, 2u);
    EXPECT_DOUBLE_EQ(a_b->support, 0.5);
    EXPECT_DOUBLE_EQ(a_b->confidence, 2.0 / 3.0);
    EXPECT_DOUBLE_EQ(a_b->lift, 4.0 / 3.0);
    EXPECT_DOUBLE_EQ(a_b->leverage, 0.125);
    EXPECT_DOUBLE_EQ(a_b->conviction, 1.5);

    // b -> a: confidence 1, so conviction is infinite; lift 1 / (3/4) = 4/3.
    const AssociationRule* b_a = find_rule(*rules, baskets, "b -> a");
    ASSERT_NE(b_a, nullptr);
    EXPECT_DOUBLE_EQ(b_a->confidence, 1.0);
    EXPECT_DOUBLE_EQ(b_a->lift, 4.0 / 3.0);
    EXPECT_DOUBLE_EQ(b_a->leverage, 0.125);
    EXPECT_EQ(b_a->conviction, std::numeric_limits<double>::infinity());
}

TEST(AssociationRules, MultiItemBodies) {
    // {a,b,c} x2, {a,b} x2, {c} x1: N = 5; ab 4, abc 2, c 3.
    BasketSet baskets;
    baskets.add_named_basket({"a", "b", "c"}, 2);
    baskets.add_named_basket({"a", "b"}, 2);
    baskets.add_named_basket({"c"}, 1);
    auto rules = derive_rules(mine_all(baskets), RuleOptions{});
    ASSERT_TRUE(rules.is_ok());
    const AssociationRule* rule = find_rule(*rules, baskets, "a b -> c");
    ASSERT_NE(rule, nullptr);
    EXPECT_EQ(rule->body_count, 4u);
    EXPECT_EQ(rule->support_count, 2u);
    EXPECT_DOUBLE_EQ(rule->confidence, 0.5);
    EXPECT_DOUBLE_EQ(rule->lift, 0.5 / (3.0 / 5.0));
    // 3 heads per 3-itemset, 2 per pair: ab, ac, bc pairs and abc.
    EXPECT_EQ(rules->size(), 9u);
}

// 30 baskets with "a", 3 of them also with "b": a -> b has confidence exactly 0.1, and
// 0.1 * 30 in floating point is 3.0000000000000004, which a product test would reject.
BasketSet tenth_baskets() {
    BasketSet baskets;
    baskets.add_named_basket({"a", "b"}, 3);
    baskets.add_named_basket({"a"}, 27);
    baskets.add_named_basket({"c"}, 70);
    return baskets;
}

TEST(AssociationRules, KeepsRuleExactlyAtMinimumConfidence) {
    BasketSet baskets = tenth_baskets();
    FrequentItemsets mined = mine_all(baskets);
    auto kept = derive_rules(mined, RuleOptions{0.1, 0.0});
    ASSERT_TRUE(kept.is_ok());
    EXPECT_NE(find_rule(*kept, baskets, "a -> b"), nullptr);
    auto dropped = derive_rules(mined, RuleOptions{0.1000001, 0.0});
    ASSERT_TRUE(dropped.is_ok());
    EXPECT_EQ(find_rule(*dropped, baskets, "a -> b"), nullptr);
}

TEST(AssociationRules, KeepsRuleExactlyAtMinimumLift) {
    // a -> b: lift = 3 * 100 / (30 * 3) = 10/3; b -> a the same.
    BasketSet baskets = tenth_baskets();
    FrequentItemsets mined = mine_all(baskets);
    auto kept = derive_rules(mined, RuleOptions{0.0, 10.0 / 3.0});
    ASSERT_TRUE(kept.is_ok());
    EXPECT_EQ(kept->size(), 2u);
    auto dropped = derive_rules(mined, RuleOptions{0.0, 3.334});
    ASSERT_TRUE(dropped.is_ok());
    EXPECT_EQ(dropped->size(), 0u);
}

TEST(AssociationRules, SevenTenthsThreshold) {
    // 7 of 10 baskets with "x" hold "y": confidence 0.7 exactly.
    BasketSet baskets;
    baskets.add_named_basket({"x", "y"}, 7);
    baskets.add_named_basket({"x"}, 3);
    auto rules = derive_rules(mine_all(baskets), RuleOptions{0.7, 0.0});
    ASSERT_TRUE(rules.is_ok());
    EXPECT_NE(find_rule(*rules, baskets, "x -> y"), nullptr);
}

TEST(AssociationRules, RejectsThresholdsOutOfRange) {
    BasketSet baskets = tenth_baskets();
    FrequentItemsets mined = mine_all(baskets);
    EXPECT_EQ(derive_rules(mined, RuleOptions{1.5, 0.0}).status().message(),
              "minimum confidence is 1.5; expected a value from 0 to 1 (--min-confidence).");
    EXPECT_EQ(derive_rules(mined, RuleOptions{0.5, -1.0}).status().message(),
              "minimum lift is -1; expected 0 or more (--min-lift; 1 keeps rules at least as "
              "likely as chance).");
}

TEST(AssociationRules, RejectsTableMissingSubsets) {
    FrequentItemsets mined;
    mined.total_weight = 10;
    std::vector<ItemId> pair = {0, 1};
    mined.itemsets.add(pair, 2);
    EXPECT_EQ(derive_rules(mined, RuleOptions{}).status().message(),
              "itemset 0 of 1 has a subset missing from the table; rules need every frequent "
              "itemset, so mine again without editing the result.");
}

}  // namespace
}  // namespace lookbook::rules
