#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lookbook/rules/basket.hpp"
#include "lookbook/util/status.hpp"

namespace lookbook::rules {

// Baskets holding more distinct frequent items than this are cut (with a warning) to their most
// frequent items: one basket of 200 frequent items alone holds 2^200 itemsets.
constexpr size_t kDefaultMaxBasketSize = 256;

// Mining stops with kResourceExhausted beyond this many itemsets (about 30 bytes each in memory).
constexpr uint64_t kDefaultMaxItemsets = 50'000'000;

// The minimum support, as a fraction of the baskets or as an absolute count of baskets.
//
// A fraction f becomes the count ceil(f * N), N being the total basket weight (the number of
// baskets when none has a weight), and at least 1. The product is taken in double precision with
// a relative slack of 1e-12 so that a product meant to be whole is not pushed up by rounding:
// 0.1 of 30 baskets is 3, not 4. An itemset is frequent when its support is >= that count.
struct MinSupport {
    bool is_fraction = true;
    double fraction = 0.01;  // used when is_fraction; 0 < fraction <= 1
    Count count = 1;         // used otherwise; >= 1

    static MinSupport of_fraction(double value) { return MinSupport{true, value, 0}; }
    static MinSupport of_count(Count value) { return MinSupport{false, 0.0, value}; }

    // The absolute count for `total_weight` baskets, by the rounding rule above.
    Count to_count(Count total_weight) const;

    // "0.05% (45 of 88162 baskets)" or "5 baskets", for messages.
    std::string describe(Count total_weight) const;
};

// Parses a --min-support value: "0.0005" or "0.05%" are fractions (a plain number below 1 is a
// fraction), "5" is an absolute count (a number >= 1 must be whole). Fails with kInvalidArgument
// naming the value and the accepted forms.
Result<MinSupport> parse_min_support(std::string_view text);

struct MiningOptions {
    MinSupport min_support;
    // Longest itemset reported; 0 for no limit.
    size_t max_length = 0;
    // Baskets with more distinct frequent items keep their most frequent ones; 0 for no cap.
    size_t max_basket_size = kDefaultMaxBasketSize;
    // Mining fails with kResourceExhausted when it would report more itemsets than this.
    uint64_t max_itemsets = kDefaultMaxItemsets;
    // Worker threads for the top-level conditional trees; 0 uses every core.
    unsigned threads = 0;
};

// Frequent itemsets in one flat array. Each itemset lists its items by descending support of the
// single item (ties by item id), so one set of items has exactly one spelling. Mining fills it
// grouped by each itemset's least frequent item, the rarest item's group first, in the same
// order whatever the number of threads.
class ItemsetTable {
  public:
    size_t size() const { return supports_.size(); }
    std::span<const ItemId> items(size_t itemset_idx) const {
        return {items_.data() + offsets_[itemset_idx], items_.data() + offsets_[itemset_idx + 1]};
    }
    Count support(size_t itemset_idx) const { return supports_[itemset_idx]; }

    void add(std::span<const ItemId> items, Count support);
    void reserve(size_t itemsets, size_t occurrences);
    // Appends itemsets [begin, end) of `other`.
    void append(const ItemsetTable& other, size_t begin, size_t end);
    // Replaces every item id by map[id] (used to turn mining ranks into item ids).
    void remap(std::span<const ItemId> map);

  private:
    std::vector<uint64_t> offsets_{0};
    std::vector<ItemId> items_;
    std::vector<Count> supports_;
};

// The outcome of a mining run.
struct FrequentItemsets {
    ItemsetTable itemsets;
    Count total_weight = 0;  // N: what fractional supports are relative to
    Count min_count = 0;     // the absolute minimum support used
    // Item ids ordered by descending support (ties by id): the order inside every itemset.
    std::vector<ItemId> item_order;
};

// How much work a mining run did, so that timings at different sizes can be compared per unit
// of work rather than per basket (a larger input can hold more frequent itemsets).
struct MiningWork {
    uint64_t frequent_items = 0;
    uint64_t distinct_baskets = 0;   // recoded baskets after merging identical ones
    uint64_t occurrences = 0;        // frequent-item occurrences in the distinct baskets
    uint64_t conditional_trees = 0;  // conditional FP-trees built
    uint64_t tree_nodes = 0;         // nodes of those trees, summed
    uint64_t path_items = 0;         // items read on prefix paths, summed over all trees
    double prepare_cpu_seconds = 0;  // counting, recoding and sorting the baskets (thread CPU)
};

// Itemset counts only, for benchmarks and dry runs: no itemset is stored.
struct ItemsetCounts {
    Count total_weight = 0;
    Count min_count = 0;
    uint64_t total = 0;
    std::vector<uint64_t> by_length;  // by_length[k] = number of frequent k-itemsets
    MiningWork work;
};

// Mines every frequent itemset of `baskets` with FP-Growth. An item repeated in a basket counts
// once; empty baskets count towards N. Fails with kInvalidArgument for a fraction outside (0, 1]
// or a count of 0, and with kResourceExhausted (naming the support, the limit and what to change)
// when there are more than options.max_itemsets itemsets.
Result<FrequentItemsets> mine_frequent_itemsets(const BasketSet& baskets,
                                                const MiningOptions& options);

// Same mining, counting itemsets by length instead of storing them.
Result<ItemsetCounts> count_frequent_itemsets(const BasketSet& baskets,
                                              const MiningOptions& options);

namespace detail {
// Words before the ranks in a basket record: the number of ranks, then a payload.
constexpr size_t kRecordHeader = 2;

// Sorts the basket records laid out back to back in `records`, each [length, payload, rank 0,
// ..., rank length-1], so that their rank sequences are in lexicographic order, a basket before
// its extensions; ranks are below n_ranks. Records move whole, payload included. Linear in the
// size of `records` (radix passes). Exposed for its test.
void sort_basket_records(std::vector<uint32_t>& records, size_t n_ranks);
}  // namespace detail

}  // namespace lookbook::rules
