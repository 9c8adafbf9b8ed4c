#include "lookbook/util/string_dictionary.hpp"

namespace lookbook {

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
        uint64_t word = 0;
        std::memcpy(&word, p, n);
        h = (h ^ word) * kMul;
        h ^= h >> 29;
    }
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 31);
}

StringDictionary::StringDictionary() : offsets_{0}, slots_(1024, 0), slot_hashes_(1024, 0) {
    mask_ = slots_.size() - 1;
}

void StringDictionary::reserve(size_t strings) {
    offsets_.reserve(strings + 1);
    while (slots_.size() < strings * 2) {
        grow();
    }
}

std::optional<uint32_t> StringDictionary::find(std::string_view text) const {
    uint64_t h = hash_bytes(text);
    uint32_t tag = static_cast<uint32_t>(h >> 32);
    for (uint64_t slot = h & mask_;; slot = (slot + 1) & mask_) {
        uint32_t entry = slots_[slot];
        if (entry == 0) {
            return std::nullopt;
        }
        if (slot_hashes_[slot] == tag && at(entry - 1) == text) {
            return entry - 1;
        }
    }
}

uint32_t StringDictionary::intern(std::string_view text) {
    uint64_t h = hash_bytes(text);
    uint32_t tag = static_cast<uint32_t>(h >> 32);
    uint64_t slot = h & mask_;
    for (;; slot = (slot + 1) & mask_) {
        uint32_t entry = slots_[slot];
        if (entry == 0) {
            break;
        }
        if (slot_hashes_[slot] == tag && at(entry - 1) == text) {
            return entry - 1;
        }
    }
    uint32_t code = size();
    arena_.append(text);
    offsets_.push_back(arena_.size());
    slots_[slot] = code + 1;
    slot_hashes_[slot] = tag;
    // Keep the table at most half full so probes stay short.
    if (static_cast<uint64_t>(size()) * 2 > slots_.size()) {
        grow();
    }
    return code;
}

void StringDictionary::grow() {
    std::vector<uint32_t> slots(slots_.size() * 2, 0);
    std::vector<uint32_t> hashes(slots.size(), 0);
    uint64_t mask = slots.size() - 1;
    for (uint32_t code = 0; code < size(); ++code) {
        uint64_t h = hash_bytes(at(code));
        uint64_t slot = h & mask;
        while (slots[slot] != 0) {
            slot = (slot + 1) & mask;
        }
        slots[slot] = code + 1;
        hashes[slot] = static_cast<uint32_t>(h >> 32);
    }
    slots_.swap(slots);
    slot_hashes_.swap(hashes);
    mask_ = mask;
}

}  // namespace lookbook
