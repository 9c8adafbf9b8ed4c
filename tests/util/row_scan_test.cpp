#include "lookbook/util/row_scan.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "lookbook/util/dot.hpp"

namespace lookbook {
namespace {

using Answer = std::vector<std::pair<uint32_t, float>>;

std::vector<float> random_rows(size_t count, size_t dim, uint32_t seed, bool unit) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> rows(count * dim);
    for (size_t r = 0; r < count; ++r) {
        double squares = 0;
        for (size_t d = 0; d < dim; ++d) {
            rows[r * dim + d] = normal(rng);
            squares += static_cast<double>(rows[r * dim + d]) * rows[r * dim + d];
        }
        if (unit && squares > 0) {
            for (size_t d = 0; d < dim; ++d) {
                rows[r * dim + d] = static_cast<float>(rows[r * dim + d] / std::sqrt(squares));
            }
        }
    }
    return rows;
}

// Independent reference: every row scored with dot_rows, the whole list sorted.
Answer brute_force(const std::vector<float>& rows,
                   size_t dim,
                   const std::vector<uint32_t>& ids,
                   const float* query,
                   size_t k,
                   const std::vector<uint32_t>& skip,
                   bool positive_only) {
    size_t count = rows.size() / dim;
    std::vector<float> scores(count);
    dot_rows(rows.data(), count, dim, query, scores.data());
    Answer all;
    for (size_t r = 0; r < count; ++r) {
        uint32_t id = ids.empty() ? static_cast<uint32_t>(r) : ids[r];
        if (std::find(skip.begin(), skip.end(), id) != skip.end() ||
            (positive_only && scores[r] <= 0.0f)) {
            continue;
        }
        all.emplace_back(id, scores[r]);
    }
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
        return a.second > b.second || (a.second == b.second && a.first < b.first);
    });
    all.resize(std::min(all.size(), k));
    return all;
}

void expect_same(const Answer& got, const Answer& want) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].first, want[i].first) << "rank " << i;
        EXPECT_EQ(got[i].second, want[i].second) << "rank " << i;  // bit for bit
    }
}

TEST(RowScanTest, MatchesBruteForceOverShapesKsSkipsAndSigns) {
    for (size_t dim : {1, 7, 8, 64, 130}) {
        for (size_t count : {1, 3, 5, 257, 2000}) {
            for (bool positive_only : {true, false}) {
                uint32_t seed = static_cast<uint32_t>(dim * 7919 + count * 31 + positive_only);
                std::vector<float> rows = random_rows(count, dim, seed, dim > 1);
                std::vector<float> query = random_rows(1, dim, seed + 1, false);
                std::vector<uint32_t> skip;
                for (uint32_t id = 1; id < count; id += 7) {
                    skip.push_back(id);
                }
                RowScan scan(rows, dim);
                for (size_t k : {size_t{1}, size_t{10}, size_t{100}, count + 5}) {
                    SCOPED_TRACE(testing::Message() << "dim " << dim << " count " << count << " k "
                                                    << k << " positive_only " << positive_only);
                    Answer want = brute_force(rows, dim, {}, query.data(), k, skip, positive_only);
                    expect_same(scan.top(query.data(), k, skip, positive_only), want);
                    expect_same(scan.top_exact(query.data(), k, skip, positive_only), want);
                }
            }
        }
    }
}

TEST(RowScanTest, NearTiesBelowHalfPrecisionAreOrderedByTheirFloatScores) {
    // Rows that differ by 1e-6, far below a half's resolution (~5e-4 near 1): the first pass
    // cannot tell them apart, the answer must still follow the float scores.
    const size_t dim = 16;
    const size_t count = 600;
    std::vector<float> base = random_rows(1, dim, 5, true);
    std::vector<float> rows;
    for (size_t r = 0; r < count; ++r) {
        for (size_t d = 0; d < dim; ++d) {
            float jitter =
                d == static_cast<size_t>(r % dim) ? 1e-6f * static_cast<float>(r % 13) : 0.0f;
            rows.push_back(base[d] + jitter);
        }
    }
    RowScan scan(rows, dim);
    for (size_t k : {1, 5, 40}) {
        expect_same(scan.top(base.data(), k), brute_force(rows, dim, {}, base.data(), k, {}, true));
    }
}

TEST(RowScanTest, EqualRowsGoToTheLowerId) {
    std::vector<float> rows = {1, 0, 0.5f, 0.5f, 1, 0, 1, 0};
    RowScan scan(rows, 2, {3, 8, 9, 20});
    const float query[] = {1, 0};
    Answer got = scan.top(query, 3);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0], (std::pair<uint32_t, float>{3, 1.0f}));
    EXPECT_EQ(got[1], (std::pair<uint32_t, float>{9, 1.0f}));
    EXPECT_EQ(got[2], (std::pair<uint32_t, float>{20, 1.0f}));
    // Skipping is by id, not by row.
    const std::vector<uint32_t> skip = {9};
    Answer skipped = scan.top(query, 2, skip);
    ASSERT_EQ(skipped.size(), 2u);
    EXPECT_EQ(skipped[0].first, 3u);
    EXPECT_EQ(skipped[1].first, 20u);
}

TEST(RowScanTest, PositiveOnlyLeavesOutZeroAndNegativeScores) {
    std::vector<float> rows = {1, 0, -1, 0, 0, 1};
    RowScan scan(rows, 2);
    const float query[] = {1, 0};
    Answer got = scan.top(query, 10);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].first, 0u);
    Answer all = scan.top(query, 10, {}, /*positive_only=*/false);
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all[0].first, 0u);
    EXPECT_EQ(all[1].first, 2u);  // 0 before -1
    EXPECT_EQ(all[2].first, 1u);
}

TEST(RowScanTest, ValuesTooLargeForAHalfAreScoredInFloat) {
    std::vector<float> rows = random_rows(50, 8, 11, false);
    rows[17] = 1e6f;
    RowScan scan(rows, 8);
    EXPECT_FALSE(scan.uses_half());
    std::vector<float> query = random_rows(1, 8, 12, false);
    expect_same(scan.top(query.data(), 5), brute_force(rows, 8, {}, query.data(), 5, {}, true));
}

TEST(RowScanTest, FirstPassLeavesFewRowsToScoreAgain) {
    // 20,000 unit rows of 64 (the shape of an ALS or two-tower catalog): the k = 100 best need
    // far fewer than every row scored in float.
    std::vector<float> rows = random_rows(20000, 64, 21, true);
    RowScan scan(rows, 64);
    if (!scan.uses_half()) {
        GTEST_SKIP() << "this CPU lacks AVX2, FMA or F16C: every row is scored in float";
    }
    std::vector<float> query = random_rows(1, 64, 22, true);
    Answer got = scan.top(query.data(), 100);
    expect_same(got, brute_force(rows, 64, {}, query.data(), 100, {}, true));
    EXPECT_LT(RowScan::last_rescored(), 1000u);
    EXPECT_GE(RowScan::last_rescored(), 100u);
}

TEST(RowScanTest, EmptyMatrixAndZeroKAnswerNothing) {
    RowScan empty(std::vector<float>{}, 4);
    const float query[] = {1, 2, 3, 4};
    EXPECT_TRUE(empty.top(query, 5).empty());
    RowScan one(std::vector<float>{1, 2, 3, 4}, 4);
    EXPECT_TRUE(one.top(query, 0).empty());
}

}  // namespace
}  // namespace lookbook
