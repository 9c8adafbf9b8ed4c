// Issue 7: Recommender::recommend ranks with CandidateSource::ranked() and asks explain() for
// the shown articles only. The answer must stay the one of the old path, which took every
// source's candidates() (each with its reason) and blended them.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "lookbook/data/ingest.hpp"
#include "lookbook/recommend/models.hpp"
#include "lookbook/recommend/precompute.hpp"
#include "lookbook/recommend/recommender.hpp"
#include "lookbook/recommend/sources.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/util/date.hpp"
#include "store_fixture.hpp"

namespace lookbook {
namespace {

// 120 articles of 6 types in 3 groups, 80 customers of every age band, 1,500 purchases over
// two months (random but seeded), so every source has real lists to blend.
class ReasonsOnDemand : public testing::HandMadeStore {
  protected:
    static constexpr int32_t kFirstDay = 18463;  // 2020-07-20

    std::string articles() const override {
        const char* types[] = {"Top", "Shirt", "Trousers", "Shorts", "Dress", "Socks"};
        const char* groups[] = {"Garment Upper body", "Garment Lower body", "Garment Full body"};
        std::string out =
            "article_id,product_code,prod_name,product_type_name,product_group_name\n";
        for (int i = 0; i < 120; ++i) {
            out += fmt::format("{:010d},{},Item {},{},{}\n",
                               1000 + i,
                               1000 + i,
                               i,
                               types[i % 6],
                               groups[(i % 6) / 2]);
        }
        return out;
    }
    std::string customers() const override {
        std::string out = "customer_id,age\n";
        for (int c = 0; c < 80; ++c) {
            out += fmt::format("c{},{}\n", c, 18 + (c * 7) % 60);
        }
        return out;
    }
    std::string transactions() const override {
        std::string out = "t_dat,customer_id,article_id,price,sales_channel_id\n";
        std::mt19937 random(7);
        for (int t = 0; t < 1500; ++t) {
            // Customers favour a slice of the catalog, so co-purchases mean something.
            const int c = static_cast<int>(random() % 80);
            const int article = (c * 3 + static_cast<int>(random() % 30)) % 120;
            out += fmt::format("{},c{},{:010d},0.02,1\n",
                               format_iso_date(kFirstDay + static_cast<int>(random() % 60)),
                               c,
                               1000 + article);
        }
        return out;
    }

    void SetUp() override {
        HandMadeStore::SetUp();
        if (HasFatalFailure()) {
            return;
        }
        TrainSettings settings;
        settings.als.factors = 8;
        settings.als.iterations = 5;
        const int32_t as_of = kFirstDay + 60;
        models_ = std::make_shared<const TrainedModels>(
            train_models(interaction_log_from_store(*store_, as_of), as_of, settings));
        // Random unit content vectors; every tenth article has none.
        std::mt19937 random(11);
        auto vectors = std::make_shared<ContentVectors>();
        vectors->dim = 8;
        vectors->data.assign(120 * 8, 0.0f);
        vectors->present.assign(120, 0);
        std::normal_distribution<float> normal;
        for (uint32_t a = 0; a < 120; ++a) {
            if (a % 10 == 3) {
                continue;
            }
            float norm = 0;
            for (int d = 0; d < 8; ++d) {
                float& v = vectors->data[a * 8 + d];
                v = normal(random);
                norm += v * v;
            }
            for (int d = 0; d < 8; ++d) {
                vectors->data[a * 8 + d] /= std::sqrt(norm);
            }
            vectors->present[a] = 1;
        }
        vectors_ = vectors;
    }

    // The old path: every source's candidates(), reasons included, then the blend.
    static std::vector<Recommendation> old_answer(const Recommender& recommender,
                                                  uint32_t customer,
                                                  std::span<const Interaction> live,
                                                  const RecommendOptions& options) {
        const int32_t today = options.today != 0 ? options.today : recommender.default_today();
        std::vector<Interaction> history = recommender.history(customer, today, live);
        CustomerContext context{customer, today, history};
        std::vector<std::string> names = recommender.source_names();
        std::vector<std::vector<Candidate>> lists;
        for (const std::string& name : names) {
            auto weight = recommender.weights().find(name);
            bool used = (weight != recommender.weights().end() && weight->second > 0.0f) ||
                        (options.fill_with_trending && name == "trending");
            lists.push_back(
                used ? recommender.source(name)->candidates(context, options.candidates_per_source)
                     : std::vector<Candidate>());
        }
        std::vector<uint32_t> bought = history_articles(context, true);
        return blend_candidates(
            lists, names, recommender.weights(), bought, recommender.catalog(), options);
    }

