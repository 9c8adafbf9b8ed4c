#include "lookbook/recommend/answer_cache.hpp"

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace lookbook {
namespace {

std::vector<Recommendation> answer(uint32_t article) {
    return {Recommendation{article, 1.0f, "trending", "popular this week", kNoRow}};
}

TEST(AnswerCache, ReturnsWhatWasStoredUnderTheSameKey) {
    AnswerCache cache(8);
    const std::string key = AnswerCache::key("c1", 12, {});
    EXPECT_FALSE(cache.find(key).has_value());
    cache.insert(key, answer(5));
    auto found = cache.find(key);
    ASSERT_TRUE(found.has_value());
    ASSERT_EQ(found->size(), 1u);
    EXPECT_EQ((*found)[0].article, 5u);
    EXPECT_EQ((*found)[0].reason, "popular this week");
}

TEST(AnswerCache, KeyChangesWithEveryLiveEventAndWithK) {
    std::vector<Interaction> one = {{3, 18000, Interaction::Kind::kView}};
    std::vector<Interaction> bought = {{3, 18000, Interaction::Kind::kPurchase}};
    std::vector<Interaction> two = {{3, 18000, Interaction::Kind::kView},
                                    {4, 18001, Interaction::Kind::kView}};
    const std::string none = AnswerCache::key("c1", 12, {});
    EXPECT_NE(none, AnswerCache::key("c1", 12, one));
    EXPECT_NE(AnswerCache::key("c1", 12, one), AnswerCache::key("c1", 12, bought));
    EXPECT_NE(AnswerCache::key("c1", 12, one), AnswerCache::key("c1", 12, two));
    EXPECT_NE(none, AnswerCache::key("c1", 10, {}));
    EXPECT_NE(none, AnswerCache::key("c2", 12, {}));
    // An id that is a prefix of another, with k's bytes after it, still gets its own key.
    EXPECT_NE(AnswerCache::key("c1", 12, {}), AnswerCache::key(std::string("c1\0", 3), 12, {}));
    EXPECT_EQ(none, AnswerCache::key("c1", 12, {}));
    // Filters (the API's product group and per-type limit) change the answer, so the key; filter
    // bytes that look like an event's cannot pass for one.
    EXPECT_NE(none, AnswerCache::key("c1", 12, {}, "Shoes"));
    EXPECT_NE(AnswerCache::key("c1", 12, {}, "Shoes"), AnswerCache::key("c1", 12, {}, "Shoe"));
    const std::string one_bytes = AnswerCache::key("c1", 12, one).substr(none.size());
    EXPECT_NE(AnswerCache::key("c1", 12, one), AnswerCache::key("c1", 12, {}, one_bytes));
    EXPECT_EQ(AnswerCache::key("c1", 12, one, ""), AnswerCache::key("c1", 12, one));

    // A customer's new event misses the old answer.
    AnswerCache cache(8);
    cache.insert(none, answer(5));
    EXPECT_FALSE(cache.find(AnswerCache::key("c1", 12, one)).has_value());
}

TEST(AnswerCache, DropsTheLeastRecentlyUsedWhenFull) {
    AnswerCache cache(2, 1);  // one shard so the order is exact
    cache.insert("a", answer(1));
    cache.insert("b", answer(2));
    ASSERT_TRUE(cache.find("a").has_value());  // "b" is now the least recently used
    cache.insert("c", answer(3));
    EXPECT_EQ(cache.size(), 2u);
    EXPECT_TRUE(cache.find("a").has_value());
    EXPECT_FALSE(cache.find("b").has_value());
    EXPECT_TRUE(cache.find("c").has_value());
}

TEST(AnswerCache, StaysWithinCapacityAcrossShards) {
    AnswerCache cache(64, 16);
    for (int i = 0; i < 1000; ++i) {
        cache.insert(fmt::format("customer{}", i), answer(static_cast<uint32_t>(i)));
    }
    EXPECT_LE(cache.size(), 64u);
    EXPECT_GT(cache.size(), 0u);
    // The most recent insert is always kept.
    EXPECT_TRUE(cache.find("customer999").has_value());
}

TEST(AnswerCache, NeverHoldsMoreThanACapacityTheShardsDoNotDivide) {
    AnswerCache cache(17, 16);
    for (int i = 0; i < 1000; ++i) {
        cache.insert(fmt::format("customer{}", i), answer(static_cast<uint32_t>(i)));
    }
    EXPECT_LE(cache.size(), 17u);
    EXPECT_GE(cache.size(), 16u);
    // The largest capacity still caches (it once wrapped to 0 answers per shard).
    AnswerCache huge(SIZE_MAX);
    huge.insert("a", answer(1));
    EXPECT_TRUE(huge.find("a").has_value());
}

TEST(AnswerCache, CapacityZeroKeepsNothing) {
    AnswerCache cache(0);
    cache.insert("a", answer(1));
    EXPECT_FALSE(cache.find("a").has_value());
    EXPECT_EQ(cache.size(), 0u);
}

TEST(AnswerCache, ConcurrentUseKeepsEveryAnswerIntact) {
    AnswerCache cache(32, 4);
    auto work = [&cache](int thread) {
        for (int i = 0; i < 2000; ++i) {
            const uint32_t article = static_cast<uint32_t>((i * 7 + thread) % 50);
            const std::string key = fmt::format("k{}", article);
            if (auto found = cache.find(key)) {
                // Whatever thread stored it, the answer under a key is that key's answer.
                ASSERT_EQ(found->size(), 1u);
                EXPECT_EQ((*found)[0].article, article);
            } else {
                cache.insert(key, answer(article));
            }
        }
    };
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back(work, t);
    }
    for (std::thread& t : threads) {
        t.join();
    }
    EXPECT_LE(cache.size(), 32u);
}

}  // namespace
}  // namespace lookbook
