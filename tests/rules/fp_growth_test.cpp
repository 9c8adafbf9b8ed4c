#include "lookbook/rules/fp_growth.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lookbook/rules/basket.hpp"

namespace lookbook::rules {
namespace {

using SupportByMask = std::map<uint32_t, Count>;

// Every itemset of the mined table as a bit mask of item ids, with its support.
SupportByMask as_masks(const FrequentItemsets& mined) {
    SupportByMask out;
    const ItemsetTable& table = mined.itemsets;
    for (size_t idx = 0; idx < table.size(); ++idx) {
        uint32_t mask = 0;
        for (ItemId item : table.items(idx)) {
            mask |= 1u << item;
        }
        EXPECT_EQ(out.count(mask), 0u) << "itemset reported twice";
        out[mask] = table.support(idx);
    }
    return out;
}

// The independent answer: tries every subset of the (small) catalog against every basket.
SupportByMask brute_force(const BasketSet& baskets, Count min_count, size_t max_length) {
    std::vector<uint32_t> basket_masks;
    for (size_t basket_idx = 0; basket_idx < baskets.size(); ++basket_idx) {
        uint32_t mask = 0;
        for (ItemId item : baskets.basket(basket_idx)) {
            mask |= 1u << item;
        }
        basket_masks.push_back(mask);
    }
    SupportByMask out;
    uint32_t n_subsets = 1u << baskets.item_count();
    for (uint32_t subset = 1; subset < n_subsets; ++subset) {
        if (max_length != 0 && static_cast<size_t>(std::popcount(subset)) > max_length) {
            continue;
        }
        Count support = 0;
        for (size_t basket_idx = 0; basket_idx < basket_masks.size(); ++basket_idx) {
            if ((basket_masks[basket_idx] & subset) == subset) {
                support += baskets.weight(basket_idx);
            }
        }
        if (support >= min_count) {
            out[subset] = support;
        }
    }
    return out;
}

BasketSet random_baskets(std::mt19937& rng, bool weighted) {
    std::uniform_int_distribution<int> n_items_dist(1, 12);
    std::uniform_int_distribution<int> n_baskets_dist(0, 80);
    int n_items = n_items_dist(rng);
    int n_baskets = n_baskets_dist(rng);
    BasketSet baskets;
    for (int item = 0; item < n_items; ++item) {
        std::string name = "i";
        name += std::to_string(item);
        baskets.intern(name);
    }
    // Skewed item choice so that some items are frequent and some rare, as in real baskets.
    std::geometric_distribution<int> item_dist(0.25);
    std::uniform_int_distribution<int> length_dist(0, 9);
    std::uniform_int_distribution<int> weight_dist(0, 4);
    for (int basket_idx = 0; basket_idx < n_baskets; ++basket_idx) {
        std::vector<ItemId> basket;
        int length = length_dist(rng);
        for (int pos = 0; pos < length; ++pos) {
            basket.push_back(static_cast<ItemId>(item_dist(rng) % n_items));
        }
        baskets.add_basket(basket, weighted ? static_cast<Count>(weight_dist(rng)) : 1);
    }
    return baskets;
}

TEST(FpGrowth, MatchesBruteForceOnRandomBaskets) {
    for (uint32_t seed = 0; seed < 400; ++seed) {
        std::mt19937 rng(seed);
        BasketSet baskets = random_baskets(rng, seed % 3 == 0);
        MiningOptions options;
        std::uniform_int_distribution<int> count_dist(1, 6);
        if (seed % 2 == 0) {
            options.min_support = MinSupport::of_count(static_cast<Count>(count_dist(rng)));
        } else {
            std::uniform_real_distribution<double> fraction_dist(0.01, 0.5);
            options.min_support = MinSupport::of_fraction(fraction_dist(rng));
        }
        options.max_length = seed % 5;  // 0 = unlimited
        options.threads = 1 + seed % 3;
        options.max_basket_size = 0;

        auto mined = mine_frequent_itemsets(baskets, options);
        ASSERT_TRUE(mined.is_ok()) << mined.status().to_string();
        Count min_count = options.min_support.to_count(baskets.total_weight());
        ASSERT_EQ(mined->min_count, min_count);
        ASSERT_EQ(as_masks(*mined), brute_force(baskets, min_count, options.max_length))
            << "seed " << seed << ", " << baskets.size() << " baskets, min count " << min_count
            << ", max length " << options.max_length << ", threads " << options.threads;

        // Counting alone agrees with the stored table, length by length.
        auto counted = count_frequent_itemsets(baskets, options);
        ASSERT_TRUE(counted.is_ok());
        ASSERT_EQ(counted->total, mined->itemsets.size()) << "seed " << seed;
        std::vector<uint64_t> by_length(counted->by_length.size(), 0);
        for (size_t idx = 0; idx < mined->itemsets.size(); ++idx) {
            ++by_length.at(mined->itemsets.items(idx).size());
        }
        ASSERT_EQ(by_length, counted->by_length) << "seed " << seed;
    }
}

TEST(FpGrowth, OutputOrderDoesNotDependOnThreads) {
    std::mt19937 rng(7);
    BasketSet baskets;
    std::uniform_int_distribution<int> item_dist(0, 299);
    for (int basket_idx = 0; basket_idx < 3000; ++basket_idx) {
        std::vector<ItemId> basket;
        for (int pos = 0; pos < 8; ++pos) {
            basket.push_back(baskets.intern(std::to_string(item_dist(rng) % (1 + pos * 40))));
        }
        baskets.add_basket(basket);
    }
    MiningOptions options;
    options.min_support = MinSupport::of_count(3);
    options.threads = 1;
    auto one = mine_frequent_itemsets(baskets, options);
    options.threads = 2;
    auto two = mine_frequent_itemsets(baskets, options);
    ASSERT_TRUE(one.is_ok() && two.is_ok());
    ASSERT_EQ(one->itemsets.size(), two->itemsets.size());
    ASSERT_GT(one->itemsets.size(), 300u);
    for (size_t idx = 0; idx < one->itemsets.size(); ++idx) {
        auto lhs = one->itemsets.items(idx);
        auto rhs = two->itemsets.items(idx);
        ASSERT_EQ(std::vector<ItemId>(lhs.begin(), lhs.end()),
                  std::vector<ItemId>(rhs.begin(), rhs.end()));
        ASSERT_EQ(one->itemsets.support(idx), two->itemsets.support(idx));
    }
}

// Known answers worked out by hand: {a,b,c} {a,b} {a,c} {a} {b,b,c} {}.
// a: 4, b: 3, c: 3, ab: 2, ac: 2, bc: 2 (the repeated b counts once), abc: 1; N = 6.
BasketSet hand_baskets() {
    BasketSet baskets;
    baskets.add_named_basket({"a", "b", "c"});
    baskets.add_named_basket({"a", "b"});
    baskets.add_named_basket({"a", "c"});
    baskets.add_named_basket({"a"});
    baskets.add_named_basket({"b", "b", "c"});
    baskets.add_named_basket({});
    return baskets;
}

std::map<std::vector<std::string>, Count> named(const FrequentItemsets& mined,
                                                const BasketSet& baskets) {
    std::map<std::vector<std::string>, Count> out;
    for (size_t idx = 0; idx < mined.itemsets.size(); ++idx) {
        std::vector<std::string> names;
        for (ItemId item : mined.itemsets.items(idx)) {
            names.push_back(baskets.item_name(item));
        }
        out[names] = mined.itemsets.support(idx);
    }
    return out;
}

TEST(FpGrowth, CountsRepeatedItemOnceAndEmptyBasketInTotal) {
    BasketSet baskets = hand_baskets();
    MiningOptions options;
    options.min_support = MinSupport::of_count(2);
    auto mined = mine_frequent_itemsets(baskets, options);
    ASSERT_TRUE(mined.is_ok());
    EXPECT_EQ(mined->total_weight, 6u);
    std::map<std::vector<std::string>, Count> expected = {
        {{"a"}, 4}, {{"b"}, 3}, {{"c"}, 3}, {{"a", "b"}, 2}, {{"a", "c"}, 2}, {{"b", "c"}, 2}};
    EXPECT_EQ(named(*mined, baskets), expected);
}

TEST(FpGrowth, FractionOfBasketsRoundsUp) {
    // ceil(0.5 * 6) = 3: only the single items are frequent.
    BasketSet baskets = hand_baskets();
    MiningOptions options;
    options.min_support = MinSupport::of_fraction(0.5);
    auto mined = mine_frequent_itemsets(baskets, options);
    ASSERT_TRUE(mined.is_ok());
    EXPECT_EQ(mined->min_count, 3u);
    std::map<std::vector<std::string>, Count> expected = {{{"a"}, 4}, {{"b"}, 3}, {{"c"}, 3}};
    EXPECT_EQ(named(*mined, baskets), expected);
}

TEST(FpGrowth, MaxLengthStopsLongerItemsets) {
    BasketSet baskets = hand_baskets();
    MiningOptions options;
    options.min_support = MinSupport::of_count(1);
    options.max_length = 2;
    auto mined = mine_frequent_itemsets(baskets, options);
    ASSERT_TRUE(mined.is_ok());
    auto by_name = named(*mined, baskets);
    EXPECT_EQ(by_name.size(), 6u);
    EXPECT_EQ((by_name.count({"a", "b", "c"})), 0u);
    options.max_length = 0;
    mined = mine_frequent_itemsets(baskets, options);
    ASSERT_TRUE(mined.is_ok());
    EXPECT_EQ((named(*mined, baskets)[{"a", "b", "c"}]), 1u);
}

TEST(FpGrowth, WeightedBasketsEqualRepeatedBaskets) {
    // {a,b} x3 and {a} x2, given as counts: a = 5, b = 3, ab = 3.
    BasketSet weighted;
    weighted.add_named_basket({"a", "b"}, 3);
    weighted.add_named_basket({"a"}, 2);
    MiningOptions options;
    options.min_support = MinSupport::of_fraction(0.6);  // ceil(0.6 * 5) = 3
    auto mined = mine_frequent_itemsets(weighted, options);
    ASSERT_TRUE(mined.is_ok());
    EXPECT_EQ(mined->total_weight, 5u);
    EXPECT_EQ(mined->min_count, 3u);
    std::map<std::vector<std::string>, Count> expected = {{{"a"}, 5}, {{"b"}, 3}, {{"a", "b"}, 3}};
    EXPECT_EQ(named(*mined, weighted), expected);
}

TEST(FpGrowth, LargeWeightsKeepExactSupports) {
    // The miner carries a basket's weight in 32-bit words when every weight fits and falls back
    // to a table otherwise: weights above 2^32, and small weights whose identical baskets merge
    // to 2^31 or more, must give the same supports as the brute force.
    const std::vector<std::vector<Count>> weight_sets = {
        {1, 2, 3},                                 // both compact paths
        {1'500'000'000, 1'500'000'000, 7},         // merged duplicates reach 2^31
        {(Count{1} << 32) + 5, 1, 2},              // one weight past 32 bits
        {(Count{1} << 31) - 1, (Count{1} << 31)},  // either side of the marker's limit
    };
    for (uint32_t seed = 0; seed < 60; ++seed) {
        std::mt19937 rng(seed);
        BasketSet shape = random_baskets(rng, false);
        const std::vector<Count>& weights = weight_sets[seed % weight_sets.size()];
        BasketSet baskets;
        for (ItemId item = 0; item < shape.item_count(); ++item) {
            baskets.intern(shape.item_name(item));
        }
        for (size_t basket_idx = 0; basket_idx < shape.size(); ++basket_idx) {
            std::span<const ItemId> items = shape.basket(basket_idx);
            baskets.add_basket(items, weights[basket_idx % weights.size()]);
            // The same basket again, so identical baskets are merged with their weights summed.
            if (basket_idx % 4 == 0) {
                baskets.add_basket(items, weights[(basket_idx + 1) % weights.size()]);
            }
        }
        MiningOptions options;
        options.min_support = MinSupport::of_count(weights.front());
        options.threads = 1 + seed % 2;
        options.max_basket_size = 0;
        auto mined = mine_frequent_itemsets(baskets, options);
        ASSERT_TRUE(mined.is_ok()) << mined.status().to_string();
        ASSERT_EQ(as_masks(*mined), brute_force(baskets, weights.front(), 0))
            << "seed " << seed << ", weights from " << weights.front();
    }
}

TEST(FpGrowth, ItemsListedByDescendingSupport) {
    BasketSet baskets;
    baskets.add_named_basket({"rare", "common"});
    baskets.add_named_basket({"common"});
    MiningOptions options;
    options.min_support = MinSupport::of_count(1);
    auto mined = mine_frequent_itemsets(baskets, options);
    ASSERT_TRUE(mined.is_ok());
    EXPECT_EQ((named(*mined, baskets).count({"common", "rare"})), 1u);
    EXPECT_EQ(mined->item_order, (std::vector<ItemId>{1, 0}));
}

TEST(SortBasketRecords, MatchesComparisonSortOnRandomBaskets) {
    // Many baskets over few ranks force radix passes several levels deep; few ranks over many
    // baskets leave long runs of identical and prefix baskets.
    for (uint32_t seed : {1u, 2u, 3u}) {
        std::mt19937 rng(seed);
        for (size_t n_ranks : {3u, 40u, 2000u}) {
            std::vector<std::vector<uint32_t>> baskets(5000);
            std::uniform_int_distribution<int> length(0, 6);
            std::uniform_int_distribution<uint32_t> rank(0, static_cast<uint32_t>(n_ranks - 1));
            std::vector<uint32_t> records;
            for (uint32_t basket = 0; basket < baskets.size(); ++basket) {
                for (int pos = length(rng); pos > 0; --pos)
                    baskets[basket].push_back(rank(rng));
                records.push_back(static_cast<uint32_t>(baskets[basket].size()));
                records.push_back(basket);  // the payload: which basket this is
                records.insert(records.end(), baskets[basket].begin(), baskets[basket].end());
            }
            detail::sort_basket_records(records, n_ranks);
            std::vector<std::vector<uint32_t>> got;
            std::vector<uint32_t> payloads;
            for (size_t pos = 0; pos < records.size(); pos += 2 + records[pos]) {
                got.emplace_back(records.begin() + static_cast<ptrdiff_t>(pos + 2),
                                 records.begin() + static_cast<ptrdiff_t>(pos + 2 + records[pos]));
                // Each payload still travels with its own ranks.
                ASSERT_EQ(got.back(), baskets[records[pos + 1]]);
                payloads.push_back(records[pos + 1]);
            }
            std::vector<std::vector<uint32_t>> expected = baskets;
            std::sort(expected.begin(), expected.end());
            ASSERT_EQ(got, expected) << "seed " << seed << ", " << n_ranks << " ranks";
            std::sort(payloads.begin(), payloads.end());
            for (uint32_t b = 0; b < payloads.size(); ++b)
                ASSERT_EQ(payloads[b], b);
        }
    }
}

TEST(FpGrowth, OneItemCatalog) {
    BasketSet baskets;
    baskets.add_named_basket({"x"});
    baskets.add_named_basket({"x", "x"});
    baskets.add_named_basket({});
    MiningOptions options;
    options.min_support = MinSupport::of_count(2);
    auto mined = mine_frequent_itemsets(baskets, options);
    ASSERT_TRUE(mined.is_ok());
    std::map<std::vector<std::string>, Count> expected = {{{"x"}, 2}};
    EXPECT_EQ(named(*mined, baskets), expected);
}

TEST(FpGrowth, EmptyInputsGiveNoItemsets) {
    BasketSet none;
    MiningOptions options;
    auto mined = mine_frequent_itemsets(none, options);
    ASSERT_TRUE(mined.is_ok());
    EXPECT_EQ(mined->itemsets.size(), 0u);
    EXPECT_EQ(mined->min_count, 1u);

    BasketSet only_empty;
    only_empty.add_named_basket({});
    mined = mine_frequent_itemsets(only_empty, options);
    ASSERT_TRUE(mined.is_ok());
    EXPECT_EQ(mined->itemsets.size(), 0u);
    EXPECT_EQ(mined->total_weight, 1u);
}

TEST(FpGrowth, SinglePathTreeYieldsEverySubset) {
    // Nested baskets form one path in the tree: {a,b,c,d} x1, {a,b,c} x1, {a,b} x1, {a} x1.
    BasketSet baskets;
    baskets.add_named_basket({"a", "b", "c", "d"});
    baskets.add_named_basket({"a", "b", "c"});
    baskets.add_named_basket({"a", "b"});
    baskets.add_named_basket({"a"});
    MiningOptions options;
    options.min_support = MinSupport::of_count(1);
    auto mined = mine_frequent_itemsets(baskets, options);
    ASSERT_TRUE(mined.is_ok());
    auto by_name = named(*mined, baskets);
    EXPECT_EQ(by_name.size(), 15u);
    EXPECT_EQ((by_name[{"a", "b", "c", "d"}]), 1u);
    EXPECT_EQ((by_name[{"a", "c"}]), 2u);
    EXPECT_EQ((by_name[{"b", "d"}]), 1u);
    EXPECT_EQ((by_name[{"a", "b"}]), 3u);
}

TEST(FpGrowth, TooManyItemsetsIsAClearError) {
    BasketSet baskets;
    std::vector<std::string> wide;
    for (int item = 0; item < 20; ++item) {
        wide.push_back("item" + std::to_string(item));
    }
    baskets.add_named_basket(wide);
    MiningOptions options;
    options.min_support = MinSupport::of_count(1);
    options.max_itemsets = 1000;
    auto mined = mine_frequent_itemsets(baskets, options);
    ASSERT_FALSE(mined.is_ok());
    EXPECT_EQ(mined.status().code(), StatusCode::kResourceExhausted);
    EXPECT_EQ(mined.status().message(),
              "mining at minimum support 1 basket would produce more than 1000 itemsets (the "
              "max_itemsets limit, --max-itemsets). Raise the minimum support, set a maximum "
              "itemset length (--max-length), or raise the limit if memory allows (about 30 "
              "bytes per itemset).");
    options.threads = 2;
    EXPECT_EQ(count_frequent_itemsets(baskets, options).status().code(),
              StatusCode::kResourceExhausted);

    // The same data within the limit: 2^20 - 1 subsets, of which 20 + 190 have length <= 2.
    options.max_length = 2;
    auto counted = count_frequent_itemsets(baskets, options);
    ASSERT_TRUE(counted.is_ok());
    EXPECT_EQ(counted->total, 210u);
}

TEST(FpGrowth, CapsGiantBasketsToMostFrequentItems) {
    // "c" is rarer than a and b, so cutting the big basket to 2 items drops it there.
    BasketSet baskets;
    baskets.add_named_basket({"c", "a", "b"});
    baskets.add_named_basket({"a", "b"});
    baskets.add_named_basket({"a"});
    MiningOptions options;
    options.min_support = MinSupport::of_count(1);
    options.max_basket_size = 2;
    auto mined = mine_frequent_itemsets(baskets, options);
    ASSERT_TRUE(mined.is_ok());
    std::map<std::vector<std::string>, Count> expected = {{{"a"}, 3}, {{"b"}, 2}, {{"a", "b"}, 2}};
    EXPECT_EQ(named(*mined, baskets), expected);
}

TEST(MinSupport, FractionIsCeilOfFractionTimesBaskets) {
    EXPECT_EQ(MinSupport::of_fraction(0.1).to_count(30), 3u);  // 0.1 * 30 is 3.0000000000000004
    EXPECT_EQ(MinSupport::of_fraction(0.3).to_count(10), 3u);
    EXPECT_EQ(MinSupport::of_fraction(0.25).to_count(10), 3u);        // 2.5 rounds up
    EXPECT_EQ(MinSupport::of_fraction(0.0005).to_count(88162), 45u);  // 44.081 rounds up
    EXPECT_EQ(MinSupport::of_fraction(0.0002).to_count(88162), 18u);  // 17.6324
    EXPECT_EQ(MinSupport::of_fraction(1e-9).to_count(10), 1u);        // never below 1
    EXPECT_EQ(MinSupport::of_fraction(1.0).to_count(7), 7u);
    EXPECT_EQ(MinSupport::of_count(5).to_count(3), 5u);
}

TEST(MinSupport, ParsesFractionsPercentagesAndCounts) {
    auto percent = parse_min_support("0.05%");
    ASSERT_TRUE(percent.is_ok());
    EXPECT_TRUE(percent->is_fraction);
    EXPECT_DOUBLE_EQ(percent->fraction, 0.0005);
    auto fraction = parse_min_support("0.02");
    ASSERT_TRUE(fraction.is_ok());
    EXPECT_TRUE(fraction->is_fraction);
    EXPECT_DOUBLE_EQ(fraction->fraction, 0.02);
    auto count = parse_min_support("5");
    ASSERT_TRUE(count.is_ok());
    EXPECT_FALSE(count->is_fraction);
    EXPECT_EQ(count->count, 5u);
}

TEST(MinSupport, RejectsBadValuesWithAHint) {
    EXPECT_EQ(parse_min_support("abc").status().message(),
              "--min-support is \"abc\"; expected a fraction of the baskets (0.0005 or 0.05%) or "
              "a whole number of baskets (5).");
    EXPECT_EQ(parse_min_support("0").status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(parse_min_support("-0.1").status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(parse_min_support("150%").status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(parse_min_support("2.5").status().message(),
              "--min-support is \"2.5\"; a value of 1 or more is a number of baskets and must "
              "be whole. For a fraction write it below 1 (0.05) or as a percentage (5%).");
}

TEST(FpGrowth, RejectsOutOfRangeSupport) {
    BasketSet baskets = hand_baskets();
    MiningOptions options;
    options.min_support = MinSupport::of_fraction(1.5);
    auto mined = mine_frequent_itemsets(baskets, options);
    EXPECT_EQ(mined.status().message(),
              "minimum support fraction is 1.5; expected a value above 0 and at most 1.");
    options.min_support = MinSupport::of_count(0);
    EXPECT_EQ(mine_frequent_itemsets(baskets, options).status().code(),
              StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lookbook::rules
