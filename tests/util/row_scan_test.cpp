#include "lookbook/util/row_scan.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "lookbook/util/dot.hpp"
#include "lookbook/util/fifo_gate.hpp"
#include "row_reference.hpp"

namespace lookbook {
namespace {

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

TEST(RowScanTest, RowsOfManyLengthsMatchBruteForceWhenTheScanStopsEarly) {
    // Norms from 1e-3 to 1e3 (ALS-like): the scan reads the long rows first and stops once no
    // shorter one can reach the k best; the answer must not change.
    const size_t dim = 32;
    const size_t count = 5000;
    std::vector<float> rows = random_rows(count, dim, 71, true);
    std::mt19937 rng(72);
    std::uniform_real_distribution<float> exponent(-3.0f, 3.0f);
    for (size_t r = 0; r < count; ++r) {
        const float scale = std::pow(10.0f, exponent(rng));
        for (size_t d = 0; d < dim; ++d) {
            rows[r * dim + d] *= scale;
        }
    }
    std::vector<uint32_t> ids(count);
    for (size_t r = 0; r < count; ++r) {
        ids[r] = static_cast<uint32_t>(3 * r + 1);
    }
    RowScan scan(rows, dim, ids);
    std::vector<float> queries = random_rows(20, dim, 73, false);
    for (size_t q = 0; q < 20; ++q) {
        std::vector<uint32_t> skip;
        for (size_t r = q; r < count; r += 37) {
            skip.push_back(ids[r]);
        }
        for (size_t k : {1, 12, 100}) {
            for (bool positive_only : {true, false}) {
                SCOPED_TRACE(testing::Message() << "query " << q << " k " << k);
                const float* query = queries.data() + q * dim;
                expect_same(scan.top(query, k, skip, positive_only),
                            brute_force(rows, dim, ids, query, k, skip, positive_only));
            }
        }
    }
}

TEST(RowScanTest, RowsAlongTheQueryAtTheStoppingBoundAreKept) {
    // Every row points along the query, so each scores |q| |r| up to rounding: the largest
    // score a row of its norm can have. Equal rows in runs longer than a block test that the
    // stop keeps ties with the k-th best (the lower ids win).
    const size_t dim = 8;
    std::vector<float> direction = random_rows(1, dim, 81, true);
    std::vector<float> rows;
    for (size_t r = 0; r < 1200; ++r) {
        const float scale = 1.0f + static_cast<float>(r / 400);  // 3 runs of 400 equal rows
        for (size_t d = 0; d < dim; ++d) {
            rows.push_back(direction[d] * scale);
        }
    }
    RowScan scan(rows, dim);
    for (size_t k : {1, 399, 400, 401, 850}) {
        SCOPED_TRACE(testing::Message() << "k " << k);
        expect_same(scan.top(direction.data(), k),
                    brute_force(rows, dim, {}, direction.data(), k, {}, true));
    }
}

TEST(RowScanTest, TopManyGivesEachQueryTheAnswerOfTopBitForBit) {
    // Batches of 1 to 9 queries (groups of four and every remainder), each with its own k,
    // skip list and sign rule, over shapes with and without a tail of rows in the last block.
    for (size_t dim : {1, 7, 8, 64, 130}) {
        for (size_t count : {1, 3, 5, 257, 2000}) {
            const auto seed = static_cast<uint32_t>(dim * 131 + count);
            std::vector<float> rows = random_rows(count, dim, seed, dim > 1);
            RowScan scan(rows, dim);
            for (size_t batch = 1; batch <= 9; ++batch) {
                std::vector<float> queries = random_rows(batch, dim, seed + 7 * batch, false);
                std::vector<std::vector<uint32_t>> skips(batch);
                std::vector<ScanQuery> asked;
                for (size_t q = 0; q < batch; ++q) {
                    for (uint32_t id = static_cast<uint32_t>(q); id < count; id += 5) {
                        skips[q].push_back(id);
                    }
                    const size_t k = q % 3 == 0 ? 1 : q % 3 == 1 ? 10 : count + 5;
                    asked.push_back({queries.data() + q * dim, k, skips[q], q % 2 == 0});
                }
                std::vector<size_t> rescored(batch);
                auto answers = scan.top_many(asked, rescored);
                ASSERT_EQ(answers.size(), batch);
                for (size_t q = 0; q < batch; ++q) {
                    SCOPED_TRACE(testing::Message() << "dim " << dim << " count " << count
                                                    << " batch " << batch << " query " << q);
                    expect_same(answers[q],
                                scan.top(asked[q].query, asked[q].k, skips[q], q % 2 == 0));
                    // The same rows were scored again in float: the first-pass scores of the
                    // batch are top()'s own.
                    EXPECT_EQ(rescored[q], RowScan::last_rescored());
                    expect_same(
                        answers[q],
                        brute_force(
                            rows, dim, {}, asked[q].query, asked[q].k, skips[q], q % 2 == 0));
                }
            }
        }
    }
}

TEST(RowScanTest, TopManyAnswersZeroKAndNonFiniteQueriesLikeTop) {
    std::vector<float> rows = random_rows(600, 16, 41, true);
    RowScan scan(rows, 16);
    std::vector<float> queries = random_rows(4, 16, 42, false);
    queries[16 + 3] = INFINITY;  // the second query cannot take the half pass
    std::vector<ScanQuery> asked = {{queries.data(), 5, {}, true},
                                    {queries.data() + 16, 5, {}, false},
                                    {queries.data() + 32, 0, {}, true},
                                    {queries.data() + 48, 7, {}, true}};
    auto answers = scan.top_many(asked);
    ASSERT_EQ(answers.size(), 4u);
    for (size_t q = 0; q < asked.size(); ++q) {
        SCOPED_TRACE(testing::Message() << "query " << q);
        expect_same(answers[q], scan.top(asked[q].query, asked[q].k, {}, asked[q].positive_only));
    }
    EXPECT_TRUE(answers[2].empty());
    EXPECT_TRUE(scan.top_many({}).empty());
}

TEST(RowScanBatcherTest, ConcurrentCallersGetTheAnswersOfTopBitForBit) {
    // 24 threads ask 150 queries each of one batcher at once: every answer must be the one
    // top() gives alone, whatever batch it was scanned in.
    const size_t dim = 48;
    const size_t count = 3000;
    std::vector<float> rows = random_rows(count, dim, 51, true);
    RowScan scan(rows, dim);
    RowScanBatcher batcher(scan, 6);
    const size_t threads = 24;
    const size_t per_thread = 150;
    std::vector<float> queries = random_rows(threads * per_thread, dim, 52, false);
    std::vector<std::vector<uint32_t>> skips(threads * per_thread);
    std::vector<Answer> want(threads * per_thread);
    for (size_t q = 0; q < want.size(); ++q) {
        for (uint32_t id = static_cast<uint32_t>(q % 11); id < count; id += 97) {
            skips[q].push_back(id);
        }
        want[q] = scan.top(queries.data() + q * dim, 1 + q % 40, skips[q], q % 3 != 0);
    }
    std::vector<Answer> got(want.size());
    std::vector<size_t> rescored(want.size());
    std::vector<size_t> rescored_alone(want.size());
    std::vector<std::thread> pool;
    for (size_t t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            for (size_t i = 0; i < per_thread; ++i) {
                const size_t q = t * per_thread + i;
                got[q] = batcher.top(queries.data() + q * dim, 1 + q % 40, skips[q], q % 3 != 0);
                rescored[q] = RowScan::last_rescored();
            }
        });
    }
    for (std::thread& thread : pool) {
        thread.join();
    }
    for (size_t q = 0; q < want.size(); ++q) {
        SCOPED_TRACE(testing::Message() << "query " << q);
        expect_same(got[q], want[q]);
        scan.top(queries.data() + q * dim, 1 + q % 40, skips[q], q % 3 != 0);
        EXPECT_EQ(rescored[q], RowScan::last_rescored());
    }
    EXPECT_EQ(batcher.queries(), want.size());
    EXPECT_LE(batcher.passes(), batcher.queries());
    // A pass takes at most 6 queries.
    EXPECT_GE(batcher.passes() * 6, batcher.queries());
}

