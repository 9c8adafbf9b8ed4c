#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lookbook {

// A fast 64-bit hash of a byte string (multiply-xor over 8-byte words). Not cryptographic;
// used to dictionary-encode ids during ingest, where it runs once per field.
uint64_t hash_bytes(std::string_view text);

// Assigns dense codes 0, 1, 2, ... to distinct strings in order of first appearance.
// Strings are copied into one arena; lookups use open addressing with linear probing. Strings
// of up to 11 bytes (article ids, SKUs) are also kept inside the slot itself, so looking one up
// touches one cache line and never the arena. Longer ones (64-hex customer ids) keep 24 hash
// bits, their length and their place in the arena in the slot: a lookup reads the slot and,
// when the hash bits match, the stored text itself, with no offsets table in between.
class StringDictionary {
  public:
    StringDictionary();

    // The code of `text`, adding it when new.
    uint32_t intern(std::string_view text) { return intern(text, hash_bytes(text)); }
    // The same with the hash already computed (hash_bytes(text)).
    uint32_t intern(std::string_view text, uint64_t hash) { return insert(text, hash).first; }
    // The code of `text` and whether this call added it (false: it was there before).
    std::pair<uint32_t, bool> insert(std::string_view text, uint64_t hash);
    // The code of `text`, or nullopt when it was never added.
    std::optional<uint32_t> find(std::string_view text) const {
        return find(text, hash_bytes(text));
    }
    // The same with the hash already computed (hash_bytes(text)).
    std::optional<uint32_t> find(std::string_view text, uint64_t hash) const;
    // Starts loading the slot a later find(text, hash) will read, so that lookups done in a
    // batch overlap their cache misses instead of waiting for each in turn.
    void prefetch(uint64_t hash) const { __builtin_prefetch(&slots_[hash & mask_]); }
    // Second stage for strings longer than the slot holds: once prefetch(hash) has landed,
    // starts loading the stored text that find() will compare against.
    void prefetch_text(std::string_view text, uint64_t hash) const;

    std::string_view at(uint32_t code) const {
        return std::string_view(arena_.data() + offsets_[code],
                                offsets_[code + 1] - offsets_[code]);
    }
    uint32_t size() const { return static_cast<uint32_t>(offsets_.size() - 1); }

    // Arena and offsets (size()+1 entries) for writing the dictionary out.
    std::string_view arena() const { return arena_; }
    const std::vector<uint64_t>& offsets() const { return offsets_; }

    // Room for `strings` strings of `bytes` bytes in all without growing: the table is sized
    // once instead of being rebuilt at every doubling.
    void reserve(size_t strings, size_t bytes = 0);

    // Slots in the table (16 bytes each).
    size_t slot_count() const { return slots_.size(); }
    // The slots a full table of `slot_count` grows to: four times as many below
    // kFastGrowthSlots, twice as many from there.
    static constexpr size_t kFastGrowthSlots = size_t{1} << 20;
    static size_t grown_slot_count(size_t slot_count);

  private:
    // 16 bytes. Short key: bytes 0-10 hold the key zero-padded, byte 11 its length. Long key:
    // key_lo holds (arena offset << 16 | length, or 0xFFFF when the length does not fit) and
    // key_hi holds 0xFF in its top byte and 24 hash bits below. Then code + 1 (0 = empty).
    struct Slot {
        uint64_t key_lo = 0;
        uint32_t key_hi = 0;
        uint32_t code_plus_one = 0;
    };
    // The slots and the arena live on ordinary pages. Transparent huge pages spared TLB misses
    // in lookups, but on this project's virtual machines a huge page's first touch costs 3-4
    // times as much as the same bytes in small pages (the host backs it then): the customers
    // step of ingest_bench, which fills about 100 MB of new dictionaries, took 0.27-0.31 s with
    // them and 0.13-0.14 s without, and the transactions step gained nothing measurable.
    // The slot `text` is stored in; `offset` is where its copy starts in the arena.
    static Slot make_key(std::string_view text, uint64_t hash, uint64_t offset);
    // The slot holding `text`'s code, or the empty slot where it would go.
    size_t probe(std::string_view text, uint64_t hash) const;
    // Rebuilds the table at grown_slot_count(), reading the arena in order (no random reads).
    void grow();
    // Moves every string to a table of `slot_count` slots (a power of two, at least twice the
    // strings held).
    void rebuild(size_t slot_count);

    std::string arena_;
    std::vector<uint64_t> offsets_;
    std::vector<Slot> slots_;
    uint64_t mask_ = 0;
};

}  // namespace lookbook
