#include "lookbook/rules/complete_the_look.hpp"

#include <algorithm>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lookbook/rules/basket.hpp"

namespace lookbook::rules {
namespace {

// Eight articles: 0, 1 and 7 are colour variants of one top (code 0); 2 trousers; 3 shoes;
// 4 another top; 5 and 6 bags, 6 never sold.
CatalogView small_catalog() {
    CatalogView catalog;
    catalog.product_code_names = {"top-a", "trousers-b", "shoes-c", "top-d", "bag-e", "bag-f"};
    catalog.product_type_names = {"Top", "Trousers", "Shoes", "Bag"};
    catalog.product_group_names = {"Upper body", "Lower body", "Shoes", "Accessories"};
    struct Row {
        const char* id;
        uint32_t code, type, group;
    };
    std::vector<Row> rows = {{"a0", 0, 0, 0},
                             {"a1", 0, 0, 0},
                             {"b2", 1, 1, 1},
                             {"c3", 2, 2, 2},
                             {"d4", 3, 0, 0},
                             {"e5", 4, 3, 3},
                             {"f6", 5, 3, 3},
                             {"a7", 0, 0, 0}};
    for (const auto& row : rows) {
        catalog.article_ids.push_back(row.id);
        catalog.article_names.push_back("");
        catalog.product_code.push_back(row.code);
        catalog.product_type.push_back(row.type);
        catalog.product_group.push_back(row.group);
    }
    return catalog;
}

// N = 12 baskets: {0,2} x3, {0,3} x1, {0,1} x2, {1,4} x2, {4,2} x1, {5} x2, {7} x1.
CompleteTheLookModel small_model() {
    CatalogView catalog = small_catalog();
    BasketSet baskets;
    for (const auto& id : catalog.article_ids) {
        baskets.intern(id);
    }
    auto add = [&](std::vector<ItemId> items, Count weight) { baskets.add_basket(items, weight); };
    add({0, 2}, 3);
    add({0, 3}, 1);
    add({0, 1}, 2);
    add({1, 4}, 2);
    add({4, 2}, 1);
    add({5}, 2);
    add({7}, 1);
    // Every itemset at support 2, pairs included: the tests below count on {0,3} and {4,2}
    // (seen once) giving no rule, so that the fallbacks answer.
    TrainOptions options = default_train_options();
    options.pair_min_support = 0;
    auto model = train_complete_the_look(baskets, catalog, options);
    EXPECT_TRUE(model.is_ok()) << model.status().to_string();
    return std::move(model).value();
}

std::vector<uint32_t> articles_of(const std::vector<Suggestion>& suggestions) {
    std::vector<uint32_t> out;
    for (const auto& s : suggestions) {
        out.push_back(s.article);
    }
    return out;
}

TEST(CompleteTheLook, RanksFiredRulesByConfidenceWithReason) {
    CompleteTheLookModel model = small_model();
    std::vector<uint32_t> cart = {0};
    RecommendOptions options;
    options.k = 1;
    auto suggestions = complete_the_look(model, cart, options);
    ASSERT_TRUE(suggestions.is_ok());
    ASSERT_EQ(suggestions->size(), 1u);
    // a0 -> b2: 3 of the 6 baskets with a0, scored 3 / (6 + 2); lift 3 * 12 / (6 * 4) = 1.5.
    const Suggestion& top = suggestions->front();
    EXPECT_EQ(top.article, 2u);
    EXPECT_EQ(top.source, SuggestionSource::kArticleRule);
    EXPECT_DOUBLE_EQ(top.score, 3.0 / 8.0);
    EXPECT_DOUBLE_EQ(top.lift, 1.5);
    EXPECT_EQ(top.reason,
              "bought together in 3 baskets; 50% of baskets with a0 also had b2; lift 1.5");
}

TEST(CompleteTheLook, NeverSuggestsCartArticlesOrColourVariants) {
    CompleteTheLookModel model = small_model();
    std::vector<uint32_t> cart = {0};
    RecommendOptions options;
    options.k = 8;
    auto suggestions = complete_the_look(model, cart, options);
    ASSERT_TRUE(suggestions.is_ok());
    for (uint32_t article : articles_of(*suggestions)) {
        EXPECT_NE(model.catalog.product_code[article], 0u) << "article " << article;
    }
    // Every other sold article is offered once: b2 and d4 by rules or fallbacks, c3 and e5.
    EXPECT_EQ(suggestions->size(), 4u);
}

TEST(CompleteTheLook, OtherGroupsOnlyDropsSameGroup) {
    CompleteTheLookModel model = small_model();
    std::vector<uint32_t> cart = {0};
    RecommendOptions options;
    options.other_groups_only = true;
    auto suggestions = complete_the_look(model, cart, options);
    ASSERT_TRUE(suggestions.is_ok());
    for (uint32_t article : articles_of(*suggestions)) {
        EXPECT_NE(model.catalog.product_group[article], 0u) << "article " << article;
    }
    EXPECT_FALSE(suggestions->empty());
}

TEST(CompleteTheLook, AllowListRestrictsEverySource) {
    CompleteTheLookModel model = small_model();
    std::vector<uint32_t> cart = {0};
    RecommendOptions options;
    options.allow = std::unordered_set<uint32_t>{3, 6};
    auto suggestions = complete_the_look(model, cart, options);
    ASSERT_TRUE(suggestions.is_ok());
    // 3 comes from the purchase data; 6 only from the allow-list, which is never left unused
    // when the data cannot fill k (a regression: it used to answer with 3 alone).
    EXPECT_EQ(articles_of(*suggestions), (std::vector<uint32_t>{3, 6}));
    EXPECT_EQ((*suggestions)[1].reason, "in the allow-list; no purchase data links it to the cart");
}

// Found by the fresh-user trial: the API and the CLI suggested articles sold but missing from
// the catalog file (no name or photo), which the article page hid.
TEST(CompleteTheLook, CatalogOnlyLeavesOutArticlesWithoutADescription) {
    CompleteTheLookModel model = small_model();
    std::vector<uint32_t> cart = {0};
    RecommendOptions options;
    options.k = 8;
    auto all = complete_the_look(model, cart, options);
    ASSERT_TRUE(all.is_ok());
    const std::vector<uint32_t> everything = articles_of(*all);
    ASSERT_NE(std::find(everything.begin(), everything.end(), 2u), everything.end());
    // b2 (article 2) is known only from sales.
    model.catalog.described.assign(model.catalog.size(), 1);
    model.catalog.described[2] = 0;
    options.catalog_only = true;
    auto described = complete_the_look(model, cart, options);
    ASSERT_TRUE(described.is_ok());
    std::vector<uint32_t> expected;
    std::copy_if(
        everything.begin(), everything.end(), std::back_inserter(expected), [](uint32_t a) {
            return a != 2;
        });
    EXPECT_EQ(articles_of(*described), expected);
    // Without the flag the description does not matter.
    options.catalog_only = false;
    EXPECT_EQ(articles_of(*complete_the_look(model, cart, options)), everything);
}

TEST(CompleteTheLook, AllowListMatchingNothingAllowsNothing) {
    // Found by the break-it review: an allow-list none of whose ids is in the catalog (nothing
    // in stock) was read as "no filter" and the whole catalog was suggested.
    CompleteTheLookModel model = small_model();
    std::vector<uint32_t> cart = {0};
    RecommendOptions options;
    options.allow = std::unordered_set<uint32_t>{};
    auto suggestions = complete_the_look(model, cart, options);
    ASSERT_TRUE(suggestions.is_ok());
    EXPECT_TRUE(suggestions->empty());
    options.allow.reset();
    EXPECT_FALSE(complete_the_look(model, cart, options)->empty());
}

TEST(CompleteTheLook, FallsBackToProductCodeRules) {
    // a7 was bought alone once: no article rule, but its product (top-a) goes with trousers:
    // 3 of the 9 baskets with top-a (12 in all) hold trousers-b (4); lift 3 * 12 / (9 * 4) = 1.
    CompleteTheLookModel model = small_model();
    std::vector<uint32_t> cart = {7};
    RecommendOptions options;
    options.k = 1;
    auto suggestions = complete_the_look(model, cart, options);
    ASSERT_TRUE(suggestions.is_ok());
    ASSERT_EQ(suggestions->size(), 1u);
    EXPECT_EQ(suggestions->front().source, SuggestionSource::kProductCodeRule);
    EXPECT_EQ(suggestions->front().article, 2u);
    EXPECT_EQ(suggestions->front().reason,
              "no rule for these exact articles; colour variants merged: bought together in 3 "
              "baskets; 33% of baskets with product top-a also had product trousers-b; lift 1.0");
}

TEST(CompleteTheLook, UnsoldArticleStillGetsAnAnswer) {
    CompleteTheLookModel model = small_model();
    std::vector<uint32_t> cart = {6};
    auto suggestions = complete_the_look(model, cart, RecommendOptions{});
    ASSERT_TRUE(suggestions.is_ok());
    ASSERT_FALSE(suggestions->empty());
    EXPECT_EQ(suggestions->front().source, SuggestionSource::kPopular);
    // The best seller: a0 in 6 baskets.
    EXPECT_EQ(suggestions->front().article, 0u);
    EXPECT_EQ(suggestions->front().reason,
              "popular: in 6 baskets (no purchase data links it to the cart)");
}

TEST(CompleteTheLook, ProductTypeFallbackNamesTheType) {
    // c3 (shoes) has no rule at support 2 (one basket with a0) at either level; baskets with
    // shoes held a0.
    CompleteTheLookModel model = small_model();
    std::vector<uint32_t> cart = {3};
    RecommendOptions options;
    options.k = 1;
    auto suggestions = complete_the_look(model, cart, options);
    ASSERT_TRUE(suggestions.is_ok());
    ASSERT_EQ(suggestions->size(), 1u);
    EXPECT_EQ(suggestions->front().source, SuggestionSource::kProductType);
    EXPECT_EQ(suggestions->front().article, 0u);
    EXPECT_EQ(suggestions->front().reason,
              "no rule for these articles; bought in 1 basket together with a Shoes (the "
              "product type of c3)");
}

TEST(CompleteTheLook, TwoArticleBodyBeatsItsParts) {
    // {a0,b2,e5} x3, {a0,b2} x1, {a0} x4, {b2} x4: a0 -> e5 and b2 -> e5 score 3 / (8 + 2),
    // a0 + b2 -> e5 scores 3 / (4 + 2), with confidence 75% and lift 3 * 12 / (4 * 3) = 3.
    CatalogView catalog = small_catalog();
    BasketSet baskets;
    for (const auto& id : catalog.article_ids) {
        baskets.intern(id);
    }
    baskets.add_basket(std::vector<ItemId>{0, 2, 5}, 3);
    baskets.add_basket(std::vector<ItemId>{0, 2}, 1);
    baskets.add_basket(std::vector<ItemId>{0}, 4);
    baskets.add_basket(std::vector<ItemId>{2}, 4);
    auto model = train_complete_the_look(baskets, catalog, default_train_options());
    ASSERT_TRUE(model.is_ok());
    std::vector<uint32_t> cart = {0, 2};
    RecommendOptions options;
    options.k = 1;
    auto suggestions = complete_the_look(*model, cart, options);
    ASSERT_TRUE(suggestions.is_ok());
    ASSERT_EQ(suggestions->size(), 1u);
    EXPECT_EQ(suggestions->front().article, 5u);
    EXPECT_DOUBLE_EQ(suggestions->front().score, 0.5);
    EXPECT_EQ(suggestions->front().reason,
              "bought together in 3 baskets; 75% of baskets with a0 + b2 also had e5; lift 3.0");
}

TEST(CompleteTheLook, EverySuggestionOfALongAnswerHasItsOwnReason) {
    // Reasons are written only for the suggestions taken, after ranking: each must still
    // describe its own article. Cart {a1}: a1 -> d4 fires (2 of the 4 baskets with a1, lift
    // 2 * 12 / (4 * 3) = 2.0); a1 -> a0 is a colour variant and is never suggested; then the
    // product-type fallback (tops were bought with trousers, tops and bags) and best sellers.
    CompleteTheLookModel model = small_model();
    std::vector<uint32_t> cart = {1};
    RecommendOptions options;
    options.k = 8;
    auto suggestions = complete_the_look(model, cart, options);
    ASSERT_TRUE(suggestions.is_ok());
    ASSERT_GE(suggestions->size(), 3u);
    EXPECT_EQ(suggestions->front().article, 4u);
    EXPECT_EQ(suggestions->front().reason,
              "bought together in 2 baskets; 50% of baskets with a1 also had d4; lift 2.0");
    for (const Suggestion& s : *suggestions) {
        const std::string& id = model.catalog.article_ids[s.article];
        switch (s.source) {
            case SuggestionSource::kArticleRule:
                EXPECT_NE(s.reason.find("also had " + id + ";"), std::string::npos) << s.reason;
                break;
            case SuggestionSource::kProductType:
                EXPECT_NE(s.reason.find("(the product type of a1)"), std::string::npos) << s.reason;
                break;
            case SuggestionSource::kPopular:
                EXPECT_EQ(s.reason.rfind("popular: in ", 0), 0u) << s.reason;
                break;
            default:
                EXPECT_FALSE(s.reason.empty());
        }
    }
}

TEST(CompleteTheLook, RejectsEmptyCartAndUnknownArticle) {
    CompleteTheLookModel model = small_model();
    std::vector<uint32_t> empty;
    EXPECT_EQ(complete_the_look(model, empty, RecommendOptions{}).status().message(),
              "the cart is empty; give at least one article to complete the look from.");
    std::vector<uint32_t> unknown = {99};
    EXPECT_EQ(complete_the_look(model, unknown, RecommendOptions{}).status().message(),
              "article number 99 is outside the catalog of 8 articles.");
}

// Default training keeps pairs seen once ({0,3} and {4,2} in the small model's baskets) but not
// the longer itemsets seen once: {0,3,5} below is one basket, so no rule has the body {0, 3}.
TEST(CompleteTheLook, KeepsPairsSeenOnceButNotTriples) {
    CatalogView catalog = small_catalog();
    BasketSet baskets;
    for (const auto& id : catalog.article_ids) {
        baskets.intern(id);
    }
    baskets.add_basket(std::vector<ItemId>{0, 2}, 3);
    baskets.add_basket(std::vector<ItemId>{0, 3, 5}, 1);
    auto model = train_complete_the_look(baskets, catalog, default_train_options());
    ASSERT_TRUE(model.is_ok()) << model.status().to_string();
    // Pairs {0,2} (3 baskets), {0,3}, {0,5}, {3,5} (1 each): two rules each way.
    EXPECT_EQ(model->article_rules.size(), 8u);
    for (size_t rule_idx = 0; rule_idx < model->article_rules.size(); ++rule_idx) {
        EXPECT_EQ(model->article_rules.body(rule_idx).size(), 1u);
    }
    std::vector<uint32_t> cart = {3};
    auto suggestions = complete_the_look(*model, cart, RecommendOptions{});
    ASSERT_TRUE(suggestions.is_ok());
    ASSERT_GE(suggestions->size(), 2u);
    // c3 -> e5 and c3 -> a0 both 1 of 1, shrunk to 1 / (1 + 2); the tie goes to lift: e5 is in 1
    // of 4 baskets (lift 4), a0 in all 4 (lift 1).
    EXPECT_EQ((*suggestions)[0].article, 5u);
    EXPECT_EQ((*suggestions)[1].article, 0u);
    EXPECT_EQ((*suggestions)[0].source, SuggestionSource::kArticleRule);
    EXPECT_DOUBLE_EQ((*suggestions)[0].score, 1.0 / 3.0);
    EXPECT_EQ((*suggestions)[1].source, SuggestionSource::kArticleRule);

    TrainOptions every_itemset = default_train_options();
    every_itemset.pair_min_support = 0;
    auto strict = train_complete_the_look(baskets, catalog, every_itemset);
    ASSERT_TRUE(strict.is_ok());
    EXPECT_EQ(strict->article_rules.size(), 2u);  // only a0 <-> b2

    // More rare pairs than the cap: they are dropped instead of failing, and the pairs of the
    // support-2 run remain (the pair run finds 4 items + 4 pairs, above a cap of 3).
    TrainOptions capped = default_train_options();
    capped.pair_max_itemsets = 3;
    auto fallback = train_complete_the_look(baskets, catalog, capped);
    ASSERT_TRUE(fallback.is_ok()) << fallback.status().to_string();
    ASSERT_EQ(fallback->article_rules.size(), 2u);
    EXPECT_EQ(fallback->article_rules.body(0).size(), 1u);
}

}  // namespace
}  // namespace lookbook::rules
