#include "lookbook/index/exact_index.hpp"

#include <gtest/gtest.h>

#include "index_fixture.hpp"

namespace lookbook {
namespace {

using testing::brute_force;
using testing::clustered_vectors;

ExactIndex filled(const std::vector<float>& rows, size_t dim) {
    ExactIndex index(dim);
    for (size_t row = 0; row * dim < rows.size(); ++row) {
        EXPECT_TRUE(index.add(static_cast<uint32_t>(row), {rows.data() + row * dim, dim}).is_ok());
    }
    return index;
}

TEST(ExactIndex, MatchesBruteForce) {
    const size_t dim = 48;
    const auto rows = clustered_vectors(3000, dim, 20, 1);
    const ExactIndex index = filled(rows, dim);
    const auto queries = clustered_vectors(20, dim, 20, 2);
    for (size_t q = 0; q < 20; ++q) {
        const float* query = queries.data() + q * dim;
        auto hits = index.search({query, dim}, 10);
        ASSERT_TRUE(hits.is_ok());
        const auto expected = brute_force(rows, dim, query, 10);
        ASSERT_EQ(hits->size(), 10u);
        for (size_t rank = 0; rank < 10; ++rank) {
            EXPECT_EQ((*hits)[rank].id, expected[rank].id) << "query " << q << " rank " << rank;
            EXPECT_NEAR((*hits)[rank].score, expected[rank].score, 1e-5);
        }
    }
}

TEST(ExactIndex, FilterKeepsOnlyAcceptedIdsAndStillFindsK) {
    const size_t dim = 16;
    const auto rows = clustered_vectors(500, dim, 5, 3);
    const ExactIndex index = filled(rows, dim);
    const HitFilter odd = [](uint32_t id) { return id % 2 == 1; };
    auto hits = index.search({rows.data(), dim}, 7, odd);
    ASSERT_TRUE(hits.is_ok());
    const auto expected = brute_force(rows, dim, rows.data(), 7, odd);
    ASSERT_EQ(hits->size(), 7u);
    for (size_t rank = 0; rank < 7; ++rank) {
        EXPECT_EQ((*hits)[rank].id, expected[rank].id);
    }
}

TEST(ExactIndex, MoreNeighboursThanVectorsReturnsAllSorted) {
    const std::vector<float> rows = {1, 0, 0.6f, 0.8f, 0, 1};
    const ExactIndex index = filled(rows, 2);
    const std::vector<float> query = {1, 0};
    auto hits = index.search(query, 50);
    ASSERT_TRUE(hits.is_ok());
    ASSERT_EQ(hits->size(), 3u);
    EXPECT_EQ((*hits)[0].id, 0u);
    EXPECT_EQ((*hits)[1].id, 1u);
    EXPECT_FLOAT_EQ((*hits)[1].score, 0.6f);
    EXPECT_EQ((*hits)[2].id, 2u);
}

TEST(ExactIndex, EmptyIndexAndZeroKGiveNoHits) {
    ExactIndex index(3);
    const std::vector<float> query = {1, 2, 3};
    auto hits = index.search(query, 10);
    ASSERT_TRUE(hits.is_ok());
    EXPECT_TRUE(hits->empty());
    ASSERT_TRUE(index.add(4, query).is_ok());
    auto none = index.search(query, 0);
    ASSERT_TRUE(none.is_ok());
    EXPECT_TRUE(none->empty());
}

TEST(ExactIndex, RejectsWrongDimensionZeroAndNonFiniteQueries) {
    ExactIndex index(3);
    ASSERT_TRUE(index.add(0, std::vector<float>{1, 0, 0}).is_ok());
    auto wrong = index.search(std::vector<float>{1, 0}, 5);
    ASSERT_FALSE(wrong.is_ok());
    EXPECT_EQ(wrong.status().message(),
              "query has 2 dimensions; the index holds 3-dimensional vectors (was it made by "
              "another model?)");
    auto zero = index.search(std::vector<float>{0, 0, 0}, 5);
    ASSERT_FALSE(zero.is_ok());
    EXPECT_EQ(zero.status().message(),
              "query is all zeros, so every item would score the same; give a non-zero vector");
    auto nan = index.search(std::vector<float>{1, NAN, 0}, 5);
    ASSERT_FALSE(nan.is_ok());
    EXPECT_EQ(nan.status().message(), "query has a non-finite value at dimension 1");
    const Status add_zero = index.add(1, std::vector<float>{0, 0, 0});
    EXPECT_EQ(add_zero.message(),
              "vector of id 1 is all zeros, so every item would score the same; give a non-zero "
              "vector");
    EXPECT_FALSE(index.contains(1));
}

TEST(ExactIndex, RemoveAndReAddWithoutRebuild) {
    const std::vector<float> rows = {1, 0, 0.9f, 0.1f, 0, 1};
    ExactIndex index = filled(rows, 2);
    ASSERT_TRUE(index.remove(0).is_ok());
    EXPECT_EQ(index.size(), 2u);
    auto hits = index.search(std::vector<float>{1, 0}, 5);
    ASSERT_TRUE(hits.is_ok());
    ASSERT_EQ(hits->size(), 2u);
    EXPECT_EQ((*hits)[0].id, 1u);
    const Status again = index.remove(0);
    EXPECT_EQ(again.code(), StatusCode::kNotFound);
    EXPECT_EQ(again.message(), "id 0 is not in the index");
    // Re-adding appends; replacing an id overwrites its row.
    ASSERT_TRUE(index.add(0, std::vector<float>{1, 0}).is_ok());
    ASSERT_TRUE(index.add(2, std::vector<float>{1, 0.01f}).is_ok());
    hits = index.search(std::vector<float>{1, 0}, 1);
    ASSERT_TRUE(hits.is_ok());
    EXPECT_EQ((*hits)[0].id, 0u);
    EXPECT_EQ(index.size(), 3u);
}

TEST(ExactIndex, BorrowedRowsAreCopiedBeforeAChange) {
    const std::vector<float> rows = {1, 0, 0, 1, 0.7f, 0.7f};
    const std::vector<uint8_t> present = {1, 0, 1};
    ExactIndex index = ExactIndex::borrowed(2, rows, present);
    EXPECT_EQ(index.size(), 2u);
    EXPECT_FALSE(index.contains(1));
    ASSERT_TRUE(index.add(0, std::vector<float>{0, 1}).is_ok());
    EXPECT_EQ(rows[0], 1.0f);  // the borrowed rows are untouched
    auto hits = index.search(std::vector<float>{0, 1}, 1);
    ASSERT_TRUE(hits.is_ok());
    EXPECT_EQ((*hits)[0].id, 0u);
}

}  // namespace
}  // namespace lookbook