TEST(RowScanBatcherTest, CallersBehindAGateLendTheirSlotsWhileTheyWait) {
    // 12 threads each take one of 2 gate slots before every query, as the server's cold
    // recommendations do: a caller waiting for another's pass lends its slot, so more queries
    // share passes; answers stay top()'s and nobody is left waiting.
    constexpr size_t dim = 32;
    RowScan scan(random_rows(20000, dim, 71, true), dim);  // passes long enough to overlap
    RowScanBatcher batcher(scan, 8);
    FifoGate gate(2);
    const size_t threads = 12;
    const size_t per_thread = 100;
    std::vector<float> queries = random_rows(threads * per_thread, dim, 72, false);
    std::vector<Answer> got(threads * per_thread);
    std::vector<std::thread> pool;
    for (size_t t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            for (size_t i = 0; i < per_thread; ++i) {
                const size_t q = t * per_thread + i;
                auto pass = gate.enter(std::chrono::seconds(60));
                ASSERT_TRUE(pass.is_ok()) << pass.status().to_string();
                got[q] = batcher.top(queries.data() + q * dim, 1 + q % 30);
            }
        });
    }
    for (std::thread& thread : pool) {
        thread.join();
    }
    for (size_t q = 0; q < got.size(); ++q) {
        SCOPED_TRACE(testing::Message() << "query " << q);
        expect_same(got[q], scan.top(queries.data() + q * dim, 1 + q % 30));
    }
    FifoGate::Counts counts = gate.counts();
    EXPECT_EQ(counts.running, 0u);
    EXPECT_EQ(counts.waiting, 0u);
    // Whether two slot holders ever overlap depends on the scheduler: on a loaded machine each
    // pass can run within one time slice and none is shared (a CI run saw 1,200 passes for
    // 1,200 queries). A shared pass means a caller waited for another's pass, and a waiting
    // caller that holds a slot always lends it.
    if (batcher.passes() < batcher.queries()) {
        EXPECT_GT(counts.lent, 0u);
    }
}

TEST(RowScanBatcherTest, ACallerAloneScansAtOnce) {
    std::vector<float> rows = random_rows(500, 8, 61, true);
    RowScan scan(rows, 8);
    RowScanBatcher batcher(scan);
    std::vector<float> query = random_rows(1, 8, 62, false);
    for (int i = 0; i < 3; ++i) {
        expect_same(batcher.top(query.data(), 9), scan.top(query.data(), 9));
    }
    EXPECT_EQ(batcher.queries(), 3u);
    EXPECT_EQ(batcher.passes(), 3u);
}

}  // namespace
}  // namespace lookbook
