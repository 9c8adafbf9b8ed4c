#include "lookbook/eval/metrics.hpp"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

namespace lookbook::eval {
namespace {

using Ids = std::vector<uint32_t>;

TEST(AveragePrecision, MatchesHandComputedValue) {
    // Hits at positions 1 and 3: (1/1 + 2/3) / min(3 relevant, k 3).
    EXPECT_NEAR(
        average_precision_at_k(Ids{1, 9, 2}, Ids{1, 2, 3}, 3), (1.0 + 2.0 / 3.0) / 3.0, 1e-12);
}

TEST(AveragePrecision, FewerRelevantThanKDividesByRelevantCount) {
    // One relevant item found at position 2 of 12: precision@2 = 1/2, divided by min(1, 12).
    EXPECT_NEAR(average_precision_at_k(Ids{7, 5, 8, 9}, Ids{5}, 12), 0.5, 1e-12);
}

TEST(AveragePrecision, CustomerWithNothingRelevantScoresZero) {
    EXPECT_EQ(average_precision_at_k(Ids{1, 2, 3}, Ids{}, 12), 0.0);
    EXPECT_EQ(average_precision_at_k(Ids{}, Ids{1}, 12), 0.0);
}

TEST(AveragePrecision, OnlyFirstKPositionsCount) {
    EXPECT_EQ(average_precision_at_k(Ids{9, 8, 1}, Ids{1}, 2), 0.0);
}

TEST(AveragePrecision, RepeatedRecommendationCountsOnce) {
    // Without the rule, [1 1] against {1 2} would score (1 + 1) / 2 = 1.
    EXPECT_NEAR(average_precision_at_k(Ids{1, 1}, Ids{1, 2}, 2), 0.5, 1e-12);
}

TEST(AveragePrecision, DuplicateRelevantItemsCountOnce) {
    EXPECT_NEAR(average_precision_at_k(Ids{4}, Ids{4, 4, 4}, 12), 1.0, 1e-12);
}

TEST(Recall, DividesByAllRelevantOrByKWhenCapped) {
    const Ids ranked{1, 2, 3};
    const Ids relevant{1, 3, 5, 6, 7};
    EXPECT_NEAR(recall_at_k(ranked, relevant, 3), 2.0 / 5.0, 1e-12);
    EXPECT_NEAR(capped_recall_at_k(ranked, relevant, 3), 2.0 / 3.0, 1e-12);
    EXPECT_NEAR(capped_recall_at_k(ranked, Ids{3}, 3), 1.0, 1e-12);
}

TEST(HitAndReciprocalRank, FirstRelevantPosition) {
    EXPECT_EQ(hit_at_k(Ids{4, 5, 6}, Ids{6}, 2), 0.0);
    EXPECT_EQ(hit_at_k(Ids{4, 5, 6}, Ids{6}, 3), 1.0);
    EXPECT_NEAR(reciprocal_rank(Ids{4, 5, 6}, Ids{6, 5}), 0.5, 1e-12);
    EXPECT_EQ(reciprocal_rank(Ids{4, 5, 6}, Ids{6}, 2), 0.0);
    EXPECT_EQ(reciprocal_rank(Ids{4, 5, 6}, Ids{}), 0.0);
}

TEST(Ndcg, MatchesHandComputedValue) {
    // Hits at positions 2 and 3; ideal puts two hits at 1 and 2.
    const double dcg = 1 / std::log2(3.0) + 1 / std::log2(4.0);
    const double ideal = 1 + 1 / std::log2(3.0);
    EXPECT_NEAR(ndcg_at_k(Ids{9, 1, 2}, Ids{1, 2}, 3), dcg / ideal, 1e-12);
    EXPECT_NEAR(ndcg_at_k(Ids{1, 2, 9}, Ids{1, 2}, 3), 1.0, 1e-12);
    EXPECT_EQ(ndcg_at_k(Ids{1}, Ids{}, 3), 0.0);
}

TEST(Ndcg, IdealIsCappedAtK) {
    // Three relevant, k = 1, the first item relevant: perfect.
    EXPECT_NEAR(ndcg_at_k(Ids{1, 2, 3}, Ids{1, 2, 3}, 1), 1.0, 1e-12);
}

TEST(TieAwareNdcg, TiedGroupSharesItsGain) {
    // Items 9 and 1 tie for positions 1-2; one of them is relevant, so each position gets 0.5.
    const Ids ranked{9, 1, 7};
    const std::vector<float> scores{0.8f, 0.8f, 0.1f};
    const double dcg = 0.5 * 1 + 0.5 / std::log2(3.0);
    EXPECT_NEAR(tie_aware_ndcg_at_k(ranked, scores, Ids{1}, 3), dcg / 1.0, 1e-12);
    // Without ties it is plain NDCG.
    const std::vector<float> distinct{0.9f, 0.8f, 0.1f};
    EXPECT_NEAR(
        tie_aware_ndcg_at_k(ranked, distinct, Ids{1}, 3), ndcg_at_k(ranked, Ids{1}, 3), 1e-12);
}

TEST(TieAwareNdcg, GroupStraddlingKContributesOnlyInsideK) {
    // Positions 1-2 tie, k = 1: position 1 gets half of the group's one hit.
    const Ids ranked{9, 1};
    const std::vector<float> scores{0.5f, 0.5f};
    EXPECT_NEAR(tie_aware_ndcg_at_k(ranked, scores, Ids{1}, 1), 0.5, 1e-12);
}

TEST(IntraListDiversity, MeanPairwiseDistance) {
    // Product types: items 1, 2 share a type, item 3 differs; pairs (1,2)=0, (1,3)=1, (2,3)=1.
    auto different_type = [](uint32_t a, uint32_t b) {
        auto type = [](uint32_t x) { return x == 3 ? 1 : 0; };
        return type(a) == type(b) ? 0.0 : 1.0;
    };
    EXPECT_NEAR(intra_list_diversity(Ids{1, 2, 3}, 3, different_type), 2.0 / 3.0, 1e-12);
    EXPECT_EQ(intra_list_diversity(Ids{1, 2, 3}, 1, different_type), 0.0);
}

}  // namespace
}  // namespace lookbook::eval
