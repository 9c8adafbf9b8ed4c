#include "lookbook/util/row_graph.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>
#include <string_view>
#include <unordered_map>

// See index/hnsw_index.cpp: hnswlib 0.6's search prefetches past short link lists, which
// AddressSanitizer stops on; sanitizer builds compile the prefetches out. Our distance never
// used hnswlib's SIMD code, so nothing else changes.
#if defined(__SANITIZE_ADDRESS__)
#define NO_MANUAL_VECTORIZATION
#endif
// hnswlib 0.6 defines its SIMD distance pointers and CPU checks as non-inline globals in its
// headers, so a second file including them (index/hnsw_index.cpp) breaks the link with
// multiple definitions. This file never uses them; renaming them here keeps both copies apart.
// TODO: drop the renames with an hnswlib whose headers define these inline or static.
#define L2SqrSIMD16Ext row_graph_L2SqrSIMD16Ext
#define L2SqrSIMD4Ext row_graph_L2SqrSIMD4Ext
#define InnerProductSIMD16Ext row_graph_InnerProductSIMD16Ext
#define InnerProductSIMD4Ext row_graph_InnerProductSIMD4Ext
#define InnerProductDistanceSIMD16Ext row_graph_InnerProductDistanceSIMD16Ext
#define InnerProductDistanceSIMD4Ext row_graph_InnerProductDistanceSIMD4Ext
#define cpuid row_graph_cpuid
#define xgetbv row_graph_xgetbv
#define AVXCapable row_graph_AVXCapable
#define AVX512Capable row_graph_AVX512Capable
#include <hnswlib/hnswlib.h>
#undef L2SqrSIMD16Ext
#undef L2SqrSIMD4Ext
#undef InnerProductSIMD16Ext
#undef InnerProductSIMD4Ext
#undef InnerProductDistanceSIMD16Ext
#undef InnerProductDistanceSIMD4Ext
#undef cpuid
#undef xgetbv
#undef AVXCapable
#undef AVX512Capable

#include "lookbook/util/assert.hpp"
#include "lookbook/util/dot.hpp"
#include "lookbook/util/hnsw_dot_space.hpp"
#include "lookbook/util/log.hpp"

