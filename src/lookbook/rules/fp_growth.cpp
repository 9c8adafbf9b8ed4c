#include "lookbook/rules/fp_growth.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <numeric>
#include <thread>

#include <fmt/format.h>
#include <time.h>

#include "lookbook/util/assert.hpp"
#include "lookbook/util/log.hpp"

namespace lookbook::rules {

Count MinSupport::to_count(Count total_weight) const {
    if (!is_fraction) {
        return std::max<Count>(count, 1);
    }
    // The slack forgives the last bits of a product that is whole in decimal (0.1 * 30).
    double product = fraction * static_cast<double>(total_weight);
    auto rounded = static_cast<Count>(std::ceil(product * (1.0 - 1e-12)));
    return std::max<Count>(rounded, 1);
}

std::string MinSupport::describe(Count total_weight) const {
    if (!is_fraction) {
        return fmt::format("{} basket{}", count, count == 1 ? "" : "s");
    }
    return fmt::format(
        "{:g}% ({} of {} baskets)", fraction * 100.0, to_count(total_weight), total_weight);
}

Result<MinSupport> parse_min_support(std::string_view text) {
    std::string value(text);
    bool percent = !value.empty() && value.back() == '%';
    if (percent) {
        value.pop_back();
    }
    char* end = nullptr;
    double number = value.empty() ? NAN : std::strtod(value.c_str(), &end);
    bool parsed = !value.empty() && end == value.c_str() + value.size() && std::isfinite(number);
    if (percent) {
        number /= 100.0;
    }
    if (!parsed || number <= 0.0 || (percent && number > 1.0)) {
        return Status::invalid_argument(fmt::format(
            "--min-support is \"{}\"; expected a fraction of the baskets (0.0005 or 0.05%) or a "
            "whole number of baskets (5).",
            text));
    }
    if (percent || number < 1.0) {
        return MinSupport::of_fraction(number);
    }
    if (number != std::floor(number)) {
        return Status::invalid_argument(
            fmt::format("--min-support is \"{}\"; a value of 1 or more is a number of baskets and "
                        "must be whole. For a fraction write it below 1 (0.05) or as a percentage "
                        "(5%).",
                        text));
    }
    return MinSupport::of_count(static_cast<Count>(number));
}

void ItemsetTable::add(std::span<const ItemId> items, Count support) {
    items_.insert(items_.end(), items.begin(), items.end());
    offsets_.push_back(items_.size());
    supports_.push_back(support);
}

void ItemsetTable::reserve(size_t itemsets, size_t occurrences) {
    offsets_.reserve(itemsets + 1);
    supports_.reserve(itemsets);
    items_.reserve(occurrences);
}

void ItemsetTable::append(const ItemsetTable& other, size_t begin, size_t end) {
    for (size_t idx = begin; idx < end; ++idx) {
        add(other.items(idx), other.support(idx));
    }
}

void ItemsetTable::remap(std::span<const ItemId> map) {
    for (ItemId& item : items_) {
        item = map[item];
    }
}

namespace detail {

// Sorts the basket records by rank sequence in time linear in their size: a comparison sort of n
// baskets costs n log n, and sorting indices costs two cache misses per basket and pass once
// the baskets outgrow the cache (16x the synthetic scaling case: 28 MB of ranks). So the records
// themselves move: each most-significant-digit radix pass (a counting sort on the rank at one
// depth) reads its group sequentially and writes one run per digit. Groups smaller than a bound
// independent of n are finished by a comparison sort within the group, so their log factor is a
// constant and their records sit in a few cache lines.
void sort_basket_records(std::vector<uint32_t>& records, size_t n_ranks) {
    auto record_words = [&](size_t pos) { return kRecordHeader + records[pos]; };
    // Digit at `depth`: rank + 1, or 0 when the basket has ended, so shorter baskets come first.
    auto digit = [&](size_t pos, size_t depth) -> uint32_t {
        return depth < records[pos] ? records[pos + kRecordHeader + depth] + 1 : 0;
    };
    // Below this many records a counting pass (which clears n_ranks + 1 counters) costs more
    // than a comparison sort of the group.
    const size_t small_group = std::max<size_t>(64, n_ranks / 4);
    struct Group {
        size_t begin;  // word range in `records`
        size_t end;
        size_t count;  // records in it
        size_t depth;
    };
    size_t n_records = 0;
    for (size_t pos = 0; pos < records.size(); pos += record_words(pos)) {
        ++n_records;
    }
    std::vector<Group> pending{{0, records.size(), n_records, 0}};
    std::vector<uint32_t> buffer(records.size());
    std::vector<size_t> starts(n_ranks + 2);
    std::vector<size_t> counts(n_ranks + 1);
    std::vector<size_t> next(n_ranks + 1);
    std::vector<size_t> positions;
    while (!pending.empty()) {
        Group group = pending.back();
        pending.pop_back();
        if (group.count < small_group) {
            positions.clear();
            for (size_t pos = group.begin; pos < group.end; pos += record_words(pos)) {
                positions.push_back(pos);
            }
            std::sort(positions.begin(), positions.end(), [&](size_t a, size_t b) {
                const uint32_t* lhs = records.data() + a + kRecordHeader;
                const uint32_t* rhs = records.data() + b + kRecordHeader;
                return std::lexicographical_compare(lhs + std::min<size_t>(group.depth, records[a]),
                                                    lhs + records[a],
                                                    rhs + std::min<size_t>(group.depth, records[b]),
                                                    rhs + records[b]);
            });
            size_t out = group.begin;
            for (size_t pos : positions) {
                std::copy_n(records.begin() + static_cast<ptrdiff_t>(pos),
                            record_words(pos),
                            buffer.begin() + static_cast<ptrdiff_t>(out));
                out += record_words(pos);
            }
        } else {
            std::fill(starts.begin(), starts.end(), 0);
            std::fill(counts.begin(), counts.end(), 0);
            for (size_t pos = group.begin; pos < group.end; pos += record_words(pos)) {
                uint32_t value = digit(pos, group.depth);
                starts[value + 1] += record_words(pos);
                ++counts[value];
            }
            for (size_t bucket = 1; bucket < starts.size(); ++bucket) {
                starts[bucket] += starts[bucket - 1];
            }
            // starts[d] is now where digit d's run begins inside the group (in words).
            std::copy(starts.begin(), starts.end() - 1, next.begin());
            for (size_t pos = group.begin; pos < group.end; pos += record_words(pos)) {
                size_t out = group.begin + next[digit(pos, group.depth)];
                std::copy_n(records.begin() + static_cast<ptrdiff_t>(pos),
                            record_words(pos),
                            buffer.begin() + static_cast<ptrdiff_t>(out));
                next[digit(pos, group.depth)] += record_words(pos);
            }
            // Digit 0 (ended baskets) holds equal sequences; every other run is sorted deeper.
            for (size_t bucket = 1; bucket < counts.size(); ++bucket) {
                if (counts[bucket] > 1) {
                    pending.push_back(Group{group.begin + starts[bucket],
                                            group.begin + starts[bucket + 1],
                                            counts[bucket],
                                            group.depth + 1});
                }
            }
        }
        std::copy(buffer.begin() + static_cast<ptrdiff_t>(group.begin),
                  buffer.begin() + static_cast<ptrdiff_t>(group.end),
                  records.begin() + static_cast<ptrdiff_t>(group.begin));
    }
}

}  // namespace detail

namespace {

constexpr uint32_t kNone = UINT32_MAX;

// An FP-tree in flat arrays; node 0 is the root. Items are local indices where a lower index is
// more frequent and sits nearer the root; `global` maps them to global ranks. Nodes of one item
// are chained through `next_same` from `head`. Trees are reused level by level, so after warm-up
// building one allocates nothing.
struct FpTree {
    // What a walk towards the root reads, side by side: one cache line fetch per step.
    struct Link {
        uint32_t parent;
        uint32_t item;
    };
    std::vector<Link> link;
    std::vector<uint32_t> first_child;
    std::vector<uint32_t> next_sibling;
    std::vector<uint32_t> next_same;
    std::vector<Count> count;
    std::vector<uint32_t> head;        // per local item
    std::vector<Count> item_support;   // per local item
    std::vector<uint32_t> global;      // local item -> global rank
    bool branched = false;             // false: the tree is a single path
    std::vector<uint32_t> last_items;  // the previous insertion, for prefix reuse
    std::vector<uint32_t> last_nodes;

