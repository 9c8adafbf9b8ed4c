#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lookbook/util/status.hpp"

namespace lookbook::rules {

// Dense item id inside one BasketSet: 0 .. item_count() - 1, in order of first appearance.
using ItemId = uint32_t;

// A support: how many baskets (or, with weighted baskets, the sum of their weights).
using Count = uint64_t;

// A list of baskets over a dictionary of item names, stored as one flat array (CSR layout) so
// millions of baskets cost a few bytes each. A basket may repeat an item (a till row scanned
// twice); the miner counts it once. Each basket carries a weight: the number of identical
// baskets it stands for (1 unless the caller gives counts).
class BasketSet {
  public:
    BasketSet() = default;

    // Returns the id of `name`, adding it to the dictionary when new.
    ItemId intern(std::string_view name);

    // Appends a basket of already interned ids (may be empty, may repeat ids) standing for
    // `weight` identical baskets. A weight of 0 is allowed and makes the basket invisible.
    void add_basket(std::span<const ItemId> items, Count weight = 1);

    // Convenience for tests and small callers: interns every name, then adds the basket.
    void add_named_basket(const std::vector<std::string>& names, Count weight = 1);

    size_t size() const { return weights_.size(); }
    size_t item_count() const { return names_.size(); }
    std::span<const ItemId> basket(size_t basket_idx) const {
        return {items_.data() + offsets_[basket_idx], items_.data() + offsets_[basket_idx + 1]};
    }
    Count weight(size_t basket_idx) const { return weights_[basket_idx]; }

    // Sum of the weights: the "number of baskets" that fractional supports refer to.
    Count total_weight() const { return total_weight_; }

    const std::string& item_name(ItemId item) const { return names_[item]; }

    // Looks a name up without adding it; false when the name is not in the dictionary.
    bool find(std::string_view name, ItemId* item) const;

    // Total item occurrences over all baskets (duplicates included); for sizing and logs.
    size_t occurrence_count() const { return items_.size(); }

    // Reserves room for `baskets` baskets holding `occurrences` item occurrences in all.
    void reserve(size_t baskets, size_t occurrences);

  private:
    // Heterogeneous lookup so intern(string_view) does not build a std::string per token.
    struct NameHash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };

    std::vector<std::string> names_;
    std::unordered_map<std::string, ItemId, NameHash, std::equal_to<>> ids_;
    std::vector<uint64_t> offsets_{0};
    std::vector<ItemId> items_;
    std::vector<Count> weights_;
    Count total_weight_ = 0;
};

// How a basket file spells its items; every format has one basket per line, a blank line is an
// empty basket, and CRLF line ends are accepted.
enum class BasketFileFormat {
    kAuto,   // kNames when the file holds a comma, otherwise kFimi
    kFimi,   // whole numbers separated by spaces or tabs (the FIMI repository's .dat files)
    kNames,  // item names separated by commas, spaces around a name trimmed (groceries.csv)
};

// Parses "auto", "fimi" or "names" (the --format option); kInvalidArgument for anything else.
Result<BasketFileFormat> parse_basket_file_format(std::string_view text);

// Reads a basket file. FIMI numbers become item names in their decimal spelling ("007" reads as
// "7"). Fails with kNotFound when the file does not exist and kInvalidData naming the file and
// line for a token that is not a number (kFimi) or an empty name between commas (kNames).
Result<BasketSet> read_basket_file(const std::filesystem::path& path,
                                   BasketFileFormat format = BasketFileFormat::kAuto);

// Same as read_basket_file on text already in memory; `source_name` is used in messages.
Result<BasketSet> parse_baskets(std::string_view text,
                                BasketFileFormat format,
                                const std::string& source_name);

}  // namespace lookbook::rules
