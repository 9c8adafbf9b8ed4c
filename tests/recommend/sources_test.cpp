#include "lookbook/recommend/sources.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "lookbook/recommend/interactions.hpp"
#include "lookbook/recommend/neighbours.hpp"
#include "lookbook/util/date.hpp"
#include "store_fixture.hpp"

namespace lookbook {
namespace {

using SourcesTest = testing::HandMadeStore;

const int32_t kTestStart = days_from_civil(2020, 9, 16);

TEST(AgeBand, SplitsAtTheDocumentedBoundaries) {
    EXPECT_EQ(age_band(16), 0);
    EXPECT_EQ(age_band(24.9f), 0);
    EXPECT_EQ(age_band(25), 1);
    EXPECT_EQ(age_band(44), 2);
    EXPECT_EQ(age_band(54), 3);
    EXPECT_EQ(age_band(55), 4);
    EXPECT_EQ(age_band(NAN), kAgeUnknown);
    EXPECT_STREQ(age_band_name(1), "25-34");
    EXPECT_STREQ(age_band_name(kAgeUnknown), "unknown");
}

TEST_F(SourcesTest, TrendingRanksByTheCustomersAgeBandAndNamesIt) {
    InteractionLog log = interaction_log_from_store(*store_, kTestStart);
    auto model = std::make_shared<const TrendingModel>(fit_trending(log, kTestStart, 7.0f));
    // Band 16-24 (c1): P on 09-10 weighs 0.5^(5/7) = 0.61, A on 09-01 0.5^(14/7) = 0.25.
    EXPECT_NEAR(model->by_band[0][article("1002")], std::pow(0.5, 5.0 / 7.0), 1e-5);
    EXPECT_NEAR(model->by_band[0][article("1001")], 0.25, 1e-5);
    // Overall, P sold three times (09-10 twice, 09-11 once).
    EXPECT_NEAR(model->overall[article("1002")],
                2 * std::pow(0.5, 5.0 / 7.0) + std::pow(0.5, 4.0 / 7.0),
                1e-5);

    std::vector<uint8_t> bands;
    for (uint32_t c = 0; c < store_->customers().size(); ++c) {
        bands.push_back(age_band(store_->customers().age(c)));
    }
    TrendingSource trending(model, bands);
    // c3 (30) is alone in 25-34 with P, Q and R on the same day: ties broken by the overall
    // popularity (P 3 sales, Q 2, R 1). c1 (20) gets P then A, named for 16-24.
    auto young = trending.candidates({customer("c1"), kTestStart, {}}, 3);
    ASSERT_GE(young.size(), 2u);
    EXPECT_EQ(young[0].article, article("1002"));
    EXPECT_EQ(young[1].article, article("1001"));
    EXPECT_EQ(young[0].reason, "popular with customers aged 16-24 this week");
    auto thirties = trending.candidates({customer("c3"), kTestStart, {}}, 3);
    ASSERT_EQ(thirties.size(), 3u);
    EXPECT_EQ(thirties[0].article, article("1002"));
    EXPECT_EQ(thirties[1].article, article("1003"));
    EXPECT_EQ(thirties[2].article, article("1004"));
    // c4 (60): nobody of 55+ bought before the test, so the overall list, named as such.
    auto older = trending.candidates({customer("c4"), kTestStart, {}}, 1);
    ASSERT_EQ(older.size(), 1u);
    EXPECT_EQ(older[0].article, article("1002"));
    EXPECT_EQ(older[0].reason, "popular this week");
}

TEST(ItemNeighbours, CosineMatchesABruteForceCount) {
    // 4 customers x 4 items; cosine(i, j) = both / sqrt(n_i * n_j).
    std::vector<uint32_t> users = {0, 0, 1, 1, 1, 2, 2, 3};
    std::vector<uint32_t> items = {0, 1, 0, 1, 2, 1, 3, 2};
    std::vector<float> ones(users.size(), 1.0f);
    SparseMatrix counts = sparse_from_triples(4, 4, users, items, ones);
    ItemNeighbours model = fit_item_neighbours(counts, 0, 0.0f);
    for (uint32_t i = 0; i < 4; ++i) {
        for (uint32_t j = 0; j < 4; ++j) {
            if (i == j) {
                continue;
            }
            int both = 0, n_i = 0, n_j = 0;
            for (uint32_t u = 0; u < 4; ++u) {
                bool has_i = false, has_j = false;
                for (size_t k = 0; k < users.size(); ++k) {
                    has_i |= users[k] == u && items[k] == i;
                    has_j |= users[k] == u && items[k] == j;
                }
                both += has_i && has_j;
                n_i += has_i;
                n_j += has_j;
            }
            float expected = both == 0 ? 0.0f : both / std::sqrt(float(n_i * n_j));
            float found = 0.0f;
            for (size_t pos = 0; pos < model.neighbours(i).size(); ++pos) {
                if (model.neighbours(i)[pos] == j) {
                    found = model.neighbour_similarities(i)[pos];
                }
            }
            EXPECT_NEAR(found, expected, 1e-6) << i << " ~ " << j;
        }
    }
    // Item 1's best neighbour is item 0 (2 / sqrt(2 * 3)) before items 2 and 3.
    EXPECT_EQ(model.neighbours(1)[0], 0u);
}

TEST_F(SourcesTest, RepurchaseFollowsALiveEventAtOnce) {
    RepurchaseSource repurchase{ArticleNamer(&store_->articles())};
    std::vector<Interaction> history = history_from_store(*store_, customer("c4"), kTestStart);
    EXPECT_TRUE(repurchase.candidates({customer("c4"), kTestStart, history}, 5).empty());
    history.push_back({article("1005"), kTestStart, Interaction::Kind::kPurchase});
    auto after = repurchase.candidates({customer("c4"), kTestStart, history}, 5);
    ASSERT_EQ(after.size(), 1u);
    EXPECT_EQ(after[0].article, article("1005"));
    EXPECT_EQ(after[0].reason, "buy again: you bought Dress X on 2020-09-16");
}

TEST_F(SourcesTest, RepurchaseCallsAViewedOnlyArticleViewedNotBought) {
    // Found by the break-it review: an article the customer only looked at was explained as
    // "buy again: you bought ...". Views still weigh in, with a reason that says what happened.
    RepurchaseSource repurchase{ArticleNamer(&store_->articles())};
    std::vector<Interaction> history = history_from_store(*store_, customer("c4"), kTestStart);
    history.push_back({article("1005"), kTestStart - 3, Interaction::Kind::kView});
    history.push_back({article("1005"), kTestStart - 2, Interaction::Kind::kView});
    auto viewed = repurchase.candidates({customer("c4"), kTestStart, history}, 5);
    ASSERT_EQ(viewed.size(), 1u);
    EXPECT_EQ(viewed[0].reason, "you looked at Dress X on 2020-09-14");
    // Bought after the views: the purchase is what the reason names, with its own day.
    history.push_back({article("1005"), kTestStart - 5, Interaction::Kind::kPurchase});
    auto bought = repurchase.candidates({customer("c4"), kTestStart, history}, 5);
    ASSERT_EQ(bought.size(), 1u);
    EXPECT_EQ(bought[0].reason, "buy again: you bought Dress X on 2020-09-11");
}

TEST_F(SourcesTest, ItemToItemNamesTheArticleThatLedToTheSuggestion) {
    InteractionLog log = interaction_log_from_store(*store_, kTestStart);
    auto model = std::make_shared<const ItemNeighbours>(
        fit_item_neighbours(customer_article_counts(log), 10, 0.0f));
    ItemNeighbourSource source(model, ArticleNamer(&store_->articles()));
    // A new customer who just bought R: R's only co-buyer c3 also bought P and Q.
    std::vector<Interaction> history = {{article("1004"), kTestStart - 1}};
    auto found = source.candidates({kNoRow, kTestStart, history}, 5);
    ASSERT_EQ(found.size(), 2u);
    for (const Candidate& c : found) {
        EXPECT_NE(c.article, article("1004"));
        EXPECT_EQ(c.because_of, article("1004"));
        EXPECT_EQ(c.reason, "customers who bought Chinos R also bought this");
    }
    // Found by the break-it review: an article only looked at was also "customers who bought".
    std::vector<Interaction> viewed = {{article("1004"), kTestStart - 1, Interaction::Kind::kView}};
    auto from_view = source.candidates({kNoRow, kTestStart, viewed}, 5);
    ASSERT_EQ(from_view.size(), 2u);
    EXPECT_EQ(from_view[0].reason,
              "you looked at Chinos R: customers who bought it also bought this");
}

// Articles without a name: with a product type (singular, plural, starting with a vowel), with
// the type "Unknown", and one known only from sales.
class UnnamedArticlesTest : public testing::HandMadeStore {
  protected:
    std::string articles() const override {
        return std::string(testing::kArticles) +
               "1007,1007,,Sweater,Garment Upper body\n"
               "1008,1008,,Unknown,Unknown\n"
               "1010,1010,,Umbrella,Accessories\n"
               "1011,1011,,Shorts,Garment Lower body\n"
               "1012,1012,,Dress,Garment Full body\n";
    }
    std::string transactions() const override {
        return std::string(testing::kTransactions) + "2020-09-12,c4,1009,0.02,1\n";
    }
};

// Found by a fresh-user trial: 71 of 1,200 reasons for 100 H&M customers read "because you
// bought 0841434001", an article missing from the articles file.
TEST_F(UnnamedArticlesTest, NamerFallsBackToTheTypeNeverToTheId) {
    ArticleNamer namer(&store_->articles());
    EXPECT_EQ(namer(article("1001")), "Strap top A");
    EXPECT_EQ(namer(article("1007")), "a sweater");
    EXPECT_EQ(namer(article("1010")), "an umbrella");
    EXPECT_EQ(namer(article("1011")), "shorts");
    EXPECT_EQ(namer(article("1012")), "a dress");
    EXPECT_EQ(namer(article("1008")), std::nullopt);
    ASSERT_FALSE(store_->articles().has_metadata(article("1009")));
    EXPECT_EQ(namer(article("1009")), std::nullopt);
    EXPECT_EQ(namer.name_or(article("1009"), "this"), "this");
    // Without a table (MovieLens) the number is all there is.
    EXPECT_EQ(ArticleNamer()(7), "item 7");
}

TEST_F(UnnamedArticlesTest, ReasonsUseANeutralWordingForAnUnnamedArticle) {
    RepurchaseSource repurchase{ArticleNamer(&store_->articles())};
    std::vector<Interaction> history = {{article("1009"), kTestStart - 2}};
    auto again = repurchase.candidates({customer("c4"), kTestStart, history}, 5);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].reason, "buy again: you bought this on 2020-09-14");
    EXPECT_EQ(again[0].because_of, article("1009"));

