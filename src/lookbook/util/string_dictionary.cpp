#include "lookbook/util/string_dictionary.hpp"

#include <algorithm>

namespace lookbook {

namespace {

// The `n` (at most 8) bytes at `p` as a word, zero-padded above them, read with at most three
// loads straight into registers. Copying them into a word on the stack and loading that word
// back waits for the copy's byte stores to retire (a store-forwarding stall of about 15
// cycles): it was half of hashing a 10-byte article id and two thirds of looking one up.
inline uint64_t load_partial(const char* p, size_t n) {
    if (n >= 4) {
        // Two loads that overlap when n < 8; the overlapping bytes are equal, so OR keeps them.
        uint32_t low;
        uint32_t high;
        std::memcpy(&low, p, 4);
        std::memcpy(&high, p + n - 4, 4);
        return low | static_cast<uint64_t>(high) << (8 * (n - 4));
    }
    if (n == 0) {
        return 0;
    }
    // 1 to 3 bytes: the first, the middle and the last byte cover them all.
    return static_cast<uint64_t>(static_cast<uint8_t>(p[0])) |
           static_cast<uint64_t>(static_cast<uint8_t>(p[n / 2])) << (8 * (n / 2)) |
           static_cast<uint64_t>(static_cast<uint8_t>(p[n - 1])) << (8 * (n - 1));
}

}  // namespace

uint64_t hash_bytes(std::string_view text) {
    constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
    const char* p = text.data();
    size_t n = text.size();
    uint64_t h = 0x243F6A8885A308D3ull ^ (n * kMul);
    while (n >= 8) {
        uint64_t word;
        std::memcpy(&word, p, 8);
        h = (h ^ word) * kMul;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    if (n > 0) {
        uint64_t word = load_partial(p, n);
        h = (h ^ word) * kMul;
        h ^= h >> 29;
    }
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 31);
}

namespace {

constexpr size_t kInlineBytes = 11;
constexpr uint32_t kLongKeyMarker = 0xFF000000u;
// A long key's length field; this value means "look the length up in the offsets".
constexpr uint64_t kLengthUnknown = 0xFFFF;

// The slot index uses the low hash bits, the tag the high ones, so keys that share a probe
// chain still differ in their tags.
uint32_t long_key_tag(uint64_t hash) { return kLongKeyMarker | static_cast<uint32_t>(hash >> 40); }

}  // namespace

StringDictionary::Slot StringDictionary::make_key(std::string_view text,
                                                  uint64_t hash,
                                                  uint64_t offset) {
    Slot slot;
    if (text.size() <= kInlineBytes) {
        // Bytes 0-7 in key_lo, 8-10 and the length in key_hi (little-endian, as if copied).
        const char* p = text.data();
        const size_t n = text.size();
        if (n <= 8) {
            slot.key_lo = load_partial(p, n);
            slot.key_hi = 0;
        } else {
            std::memcpy(&slot.key_lo, p, 8);
            slot.key_hi = static_cast<uint32_t>(load_partial(p + 8, n - 8));
        }
        slot.key_hi |= static_cast<uint32_t>(n) << 24;
    } else {
        slot.key_lo = offset << 16 | std::min<uint64_t>(text.size(), kLengthUnknown);
        slot.key_hi = long_key_tag(hash);
    }
    return slot;
}

StringDictionary::StringDictionary() : offsets_{0}, slots_(1024) { mask_ = slots_.size() - 1; }

void StringDictionary::reserve(size_t strings, size_t bytes) {
    offsets_.reserve(strings + 1);
    arena_.reserve(bytes);
    size_t slots = slots_.size();
    while (slots < strings * 2) {
        slots *= 2;
    }
    if (slots > slots_.size()) {
        rebuild(slots);
    }
}

size_t StringDictionary::probe(std::string_view text, uint64_t h) const {
    const bool is_long = text.size() > kInlineBytes;
    const Slot key = make_key(text, h, 0);
    for (uint64_t slot = h & mask_;; slot = (slot + 1) & mask_) {
        const Slot& entry = slots_[slot];
        if (entry.code_plus_one == 0) {
            return slot;
        }
        if (entry.key_hi != key.key_hi) {
            continue;
        }
        if (!is_long) {
            if (entry.key_lo == key.key_lo) {
                return slot;
            }
            continue;
        }
        // Same tag: compare the text, straight from the arena when the slot knows its length.
        uint64_t length = entry.key_lo & kLengthUnknown;
        if (length != kLengthUnknown) {
            if (length == text.size() &&
                std::memcmp(arena_.data() + (entry.key_lo >> 16), text.data(), length) == 0) {
                return slot;
            }
        } else if (at(entry.code_plus_one - 1) == text) {
            return slot;
        }
    }
}

std::optional<uint32_t> StringDictionary::find(std::string_view text, uint64_t h) const {
    const Slot& entry = slots_[probe(text, h)];
    if (entry.code_plus_one == 0) {
        return std::nullopt;
    }
    return entry.code_plus_one - 1;
}

void StringDictionary::prefetch_text(std::string_view text, uint64_t h) const {
    if (text.size() <= kInlineBytes) {
        return;
    }
    const Slot& entry = slots_[h & mask_];
    if (entry.code_plus_one != 0 && entry.key_hi == long_key_tag(h)) {
        // The first and last byte: a 64-byte id usually spans two cache lines.
        const char* stored = arena_.data() + (entry.key_lo >> 16);
        __builtin_prefetch(stored);
        __builtin_prefetch(stored + text.size() - 1);
    }
}

std::pair<uint32_t, bool> StringDictionary::insert(std::string_view text, uint64_t h) {
    size_t slot = probe(text, h);
    if (slots_[slot].code_plus_one != 0) {
        return {slots_[slot].code_plus_one - 1, false};
    }
    uint32_t code = size();
    Slot key = make_key(text, h, arena_.size());
    arena_.append(text);
    offsets_.push_back(arena_.size());
    key.code_plus_one = code + 1;
    slots_[slot] = key;
    // Keep the table at most half full so probes stay short.
    if (static_cast<uint64_t>(size()) * 2 > slots_.size()) {
        grow();
    }
    return {code, true};
}

// Four times the slots while the table is small, then two: every rebuild hashes and places
// every string again, and a table that grows from nothing (the postal codes of ingest_bench's
// 312,500 customers) spent 0.014 s of the customers step's 0.100 in rebuilds at each doubling.
// Beyond 2^20 slots (16 MB) the table doubles as before: growing four times there gave a table
// of 2.2 million customer ids (no customers file) 2^24 slots instead of 2^23, and raised the
// ingest's peak memory from 721 to 1,036 MB (break-it review, stop 19).
size_t StringDictionary::grown_slot_count(size_t slot_count) {
    return slot_count < kFastGrowthSlots ? slot_count * 4 : slot_count * 2;
}

void StringDictionary::grow() { rebuild(grown_slot_count(slots_.size())); }

void StringDictionary::rebuild(size_t slot_count) {
    std::vector<Slot> slots(slot_count);
    uint64_t mask = slots.size() - 1;
    // Walk the strings in code order: the arena and offsets are read front to back, which the
    // hardware prefetcher follows, where walking the old slots would jump around the arena.
    // Hashes run kAhead strings in front, so that the slot each lands in is already on its way
    // from memory when it is written.
    constexpr uint32_t kAhead = 16;
    uint64_t ahead[kAhead];
    const uint32_t n = size();
    for (uint32_t code = 0; code < std::min(n, kAhead); ++code) {
        ahead[code] = hash_bytes(at(code));
        __builtin_prefetch(&slots[ahead[code] & mask]);
    }
    for (uint32_t code = 0; code < n; ++code) {
        std::string_view text = at(code);
        uint64_t h = ahead[code % kAhead];
        if (code + kAhead < n) {
            uint64_t later = hash_bytes(at(code + kAhead));
            ahead[code % kAhead] = later;
            __builtin_prefetch(&slots[later & mask]);
        }
        uint64_t slot = h & mask;
        while (slots[slot].code_plus_one != 0) {
            slot = (slot + 1) & mask;
        }
        slots[slot] = make_key(text, h, offsets_[code]);
        slots[slot].code_plus_one = code + 1;
    }
    slots_.swap(slots);
    mask_ = mask;
}

}  // namespace lookbook