    void reset(size_t n_items) {
        link.assign(1, Link{kNone, kNone});
        first_child.assign(1, kNone);
        next_sibling.assign(1, kNone);
        next_same.assign(1, kNone);
        count.assign(1, 0);
        head.assign(n_items, kNone);
        item_support.assign(n_items, 0);
        branched = false;
        last_items.clear();
        last_nodes.clear();
    }

    size_t item_count() const { return head.size(); }
    size_t node_count() const { return link.size(); }

    uint32_t new_node(uint32_t at, uint32_t local_item) {
        auto node = static_cast<uint32_t>(link.size());
        link.push_back(Link{at, local_item});
        first_child.push_back(kNone);
        next_sibling.push_back(first_child[at]);
        if (first_child[at] != kNone) {
            branched = true;
        }
        first_child[at] = node;
        next_same.push_back(head[local_item]);
        head[local_item] = node;
        count.push_back(0);
        return node;
    }

    // Adds a transaction given as ascending local items. Paths arrive roughly sorted, so the
    // previous insertion's path is reused as far as it matches before searching children.
    void insert(std::span<const uint32_t> items, Count weight) {
        size_t shared = 0;
        while (shared < items.size() && shared < last_items.size() &&
               last_items[shared] == items[shared]) {
            ++shared;
        }
        last_items.resize(shared);
        last_nodes.resize(shared);
        for (size_t depth = 0; depth < shared; ++depth) {
            count[last_nodes[depth]] += weight;
            item_support[items[depth]] += weight;
        }
        uint32_t at = shared == 0 ? 0 : last_nodes[shared - 1];
        for (size_t depth = shared; depth < items.size(); ++depth) {
            uint32_t local_item = items[depth];
            uint32_t child = first_child[at];
            while (child != kNone && link[child].item != local_item) {
                child = next_sibling[child];
            }
            if (child == kNone) {
                child = new_node(at, local_item);
            }
            count[child] += weight;
            item_support[local_item] += weight;
            last_items.push_back(local_item);
            last_nodes.push_back(child);
            at = child;
        }
    }
};

// The top level: the recoded baskets back to back, each opened by a marker holding its number,
// and for every item the positions where it occurs. Prefix paths of the top-level items are read
// from here sequentially; on sparse data such as retail.dat an FP-tree would hardly share any
// prefix (547k nodes for 900k occurrences) and walking it costs a cache miss per step.
constexpr uint32_t kMarkBit = 0x80000000u;

struct Projection {
    std::vector<uint32_t> flat;  // a marker, then the basket's ranks ascending
    std::vector<Count> weight;   // per basket
    // Markers hold kMarkBit | the basket's weight when every weight is below kMarkBit (no
    // random read of `weight` per occurrence), else kMarkBit | the basket's number.
    bool weight_in_marker = false;
    std::vector<uint64_t> occurrence_offsets;  // per rank, into `occurrences`
    std::vector<uint32_t> occurrences;         // positions in `flat`
    std::vector<Count> item_support;           // per rank
    std::vector<uint32_t> identity;            // global rank of each top-level item: itself