    InteractionLog log = interaction_log_from_store(*store_, kTestStart);
    auto model = std::make_shared<const ItemNeighbours>(
        fit_item_neighbours(customer_article_counts(log), 10, 0.0f));
    ItemNeighbourSource neighbours(model, ArticleNamer(&store_->articles()));
    Candidate bought{.article = article("1002"), .because_of = article("1009")};
    neighbours.explain({kNoRow, kTestStart, history}, &bought);
    EXPECT_EQ(bought.reason, "customers who bought one of your past purchases also bought this");
    std::vector<Interaction> viewed = {{article("1009"), kTestStart - 1, Interaction::Kind::kView}};
    Candidate looked{.article = article("1002"), .because_of = article("1009")};
    neighbours.explain({kNoRow, kTestStart, viewed}, &looked);
    EXPECT_EQ(looked.reason, "customers who bought an article you looked at also bought this");
    // With a type, the type names it.
    std::vector<Interaction> sweater = {{article("1007"), kTestStart - 1}};
    Candidate typed{.article = article("1002"), .because_of = article("1007")};
    neighbours.explain({kNoRow, kTestStart, sweater}, &typed);
    EXPECT_EQ(typed.reason, "customers who bought a sweater also bought this");
}

TEST(TopScores, KeepsTheBestPositiveScoresAndSkipsListedArticles) {
    std::vector<float> scores = {0.5f, 0.0f, 0.9f, 0.9f, -1.0f, 0.7f};
    std::vector<uint32_t> skip = {3};
    auto top = top_scores(scores, 3, skip);
    ASSERT_EQ(top.size(), 3u);
    EXPECT_EQ(top[0].first, 2u);
    EXPECT_EQ(top[1].first, 5u);
    EXPECT_EQ(top[2].first, 0u);
}

