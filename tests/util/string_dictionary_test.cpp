#include "lookbook/util/string_dictionary.hpp"

#include <map>
#include <random>
#include <string>

#include <gtest/gtest.h>

namespace lookbook {
namespace {

TEST(StringDictionary, AssignsCodesInOrderOfFirstAppearance) {
    StringDictionary d;
    EXPECT_EQ(d.intern("0108775015"), 0u);
    EXPECT_EQ(d.intern(""), 1u);
    EXPECT_EQ(d.intern("0108775015"), 0u);
    EXPECT_EQ(d.intern(std::string(64, 'f')), 2u);
    EXPECT_EQ(d.size(), 3u);
    EXPECT_EQ(d.at(2), std::string(64, 'f'));
    EXPECT_EQ(d.find(""), 1u);
    EXPECT_FALSE(d.find("108775015"));
}

TEST(StringDictionary, TellsApartKeysThatShareTheInlinePrefix) {
    StringDictionary d;
    // 11 bytes fit in the slot; 12 and more use the hash and the arena.
    EXPECT_EQ(d.intern("abcdefghijk"), 0u);
    EXPECT_EQ(d.intern("abcdefghijkl"), 1u);
    EXPECT_EQ(d.intern("abcdefghijkm"), 2u);
    EXPECT_EQ(d.intern(std::string("ab\0", 3)), 3u);
    EXPECT_EQ(d.intern("ab"), 4u);
    EXPECT_EQ(d.find("abcdefghijkm"), 2u);
    EXPECT_EQ(d.find(std::string("ab\0", 3)), 3u);
}

TEST(StringDictionary, AgreesWithStdMapOnManyRandomKeys) {
    std::mt19937 rng(7);
    StringDictionary d;
    std::map<std::string, uint32_t> reference;
    for (int i = 0; i < 200000; ++i) {
        std::string key;
        size_t len = rng() % 20;
        for (size_t k = 0; k < len; ++k) {
            key += static_cast<char>('a' + rng() % 3);
        }
        auto [it, added] = reference.emplace(key, static_cast<uint32_t>(reference.size()));
        uint32_t code = d.intern(key);
        ASSERT_EQ(code, it->second) << key;
        if (i % 7 == 0) {
            uint64_t h = hash_bytes(key);
            d.prefetch(h);
            d.prefetch_text(key, h);
            ASSERT_EQ(d.find(key, h), it->second);
        }
    }
    EXPECT_EQ(d.size(), reference.size());
    for (const auto& [key, code] : reference) {
        ASSERT_EQ(d.at(code), key);
    }
}

}  // namespace
}  // namespace lookbook