    Count marker_weight(uint32_t marker) const {
        return weight_in_marker ? marker & ~kMarkBit : weight[marker & ~kMarkBit];
    }
};

// One recursion level's tree and scratch arrays, kept to be reused by the next conditional tree
// built at that depth.
struct Level {
    FpTree tree;
    std::vector<Count> base_count;   // support of each parent item in the conditional base
    std::vector<uint32_t> to_local;  // parent local item -> local item here, or kNone
    std::vector<uint32_t> touched;   // parent items met on the prefix paths
    std::vector<uint32_t> walked;    // the prefix paths, leaf side first, back to back
    std::vector<std::pair<size_t, Count>> paths;  // end in `walked` and weight of each path
    std::vector<uint32_t> path;
};

// Where a worker puts what it finds: a table (collect mode) or counts per length.
struct Output {
    bool collect = true;
    ItemsetTable table;
    std::vector<uint64_t> by_length;
    uint64_t emitted = 0;
    // Work done, for MiningWork: conditional trees built, their nodes, prefix-path items read.
    uint64_t trees = 0;
    uint64_t tree_nodes = 0;
    uint64_t path_items = 0;
    // Table ranges per top-level item, to put the threads' results back in a fixed order.
    struct Segment {
        uint32_t task;
        size_t begin;
        size_t end;
    };
    std::vector<Segment> segments;
};

// Shared between workers: the itemset limit is checked in batches so that the counter's cache
// line is not bounced between cores on every itemset.
struct SharedState {
    std::atomic<uint64_t> emitted{0};
    std::atomic<bool> aborted{false};
    std::atomic<uint32_t> next_task{0};
};

constexpr uint64_t kLimitCheckBatch = 4096;

// How many top-level occurrences ahead collect_top_paths prefetches: enough to cover a memory
// latency with the work of reading that many short prefix paths.
constexpr uint64_t kPrefetchAhead = 16;

class Worker {
  public:
    Worker(const Projection& top,
           Count min_count,
           size_t max_length,
           uint64_t max_itemsets,
           SharedState* shared,
           Output* out)
        : top_(top),
          min_count_(min_count),
          max_length_(max_length == 0 ? SIZE_MAX : max_length),
          max_itemsets_(max_itemsets),
          shared_(shared),
          out_(out) {}