    void expect_same(const std::vector<Recommendation>& got,
                     const std::vector<Recommendation>& want,
                     const std::string& what) {
        ASSERT_EQ(got.size(), want.size()) << what;
        for (size_t pos = 0; pos < got.size(); ++pos) {
            EXPECT_EQ(got[pos].article, want[pos].article) << what << " pos " << pos;
            EXPECT_NEAR(got[pos].score, want[pos].score, 1e-5) << what << " pos " << pos;
            EXPECT_EQ(got[pos].source, want[pos].source) << what << " pos " << pos;
            EXPECT_EQ(got[pos].reason, want[pos].reason) << what << " pos " << pos;
            EXPECT_EQ(got[pos].because_of, want[pos].because_of) << what << " pos " << pos;
        }
    }

    std::shared_ptr<const TrainedModels> models_;
    std::shared_ptr<const ContentVectors> vectors_;
};

TEST_F(ReasonsOnDemand, EveryCustomerGetsTheOldAnswerWithTheSameReasons) {
    Recommender recommender(*store_, models_, vectors_);
    // Every source weighs something, so each one's reasons are exercised.
    for (const std::string& name : recommender.source_names()) {
        recommender.set_weight(name, 0.5f + static_cast<float>(name.size() % 3) * 0.25f);
    }
    RecommendOptions options;
    std::set<std::string> sources_seen;
    for (uint32_t customer = 0; customer < store_->customers().size(); ++customer) {
        auto got = recommender.recommend(customer, {}, options);
        expect_same(
            got, old_answer(recommender, customer, {}, options), fmt::format("c{}", customer));
        for (const Recommendation& r : got) {
            sources_seen.insert(r.source);
            EXPECT_FALSE(r.reason.empty()) << r.source;
        }
    }
    // Most sources won places above; each source's explain() is also checked on its own whole
    // list against candidates(), since the blend may never show one of them.
    EXPECT_GE(sources_seen.size(), 3u);
    const int32_t today = recommender.default_today();
    for (uint32_t customer = 0; customer < store_->customers().size(); customer += 7) {
        std::vector<Interaction> history = recommender.history(customer, today, {});
        CustomerContext context{customer, today, history};
        for (const std::string& name : recommender.source_names()) {
            const CandidateSource* source = recommender.source(name);
            std::vector<Candidate> lazy = source->ranked(context, 100);
            std::vector<Candidate> eager = source->candidates(context, 100);
            ASSERT_EQ(lazy.size(), eager.size()) << name;
            for (size_t pos = 0; pos < lazy.size(); ++pos) {
                source->explain(context, &lazy[pos]);
                EXPECT_EQ(lazy[pos].article, eager[pos].article) << name;
                EXPECT_EQ(lazy[pos].reason, eager[pos].reason) << name;
                EXPECT_EQ(lazy[pos].because_of, eager[pos].because_of) << name;
                EXPECT_FALSE(eager[pos].reason.empty()) << name;
            }
        }
    }
}

TEST_F(ReasonsOnDemand, LiveEventsFiltersAndTheTrendingFillGiveTheOldAnswer) {
    Recommender recommender(*store_, models_, vectors_);
    const int32_t today = recommender.default_today();
    std::vector<Interaction> live = {{5, today - 1, Interaction::Kind::kView},
                                     {77, today, Interaction::Kind::kPurchase},
                                     {5, today, Interaction::Kind::kPurchase}};
    RecommendOptions filtered;
    filtered.k = 20;
    filtered.product_groups = {"Garment Lower body"};
    filtered.max_per_product_type = 2;
    filtered.out_of_stock = {1, 2, 3, 40};
    RecommendOptions trending_only;  // a blend of trending 0: the list is all fill
    for (uint32_t customer : {0u, 17u, 55u, kNoRow}) {
        const std::string what = fmt::format("customer {}", customer);
        expect_same(recommender.recommend(customer, live, filtered),
                    old_answer(recommender, customer, live, filtered),
                    what + " filtered");
        expect_same(recommender.recommend(customer, live, RecommendOptions{}),
                    old_answer(recommender, customer, live, RecommendOptions{}),
                    what + " live");
    }
    for (const std::string& name : recommender.source_names()) {
        recommender.set_weight(name, name == "item_item" ? 1.0f : 0.0f);
    }
    auto fill = recommender.recommend(kNoRow, {}, trending_only);
    expect_same(fill, old_answer(recommender, kNoRow, {}, trending_only), "fill");
    ASSERT_FALSE(fill.empty());
    EXPECT_EQ(fill[0].source, "trending");
    EXPECT_EQ(fill[0].reason, "popular this week");
}

// Issue 7: when repurchase outweighs every other source, the history's own sources can settle
// the answer before the dearer ones are asked. The answer must be the one of every source.
TEST_F(ReasonsOnDemand, AnswersSettledFromTheHistoryAreTheAnswersOfEverySource) {
    Recommender recommender(*store_, models_, vectors_);
    for (const std::string& name : recommender.source_names()) {
        recommender.set_weight(name, name == "repurchase" ? 4.0f : 0.5f);
    }
    recommender.set_weight("profile", 0.1f);
    RecommendOptions diverse;
    diverse.max_per_product_type = 1;
    RecommendOptions upper;
    upper.product_groups = {"Garment Upper body"};
    uint64_t compared = 0;
    for (float trending : {0.0f, 0.3f}) {
        recommender.set_weight("trending", trending);
        for (size_t k : {1u, 3u, 5u, 12u}) {
            for (RecommendOptions options : {RecommendOptions{}, diverse, upper}) {
                options.k = k;
                RecommendOptions every_source = options;
                every_source.settle_from_history = false;
                for (uint32_t customer = 0; customer < store_->customers().size(); ++customer) {
                    const std::string what = fmt::format("c{} k {} trending {} types {} groups {}",
                                                         customer,
                                                         k,
                                                         trending,
                                                         options.max_per_product_type,
                                                         options.product_groups.size());
                    auto got = recommender.recommend(customer, {}, options);
                    expect_same(got, recommender.recommend(customer, {}, every_source), what);
                    expect_same(got, old_answer(recommender, customer, {}, options), what);
                    ++compared;
                }
            }
        }
    }
    // Both paths were taken (1,364 of the 1,920 answers settled from the history when written).
    const uint64_t settled = recommender.answers_settled_from_history();
    EXPECT_GT(settled, compared / 10) << "of " << compared;
    EXPECT_LT(settled, compared - compared / 10) << "of " << compared;
    // Break-it review: an article the customer only viewed is a repurchase candidate that the
    // other sources still add to (only bought articles are left to repurchase), so live views
    // must not let the history settle an answer that they could change.
    const int32_t today = recommender.default_today();
    recommender.set_weight("trending", 0.0f);
    // Like the two-tower model, a source that leaves the history in its lists (the others here
    // skip what the customer bought or viewed).
    class EveryArticle : public CandidateSource {
      public:
        std::string_view name() const override { return "every_article"; }
        std::vector<Candidate> candidates(const CustomerContext&, size_t k) const override {
            std::vector<Candidate> out;
            for (uint32_t a = 0; a < std::min<size_t>(k, 120); ++a) {
                out.push_back({a, 1.0f / (1.0f + static_cast<float>(a % 13)), kNoRow, "any"});
            }
            std::stable_sort(out.begin(), out.end(), [](const Candidate& x, const Candidate& y) {
                return x.score > y.score;
            });
            return out;
        }
    };
    recommender.add_source(std::make_shared<EveryArticle>(), 0.5f);
    for (uint32_t customer = 0; customer < store_->customers().size(); ++customer) {
        std::vector<Interaction> history = recommender.history(customer, today, {});
        for (uint32_t viewed = 0; viewed < 120; viewed += 7) {
            // Viewed often enough to lead the repurchase list (a view counts half a purchase).
            std::vector<Interaction> live(8, {viewed, today, Interaction::Kind::kView});
            if (!history.empty()) {
                live.push_back({history.back().article, today, Interaction::Kind::kView});
            }
            for (size_t k : {1u, 3u}) {
                RecommendOptions options;
                options.k = k;
                RecommendOptions every_source = options;
                every_source.settle_from_history = false;
                expect_same(recommender.recommend(customer, live, options),
                            recommender.recommend(customer, live, every_source),
                            fmt::format("c{} viewing {} k {}", customer, viewed, k));
            }
        }
    }
    // A live purchase is history too: bought today, it can be shown again at once.
    std::vector<Interaction> live = {{9, today, Interaction::Kind::kPurchase}};
    RecommendOptions one;
    one.k = 1;
    RecommendOptions one_every = one;
    one_every.settle_from_history = false;
    expect_same(recommender.recommend(kNoRow, live, one),
                recommender.recommend(kNoRow, live, one_every),
                "new customer with a live purchase");
    // With repurchase weighing no more than the others together nothing is settled early.
    recommender.set_weight("repurchase", 1.0f);
    const uint64_t before = recommender.answers_settled_from_history();
    for (uint32_t customer = 0; customer < store_->customers().size(); ++customer) {
        recommender.recommend(customer, {}, one);
    }
    EXPECT_EQ(recommender.answers_settled_from_history(), before);
}

// Issue 7: the model sources' lists computed ahead (Recommender::precompute) stand in for their
// searches when a customer of the store has no live events. The answer must be the one asking
// the sources gives, and any answer the lists do not describe must ask the sources.
TEST_F(ReasonsOnDemand, ListsComputedAheadGiveTheAnswersOfAskingTheSources) {
    auto recommender = std::make_shared<Recommender>(*store_, models_, vectors_);
    for (const std::string& name : recommender->source_names()) {
        recommender->set_weight(name, name == "repurchase" ? 4.0f : 0.5f);
    }
    recommender->set_weight("profile", 0.1f);
    recommender->set_weight("trending", 0.3f);
    const uint32_t customers = store_->customers().size();
    const int32_t today = recommender->default_today();

    // The latest buyers first, every customer with a purchase once: against a brute force.
    std::vector<std::pair<int32_t, uint32_t>> last;
    for (uint32_t c = 0; c < customers; ++c) {
        std::vector<Interaction> history = recommender->history(c, today + 1000, {});
        if (!history.empty()) {
            int32_t latest = history.front().day;
            for (const Interaction& event : history) {
                latest = std::max(latest, event.day);
            }
            last.emplace_back(-latest, c);
        }
    }
    std::sort(last.begin(), last.end());
    ASSERT_GT(last.size(), 60u);
    std::vector<uint32_t> order = recommender->customers_by_last_purchase(1000);
    ASSERT_EQ(order.size(), last.size());
    for (size_t i = 0; i < order.size(); ++i) {
        EXPECT_EQ(order[i], last[i].second) << "position " << i;
    }
    EXPECT_EQ(recommender->customers_by_last_purchase(5),
              std::vector<uint32_t>(order.begin(), order.begin() + 5));

    // Every customer but the last ten of that order gets lists, so both kinds are compared.
    order.resize(order.size() - 10);
    ListPrecomputer precomputer(recommender, order, customers);
    precomputer.wait();
    const PrecomputedLists& lists = precomputer.lists();
    EXPECT_EQ(lists.ready(), order.size());
    EXPECT_EQ(lists.find(last.back().second), nullptr);
    EXPECT_EQ(lists.find(customers + 5), nullptr);
    const CustomerLists* first = lists.find(order.front());
    ASSERT_NE(first, nullptr);
    // ALS, profile and item-to-item weigh more than 0 here; repurchase and trending are not kept.
    EXPECT_EQ(first->sources.size(), 3u);
    EXPECT_EQ(first->asked, 100u);

    RecommendOptions diverse;
    diverse.max_per_product_type = 1;
    RecommendOptions upper;
    upper.product_groups = {"Garment Upper body"};
    RecommendOptions every_source;
    every_source.settle_from_history = false;
    uint64_t compared = 0;
    for (size_t k : {1u, 5u, 12u, 100u}) {
        for (RecommendOptions options : {RecommendOptions{}, diverse, upper, every_source}) {
            options.k = k;
            RecommendOptions ahead = options;
            ahead.precomputed = &lists;
            for (uint32_t customer = 0; customer < customers; ++customer) {
                expect_same(recommender->recommend(customer, {}, ahead),
                            recommender->recommend(customer, {}, options),
                            fmt::format("c{} k {} types {} groups {} settle {}",
                                        customer,
                                        k,
                                        options.max_per_product_type,
                                        options.product_groups.size(),
                                        options.settle_from_history));
                ++compared;
            }
        }
    }
    const uint64_t used = recommender->answers_from_precomputed();
    EXPECT_GT(used, compared / 2) << "of " << compared;
    EXPECT_LT(used, compared) << "of " << compared;

    // More candidates than were computed ahead: the sources are asked.
    RecommendOptions long_list;
    long_list.k = 150;
    RecommendOptions long_ahead = long_list;
    long_ahead.precomputed = &lists;
    for (uint32_t customer : order) {
        expect_same(recommender->recommend(customer, {}, long_ahead),
                    recommender->recommend(customer, {}, long_list),
                    fmt::format("c{} k 150", customer));
    }
    // Live events change the history the lists were computed from.
    RecommendOptions ahead;
    ahead.precomputed = &lists;
    for (uint32_t customer : order) {
        std::vector<Interaction> live = {{(customer * 7) % 120, today, Interaction::Kind::kView},
                                         {(customer * 11) % 120, today, Interaction::Kind::kView}};
        expect_same(recommender->recommend(customer, live, ahead),
                    recommender->recommend(customer, live, RecommendOptions{}),
                    fmt::format("c{} with live views", customer));
    }
    // Another day than the one the lists were computed for.
    RecommendOptions later = ahead;
    later.today = today + 30;
    RecommendOptions later_asked;
    later_asked.today = today + 30;
    for (uint32_t customer : order) {
        expect_same(recommender->recommend(customer, {}, later),
                    recommender->recommend(customer, {}, later_asked),
                    fmt::format("c{} 30 days later", customer));
    }
    EXPECT_EQ(recommender->answers_from_precomputed(), used);

    // A source replaced after the lists were computed is asked, not its old lists used.
    class Reversed : public CandidateSource {
      public:
        std::string_view name() const override { return "als"; }
        std::vector<Candidate> candidates(const CustomerContext&, size_t k) const override {
            std::vector<Candidate> out;
            for (uint32_t a = 0; a < std::min<size_t>(k, 120); ++a) {
                out.push_back({119 - a, 1.0f / (1.0f + static_cast<float>(a)), kNoRow, "any"});
            }
            return out;
        }
    };
    // Lists are the recommender's own: another one, even on the same models, asks its sources.
    Recommender other(*store_, models_, vectors_);
    for (const std::string& name : other.source_names()) {
        other.set_weight(name, recommender->weights().at(name));
    }
    for (uint32_t customer : order) {
        expect_same(other.recommend(customer, {}, ahead),
                    recommender->recommend(customer, {}, RecommendOptions{}),
                    fmt::format("c{} from another recommender", customer));
    }
    EXPECT_EQ(other.answers_from_precomputed(), 0u);
    recommender->add_source(std::make_shared<Reversed>(), 0.5f);
    for (uint32_t customer : order) {
        expect_same(recommender->recommend(customer, {}, ahead),
                    recommender->recommend(customer, {}, RecommendOptions{}),
                    fmt::format("c{} with a new als source", customer));
    }
}

// Destroying a precomputer stops its thread wherever it is; lists already set stay readable
// until then and nothing leaks (the sanitizer build checks).
TEST_F(ReasonsOnDemand, APrecomputerStopsWhenDestroyed) {
    auto recommender = std::make_shared<const Recommender>(*store_, models_, vectors_);
    std::vector<uint32_t> order = recommender->customers_by_last_purchase(1000);
    for (int round = 0; round < 20; ++round) {
        ListPrecomputer precomputer(recommender, order, store_->customers().size());
        EXPECT_LE(precomputer.lists().ready(), order.size());
    }
    ListPrecomputer none(recommender, {}, store_->customers().size());
    none.wait();
    EXPECT_EQ(none.lists().ready(), 0u);
}

}  // namespace
}  // namespace lookbook
