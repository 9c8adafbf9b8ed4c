#include "lookbook/rules/bought_together_eval.hpp"

#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "../report/fixture_store.hpp"

namespace lookbook::rules {
namespace {

using BoughtTogetherEval = lookbook::testing::ReportFixtureStore;

// The fixture with one test week: training baskets {1 2}, {1}, {1 3} (up to 2020-09-03); test
// baskets {1 2}, {9} and {3 4}. Whichever article is hidden, both baselines rank it first in
// the {1 2} case (1 and 2 were bought together; 1 is the best seller, 2 ties 3 and wins on
// article number) and third in the {3 4} case (4 was never sold, 3 only with 1; lists run 1, 2,
// then the hidden one). So hit@5 = 1 and MRR = (1 + 1/3) / 2 for both.
TEST_F(BoughtTogetherEval, BaselinesMatchHandComputedRanks) {
    BoughtTogetherEvalOptions options;
    options.test_weeks = 1;
    auto evaluation = evaluate_bought_together(*store_, options);
    ASSERT_TRUE(evaluation.is_ok()) << evaluation.status().to_string();
    EXPECT_EQ(evaluation->train_end, "2020-09-03");
    EXPECT_EQ(evaluation->test_start, "2020-09-04");
    EXPECT_EQ(evaluation->test_end, "2020-09-10");
    EXPECT_EQ(evaluation->train_baskets, 3u);
    EXPECT_EQ(evaluation->test_baskets, 3u);
    EXPECT_EQ(evaluation->cases, 2u);
    EXPECT_EQ(evaluation->not_variant_cases, 2u);
    ASSERT_EQ(evaluation->scores.size(), 4u);
    // The recent best sellers are those of all training here: the fixture spans ten days.
    for (size_t idx = 0; idx < 3; ++idx) {
        const BoughtTogetherScore& baseline = evaluation->scores[idx];
        EXPECT_EQ(baseline.kind, "baseline");
        EXPECT_EQ(baseline.all.cases, 2u);
        EXPECT_DOUBLE_EQ(baseline.all.hit_at_5, 1.0) << baseline.name;
        EXPECT_DOUBLE_EQ(baseline.all.hit_at_k, 1.0) << baseline.name;
        EXPECT_NEAR(baseline.all.mrr, (1.0 + 1.0 / 3.0) / 2.0, 1e-12) << baseline.name;
        EXPECT_EQ(baseline.all.hits_at_5, 2u) << baseline.name;
        EXPECT_EQ(baseline.all.hits_at_k, 2u) << baseline.name;
        // Wilson at 2 of 2: the upper end is 1, the lower end z^2 / (n + z^2) below 1.
        EXPECT_NEAR(baseline.all.hit_at_k_low, 2.0 / (2.0 + 3.841459), 1e-6) << baseline.name;
        EXPECT_NEAR(baseline.all.hit_at_k_high, 1.0, 1e-12) << baseline.name;
    }
    EXPECT_EQ(evaluation->scores[0].name, "global_popularity");
    EXPECT_EQ(evaluation->scores[1].name, "pair_cooccurrence");
    EXPECT_EQ(evaluation->scores[2].name, "recent_popularity");
    const BoughtTogetherScore& recommender = evaluation->scores[3];
    EXPECT_EQ(recommender.kind, "recommender");
    EXPECT_EQ(recommender.min_support, 2u);
    EXPECT_EQ(recommender.all.cases, 2u);
    // The paired comparison counts only cases where exactly one of the two hits, and each hit
    // is put down to one source.
    EXPECT_LE(recommender.wins_over_pairs + recommender.losses_to_pairs, 2u);
    EXPECT_EQ(recommender.losses_to_pairs + recommender.all.hits_at_k,
              recommender.wins_over_pairs + evaluation->scores[1].all.hits_at_k);
    size_t by_source = 0;
    for (size_t hits : recommender.hits_by_source) {
        by_source += hits;
    }
    EXPECT_EQ(by_source, recommender.all.hits_at_k);
    // Every list shows at most the 4 articles outside a cart; the store has 5.
    EXPECT_GT(recommender.catalog_coverage, 0.0);
    EXPECT_LE(recommender.catalog_coverage, 1.0);

    nlohmann::json json = to_json(*evaluation);
    EXPECT_EQ(json["protocol"]["cases"], 2);
    EXPECT_EQ(json["scores"][1]["all"]["hit_rate_at_10"], 1.0);
    EXPECT_EQ(json["scores"][1]["all"]["hits_at_10"], 2);
    EXPECT_EQ(json["protocol"]["skipped_last_weeks"], 0);
    EXPECT_EQ(json["settings"]["min_supports"], nlohmann::json::array({2}));
}

// Two test weeks, or one validation week moved back by one skipped week, leave no training day.
TEST_F(BoughtTogetherEval, RefusesWindowsThatLeaveNoTraining) {
    for (auto [test_weeks, skipped] : {std::pair{2, 0}, std::pair{1, 1}}) {
        BoughtTogetherEvalOptions options;
        options.test_weeks = test_weeks;
        options.skip_last_weeks = skipped;
        auto evaluation = evaluate_bought_together(*store_, options);
        ASSERT_FALSE(evaluation.is_ok());
        EXPECT_NE(evaluation.status().message().find(
                      "its transactions span 2020-09-01 to 2020-09-10, leaving nothing before "
                      "the last 2 weeks to train on; evaluate on fewer test weeks"),
                  std::string::npos)
            << evaluation.status().message();
    }
}

// Known values: 0 of 10 gives [0, 0.2775], 5 of 10 gives [0.2366, 0.7634] (Wilson 1927).
TEST(WilsonInterval, MatchesPublishedValues) {
    auto [low0, high0] = wilson_interval(0, 10);
    EXPECT_DOUBLE_EQ(low0, 0.0);
    EXPECT_NEAR(high0, 0.2775, 1e-4);
    auto [low5, high5] = wilson_interval(5, 10);
    EXPECT_NEAR(low5, 0.2366, 1e-4);
    EXPECT_NEAR(high5, 0.7634, 1e-4);
    EXPECT_EQ(wilson_interval(0, 0), std::make_pair(0.0, 0.0));
}

TEST_F(BoughtTogetherEval, RefusesShortLists) {
    BoughtTogetherEvalOptions options;
    options.k = 3;
    auto evaluation = evaluate_bought_together(*store_, options);
    ASSERT_FALSE(evaluation.is_ok());
    EXPECT_EQ(evaluation.status().message(),
              "bought-together evaluation: test weeks 4 and list length 3 must be at least 1 and "
              "5, with at least one support and prior");
}

}  // namespace
}  // namespace lookbook::rules
