#include "lookbook/recommend/evaluate.hpp"

#include <string>

#include <gtest/gtest.h>

#include "lookbook/util/date.hpp"
#include "store_fixture.hpp"

namespace lookbook {
namespace {

using EvaluateTest = testing::HandMadeStore;

const nlohmann::json& find_recommender(const nlohmann::json& out, const std::string& name) {
    for (const auto& r : out["recommenders"]) {
        if (r["name"] == name) {
            return r;
        }
    }
    static const nlohmann::json kMissing;
    ADD_FAILURE() << "no recommender " << name;
    return kMissing;
}

EvaluateOptions quick_options() {
    EvaluateOptions options;
    options.test_weeks = 1;
    options.train.als.factors = 4;
    options.train.als.iterations = 3;
    options.tuning_rounds = 1;
    return options;
}

TEST_F(EvaluateTest, ProtocolCountsTheTestCustomersOfTheLastWeeks) {
    auto out = try_evaluate_recommenders(*store_, quick_options());
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    const auto& p = (*out)["protocol"];
    EXPECT_EQ(p["train_end"], "2020-09-15");
    EXPECT_EQ(p["test_start"], "2020-09-16");
    EXPECT_EQ(p["test_end"], "2020-09-22");
    EXPECT_EQ(p["test_weeks"], 1);
    EXPECT_EQ(p["k"], 12);
    // c1, c2 and c4 bought in the test week; c3 did not.
    EXPECT_EQ(p["test_customers"], 3);
    EXPECT_EQ(p["validation_customers"], 3);  // c1, c2, c3 bought on 09-10/11
}

TEST_F(EvaluateTest, BaselinesScoreAsComputedByHand) {
    auto out = try_evaluate_recommenders(*store_, quick_options());
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    // Last week's best sellers: [P, Q, R]. c1 wants A: 0. c2 wants Q at 2: AP 1/2.
    // c4 wants P at 1: AP 1. MAP 1.5 / 3; recall 2/3; MRR (0 + 1/2 + 1) / 3.
    const auto& popularity = find_recommender(*out, "popularity_last_week");
    EXPECT_EQ(popularity["kind"], "baseline");
    EXPECT_NEAR(popularity["map_at_k"].get<double>(), 0.5, 1e-9);
    EXPECT_NEAR(popularity["recall_at_k"].get<double>(), 2.0 / 3, 1e-9);
    EXPECT_NEAR(popularity["hit_rate_at_k"].get<double>(), 2.0 / 3, 1e-9);
    EXPECT_NEAR(popularity["mrr"].get<double>(), 0.5, 1e-9);
    // 3 distinct articles of 6 shown. Ranks before the test: P 1 (3 sales), Q 2 (2), then A and
    // R with one sale each, A first by article order: R is 4th. Mean (1 + 2 + 4) / 3.
    EXPECT_NEAR(popularity["catalog_coverage"].get<double>(), 0.5, 1e-9);
    EXPECT_NEAR(popularity["popularity_rank_mean"].get<double>(), 7.0 / 3, 1e-9);
    // Types Top, Trousers, Trousers: 2 of the 3 pairs differ.
    EXPECT_NEAR(popularity["diversity_product_type"].get<double>(), 2.0 / 3, 1e-9);
    EXPECT_TRUE(popularity["diversity_embedding"].is_null());

    // Own articles most recent first, then best sellers: c1 [P, A, Q, R]: A at 2, AP 1/2;
    // c2 [Q, P, R]: Q at 1, AP 1; c4 (new) [P, Q, R]: AP 1. MAP 2.5 / 3.
    const auto& again = find_recommender(*out, "repurchase_popularity");
    EXPECT_NEAR(again["map_at_k"].get<double>(), 2.5 / 3, 1e-9);

    // Segments: c4 is the only new customer, and the only one aged 55+.
    const auto& segments = popularity["segments"];
    EXPECT_EQ(segments["new"]["customers"], 1);
    EXPECT_NEAR(segments["new"]["map_at_k"].get<double>(), 1.0, 1e-9);
    EXPECT_EQ(segments["returning"]["customers"], 2);
    EXPECT_NEAR(segments["returning"]["map_at_k"].get<double>(), 0.25, 1e-9);
    EXPECT_EQ(segments["age_55+"]["customers"], 1);
    EXPECT_EQ(segments["age_25-34"]["customers"], 0);
    EXPECT_EQ(segments["club_ACTIVE"]["customers"], 2);
    EXPECT_EQ(segments["club_unknown"]["customers"], 1);
}

TEST_F(EvaluateTest, ListsEverySourceTheBlendAndWhatIsNotBuilt) {
    nlohmann::json out = evaluate_recommenders(*store_, quick_options());
    ASSERT_FALSE(out.contains("error")) << out["error"];
    EXPECT_EQ(find_recommender(out, "blend")["kind"], "blend");
    for (const char* source : {"repurchase", "trending", "item_item", "als"}) {
        const auto& r = find_recommender(out, source);
        EXPECT_EQ(r["kind"], "source");
        EXPECT_TRUE(r.contains("map_at_k")) << source;
        EXPECT_EQ(r["segments"].size(), 11u) << source;
    }
    EXPECT_EQ(find_recommender(out, "profile")["status"], "not built");
    EXPECT_EQ(find_recommender(out, "two_tower")["status"], "not built");
    // Repurchase alone: c1 gets A back (after P, bought more recently): AP 1/2; c2 gets Q back
    // after P (same day, Q bought too): Q is in the list; c4 has nothing. MAP (1/2 + 1/2) / 3.
    EXPECT_NEAR(find_recommender(out, "repurchase")["map_at_k"].get<double>(), 1.0 / 3, 1e-9);
    EXPECT_TRUE(out["settings"]["blend_weights"].contains("als"));
    EXPECT_FALSE(out["settings"]["tuning"]["steps"].empty());
}

// Suggests the dress X to everybody, as a stand-in for the two-tower model.
class DressSource : public CandidateSource {
  public:
    explicit DressSource(uint32_t dress) : dress_(dress) {}
    std::string_view name() const override { return "two_tower"; }
    std::vector<Candidate> candidates(const CustomerContext&, size_t) const override {
        return {{dress_, 1.0f, kNoRow, "two-tower"}};
    }

