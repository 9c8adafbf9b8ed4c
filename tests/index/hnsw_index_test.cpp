#include "lookbook/index/hnsw_index.hpp"

#include <set>

#include <gtest/gtest.h>

#include "index_fixture.hpp"

namespace lookbook {
namespace {

using testing::brute_force;
using testing::clustered_vectors;

std::unique_ptr<HnswIndex> filled(const std::vector<float>& rows, size_t dim) {
    auto index = std::make_unique<HnswIndex>(dim, HnswParams{}, 16);  // grows while adding
    for (size_t row = 0; row * dim < rows.size(); ++row) {
        EXPECT_TRUE(index->add(static_cast<uint32_t>(row), {rows.data() + row * dim, dim}).is_ok());
    }
    return index;
}

double recall_at_10(const VectorIndex& index,
                    const std::vector<float>& rows,
                    const std::vector<float>& queries,
                    size_t dim,
                    const HitFilter& filter = {}) {
    size_t found = 0;
    size_t total = 0;
    for (size_t q = 0; q * dim < queries.size(); ++q) {
        const float* query = queries.data() + q * dim;
        auto hits = index.search({query, dim}, 10, filter);
        EXPECT_TRUE(hits.is_ok());
        std::set<uint32_t> got;
        for (const Hit& hit : *hits) {
            got.insert(hit.id);
        }
        for (const Hit& hit : brute_force(rows, dim, query, 10, filter)) {
            found += got.count(hit.id);
            ++total;
        }
    }
    return static_cast<double>(found) / total;
}

TEST(HnswIndex, RecallAtTenAgainstExactIsAtLeast098) {
    const size_t dim = 32;
    const auto rows = clustered_vectors(4000, dim, 40, 11);
    const auto index = filled(rows, dim);
    const auto queries = clustered_vectors(100, dim, 40, 12);
    EXPECT_GE(recall_at_10(*index, rows, queries, dim), 0.98);
}

TEST(HnswIndex, FilteredSearchFindsKAcceptedIds) {
    const size_t dim = 16;
    const auto rows = clustered_vectors(1000, dim, 10, 13);
    const auto index = filled(rows, dim);
    // A rare filter (1 id in 50) forces the over-fetch to grow.
    const HitFilter rare = [](uint32_t id) { return id % 50 == 0; };
    auto hits = index->search({rows.data(), dim}, 10, rare);
    ASSERT_TRUE(hits.is_ok());
    ASSERT_EQ(hits->size(), 10u);
    for (const Hit& hit : *hits) {
        EXPECT_EQ(hit.id % 50, 0u);
    }
    const auto queries = clustered_vectors(20, dim, 10, 14);
    EXPECT_GE(recall_at_10(*index, rows, queries, dim, rare), 0.98);
}

TEST(HnswIndex, DeletedIdsNeverComeBackUntilReAdded) {
    const size_t dim = 8;
    const auto rows = clustered_vectors(300, dim, 3, 15);
    auto index = filled(rows, dim);
    for (uint32_t id = 0; id < 100; ++id) {
        ASSERT_TRUE(index->remove(id).is_ok());
    }
    EXPECT_EQ(index->size(), 200u);
    EXPECT_EQ(index->remove(5).message(), "id 5 is not in the index");
    auto hits = index->search({rows.data(), dim}, 300);
    ASSERT_TRUE(hits.is_ok());
    EXPECT_EQ(hits->size(), 200u);
    for (const Hit& hit : *hits) {
        EXPECT_GE(hit.id, 100u);
    }
    // Adding id 0 again revives it with the new vector.
    ASSERT_TRUE(index->add(0, {rows.data(), dim}).is_ok());
    hits = index->search({rows.data(), dim}, 1);
    ASSERT_TRUE(hits.is_ok());
    EXPECT_EQ((*hits)[0].id, 0u);
    EXPECT_NEAR((*hits)[0].score, 1.0f, 1e-5);
}

TEST(HnswIndex, EdgeCasesGiveNoGarbageIds) {
    HnswIndex index(4, HnswParams{});
    const std::vector<float> query = {1, 0, 0, 0};
    auto empty = index.search(query, 10);
    ASSERT_TRUE(empty.is_ok());
    EXPECT_TRUE(empty->empty());
    ASSERT_TRUE(index.add(7, std::vector<float>{0, 1, 0, 0}).is_ok());
    ASSERT_TRUE(index.add(9, std::vector<float>{1, 0, 0, 0}).is_ok());
    auto hits = index.search(query, 10);
    ASSERT_TRUE(hits.is_ok());
    ASSERT_EQ(hits->size(), 2u);
    EXPECT_EQ((*hits)[0].id, 9u);
    EXPECT_EQ((*hits)[1].id, 7u);
    EXPECT_FALSE(index.search(std::vector<float>{1, 0}, 1).is_ok());
    EXPECT_FALSE(index.search(std::vector<float>{0, 0, 0, 0}, 1).is_ok());
    EXPECT_FALSE(index.add(3, std::vector<float>{0, 0, 0, 0}).is_ok());
}

TEST(HnswIndex, SerializeRoundTripAnswersTheSame) {
    const size_t dim = 16;
    const auto rows = clustered_vectors(500, dim, 8, 17);
    auto index = filled(rows, dim);
    ASSERT_TRUE(index->remove(3).is_ok());
    auto bytes = index->serialize();
    ASSERT_TRUE(bytes.is_ok());
    auto loaded = HnswIndex::deserialize(*bytes, dim, HnswParams{});
    ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
    EXPECT_EQ((*loaded)->size(), 499u);
    EXPECT_FALSE((*loaded)->contains(3));
    for (size_t q = 0; q < 20; ++q) {
        auto a = index->search({rows.data() + q * dim, dim}, 10);
        auto b = (*loaded)->search({rows.data() + q * dim, dim}, 10);
        ASSERT_TRUE(a.is_ok() && b.is_ok());
        ASSERT_EQ(a->size(), b->size());
        for (size_t rank = 0; rank < a->size(); ++rank) {
            EXPECT_EQ((*a)[rank].id, (*b)[rank].id);
        }
    }
    auto wrong_dim = HnswIndex::deserialize(*bytes, dim * 2, HnswParams{});
    ASSERT_FALSE(wrong_dim.is_ok());
    EXPECT_EQ(wrong_dim.status().message(),
              "the stored HNSW index holds vectors of 16 dimensions, expected 32");
}

TEST(HnswIndex, TruncatedBytesAreReportedAsCorruption) {
    const size_t dim = 8;
    auto index = filled(clustered_vectors(50, dim, 2, 19), dim);
    auto bytes = index->serialize();
    ASSERT_TRUE(bytes.is_ok());
    bytes->resize(bytes->size() - 100);
    auto loaded = HnswIndex::deserialize(*bytes, dim, HnswParams{});
    ASSERT_FALSE(loaded.is_ok());
    EXPECT_EQ(loaded.status().code(), StatusCode::kCorruption);
    EXPECT_NE(loaded.status().message().find("rebuild it with `lookbook index STORE`"),
              std::string::npos);
}

}  // namespace
}  // namespace lookbook