TEST(WeighHistory, HalvesTheWeightEveryHalfLifeAndCountsViewsLess) {
    std::vector<Interaction> events = {{7, 89, Interaction::Kind::kPurchase},
                                       {7, 99, Interaction::Kind::kPurchase},
                                       {8, 99, Interaction::Kind::kView}};
    auto weighted = weigh_history({kNoRow, 100, events}, 10.0f, 0.5f);
    ASSERT_EQ(weighted.size(), 2u);
    EXPECT_EQ(weighted[0].article, 7u);
    EXPECT_NEAR(weighted[0].weight, 1.5f, 1e-6);  // 1 (yesterday) + 0.5 (ten days before)
    EXPECT_NEAR(weighted[1].weight, 0.5f, 1e-6);
    EXPECT_EQ(weighted[0].count, 2.0f);
}

TEST(WeighHistory, SumsEachArticleInHistoryOrderAsAMapWould) {
    // The reference: an ordered map from article to sums, filled walking the history, then
    // heaviest first with ties to the lower article.
    auto reference = [](std::span<const Interaction> history, int32_t today, float half_life) {
        std::map<uint32_t, WeightedArticle> sums;
        const double decay = std::log(2.0) / half_life;
        for (const Interaction& event : history) {
            auto [it, added] =
                sums.try_emplace(event.article, WeightedArticle{event.article, 0, 0, event.day});
            const int32_t age = std::max(0, today - 1 - event.day);
            const float kind = event.kind == Interaction::Kind::kView ? 0.5f : 1.0f;
            it->second.weight += kind * static_cast<float>(std::exp(-decay * age));
            it->second.count += kind;
            it->second.last_day = std::max(it->second.last_day, event.day);
        }
        std::vector<WeightedArticle> out;
        for (const auto& [article, entry] : sums) {
            out.push_back(entry);
        }
        std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
            return a.weight > b.weight;
        });
        return out;
    };
    std::mt19937 random(5);
    for (int round = 0; round < 2000; ++round) {
        // Few distinct articles (many repeats, equal weights) or many; ids up to 2^32 - 1.
        const uint32_t articles = round % 3 == 0 ? 4 : 400;
        std::vector<Interaction> history(random() % 60);
        for (Interaction& event : history) {
            const uint32_t pick = static_cast<uint32_t>(random() % articles);
            event.article = round % 5 == 0 ? 0xFFFFFFFFu - pick : pick;
            event.day = 18000 + static_cast<int32_t>(random() % 90);  // some after "today"
            event.kind =
                random() % 4 == 0 ? Interaction::Kind::kView : Interaction::Kind::kPurchase;
        }
        const int32_t today = 18080;
        const auto got = weigh_history({kNoRow, today, history}, 30.0f, 0.5f);
        const auto want = reference(history, today, 30.0f);
        ASSERT_EQ(got.size(), want.size());
        for (size_t pos = 0; pos < got.size(); ++pos) {
            ASSERT_EQ(got[pos].article, want[pos].article) << round << " " << pos;
            ASSERT_EQ(got[pos].weight, want[pos].weight) << round << " " << pos;  // bit for bit
            ASSERT_EQ(got[pos].count, want[pos].count);
            ASSERT_EQ(got[pos].last_day, want[pos].last_day);
        }
    }
}

}  // namespace
}  // namespace lookbook
