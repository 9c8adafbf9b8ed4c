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

constexpr size_t kInlineBytes = 11;
constexpr uint32_t kLongKeyMarker = 0xFF000000u;

StringDictionary::Slot StringDictionary::make_key(std::string_view text, uint64_t hash) {
    Slot slot;
    if (text.size() <= kInlineBytes) {
        char bytes[12] = {};
        if (!text.empty()) {
            std::memcpy(bytes, text.data(), text.size());
        }
        bytes[11] = static_cast<char>(text.size());
        std::memcpy(&slot.key_lo, bytes, 8);
        std::memcpy(&slot.key_hi, bytes + 8, 4);
    } else {
        slot.key_lo = hash;
        slot.key_hi = kLongKeyMarker;
    }
    return slot;
}

StringDictionary::StringDictionary() : offsets_{0}, slots_(1024) { mask_ = slots_.size() - 1; }

void StringDictionary::reserve(size_t strings) {
    offsets_.reserve(strings + 1);
    while (slots_.size() < strings * 2) {
        grow();
    }
}

std::optional<uint32_t> StringDictionary::find(std::string_view text, uint64_t h) const {
    Slot key = make_key(text, h);
    bool is_long = key.key_hi == kLongKeyMarker;
    for (uint64_t slot = h & mask_;; slot = (slot + 1) & mask_) {
        const Slot& entry = slots_[slot];
        if (entry.code_plus_one == 0) {
            return std::nullopt;
        }
        if (entry.key_lo == key.key_lo && entry.key_hi == key.key_hi) {
            uint32_t code = entry.code_plus_one - 1;
            if (!is_long || at(code) == text) {
                return code;
            }
        }
    }
}

void StringDictionary::prefetch_text(std::string_view text, uint64_t h) const {
    if (text.size() <= kInlineBytes) {
        return;
    }
    const Slot& entry = slots_[h & mask_];
    if (entry.code_plus_one != 0 && entry.key_lo == h) {
        const uint64_t* offset = &offsets_[entry.code_plus_one - 1];
        __builtin_prefetch(offset);
        __builtin_prefetch(arena_.data() + *offset);
    }
}

uint32_t StringDictionary::intern(std::string_view text) {
    uint64_t h = hash_bytes(text);
    Slot key = make_key(text, h);
    bool is_long = key.key_hi == kLongKeyMarker;
    uint64_t slot = h & mask_;
    for (;; slot = (slot + 1) & mask_) {
        const Slot& entry = slots_[slot];
        if (entry.code_plus_one == 0) {
            break;
        }
        if (entry.key_lo == key.key_lo && entry.key_hi == key.key_hi) {
            uint32_t code = entry.code_plus_one - 1;
            if (!is_long || at(code) == text) {
                return code;
            }
        }
    }
    uint32_t code = size();
    arena_.append(text);
    offsets_.push_back(arena_.size());
    key.code_plus_one = code + 1;
    slots_[slot] = key;
    // Keep the table at most half full so probes stay short.
    if (static_cast<uint64_t>(size()) * 2 > slots_.size()) {
        grow();
    }
    return code;
}

void StringDictionary::grow() {
    std::vector<Slot> slots(slots_.size() * 2);
    uint64_t mask = slots.size() - 1;
    for (const Slot& entry : slots_) {
        if (entry.code_plus_one == 0) {
            continue;
        }
        uint64_t h = hash_bytes(at(entry.code_plus_one - 1));
        uint64_t slot = h & mask;
        while (slots[slot].code_plus_one != 0) {
            slot = (slot + 1) & mask;
        }
        slots[slot] = entry;
    }
    slots_.swap(slots);
    mask_ = mask;
}

}  // namespace lookbook