    // Takes top-level items until none is left; the least frequent item comes first.
    void run() {
        auto n_items = static_cast<uint32_t>(top_.item_support.size());
        while (!shared_->aborted.load(std::memory_order_relaxed)) {
            uint32_t task = shared_->next_task.fetch_add(1, std::memory_order_relaxed);
            if (task >= n_items) {
                break;
            }
            size_t begin = out_->table.size();
            uint32_t local_item = n_items - 1 - task;
            // An item frequent in the whole data can fall short once giant baskets are cut.
            if (top_.item_support[local_item] >= min_count_) {
                mine_top(local_item);
            }
            if (out_->collect) {
                out_->segments.push_back({task, begin, out_->table.size()});
            }
        }
        flush_count();
    }

  private:
    void emit(Count support) {
        if (out_->collect) {
            // The prefix holds ranks deepest last, not sorted; an itemset is stored in rank order.
            scratch_.assign(prefix_.begin(), prefix_.end());
            std::sort(scratch_.begin(), scratch_.end());
            out_->table.add(scratch_, support);
        } else {
            if (out_->by_length.size() <= prefix_.size()) {
                out_->by_length.resize(prefix_.size() + 1, 0);
            }
            ++out_->by_length[prefix_.size()];
        }
        if (++unflushed_ == kLimitCheckBatch) {
            flush_count();
        }
    }

    void flush_count() {
        uint64_t total =
            shared_->emitted.fetch_add(unflushed_, std::memory_order_relaxed) + unflushed_;
        out_->emitted += unflushed_;
        unflushed_ = 0;
        if (total > max_itemsets_) {
            shared_->aborted.store(true, std::memory_order_relaxed);
        }
    }

    bool aborted() const { return shared_->aborted.load(std::memory_order_relaxed); }

    Level& level(size_t depth) {
        while (levels_.size() <= depth) {
            levels_.push_back(std::make_unique<Level>());
        }
        return *levels_[depth];
    }

    // Reports a top-level item and mines its conditional tree.
    void mine_top(uint32_t item) {
        prefix_.push_back(item);
        emit(top_.item_support[item]);
        if (prefix_.size() < max_length_ && item > 0) {
            Level& next = level(1);
            collect_top_paths(item, &next);
            if (finish_conditional(top_.identity, item, &next)) {
                mine_tree(next.tree, 1);
            }
        }
        prefix_.pop_back();
    }

    // Reports prefix + local_item of `tree` and mines its conditional tree.
    void mine_item(const FpTree& tree, size_t depth, uint32_t local_item) {
        prefix_.push_back(tree.global[local_item]);
        emit(tree.item_support[local_item]);
        if (prefix_.size() < max_length_ && local_item > 0) {
            Level& next = level(depth + 1);
            collect_tree_paths(tree, local_item, &next);
            if (finish_conditional(tree.global, local_item, &next)) {
                mine_tree(next.tree, depth + 1);
            }
        }
        prefix_.pop_back();
    }

    void mine_tree(const FpTree& tree, size_t depth) {
        if (!tree.branched) {
            mine_single_path(tree);
            return;
        }
        for (auto local_item = static_cast<uint32_t>(tree.item_count()); local_item-- > 0;) {
            mine_item(tree, depth, local_item);
            if (aborted()) {
                return;
            }
        }
    }

    // A single path of n nodes holds 2^n - 1 itemsets; the support of each is the count of its
    // deepest node, since counts never grow going down a path.
    void mine_single_path(const FpTree& tree) {
        path_nodes_.clear();
        for (uint32_t node = tree.first_child[0]; node != kNone; node = tree.first_child[node]) {
            path_nodes_.push_back(node);
        }
        enumerate_path(tree, 0);
    }

    void enumerate_path(const FpTree& tree, size_t from) {
        for (size_t idx = from; idx < path_nodes_.size(); ++idx) {
            uint32_t node = path_nodes_[idx];
            prefix_.push_back(tree.global[tree.link[node].item]);
            emit(tree.count[node]);
            if (prefix_.size() < max_length_) {
                enumerate_path(tree, idx + 1);
            }
            prefix_.pop_back();
            if (aborted()) {
                return;
            }
        }
    }

    // Pass 1 of a conditional tree: every prefix path of the item once, its items kept in
    // next->walked for pass 2 and the support of each item met summed in next->base_count.
    // `base_count` and `to_local` stay all-zero / all-kNone between calls; only the touched
    // entries are reset, so the cost follows the paths, not the number of items.
    static void start_paths(size_t parent_items, Level* next) {
        if (next->base_count.size() < parent_items) {
            next->base_count.resize(parent_items, 0);
            next->to_local.resize(parent_items, kNone);
        }
        next->walked.clear();
        next->touched.clear();
        next->paths.clear();
    }

    // Adds the weight of the path just appended to next->walked from `begin` on.
    static void count_path(size_t begin, Count weight, Level* next) {
        for (size_t pos = begin; pos < next->walked.size(); ++pos) {
            uint32_t up_item = next->walked[pos];
            if (next->base_count[up_item] == 0) {
                next->touched.push_back(up_item);
            }
            next->base_count[up_item] += weight;
        }
        next->paths.emplace_back(next->walked.size(), weight);
    }

