#include "lookbook/recommend/projected_search.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "../util/row_reference.hpp"  // Answer, brute_force
#include "lookbook/util/dot.hpp"
#include "lookbook/util/row_graph.hpp"

namespace lookbook {
namespace {

// Unit rows built from `factors` hidden directions plus a little noise: low rank, as content
// vectors are (the H&M store's 320 values keep 90% of their second moment in 32 directions).
std::vector<float> low_rank_rows(size_t count, size_t dim, size_t factors, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> basis(factors * dim);
    for (float& v : basis) {
        v = normal(rng);
    }
    std::vector<float> rows(count * dim, 0.0f);
    for (size_t r = 0; r < count; ++r) {
        float* row = rows.data() + r * dim;
        for (size_t f = 0; f < factors; ++f) {
            const float weight = normal(rng);
            for (size_t d = 0; d < dim; ++d) {
                row[d] += weight * basis[f * dim + d];
            }
        }
        double squares = 0;
        for (size_t d = 0; d < dim; ++d) {
            row[d] += 0.05f * normal(rng);
            squares += static_cast<double>(row[d]) * row[d];
        }
        for (size_t d = 0; d < dim; ++d) {
            row[d] = static_cast<float>(row[d] / std::sqrt(squares));
        }
    }
    return rows;
}

std::vector<uint32_t> spaced_ids(size_t count) {
    std::vector<uint32_t> ids(count);
    for (size_t r = 0; r < count; ++r) {
        ids[r] = static_cast<uint32_t>(3 * r + 1);  // not the row numbers
    }
    return ids;
}

TEST(ProjectedRowSearchTest, FindsNearlyAllOfTheExactTopAndScoresThemExactly) {
    const size_t count = 6000, dim = 96;
    // Some of the rows' spread lies outside the 32 directions searched.
    const auto rows = low_rank_rows(count, dim, 40, 7);
    const auto ids = spaced_ids(count);
    ProjectedRowSearch search(rows, dim, ids);
    ASSERT_EQ(search.directions(), 32u);
    double found = 0, total = 0;
    size_t identical = 0;
    for (size_t q = 0; q < 50; ++q) {
        const float* query = rows.data() + (q * 97 % count) * dim;
        std::vector<uint32_t> skip = {ids[q * 97 % count], ids[(q * 31 + 5) % count]};
        std::sort(skip.begin(), skip.end());  // the contract: ascending
        const Answer got = search.top(query, 100, skip, true);
        const Answer want = brute_force(rows, dim, ids, query, 100, skip, true);
        ASSERT_EQ(got.size(), want.size());
        identical += got == want;
        for (const auto& [id, score] : got) {
            EXPECT_EQ(std::find(skip.begin(), skip.end(), id), skip.end()) << "skipped id " << id;
            // The score of a row found is the exact one, bit for bit.
            const size_t r = (id - 1) / 3;
            EXPECT_EQ(score, dot(rows.data() + r * dim, query, dim));
            found +=
                std::any_of(want.begin(), want.end(), [&](const auto& w) { return w.first == id; });
        }
        total += static_cast<double>(want.size());
        EXPECT_TRUE(std::is_sorted(got.begin(), got.end(), [](const auto& a, const auto& b) {
            return a.second > b.second || (a.second == b.second && a.first < b.first);
        }));
    }
    EXPECT_GE(found / total, 0.99) << found / total;
    EXPECT_GE(identical, 40u);
}

TEST(ProjectedRowSearchTest, SmallCatalogsAndShortRowsAreScannedExactly) {
    const auto small = low_rank_rows(RowSearch::kMinGraphRows - 1, 96, 12, 3);
    ProjectedRowSearch few(small, 96);
    EXPECT_EQ(few.directions(), 0u);
    std::vector<uint32_t> identity(RowSearch::kMinGraphRows - 1);
    for (size_t r = 0; r < identity.size(); ++r) {
        identity[r] = static_cast<uint32_t>(r);
    }
    EXPECT_EQ(few.top(small.data(), 20),
              brute_force(small, 96, identity, small.data(), 20, {}, true));

    const auto short_rows = low_rank_rows(5000, 32, 12, 4);
    ProjectedRowSearch narrow(short_rows, 32);  // 32 values: no fewer directions to search
    EXPECT_EQ(narrow.directions(), 0u);
}

TEST(ProjectedRowSearchTest, ExactWhenApproximateSearchIsOff) {
    const size_t count = 5000, dim = 64;
    const auto rows = low_rank_rows(count, dim, 40, 11);  // too many factors for 32 directions
    const auto ids = spaced_ids(count);
    ProjectedRowSearch search(rows, dim, ids);
    ASSERT_GT(search.directions(), 0u);
    RowSearch::set_approximate(false);
    size_t differing = 0;
    for (size_t q = 0; q < 20; ++q) {
        const float* query = rows.data() + q * 211 * dim;
        differing += search.top(query, 50) != brute_force(rows, dim, ids, query, 50, {}, true);
    }
    RowSearch::set_approximate(true);
    EXPECT_EQ(differing, 0u);
}

// Break-it review of stop 19: projected values beyond half precision's 65,504 would have become
// infinities (and NaN scores); such rows are kept in float.
TEST(ProjectedRowSearchTest, ValuesTooLargeForAHalfAreKeptInFloat) {
    const size_t count = 5000, dim = 64;
    auto rows = low_rank_rows(count, dim, 16, 17);
    for (float& v : rows) {
        v *= 1e6f;
    }
    std::vector<uint32_t> identity(count);
    for (size_t r = 0; r < count; ++r) {
        identity[r] = static_cast<uint32_t>(r);
    }
    ProjectedRowSearch search(rows, dim);
    ASSERT_GT(search.directions(), 0u);
    for (size_t q = 0; q < 10; ++q) {
        const float* query = rows.data() + q * 401 * dim;
        const Answer got = search.top(query, 20);
        ASSERT_EQ(got.size(), 20u);
        for (const auto& [id, score] : got) {
            EXPECT_TRUE(std::isfinite(score));
        }
        EXPECT_EQ(got.front(), brute_force(rows, dim, identity, query, 20, {}, true).front());
    }
}

TEST(ProjectedRowSearchTest, OddQueriesAndSizes) {
    const size_t count = 5000, dim = 64;
    const auto rows = low_rank_rows(count, dim, 8, 13);
    ProjectedRowSearch search(rows, dim);
    std::vector<float> bad(dim, 0.1f);
    bad[3] = std::numeric_limits<float>::quiet_NaN();
    // A query with a NaN goes to the exact scan, which answers it as RowScan does (NaN scores
    // compare unequal, so the ids are compared).
    auto ids_of = [](const Answer& answer) {
        std::vector<uint32_t> out;
        for (const auto& entry : answer) {
            out.push_back(entry.first);
        }
        return out;
    };
    EXPECT_EQ(ids_of(search.top(bad.data(), 10)), ids_of(search.top_exact(bad.data(), 10)));
    EXPECT_TRUE(search.top(rows.data(), 0).empty());
    // Every row asked for: all the positive ones, none twice.
    const Answer all = search.top(rows.data(), count + 10, {}, true);
    std::vector<uint32_t> seen;
    for (const auto& [id, score] : all) {
        EXPECT_GT(score, 0.0f);
        seen.push_back(id);
    }
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end());
    std::vector<uint32_t> identity(count);
    for (size_t r = 0; r < count; ++r) {
        identity[r] = static_cast<uint32_t>(r);
    }
    EXPECT_EQ(all, brute_force(rows, dim, identity, rows.data(), count + 10, {}, true));
    // A zero query: nothing scores above 0.
    std::vector<float> zero(dim, 0.0f);
    EXPECT_TRUE(search.top(zero.data(), 10).empty());
}

}  // namespace
}  // namespace lookbook
