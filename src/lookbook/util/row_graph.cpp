#include "lookbook/util/row_graph.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>

// See index/hnsw_index.cpp: hnswlib 0.6's search prefetches past short link lists, which
// AddressSanitizer stops on; sanitizer builds compile the prefetches out. Our distance never
// used hnswlib's SIMD code, so nothing else changes.
#if defined(__SANITIZE_ADDRESS__)
#define NO_MANUAL_VECTORIZATION
#endif
// hnswlib 0.6 defines its SIMD distance pointers and CPU checks as non-inline globals in its
// headers, so a second file including them (index/hnsw_index.cpp) breaks the link with
// multiple definitions. This file never uses them; renaming them here keeps both copies apart.
// TODO: drop the renames with an hnswlib that declares them inline (0.7 does).
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

// 1 - <a, b> with lookbook::dot, also between rows of different norms (no metric: see the
// header).
class RowGraph::Space : public DotSpace<dot> {
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
      ef_search_(params.ef_search),
      rows_(rows.begin(), rows.end()),
      ids_(ids.begin(), ids.end()) {
    LOOKBOOK_ASSERT(dim > 0 && rows.size() == count_ * dim, "rows hold whole rows of dim floats");
    LOOKBOOK_ASSERT(ids_.empty() || ids_.size() == count_, "one id per row");
    if (ids_.empty()) {
        ids_.resize(count_);
        for (size_t r = 0; r < count_; ++r) {
            ids_[r] = static_cast<uint32_t>(r);
        }
    }
    const auto start = std::chrono::steady_clock::now();

    // The graph's vectors are the rows, zero padded to a multiple of 16 floats (the kernel's
    // stride).
    graph_dim_ = (dim_ + 15) / 16 * 16;
    space_ = std::make_unique<Space>(graph_dim_);
    graph_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(space_.get(),
                                                               std::max<size_t>(count_, 1),
                                                               params_.m,
                                                               params_.ef_construction,
                                                               params_.seed);

    // One row at a time, in order, on this thread: hnswlib's concurrent inserts would make the
    // graph (and so the answers) depend on thread timing.
    std::vector<float> vector(graph_dim_, 0.0f);
    for (size_t r = 0; r < count_; ++r) {
        std::copy(rows_.begin() + r * dim_, rows_.begin() + (r + 1) * dim_, vector.begin());
        graph_->addPoint(vector.data(), r);
    }
    build_seconds_ =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    log::debug("row graph: {} rows of {} (graph {}), M {}, ef_construction {}, built in {:.2f} s",
               count_,
               dim_,
               graph_dim_,
               params_.m,
               params_.ef_construction,
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
    std::vector<float> padded(graph_dim_, 0.0f);
    bool zero = true;
    for (size_t d = 0; d < dim_; ++d) {
        padded[d] = query[d];
        zero = zero && query[d] == 0.0f;
    }
    if (zero) {
        // Every row scores 0: the ties go to the lowest ids, as in a scan.
        for (size_t r = 0; r < count_ && out.size() < k && !positive_only; ++r) {
            if (!std::binary_search(skip.begin(), skip.end(), ids_[r])) {
                out.emplace_back(ids_[r], 0.0f);
            }
        }
        return out;
    }

    // Every candidate the search kept is scored in float, as RowScan scores its rows.
    const size_t wanted = std::max(ef_search(), k + skip.size());
    auto found = graph_->searchKnn(padded.data(), std::min(wanted, count_));
    out.reserve(found.size());
    for (; !found.empty(); found.pop()) {
        const size_t r = found.top().second;
        const uint32_t id = ids_[r];
        if (std::binary_search(skip.begin(), skip.end(), id)) {
            continue;
        }
        const float score = dot(rows_.data() + r * dim_, query, dim_);
        if (positive_only && score <= 0.0f) {
            continue;
        }
        out.emplace_back(id, score);
    }
    const size_t keep = std::min(k, out.size());
    std::partial_sort(out.begin(), out.begin() + static_cast<ptrdiff_t>(keep), out.end(), better);
    out.resize(keep);
    return out;
}

RowSearch::RowSearch(std::vector<float> rows, size_t dim, std::vector<uint32_t> ids)
    : scan_(rows, dim, ids) {
    if (approximate() && scan_.size() >= kMinGraphRows) {
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