    // Prefix paths from a tree: walk from each node of the item up to the root.
    static void collect_tree_paths(const FpTree& tree, uint32_t local_item, Level* next) {
        start_paths(tree.item_count(), next);
        for (uint32_t node = tree.head[local_item]; node != kNone; node = tree.next_same[node]) {
            size_t begin = next->walked.size();
            for (uint32_t up = tree.link[node].parent; up != 0; up = tree.link[up].parent) {
                next->walked.push_back(tree.link[up].item);
            }
            count_path(begin, tree.count[node], next);
        }
    }

    // Prefix paths at the top level, read backwards from each occurrence of the item to the
    // marker that opens its basket: sequential reads instead of a pointer walk. Once `flat`
    // outgrows the caches each occurrence is a line fetched out of order, so the lines are
    // prefetched a few occurrences ahead (at 3.2M synthetic baskets this took the mining cost per
    // basket from 1.08x to 0.85x the cost at 50k).
    void collect_top_paths(uint32_t item, Level* next) const {
        start_paths(top_.item_support.size(), next);
        const uint32_t* flat = top_.flat.data();
        const uint64_t first = top_.occurrence_offsets[item];
        const uint64_t last = top_.occurrence_offsets[item + 1];
        for (uint64_t occ = first; occ < last; ++occ) {
            // The occurrences of an item lie at ascending but scattered positions, which the
            // hardware prefetcher does not follow: ask for the line kPrefetchAhead occurrences
            // on (and the one before it, where a basket straddles two lines).
            if (occ + kPrefetchAhead < last) {
                const uint32_t ahead = top_.occurrences[occ + kPrefetchAhead];
                __builtin_prefetch(flat + ahead);
                __builtin_prefetch(flat + (ahead >= 8 ? ahead - 8 : 0));
            }
            size_t begin = next->walked.size();
            const uint32_t* at = flat + top_.occurrences[occ];
            while ((*--at & kMarkBit) == 0) {
                next->walked.push_back(*at);
            }
            count_path(begin, top_.marker_weight(*at), next);
        }
    }

    // Pass 2: keeps the frequent items of the paths (in the parent's order) and builds the
    // conditional tree into next->tree. When only one more item fits under max_length it
    // reports the pairs directly instead. Returns whether a tree is left to mine.
    bool finish_conditional(const std::vector<uint32_t>& parent_global,
                            uint32_t local_item,
                            Level* next) {
        std::vector<Count>& base = next->base_count;
        std::vector<uint32_t>& to_local = next->to_local;
        std::vector<uint32_t>& walked = next->walked;
        std::vector<uint32_t>& touched = next->touched;
        std::vector<std::pair<size_t, Count>>& paths = next->paths;
        out_->path_items += walked.size();

        // TODO: conditional trees keep the global item order instead of re-ranking items by their
        // conditional support — re-ranking gives smaller trees on dense data (T10I4D100K at low
        // support) at the price of a sort per tree; not measured yet.
        // Keep the frequent ones, in the parent's order. When most items were met, a scan is
        // cheaper than sorting the touched list.
        if (touched.size() * 16 > local_item) {
            touched.clear();
            for (uint32_t up_item = 0; up_item < local_item; ++up_item) {
                if (base[up_item] != 0) {
                    touched.push_back(up_item);
                }
            }
        } else {
            std::sort(touched.begin(), touched.end());
        }
        uint32_t n_frequent = 0;
        for (uint32_t up_item : touched) {
            if (base[up_item] >= min_count_) {
                to_local[up_item] = n_frequent++;
            }
        }
        bool pairs_only = prefix_.size() + 1 == max_length_;
        if (n_frequent > 0 && !pairs_only) {
            // Pass 2: insert each prefix path, reduced to frequent items, root side first.
            FpTree& cond = next->tree;
            cond.reset(n_frequent);
            cond.global.resize(n_frequent);
            for (uint32_t up_item : touched) {
                if (to_local[up_item] != kNone) {
                    cond.global[to_local[up_item]] = parent_global[up_item];
                }
            }
            std::vector<uint32_t>& path = next->path;
            size_t begin = 0;
            for (const auto& [end, weight] : paths) {
                path.clear();
                for (size_t pos = end; pos-- > begin;) {
                    uint32_t mapped = to_local[walked[pos]];
                    if (mapped != kNone) {
                        path.push_back(mapped);
                    }
                }
                if (!path.empty()) {
                    cond.insert(path, weight);
                }
                begin = end;
            }
            ++out_->trees;
            out_->tree_nodes += cond.node_count();
        } else if (pairs_only) {
            for (uint32_t up_item : touched) {
                if (to_local[up_item] != kNone) {
                    prefix_.push_back(parent_global[up_item]);
                    emit(base[up_item]);
                    prefix_.pop_back();
                }
            }
        }
        for (uint32_t up_item : touched) {
            base[up_item] = 0;
            to_local[up_item] = kNone;
        }
        return n_frequent > 0 && !pairs_only;
    }

