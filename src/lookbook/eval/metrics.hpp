#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

// Ranking metrics of one recommendation list against what the customer really bought next.
// Shared by `lookbook evaluate`, the report and the benchmarks, so every figure means the same.
//
// Conventions, identical for every function here:
// - `ranked` is the list in the order shown, best first; an id repeated later in the list
//   counts only at its first position (a list with duplicates is not rewarded twice).
// - `relevant` is the set of items bought in the test period; duplicates in it count once.
// - A customer with no relevant item scores 0 everywhere (the caller decides whether to keep
//   such customers in the average; the H&M protocol drops them).
// - Only the first k positions count (k = 0 means the whole list for reciprocal_rank).
namespace lookbook::eval {

// Average precision at k as in the H&M competition: the sum over hit positions i <= k of
// precision@i, divided by min(|relevant|, k). Example: ranked [a x b], relevant {a b c}, k 3:
// (1/1 + 2/3) / 3 = 0.5556.
double average_precision_at_k(std::span<const uint32_t> ranked,
                              std::span<const uint32_t> relevant,
                              size_t k);

// Hits in the first k over |relevant|.
double recall_at_k(std::span<const uint32_t> ranked, std::span<const uint32_t> relevant, size_t k);

// Hits in the first k over min(k, |relevant|): the MovieLens protocol's recall, which a perfect
// list reaches even when more than k items are relevant.
double capped_recall_at_k(std::span<const uint32_t> ranked,
                          std::span<const uint32_t> relevant,
                          size_t k);

// 1 when at least one relevant item is in the first k, else 0.
double hit_at_k(std::span<const uint32_t> ranked, std::span<const uint32_t> relevant, size_t k);

// 1 / (position of the first relevant item), positions from 1; 0 when none is in the first k
// (k = 0: anywhere in the list).
double reciprocal_rank(std::span<const uint32_t> ranked,
                       std::span<const uint32_t> relevant,
                       size_t k = 0);

// Binary-relevance NDCG at k with a log2(position + 1) discount; the ideal list puts
// min(k, |relevant|) relevant items first.
double ndcg_at_k(std::span<const uint32_t> ranked, std::span<const uint32_t> relevant, size_t k);

// NDCG at k when the list comes with scores that may tie (McSherry and Najork, 2008): items
// with equal scores have no order between them, so each position of a tied group gets the
// group's mean gain. `scores` parallels `ranked` and must be non-increasing. With distinct
// scores this equals ndcg_at_k.
double tie_aware_ndcg_at_k(std::span<const uint32_t> ranked,
                           std::span<const float> scores,
                           std::span<const uint32_t> relevant,
                           size_t k);

// Mean pairwise distance between the first k items of a list (intra-list diversity); 0 for a
// list shorter than 2. `distance(a, b)` must be symmetric, e.g. 1 - cosine of two embeddings or
// 0/1 for same/different product type.
double intra_list_diversity(std::span<const uint32_t> ranked,
                            size_t k,
                            const std::function<double(uint32_t, uint32_t)>& distance);

}  // namespace lookbook::eval
