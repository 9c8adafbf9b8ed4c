#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lookbook {

// A fast 64-bit hash of a byte string (multiply-xor over 8-byte words). Not cryptographic;
// used to dictionary-encode ids during ingest, where it runs once per field.
uint64_t hash_bytes(std::string_view text);

// Assigns dense codes 0, 1, 2, ... to distinct strings in order of first appearance.
// Strings are copied into one arena; lookups use open addressing with linear probing.
class StringDictionary {
  public:
    StringDictionary();

    // The code of `text`, adding it when new.
    uint32_t intern(std::string_view text);
    // The code of `text`, or nullopt when it was never added.
    std::optional<uint32_t> find(std::string_view text) const;

    std::string_view at(uint32_t code) const {
        return std::string_view(arena_.data() + offsets_[code],
                                offsets_[code + 1] - offsets_[code]);
    }
    uint32_t size() const { return static_cast<uint32_t>(offsets_.size() - 1); }

    // Arena and offsets (size()+1 entries) for writing the dictionary out.
    const std::string& arena() const { return arena_; }
    const std::vector<uint64_t>& offsets() const { return offsets_; }

    void reserve(size_t strings);

  private:
    void grow();

    std::string arena_;
    std::vector<uint64_t> offsets_;
    // Slot: code + 1 (0 = empty); hashes kept alongside to skip most string compares.
    std::vector<uint32_t> slots_;
    std::vector<uint32_t> slot_hashes_;
    uint64_t mask_ = 0;
};

}  // namespace lookbook