    const Projection& top_;
    Count min_count_;
    size_t max_length_;
    uint64_t max_itemsets_;
    SharedState* shared_;
    Output* out_;
    std::vector<std::unique_ptr<Level>> levels_;
    std::vector<uint32_t> prefix_;  // global ranks, deepest last
    std::vector<uint32_t> scratch_;
    std::vector<uint32_t> path_nodes_;
    uint64_t unflushed_ = 0;
};

// Everything the workers share: the ranks and the top-level projection.
struct Prepared {
    Count total_weight = 0;
    Count min_count = 0;
    std::vector<ItemId> rank_to_item;
    Projection top;
    double cpu_seconds = 0;  // CPU time prepare() took
};

// CPU time of the calling thread: what prepare() costs, whatever else runs on the machine.
double thread_cpu_seconds() {
    timespec now{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

Status validate(const MiningOptions& options) {
    const MinSupport& support = options.min_support;
    if (support.is_fraction && !(support.fraction > 0.0 && support.fraction <= 1.0)) {
        return Status::invalid_argument(
            fmt::format("minimum support fraction is {}; expected a value above 0 and at most 1.",
                        support.fraction));
    }
    if (!support.is_fraction && support.count == 0) {
        return Status::invalid_argument(
            "minimum support count is 0; expected at least 1 basket (every item set would be "
            "frequent).");
    }
    return Status::ok();
}

// Counts items, ranks the frequent ones by descending support and lays the recoded baskets
// out for the top level (see Projection).
Prepared prepare(const BasketSet& baskets, const MiningOptions& options) {
    Prepared prep;
    prep.total_weight = baskets.total_weight();
    prep.min_count = options.min_support.to_count(prep.total_weight);

    // Item supports; a stamp per item makes a repeated item count once per basket.
    size_t n_items = baskets.item_count();
    std::vector<Count> support(n_items, 0);
    std::vector<uint64_t> stamp(n_items, UINT64_MAX);
    for (size_t basket_idx = 0; basket_idx < baskets.size(); ++basket_idx) {
        Count weight = baskets.weight(basket_idx);
        for (ItemId item : baskets.basket(basket_idx)) {
            if (stamp[item] != basket_idx) {
                stamp[item] = basket_idx;
                support[item] += weight;
            }
        }
    }

    // Ranks: 0 is the most frequent item.
    for (ItemId item = 0; item < n_items; ++item) {
        if (support[item] >= prep.min_count) {
            prep.rank_to_item.push_back(item);
        }
    }
    std::stable_sort(prep.rank_to_item.begin(), prep.rank_to_item.end(), [&](ItemId a, ItemId b) {
        return support[a] > support[b];
    });
    std::vector<uint32_t> rank_of(n_items, kNone);
    for (uint32_t rank = 0; rank < prep.rank_to_item.size(); ++rank) {
        rank_of[prep.rank_to_item[rank]] = rank;
    }

    // Recoded baskets: frequent items only, once each, ascending rank, capped in length; one
    // record each (see detail::sort_basket_records). The payload is the basket's weight itself
    // when every weight fits in 32 bits (the usual case: weights are 1 or small counts), else
    // its index in `weights`. Looking a weight up by index after the sort reads one random cache
    // line per basket, a fifth of prepare()'s time at 800,000 baskets.
    bool weights_inline = true;
    for (size_t basket_idx = 0; basket_idx < baskets.size(); ++basket_idx) {
        weights_inline = weights_inline && baskets.weight(basket_idx) <= UINT32_MAX;
    }
    std::vector<uint32_t> records;
    std::vector<Count> weights;
    records.reserve(baskets.occurrence_count() + detail::kRecordHeader * baskets.size());
    std::fill(stamp.begin(), stamp.end(), UINT64_MAX);
    size_t capped = 0;
    size_t largest = 0;
    for (size_t basket_idx = 0; basket_idx < baskets.size(); ++basket_idx) {
        size_t header = records.size();
        records.push_back(0);
        records.push_back(weights_inline ? static_cast<uint32_t>(baskets.weight(basket_idx))
                                         : static_cast<uint32_t>(weights.size()));
        size_t begin = records.size();
        for (ItemId item : baskets.basket(basket_idx)) {
            if (rank_of[item] != kNone && stamp[item] != basket_idx) {
                stamp[item] = basket_idx;
                records.push_back(rank_of[item]);
            }
        }
        if (records.size() == begin || baskets.weight(basket_idx) == 0) {
            records.resize(header);
            continue;
        }
        std::sort(records.begin() + static_cast<ptrdiff_t>(begin), records.end());
        size_t length = records.size() - begin;
        if (options.max_basket_size != 0 && length > options.max_basket_size) {
            ++capped;
            largest = std::max(largest, length);
            records.resize(begin + options.max_basket_size);
        }
        records[header] = static_cast<uint32_t>(records.size() - begin);
        if (!weights_inline) {
            weights.push_back(baskets.weight(basket_idx));
        }
    }
    if (capped > 0) {
        log::warn(
            "{} baskets held more than {} distinct frequent items (largest: {}); each was cut "
            "to its {} most frequent items, so supports of itemsets involving their other items "
            "are undercounted. Raise max_basket_size (--max-basket-size) to mine them whole.",
            capped,
            options.max_basket_size,
            largest,
            options.max_basket_size);
    }

    // Lexicographic order puts baskets with the same first items together, so the prefix paths
    // of an item arrive nearly sorted and conditional trees reuse the previous path; identical
    // baskets become one with their weights summed.
    detail::sort_basket_records(records, prep.rank_to_item.size());
    Projection& top = prep.top;
    top.flat.reserve(records.size());
    std::span<const uint32_t> previous;
    for (size_t pos = 0; pos < records.size(); pos += detail::kRecordHeader + records[pos]) {
        std::span<const uint32_t> current(records.data() + pos + detail::kRecordHeader,
                                          records[pos]);
        Count weight = weights_inline ? records[pos + 1] : weights[records[pos + 1]];
        if (pos > 0 && std::ranges::equal(current, previous)) {
            top.weight.back() += weight;
            continue;
        }
        top.flat.push_back(kMarkBit | static_cast<uint32_t>(top.weight.size()));
        top.flat.insert(top.flat.end(), current.begin(), current.end());
        top.weight.push_back(weight);
        previous = current;
    }
    records = {};
    weights = {};

    // Occurrences by rank (a counting sort of the positions), and the supports after capping.
    size_t n_ranks = prep.rank_to_item.size();
    top.occurrence_offsets.assign(n_ranks + 1, 0);
    top.item_support.assign(n_ranks, 0);
    top.weight_in_marker = std::ranges::all_of(top.weight, [](Count w) { return w < kMarkBit; });
    Count basket_weight = 0;
    for (uint32_t& value : top.flat) {
        if ((value & kMarkBit) != 0) {
            basket_weight = top.weight[value & ~kMarkBit];
            if (top.weight_in_marker) {
                value = kMarkBit | static_cast<uint32_t>(basket_weight);
            }
        } else {
            ++top.occurrence_offsets[value + 1];
            top.item_support[value] += basket_weight;
        }
    }
    for (size_t rank = 0; rank < n_ranks; ++rank) {
        top.occurrence_offsets[rank + 1] += top.occurrence_offsets[rank];
    }
    top.occurrences.resize(top.occurrence_offsets[n_ranks]);
    std::vector<uint64_t> next(top.occurrence_offsets.begin(), top.occurrence_offsets.end() - 1);
    for (size_t pos = 0; pos < top.flat.size(); ++pos) {
        uint32_t value = top.flat[pos];
        if ((value & kMarkBit) == 0) {
            top.occurrences[next[value]++] = static_cast<uint32_t>(pos);
        }
    }
    top.identity.resize(n_ranks);
    std::iota(top.identity.begin(), top.identity.end(), 0);
    log::debug("{} frequent items, {} distinct baskets, {} occurrences (minimum support {})",
               n_ranks,
               top.weight.size(),
               top.occurrences.size(),
               prep.min_count);
    return prep;
}

Status limit_error(const MiningOptions& options, const Prepared& prep) {
    return Status::resource_exhausted(fmt::format(
        "mining at minimum support {} would produce more than {} itemsets (the max_itemsets "
        "limit, --max-itemsets). Raise the minimum support, set a maximum itemset length "
        "(--max-length), or raise the limit if memory allows (about 30 bytes per itemset).",
        options.min_support.describe(prep.total_weight),
        options.max_itemsets));
}

// Runs the workers over the top-level items; one output per worker.
Status run_workers(const Prepared& prep,
                   const MiningOptions& options,
                   bool collect,
                   std::vector<Output>* outputs) {
    // Automatic: every core, but a thread per 64 top-level items at most, since a thread start
    // costs more than mining a tiny tree. An explicit count is only capped by the item count.
    size_t n_items = prep.top.item_support.size();
    unsigned threads = options.threads;
    if (threads == 0) {
        threads = std::max(1u, std::thread::hardware_concurrency());
        threads = static_cast<unsigned>(std::min<size_t>(threads, n_items / 64));
    }
    threads = static_cast<unsigned>(std::max<size_t>(1, std::min<size_t>(threads, n_items)));
    outputs->resize(threads);
    SharedState shared;
    std::vector<std::unique_ptr<Worker>> workers;
    for (unsigned thread_idx = 0; thread_idx < threads; ++thread_idx) {
        (*outputs)[thread_idx].collect = collect;
        workers.push_back(std::make_unique<Worker>(prep.top,
                                                   prep.min_count,
                                                   options.max_length,
                                                   options.max_itemsets,
                                                   &shared,
                                                   &(*outputs)[thread_idx]));
    }
    std::vector<std::thread> pool;
    for (unsigned thread_idx = 1; thread_idx < threads; ++thread_idx) {
        pool.emplace_back([&workers, thread_idx] { workers[thread_idx]->run(); });
    }
    workers[0]->run();
    for (auto& thread : pool) {
        thread.join();
    }
    if (shared.aborted.load() || shared.emitted.load() > options.max_itemsets) {
        return limit_error(options, prep);
    }
    return Status::ok();
}

// Validates, prepares the main tree and runs the workers: the part both entry points share.
Status mine(const BasketSet& baskets,
            const MiningOptions& options,
            bool collect,
            Prepared* prep,
            std::vector<Output>* outputs) {
    // Positions in the projection are 32-bit, with the top bit marking basket starts.
    if (baskets.size() >= kMarkBit || baskets.occurrence_count() + baskets.size() >= UINT32_MAX) {
        return Status::resource_exhausted(fmt::format(
            "{} baskets with {} items in all are more than one mining run handles (2^31 baskets, "
            "2^32 items); mine a sample or a date range.",
            baskets.size(),
            baskets.occurrence_count()));
    }
    LOOKBOOK_RETURN_IF_ERROR(validate(options));
    double start = thread_cpu_seconds();
    *prep = prepare(baskets, options);
    prep->cpu_seconds = thread_cpu_seconds() - start;
    return run_workers(*prep, options, collect, outputs);
}

}  // namespace

Result<FrequentItemsets> mine_frequent_itemsets(const BasketSet& baskets,
                                                const MiningOptions& options) {
    Prepared prep;
    std::vector<Output> outputs;
    LOOKBOOK_RETURN_IF_ERROR(mine(baskets, options, true, &prep, &outputs));

    // Put the threads' segments back in task order so the output does not depend on timing.
    FrequentItemsets result;
    result.total_weight = prep.total_weight;
    result.min_count = prep.min_count;
    result.item_order = prep.rank_to_item;
    if (outputs.size() == 1) {
        result.itemsets = std::move(outputs[0].table);
    } else {
        std::vector<std::pair<const Output*, Output::Segment>> segments;
        size_t n_itemsets = 0;
        for (const Output& out : outputs) {
            n_itemsets += out.table.size();
            for (const auto& segment : out.segments) {
                segments.emplace_back(&out, segment);
            }
        }
        std::sort(segments.begin(), segments.end(), [](const auto& a, const auto& b) {
            return a.second.task < b.second.task;
        });
        result.itemsets.reserve(n_itemsets, n_itemsets * 3);
        for (const auto& [out, segment] : segments) {
            result.itemsets.append(out->table, segment.begin, segment.end);
        }
    }
    result.itemsets.remap(prep.rank_to_item);
    log::info("mined {} frequent itemsets at minimum support {}",
              result.itemsets.size(),
              options.min_support.describe(prep.total_weight));
    return result;
}

Result<ItemsetCounts> count_frequent_itemsets(const BasketSet& baskets,
                                              const MiningOptions& options) {
    Prepared prep;
    std::vector<Output> outputs;
    LOOKBOOK_RETURN_IF_ERROR(mine(baskets, options, false, &prep, &outputs));
    ItemsetCounts counts;
    counts.total_weight = prep.total_weight;
    counts.min_count = prep.min_count;
    counts.work.frequent_items = prep.rank_to_item.size();
    counts.work.distinct_baskets = prep.top.weight.size();
    counts.work.occurrences = prep.top.occurrences.size();
    counts.work.prepare_cpu_seconds = prep.cpu_seconds;
    for (const Output& out : outputs) {
        counts.total += out.emitted;
        if (counts.by_length.size() < out.by_length.size()) {
            counts.by_length.resize(out.by_length.size(), 0);
        }
        for (size_t length = 0; length < out.by_length.size(); ++length) {
            counts.by_length[length] += out.by_length[length];
        }
        counts.work.conditional_trees += out.trees;
        counts.work.tree_nodes += out.tree_nodes;
        counts.work.path_items += out.path_items;
    }
    return counts;
}

}  // namespace lookbook::rules
