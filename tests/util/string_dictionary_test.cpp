#include "lookbook/util/string_dictionary.hpp"

#include <map>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

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

// Short keys are read into the slot with overlapping loads (load_partial), not copied byte by
// byte: a key of each length up to 16 with one byte changed at each place, to 0x00 or 0xFF,
// must be a key of its own, and the hash of each must differ from the unchanged key's.
TEST(StringDictionary, TellsApartShortKeysThatDifferInOneByteAtAnyPlace) {
    StringDictionary d;
    std::vector<std::string> keys;
    for (size_t len = 0; len <= 16; ++len) {
        std::string base(len, 'x');
        keys.push_back(base);
        for (size_t at = 0; at < len; ++at) {
            for (char c : {'\0', '\xFF', 'y'}) {
                std::string changed = base;
                changed[at] = c;
                keys.push_back(changed);
                EXPECT_NE(hash_bytes(changed), hash_bytes(base)) << len << " " << at;
            }
        }
    }
    for (size_t i = 0; i < keys.size(); ++i) {
        ASSERT_EQ(d.intern(keys[i]), i) << "key " << i << " of length " << keys[i].size();
    }
    for (size_t i = 0; i < keys.size(); ++i) {
        ASSERT_EQ(d.find(keys[i]), i);
        ASSERT_EQ(d.at(static_cast<uint32_t>(i)), keys[i]);
    }
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

std::string random_hex_id(std::mt19937_64& rng) {
    static const char* kHex = "0123456789abcdef";
    std::string id(64, '0');
    for (char& c : id) {
        c = kHex[rng() & 15];
    }
    return id;
}

// H&M-shaped ids: 64-hex customer ids (long keys) and 10-digit article ids with a leading zero
// (short keys), some of which differ only by that zero, checked against std::unordered_map.
TEST(StringDictionary, AgreesWithUnorderedMapOnHexAndDigitIds) {
    std::mt19937_64 rng(11);
    StringDictionary d;
    std::unordered_map<std::string, uint32_t> reference;
    std::vector<std::string> keys;
    for (int i = 0; i < 50000; ++i) {
        keys.push_back(random_hex_id(rng));
        std::string digits = std::to_string(100000000 + rng() % 900000000);
        keys.push_back("0" + digits);
        if (i % 10 == 0) {
            keys.push_back(digits);  // the same article without its leading zero
        }
    }
    for (int round = 0; round < 2; ++round) {
        for (const std::string& key : keys) {
            auto [it, added] = reference.emplace(key, static_cast<uint32_t>(reference.size()));
            ASSERT_EQ(d.intern(key), it->second) << key;
        }
    }
    EXPECT_EQ(d.size(), reference.size());
    for (const auto& [key, code] : reference) {
        ASSERT_EQ(d.at(code), key);
        uint64_t h = hash_bytes(key);
        d.prefetch(h);
        d.prefetch_text(key, h);
        ASSERT_EQ(d.find(key, h), code) << key;
    }
    // Keys never added, including one that differs from a stored id in its last character.
    std::string near = keys[0];
    near.back() = near.back() == 'a' ? 'b' : 'a';
    for (const std::string& absent : {near, random_hex_id(rng), std::string("0000000000")}) {
        EXPECT_EQ(d.find(absent).has_value(), reference.count(absent) > 0) << absent;
    }
}

// Two long keys that start their probe at the same slot of a fresh table and carry the same 24
// hash bits, found by brute force over the same hash: the dictionary must compare their text.
// Past a few megabytes, through growth, copies and moves, every key keeps its code and the
// arena its bytes.
TEST(StringDictionary, KeepsEveryKeyWhenTablesAndArenaPassTwoMebibytes) {
    std::mt19937_64 rng(11);
    StringDictionary d;
    std::vector<std::string> keys;
    for (int i = 0; i < 150'000; ++i) {
        keys.push_back(random_hex_id(rng));
        ASSERT_EQ(d.intern(keys.back()), static_cast<uint32_t>(i));
    }
    ASSERT_GT(d.arena().size(), size_t{2} << 20);
    StringDictionary copy = d;
    StringDictionary moved = std::move(d);
    std::string expected_arena;
    for (size_t i = 0; i < keys.size(); ++i) {
        ASSERT_EQ(copy.find(keys[i]), static_cast<uint32_t>(i));
        ASSERT_EQ(moved.find(keys[i]), static_cast<uint32_t>(i));
        ASSERT_EQ(moved.at(static_cast<uint32_t>(i)), keys[i]);
        expected_arena += keys[i];
    }
    EXPECT_EQ(moved.arena(), expected_arena);
    EXPECT_EQ(moved.offsets().back(), expected_arena.size());
    EXPECT_FALSE(moved.find(std::string(64, 'g')));
    EXPECT_EQ(copy.intern("short"), keys.size());
}

TEST(StringDictionary, TellsApartLongKeysWithTheSameSlotAndTag) {
    constexpr uint64_t kFreshSlots = 1024;  // the table size of a new dictionary
    std::mt19937_64 rng(5);
    std::unordered_map<uint64_t, std::string> seen;
    std::string first;
    std::string second;
    for (int i = 0; i < 4'000'000 && first.empty(); ++i) {
        std::string id = random_hex_id(rng);
        uint64_t h = hash_bytes(id);
        uint64_t bucket = (h >> 40) << 10 | (h & (kFreshSlots - 1));
        auto [it, added] = seen.emplace(bucket, id);
        if (!added && it->second != id) {
            first = it->second;
            second = id;
        }
    }
    ASSERT_FALSE(first.empty()) << "no colliding pair found; the test needs more draws";
    StringDictionary d;
    EXPECT_EQ(d.intern(first), 0u);
    EXPECT_FALSE(d.find(second));
    EXPECT_EQ(d.intern(second), 1u);
    EXPECT_EQ(d.find(first), 0u);
    EXPECT_EQ(d.find(second), 1u);
    EXPECT_EQ(d.at(1), second);
}

// Keys longer than the slot's 16-bit length field are compared through the offsets instead.
TEST(StringDictionary, KeepsKeysLongerThanTheSlotLengthField) {
    StringDictionary d;
    std::string a(70000, 'x');
    std::string b = a;
    b.back() = 'y';
    std::string c(65535, 'x');
    std::string e(65534, 'x');
    EXPECT_EQ(d.intern(a), 0u);
    EXPECT_EQ(d.intern(b), 1u);
    EXPECT_EQ(d.intern(c), 2u);
    EXPECT_EQ(d.intern(e), 3u);
    EXPECT_EQ(d.intern(a), 0u);
    EXPECT_EQ(d.find(b), 1u);
    EXPECT_EQ(d.find(c), 2u);
    EXPECT_EQ(d.find(e), 3u);
    EXPECT_FALSE(d.find(std::string(65536, 'x')));
    EXPECT_EQ(d.at(1), b);
}

// insert() tells a new key from one already there; reserving first (the table sized once, also
// after keys were added, and a reservation smaller than the contents) changes no code.
TEST(StringDictionary, InsertAndReserveKeepCodesAsInternDoes) {
    std::vector<std::string> keys;
    for (int i = 0; i < 5000; ++i) {
        keys.push_back(i % 3 == 0 ? std::to_string(i * 31 % 4000)
                                  : std::string(40 + i % 30, static_cast<char>('a' + i % 26)) +
                                        std::to_string(i % 2500));
    }
    StringDictionary plain;
    StringDictionary reserved;
    reserved.reserve(keys.size(), 64 * keys.size());
    StringDictionary late;
    for (size_t i = 0; i < keys.size(); ++i) {
        if (i == 100) {
            late.reserve(keys.size());
        }
        if (i == 200) {
            late.reserve(10);  // smaller than what it holds: nothing changes
        }
        uint32_t expected = plain.intern(keys[i]);
        bool is_new = expected + 1 == plain.size() && !reserved.find(keys[i]);
        auto [code, added] = reserved.insert(keys[i], hash_bytes(keys[i]));
        EXPECT_EQ(code, expected) << keys[i];
        EXPECT_EQ(added, is_new) << keys[i];
        EXPECT_EQ(late.intern(keys[i], hash_bytes(keys[i])), expected) << keys[i];
    }
    ASSERT_EQ(reserved.size(), plain.size());
    ASSERT_EQ(late.size(), plain.size());
    for (uint32_t code = 0; code < plain.size(); ++code) {
        EXPECT_EQ(reserved.at(code), plain.at(code));
        EXPECT_EQ(late.find(plain.at(code)), code);
    }
    EXPECT_FALSE(reserved.find("never added"));
}
}  // namespace
}  // namespace lookbook