namespace lookbook {
namespace {

bool better(const std::pair<uint32_t, float>& a, const std::pair<uint32_t, float>& b) {
    return a.second > b.second || (a.second == b.second && a.first < b.first);
}

std::atomic<bool> approximate_enabled{true};  // read on every query
std::mutex settings_mutex;
RowGraphParams default_params;

}  // namespace

// -<a, b> with lookbook::dot, also between rows of different norms (no metric: see the
// header). The graph's vectors are the rows themselves (no padding), so the distance of a node
// found is minus the float score a scan gives its rows, bit for bit, and is not computed again.
class RowGraph::Space : public DotSpace<dot, 0.0f> {
  public:
    using DotSpace::DotSpace;
};

RowGraph::RowGraph(std::span<const float> rows,
                   size_t dim,
                   std::span<const uint32_t> ids,
                   const RowGraphParams& params)
    : count_(dim == 0 ? 0 : rows.size() / dim),
      dim_(dim),
      params_(params),
      ef_search_(params.ef_search) {
    LOOKBOOK_ASSERT(dim > 0 && rows.size() == count_ * dim, "rows hold whole rows of dim floats");
    LOOKBOOK_ASSERT(ids.empty() || ids.size() == count_, "one id per row");
    const auto start = std::chrono::steady_clock::now();

    // Groups of equal rows, by their bytes; zero rows apart.
    std::unordered_map<std::string_view, uint32_t> group_of;
    std::vector<std::vector<uint32_t>> members;
    std::vector<float> distinct;  // [groups, dim_], copied into the graph
    for (size_t r = 0; r < count_; ++r) {
        const float* row = rows.data() + r * dim_;
        const uint32_t id = ids.empty() ? static_cast<uint32_t>(r) : ids[r];
        if (std::all_of(row, row + dim_, [](float value) { return value == 0.0f; })) {
            zero_ids_.push_back(id);
            continue;
        }
        std::string_view bytes(reinterpret_cast<const char*>(row), dim_ * sizeof(float));
        auto [it, added] = group_of.emplace(bytes, static_cast<uint32_t>(members.size()));
        if (added) {
            members.emplace_back();
            distinct.insert(distinct.end(), row, row + dim_);
        }
        members[it->second].push_back(id);
    }
    group_offsets_.push_back(0);
    for (const std::vector<uint32_t>& group : members) {
        group_ids_.insert(group_ids_.end(), group.begin(), group.end());
        group_offsets_.push_back(group_ids_.size());
    }

    // The distinct rows are inserted one at a time, in order, on this thread: hnswlib's
    // concurrent inserts would make the graph (and so the answers) depend on thread timing.
    space_ = std::make_unique<Space>(dim_);
    graph_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(space_.get(),
                                                               std::max<size_t>(nodes(), 1),
                                                               params_.m,
                                                               params_.ef_construction,
                                                               params_.seed);
    for (size_t node = 0; node < nodes(); ++node) {
        graph_->addPoint(distinct.data() + node * dim_, node);
    }
    build_seconds_ =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    log::info("candidate graph: {} rows of {} floats ({} distinct, {} all zeros) in {:.1f} s",
              count_,
              dim_,
              nodes(),
              zero_ids_.size(),
              build_seconds_);
}

RowGraph::~RowGraph() = default;

std::vector<std::pair<uint32_t, float>> RowGraph::top(const float* query,
                                                      size_t k,
                                                      std::span<const uint32_t> skip,
                                                      bool positive_only) const {
    std::vector<std::pair<uint32_t, float>> out;
    if (k == 0 || count_ == 0) {
        return out;
    }
    auto keep = [&](uint32_t id, float score) {
        if ((!positive_only || score > 0.0f) && !std::binary_search(skip.begin(), skip.end(), id)) {
            out.emplace_back(id, score);
        }
    };

    // Every node the search kept stands for all its rows, with the float score a scan gives
    // them (0 - distance: dot() exactly; a score of -0 comes back as +0, which compares
    // equal). A zero query finds nothing better than the lowest ids (all score 0).
    const bool zero_query =
        std::all_of(query, query + dim_, [](float value) { return value == 0.0f; });
    const size_t wanted = zero_query ? nodes() : std::max(ef_search(), k + skip.size());
    if (nodes() > 0) {
        auto found = graph_->searchKnn(query, std::min(wanted, nodes()));
        for (; !found.empty(); found.pop()) {
            const size_t node = found.top().second;
            const float score = 0.0f - found.top().first;
            for (size_t at = group_offsets_[node]; at < group_offsets_[node + 1]; ++at) {
                keep(group_ids_[at], score);
            }
        }
    }
    size_t length = std::min(k, out.size());
    std::partial_sort(out.begin(), out.begin() + static_cast<ptrdiff_t>(length), out.end(), better);
    out.resize(length);

    // Zero rows beat negative scores, tie with zero ones (the lower ids first) and fill a short
    // list, when zeros may be returned.
    if (!positive_only && !zero_ids_.empty() && (out.size() < k || out.back().second <= 0.0f)) {
        for (uint32_t id : zero_ids_) {
            keep(id, 0.0f);
        }
        length = std::min(k, out.size());
        std::partial_sort(
            out.begin(), out.begin() + static_cast<ptrdiff_t>(length), out.end(), better);
        out.resize(length);
    }
    return out;
}

RowSearch::RowSearch(std::vector<float> rows, size_t dim, std::vector<uint32_t> ids, Graph graph)
    : scan_(rows, dim, ids) {
    if (graph == Graph::kIfLarge && approximate() && scan_.size() >= kMinGraphRows) {
        graph_ = std::make_unique<RowGraph>(rows, dim, ids, graph_params());
    }
}

std::vector<std::pair<uint32_t, float>> RowSearch::top(const float* query,
                                                       size_t k,
                                                       std::span<const uint32_t> skip,
                                                       bool positive_only) const {
    if (graph_ != nullptr && approximate()) {
        return graph_->top(query, k, skip, positive_only);
    }
    return batcher_.top(query, k, skip, positive_only);
}

void RowSearch::set_approximate(bool enabled) { approximate_enabled.store(enabled); }

bool RowSearch::approximate() { return approximate_enabled.load(std::memory_order_relaxed); }

void RowSearch::set_graph_params(const RowGraphParams& params) {
    std::lock_guard lock(settings_mutex);
    default_params = params;
}

RowGraphParams RowSearch::graph_params() {
    std::lock_guard lock(settings_mutex);
    return default_params;
}

}  // namespace lookbook
