#include "lookbook/util/row_graph.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "row_reference.hpp"

namespace lookbook {
namespace {

// Gaussian rows of lengths from 0.1 to 3 (as ALS factors vary), or of length 1 when `unit`.
std::vector<float> rows_of_varied_norms(size_t count, size_t dim, uint32_t seed, bool unit) {
    std::vector<float> rows = random_rows(count, dim, seed, true);
    if (!unit) {
        std::mt19937 rng(seed + 1000);
        std::uniform_real_distribution<float> length(0.1f, 3.0f);
        for (size_t r = 0; r < count; ++r) {
            const float scale = length(rng);
            for (size_t d = 0; d < dim; ++d) {
                rows[r * dim + d] *= scale;
            }
        }
    }
    return rows;
}

// Restores the process-wide settings a test changes.
class RowSearchSettings {
  public:
    RowSearchSettings()
        : approximate_(RowSearch::approximate()), params_(RowSearch::graph_params()) {}
    ~RowSearchSettings() {
        RowSearch::set_approximate(approximate_);
        RowSearch::set_graph_params(params_);
    }

  private:
    bool approximate_;
    RowGraphParams params_;
};

TEST(RowGraph, GivesTheExactAnswerWhenTheCandidateListCoversEveryRow) {
    // ef >= rows: the search reaches every row, so ids, order and scores are the brute force's.
    for (bool unit : {true, false}) {
        const size_t dim = 24;
        const std::vector<float> rows = rows_of_varied_norms(300, dim, unit ? 1 : 2, unit);
        std::vector<uint32_t> ids(300);
        for (uint32_t r = 0; r < ids.size(); ++r) {
            ids[r] = 5 + 3 * r;  // ascending, not 0 .. count-1
        }
        RowGraphParams params;
        params.ef_search = 300;
        RowGraph graph(rows, dim, ids, params);
        const std::vector<float> queries = random_rows(20, dim, unit ? 3 : 4, false);
        const std::vector<uint32_t> skip = {ids[0], ids[7], ids[150], ids[299]};
        for (size_t q = 0; q < 20; ++q) {
            const float* query = queries.data() + q * dim;
            for (size_t k : {1, 10, 100, 400}) {
                for (bool positive_only : {true, false}) {
                    SCOPED_TRACE(testing::Message() << "unit " << unit << " query " << q << " k "
                                                    << k << " positive_only " << positive_only);
                    EXPECT_EQ(graph.top(query, k, skip, positive_only),
                              brute_force(rows, dim, ids, query, k, skip, positive_only));
                }
            }
        }
    }
}

TEST(RowGraph, GivesEqualRowsAndZeroRowsTheScansPlaces) {
    // 600 rows: 40 distinct rows repeated, every 7th row all zeros (ids with gaps). The graph
    // holds 40 nodes; with ef_search above that, answers are the brute force's, ties included.
    const size_t dim = 12;
    const std::vector<float> base = rows_of_varied_norms(40, dim, 61, false);
    std::vector<float> rows;
    std::vector<uint32_t> ids;
    for (uint32_t r = 0; r < 600; ++r) {
        ids.push_back(2 * r + 1);
        if (r % 7 == 3) {
            rows.insert(rows.end(), dim, 0.0f);
        } else {
            const size_t source = (r * 13) % 40;
            rows.insert(rows.end(), base.begin() + source * dim, base.begin() + (source + 1) * dim);
        }
    }
    RowGraphParams params;
    params.ef_search = 64;
    RowGraph graph(rows, dim, ids, params);
    EXPECT_EQ(graph.nodes(), 40u);
    std::vector<float> queries = random_rows(10, dim, 62, false);
    queries.insert(queries.end(), dim, 0.0f);  // a zero query: every row ties at 0
    const std::vector<uint32_t> skip = {ids[2], ids[3], ids[50]};
    for (size_t q = 0; q < 11; ++q) {
        const float* query = queries.data() + q * dim;
        for (size_t k : {1, 5, 50, 500, 700}) {
            for (bool positive_only : {true, false}) {
                SCOPED_TRACE(testing::Message()
                             << "query " << q << " k " << k << " positive_only " << positive_only);
                EXPECT_EQ(graph.top(query, k, skip, positive_only),
                          brute_force(rows, dim, ids, query, k, skip, positive_only));
            }
        }
    }

    // Every non-zero row scores below 0: the zero rows come first, lower ids first.
    const std::vector<float> few = {1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    RowGraph small(few, 4);
    const std::vector<float> against = {-1, 0, 0, 0};
    EXPECT_EQ(small.top(against.data(), 3, {}, false), (Answer{{2, 0.0f}, {3, 0.0f}, {0, -1.0f}}));
    EXPECT_TRUE(small.top(against.data(), 3, {}, true).empty());
}

TEST(RowGraph, FindsMostOfTheExactTopHundredOnRandomRows) {
    // 8,000 rows of 32 dimensions with no structure, the hard case for a graph (real article
    // vectors cluster): recall of the exact 100 at the default ef_search 200 measured 0.990
    // (unit rows) and 0.994 (norms from 0.1 to 3); at 20,000 rows 0.972 and 0.986 (0.846 for
    // varied norms with the cosine reduction the header tells of).
    for (bool unit : {true, false}) {
        const size_t dim = 32;
        const size_t count = 8000;
        const std::vector<float> rows = rows_of_varied_norms(count, dim, unit ? 11 : 12, unit);
        RowGraph graph(rows, dim);
        const std::vector<float> queries = random_rows(50, dim, unit ? 13 : 14, false);
        double found = 0;
        double wanted = 0;
        for (size_t q = 0; q < 50; ++q) {
            const float* query = queries.data() + q * dim;
            const Answer exact = brute_force(rows, dim, {}, query, 100, {}, false);
            const Answer approximate = graph.top(query, 100, {}, false);
            ASSERT_EQ(approximate.size(), 100u);
            for (const auto& [id, score] : exact) {
                auto it = std::find_if(approximate.begin(),
                                       approximate.end(),
                                       [id = id](const auto& entry) { return entry.first == id; });
                if (it != approximate.end()) {
                    found += 1;
                    EXPECT_EQ(it->second, score) << "a found row keeps its float score";
                }
            }
            wanted += static_cast<double>(exact.size());
            EXPECT_TRUE(std::is_sorted(
                approximate.begin(), approximate.end(), [](const auto& a, const auto& b) {
                    return a.second > b.second || (a.second == b.second && a.first < b.first);
                }));
        }
        EXPECT_GT(found / wanted, 0.9) << "unit " << unit;
    }
}

TEST(RowGraph, FindsTheLongRowsThatWinAnInnerProductSearch) {
    // Maximum inner product favours long rows even at a wider angle; a cosine search would
    // rank a short row pointing along the query first.
    const size_t dim = 8;
    std::vector<float> rows = random_rows(5000, dim, 21, true);
    for (float& value : rows) {
        value *= 0.1f;
    }
    // Row 4321: ten times longer than the others, at 60 degrees from the query.
    std::vector<float> query(dim, 0.0f);
    query[0] = 1.0f;
    std::fill(rows.begin() + 4321 * dim, rows.begin() + 4322 * dim, 0.0f);
    rows[4321 * dim + 0] = 0.5f;
    rows[4321 * dim + 1] = 0.866f;
    RowGraph graph(rows, dim);
    const Answer best = graph.top(query.data(), 1, {}, true);
    ASSERT_EQ(best.size(), 1u);
    EXPECT_EQ(best[0].first, 4321u);
    EXPECT_EQ(best[0], brute_force(rows, dim, {}, query.data(), 1, {}, true)[0]);
}

TEST(RowGraph, BuildsTheSameGraphEveryTime) {
    const size_t dim = 16;
    const std::vector<float> rows = rows_of_varied_norms(3000, dim, 31, false);
    RowGraphParams params;
    params.ef_search = 20;  // a short list, so a different graph would show
    RowGraph first(rows, dim, {}, params);
    RowGraph second(rows, dim, {}, params);
    const std::vector<float> queries = random_rows(30, dim, 32, false);
    for (size_t q = 0; q < 30; ++q) {
        EXPECT_EQ(first.top(queries.data() + q * dim, 10, {}, false),
                  second.top(queries.data() + q * dim, 10, {}, false));
    }
}

TEST(RowGraph, AnswersAZeroQueryWithTheLowestIdsOrNothing) {
    const size_t dim = 4;
    const std::vector<float> rows = random_rows(50, dim, 41, true);
    RowGraph graph(rows, dim);
    const std::vector<float> zero(dim, 0.0f);
    EXPECT_TRUE(graph.top(zero.data(), 5, {}, true).empty());
    const std::vector<uint32_t> skip = {1};
    EXPECT_EQ(graph.top(zero.data(), 3, skip, false), (Answer{{0, 0.0f}, {2, 0.0f}, {3, 0.0f}}));
}

TEST(RowSearch, ScansSmallCatalogsExactlyAndSearchesLargeOnesInTheGraph) {
    RowSearchSettings restore;
    RowSearch::set_approximate(true);
    const size_t dim = 16;
    const std::vector<float> small_rows =
        rows_of_varied_norms(RowSearch::kMinGraphRows - 1, dim, 51, false);
    RowSearch small(small_rows, dim);
    EXPECT_EQ(small.graph(), nullptr);

    const std::vector<float> rows = rows_of_varied_norms(RowSearch::kMinGraphRows, dim, 52, false);
    RowGraphParams params;
    params.ef_search = 10;
    RowSearch::set_graph_params(params);
    RowSearch large(rows, dim);
    ASSERT_NE(large.graph(), nullptr);
    const std::vector<float> queries = random_rows(40, dim, 53, false);
    size_t differing = 0;
    for (size_t q = 0; q < 40; ++q) {
        const float* query = queries.data() + q * dim;
        RowSearch::set_approximate(true);
        const Answer approximate = large.top(query, 10, {}, false);
        EXPECT_EQ(approximate, large.graph()->top(query, 10, {}, false));
        RowSearch::set_approximate(false);
        const Answer exact = large.top(query, 10, {}, false);
        EXPECT_EQ(exact, brute_force(rows, dim, {}, query, 10, {}, false));
        differing += approximate == exact ? 0 : 1;
    }
    // With a candidate list of 10 the graph misses some rows: the two paths really differ.
    EXPECT_GT(differing, 0u);

    // A source that asks for no graph (ALS) gets none.
    RowSearch never(rows, dim, {}, RowSearch::Graph::kNever);
    EXPECT_EQ(never.graph(), nullptr);

    // Built while approximate search is off: no graph, exact answers either way.
    RowSearch::set_approximate(false);
    RowSearch exact_only(rows, dim);
    EXPECT_EQ(exact_only.graph(), nullptr);
    RowSearch::set_approximate(true);
    EXPECT_EQ(exact_only.top(queries.data(), 10, {}, false),
              brute_force(rows, dim, {}, queries.data(), 10, {}, false));
}

}  // namespace
}  // namespace lookbook
