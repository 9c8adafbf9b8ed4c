#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "lookbook/rules/association_rules.hpp"
#include "lookbook/rules/basket.hpp"
#include "lookbook/rules/fp_growth.hpp"
#include "lookbook/util/status.hpp"

namespace lookbook::rules {

// What the recommender needs to know of each article, indexed by article number (the store's
// article index). Codes index the matching name lists.
struct CatalogView {
    std::vector<std::string> article_ids;
    std::vector<std::string> article_names;
    std::vector<uint32_t> product_code;   // colour variants share a product code
    std::vector<uint32_t> product_type;   // "Trousers"
    std::vector<uint32_t> product_group;  // "Garment Lower body"
    std::vector<std::string> product_code_names;
    std::vector<std::string> product_type_names;
    std::vector<std::string> product_group_names;
    // 1 for the articles of the catalog file (with a name and a photo to show), 0 for those
    // known only from sales; empty when every article counts as described.
    std::vector<uint8_t> described;

    size_t size() const { return article_ids.size(); }
};

// Rules in flat arrays with, for each item, the rules whose body holds it.
class RuleSet {
  public:
    void add(const AssociationRule& rule);
    // Builds the per-item lookup; call once after the last add().
    void index(size_t item_count);

    size_t size() const { return heads.size(); }
    std::span<const ItemId> body(size_t rule_idx) const {
        return {body_items.data() + body_offsets[rule_idx],
                body_items.data() + body_offsets[rule_idx + 1]};
    }
    ItemId head(size_t rule_idx) const { return heads[rule_idx]; }
    Count support(size_t rule_idx) const { return supports[rule_idx]; }
    Count body_count(size_t rule_idx) const { return body_counts[rule_idx]; }
    Count head_count(size_t rule_idx) const { return head_counts[rule_idx]; }
    // Rules whose body holds `item` (empty for an unknown item).
    std::span<const uint32_t> rules_with(ItemId item) const;

    // The columns as saved in the store: body items of rule r are body_items[body_offsets[r] ..
    // body_offsets[r + 1]).
    std::vector<uint64_t> body_offsets{0};
    std::vector<ItemId> body_items;
    std::vector<ItemId> heads;
    std::vector<Count> supports;
    std::vector<Count> body_counts;
    std::vector<Count> head_counts;

  private:
    std::vector<uint64_t> by_item_offsets_;
    std::vector<uint32_t> by_item_rules_;
};

// Everything "complete the look" answers from: article rules, product-code rules (colour
// variants merged), articles bought with each product type, and overall best sellers.
struct CompleteTheLookModel {
    CatalogView catalog;
    Count total_baskets = 0;
    RuleSet article_rules;  // items are article numbers
    RuleSet code_rules;     // items are product codes
    // Per product type: articles found in baskets that hold another article of that type,
    // with the number of such baskets, most frequent first (at most kTypePartners each).
    std::vector<std::vector<std::pair<uint32_t, Count>>> type_partners;
    // Articles by number of baskets holding them, most first (at most kPopular).
    std::vector<std::pair<uint32_t, Count>> popular;
    // Per product code: its articles by number of baskets, most first.
    std::vector<std::vector<uint32_t>> code_articles;
};

constexpr size_t kTypePartners = 50;
constexpr size_t kPopular = 200;

// Chosen on the H&M sample evaluation (bench/rules_eval.cpp).
constexpr double kDefaultConfidencePrior = 2.0;

struct TrainOptions {
    MiningOptions mining;  // min_support, max_length (defaults below)
    RuleOptions rules;
    // Rules with a one-article body (pairs) are kept from this many baskets when that is below
    // mining.min_support. On the H&M sample, pairs seen once found 50% more hidden articles
    // than the fallbacks they replace (bench/rules_eval --rolling), while longer itemsets at
    // that support only multiplied the rules. 0 mines pairs like every other itemset.
    Count pair_min_support = 0;
    // Cap on the itemsets of that pair run. Above it (every pair bought once, on millions of
    // baskets) the low-support pairs are dropped with a warning and pairs come from
    // mining.min_support like longer itemsets, instead of failing the whole mining.
    uint64_t pair_max_itemsets = 5'000'000;
};

// Default training options for shop baskets: support of 2 baskets, pairs from 1 basket, itemsets
// of up to 3 articles (bodies of up to 2), no confidence or lift floor (the score ranks instead).
TrainOptions default_train_options();

// Mines `baskets` (items are article numbers of `catalog`) at article level and, with variants
// merged, at product-code level, and gathers the fallbacks. Fails as mine_frequent_itemsets does,
// and with kInvalidArgument when a basket names an article outside the catalog.
Result<CompleteTheLookModel> train_complete_the_look(const BasketSet& baskets,
                                                     CatalogView catalog,
                                                     const TrainOptions& options);

// Where a suggestion came from, best first.
enum class SuggestionSource { kArticleRule, kProductCodeRule, kProductType, kPopular };

struct Suggestion {
    uint32_t article = 0;
    SuggestionSource source = SuggestionSource::kArticleRule;
    // Within a source: for rule sources the shrunk confidence of the best rule that fired,
    // support / (body_count + confidence_prior), which is the confidence pulled towards 0 for
    // rules seen in few baskets (3 of 3 scores below 30 of 40 with a prior of 2); for fallbacks
    // the share of baskets. Suggestions are ranked by source first, then by score, then by lift,
    // then by support, then by article number.
    double score = 0.0;
    double lift = 0.0;
    Count support = 0;
    std::string reason;  // for people: "bought together in 12 baskets; ..."
};

struct RecommendOptions {
    size_t k = 10;
    // Only articles of product groups absent from the cart (a top gets bottoms, shoes...).
    bool other_groups_only = false;
    // Baskets added to every rule's body count when scoring; 0 ranks by plain confidence.
    double confidence_prior = kDefaultConfidencePrior;
    // When set, only these article numbers may be suggested (what is in stock); an empty set
    // allows nothing (nothing in stock), which is not the same as no filter.
    std::optional<std::unordered_set<uint32_t>> allow;
    // Only articles of the catalog file (CatalogView::described): a shop cannot show an article
    // it sold but has no name or photo for. Evaluations leave it off (the hidden article may be
    // one of those).
    bool catalog_only = false;
};

// The top k articles to add to `cart` (article numbers). Never an article of the cart nor one
// sharing a product code with a cart article. Article rules whose whole body is in the cart come
// first; then product-code rules, articles bought with the cart's product types, and best
// sellers, so the answer is only short when filters leave too few articles. kInvalidArgument for
// an article number outside the catalog or an empty cart.
Result<std::vector<Suggestion>> complete_the_look(const CompleteTheLookModel& model,
                                                  std::span<const uint32_t> cart,
                                                  const RecommendOptions& options);

const char* suggestion_source_name(SuggestionSource source);

}  // namespace lookbook::rules
