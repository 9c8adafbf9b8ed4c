#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "lookbook/rules/basket.hpp"
#include "lookbook/rules/complete_the_look.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/util/status.hpp"

// The offline protocol for "complete the look", shared by bench/rules_eval.cpp and the report:
// baskets (customer, day) before the last `test_weeks` weeks train the model; in every later
// basket of two or more distinct articles one article, chosen at random with a fixed seed, is
// hidden and the rest is the cart. A list of `k` suggestions for the cart is scored on whether
// it finds the hidden article (hit rate@5, @k, reciprocal rank within k), beside three
// baselines: global popularity, raw pair co-occurrence counts and the best sellers of the last
// weeks before the test window.
namespace lookbook::rules {

struct BoughtTogetherEvalOptions {
    int test_weeks = 4;
    // Weeks at the very end left out entirely. Setting it to test_weeks evaluates on the
    // validation window just before the test window: tune there, report on the test weeks.
    int skip_last_weeks = 0;
    uint32_t seed = 20200922;
    size_t k = 10;  // list length; hit@5 uses its first 5
    // Recommender configurations: every support in `min_supports` with every prior.
    std::vector<Count> min_supports = {2};
    std::vector<double> confidence_priors = {kDefaultConfidencePrior};
    // Training settings other than the support (max itemset length, rule floors).
    TrainOptions train = default_train_options();
};

// Hit rates of one list-maker over a set of cases.
struct HitRates {
    size_t cases = 0;
    double hit_at_5 = 0;
    double hit_at_k = 0;
    double mrr = 0;  // reciprocal rank of the hidden article within the first k, 0 when absent
    size_t hits_at_5 = 0;  // the counts behind the rates: a rate of 0.01 on 200 cases is 2 hits
    size_t hits_at_k = 0;
    // 95% Wilson score interval of hit_at_k: with few hits the rate alone says little.
    double hit_at_k_low = 0;
    double hit_at_k_high = 0;
};

// The 95% Wilson score interval of `hits` successes in `cases` trials, as {low, high}; {0, 0}
// for no cases. Exposed for its test.
std::pair<double, double> wilson_interval(size_t hits, size_t cases);

// One row of the evaluation: the recommender at one setting, or a baseline.
struct BoughtTogetherScore {
    // "complete_the_look", "pair_cooccurrence", "global_popularity", "recent_popularity"
    std::string name;
    std::string kind;             // "recommender" or "baseline"
    std::string label;            // for people: "complete the look (support 2, prior 2)"
    Count min_support = 0;        // recommender rows only
    double confidence_prior = 0;  // recommender rows only
    size_t article_rules = 0;     // rules mined on the training baskets (recommender rows)
    size_t product_code_rules = 0;
    double article_rule_share = 0;  // share of suggestions that came from article rules
    // Recommender rows: hits within k by the source of the suggestion that hit (indexed by
    // SuggestionSource), and the cases it finds but pair co-occurrence misses and the reverse
    // (a paired comparison on the same cases: more telling than two rates apart).
    std::array<size_t, 4> hits_by_source{};
    size_t wins_over_pairs = 0;
    size_t losses_to_pairs = 0;
    HitRates all;
    // Cases whose hidden article is not a colour variant of a cart article: the recommender
    // never suggests variants, so these are scored apart.
    HitRates not_variant;
    double catalog_coverage = 0;        // distinct suggested articles / articles in the store
    double popularity_rank_mean = 0;    // mean training-popularity rank (1 = best seller)
    double diversity_product_type = 0;  // mean intra-list diversity, 0/1 on product type
    // TODO: no diversity by embedding distance here — the article embeddings are read by the
    // libtorch-only encoders library, which lookbook_rules must not depend on; the report shows
    // product-type diversity only for bought-together.
};

struct BoughtTogetherEvaluation {
    int test_weeks = 0;
    size_t k = 0;
    std::string train_end;  // ISO dates
    std::string test_start;
    std::string test_end;
    size_t train_baskets = 0;
    size_t test_baskets = 0;  // non-empty test baskets
    size_t cases = 0;         // test baskets of two or more articles (one hidden each)
    size_t not_variant_cases = 0;
    std::vector<BoughtTogetherScore> scores;  // baselines first, then each configuration
    BoughtTogetherEvalOptions options;        // as run, for the report's settings section
    double seconds = 0;
};

// Runs the protocol on the store's transactions. kInvalidArgument for test_weeks < 1, k < 5 or
// no configuration; kInvalidData when the store has no transactions before the test weeks
// (nothing to train on); fails as train_complete_the_look does.
Result<BoughtTogetherEvaluation> evaluate_bought_together(const Store& store,
                                                          const BoughtTogetherEvalOptions& options);

// Every figure, for the report's metrics.json.
nlohmann::json to_json(const BoughtTogetherEvaluation& evaluation);

}  // namespace lookbook::rules