  private:
    uint32_t dress_;
};

TEST_F(EvaluateTest, ExtraSourcesAreBuiltPerTrainingCutAndScored) {
    EvaluateOptions options = quick_options();
    std::vector<std::string> cuts;
    options.two_tower = [&](const Store& store, int32_t train_until) {
        cuts.push_back(format_iso_date(train_until));
        return std::make_shared<DressSource>(*store.articles().find("1005"));
    };
    auto out = try_evaluate_recommenders(*store_, options);
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    // Validation from 09-09, test from 09-16: never trained on the weeks it is scored on.
    EXPECT_EQ(cuts, (std::vector<std::string>{"2020-09-09", "2020-09-16"}));
    const auto& two_tower = find_recommender(*out, "two_tower");
    EXPECT_FALSE(two_tower.contains("status"));
    // Nobody bought the dress in the test week.
    EXPECT_EQ(two_tower["map_at_k"].get<double>(), 0.0);
    EXPECT_NEAR(two_tower["catalog_coverage"].get<double>(), 1.0 / 6, 1e-9);
}

TEST_F(EvaluateTest, RefusesZeroWeeksAndAStoreWithoutSales) {
    EvaluateOptions options = quick_options();
    options.test_weeks = 0;
    auto out = try_evaluate_recommenders(*store_, options);
    ASSERT_FALSE(out.is_ok());
    EXPECT_EQ(out.status().message(), "--weeks is 0; expected at least 1.");
    EXPECT_EQ(evaluate_recommenders(*store_, options)["error"],
              "--weeks is 0; expected at least 1.");
}

// Found by the fresh-user trial: a store shorter than the test weeks was "evaluated" with
// models trained on nothing, every figure 0. Sales run 09-01..09-22: three test weeks start on
// 09-02 and leave one day to train on; four start on 08-26 and leave none.
TEST_F(EvaluateTest, RefusesTestWeeksThatLeaveNothingToTrainOn) {
    EvaluateOptions options = quick_options();
    options.tune = false;
    options.test_weeks = 3;
    EXPECT_TRUE(try_evaluate_recommenders(*store_, options).is_ok());
    options.test_weeks = 4;
    auto out = try_evaluate_recommenders(*store_, options);
    ASSERT_FALSE(out.is_ok());
    EXPECT_EQ(out.status().message(),
              "the store's sales run from 2020-09-01 to 2020-09-22, all inside the 4 test weeks "
              "(from 2020-08-26), so nothing is left to train the models on; lower --weeks or "
              "ingest a longer history.");
    // Found by a fresh-user trial: `lookbook build`, which has no --weeks, said to lower it.
    options.weeks_option = "";
    EXPECT_EQ(try_evaluate_recommenders(*store_, options).status().message(),
              "the store's sales run from 2020-09-01 to 2020-09-22, all inside the 4 test weeks "
              "(from 2020-08-26), so nothing is left to train the models on; ingest a longer "
              "history.");
    options.weeks_option = "--validation-weeks";
    options.test_weeks = 0;
    EXPECT_EQ(try_evaluate_recommenders(*store_, options).status().message(),
              "--validation-weeks is 0; expected at least 1.");
}

class EmptyStoreTest : public testing::HandMadeStore {
  protected:
    std::string transactions() const override {
        return "t_dat,customer_id,article_id,price,sales_channel_id\n";
    }
};

TEST_F(EmptyStoreTest, SaysToIngestTransactions) {
    auto out = try_evaluate_recommenders(*store_, quick_options());
    ASSERT_FALSE(out.is_ok());
    EXPECT_EQ(out.status().message(),
              "the store has no transactions to evaluate on; ingest a transactions file first.");
}

TEST(MeanMetrics, AveragesHandComputedValues) {
    // [a x b] against {a b c} at k 3: AP (1 + 2/3) / 3; recall 2/3; RR 1.
    std::vector<std::vector<uint32_t>> lists = {{1, 9, 2}, {9}};
    std::vector<std::vector<uint32_t>> relevant = {{1, 2, 3}, {4}};
    ListMetrics m = mean_metrics(lists, relevant, 3);
    EXPECT_NEAR(m.map, (1.0 + 2.0 / 3) / 3 / 2, 1e-9);
    EXPECT_NEAR(m.recall, 2.0 / 3 / 2, 1e-9);
    EXPECT_NEAR(m.hit, 0.5, 1e-9);
    EXPECT_NEAR(m.mrr, 0.5, 1e-9);
}

}  // namespace
}  // namespace lookbook
