#include "lookbook/report/data_profile.hpp"

#include <vector>

#include <gtest/gtest.h>

#include "fixture_store.hpp"

namespace lookbook::report {
namespace {

using DataProfileTest = lookbook::testing::ReportFixtureStore;

// Figures worked out by hand from tests/data/report/transactions.csv: 11 rows, 6 baskets of
// 2, 1, 2, 2, 1 and 2 distinct articles; article sales 4, 3, 2, 1 and 1 (the fifth is only in
// the transactions); weeks start 2020-09-01 (6 rows) and 2020-09-08 (5 rows).
TEST_F(DataProfileTest, MatchesHandCountedFixture) {
    DataProfile profile = profile_store(*store_);
    EXPECT_EQ(profile.summary.transactions, 11u);
    EXPECT_EQ(profile.summary.articles, 5u);
    EXPECT_EQ(profile.summary.catalog_articles, 4u);
    EXPECT_EQ(profile.summary.first_date, "2020-09-01");
    EXPECT_EQ(profile.summary.last_date, "2020-09-10");
    EXPECT_EQ(profile.weekly_transactions, (std::vector<uint64_t>{6, 5}));
    EXPECT_EQ(profile.baskets, 6u);
    EXPECT_DOUBLE_EQ(profile.mean_basket_size, 10.0 / 6.0);
    ASSERT_EQ(profile.basket_sizes.size(), kBasketSizeCap);
    EXPECT_EQ(profile.basket_sizes[0], 2u);
    EXPECT_EQ(profile.basket_sizes[1], 4u);
    EXPECT_EQ(profile.basket_sizes[2], 0u);

    // Top 1% and 10% of 5 sold articles round up to the single best seller: 4 of 11 sales.
    EXPECT_DOUBLE_EQ(profile.top1_share, 4.0 / 11.0);
    EXPECT_DOUBLE_EQ(profile.top10_share, 4.0 / 11.0);
    ASSERT_EQ(profile.sales_curve.size(), 101u);
    EXPECT_DOUBLE_EQ(profile.sales_curve[0], 0.0);
    EXPECT_DOUBLE_EQ(profile.sales_curve[50], 9.0 / 11.0);  // top 3 of 5
    EXPECT_DOUBLE_EQ(profile.sales_curve[100], 1.0);

    // Ages 23 and 41 (bins 20-24 and 40-44); c3 has no age; c4 has no customer row at all.
    ASSERT_EQ(profile.age_bins.size(), 13u);
    EXPECT_EQ(profile.age_bins[1], 1u);
    EXPECT_EQ(profile.age_bins[5], 1u);
    EXPECT_EQ(profile.age_unknown, 1u);
    EXPECT_FLOAT_EQ(profile.median_age, 32.0f);  // mean of the two middle ages

    nlohmann::json json = to_json(profile);
    EXPECT_EQ(json["weekly_transactions"][1]["week_start"], "2020-09-08");
    EXPECT_EQ(json["age_bins"][1]["ages"], "20-24");
    EXPECT_EQ(json["age_bins"][12]["ages"], "75+");
}

}  // namespace
}  // namespace lookbook::report