namespace lookbook {
namespace {

// Break-it review of stop 19: growing four times at every size gave 2.2 million customer ids
// a table of 2^24 slots (268 MB) where doubling gives 2^23, and ingest's peak memory rose 44%.
TEST(StringDictionary, GrowsFourTimesOnlyWhileSmall) {
    EXPECT_EQ(StringDictionary::grown_slot_count(16), 64u);
    EXPECT_EQ(StringDictionary::grown_slot_count(size_t{1} << 18), size_t{1} << 20);
    EXPECT_EQ(StringDictionary::grown_slot_count(size_t{1} << 20), size_t{1} << 21);
    EXPECT_EQ(StringDictionary::grown_slot_count(size_t{1} << 22), size_t{1} << 23);
}

TEST(StringDictionary, ATableGrownFromNothingStaysUnderFourSlotsPerStringWhenLarge) {
    StringDictionary dictionary;
    const size_t strings = 700'000;  // past 2^20 slots at the table's load of one half
    for (size_t i = 0; i < strings; ++i) {
        dictionary.intern("id" + std::to_string(i));
    }
    ASSERT_EQ(dictionary.size(), strings);
    EXPECT_GT(dictionary.slot_count(), StringDictionary::kFastGrowthSlots);
    EXPECT_LE(dictionary.slot_count(), 4 * strings);
    for (size_t i = 0; i < strings; i += 9973) {
        EXPECT_EQ(dictionary.find("id" + std::to_string(i)), static_cast<uint32_t>(i));
    }
}

}  // namespace
}  // namespace lookbook
