#include "lookbook/index/exact_index.hpp"

#include <algorithm>
#include <queue>

#include "lookbook/index/dot.hpp"
#include "lookbook/util/assert.hpp"

namespace lookbook {
namespace {

// Rows scored per call of dot_rows: the scores (16 KB) stay in L1 while the rows stream past.
constexpr size_t kBlockRows = 4096;

}  // namespace

ExactIndex ExactIndex::borrowed(size_t dim,
                                std::span<const float> rows,
                                std::span<const uint8_t> present) {
    LOOKBOOK_ASSERT(rows.size() == present.size() * dim, "callers check the column sizes");
    ExactIndex index(dim);
    index.rows_ = rows;
    index.ids_.resize(present.size(), kDead);
    for (size_t row = 0; row < present.size(); ++row) {
        if (present[row] != 0) {
            index.ids_[row] = static_cast<uint32_t>(row);
            index.row_of_.emplace(static_cast<uint32_t>(row), row);
        }
    }
    return index;
}

void ExactIndex::make_owned() {
    if (owned_.empty() && !rows_.empty()) {
        owned_.assign(rows_.begin(), rows_.end());
        rows_ = owned_;
    }
}

Status ExactIndex::add(uint32_t id, std::span<const float> vector) {
    LOOKBOOK_RETURN_IF_ERROR(check_vector(vector, dim_, "vector of id " + std::to_string(id)));
    make_owned();
    auto found = row_of_.find(id);
    if (found != row_of_.end()) {
        std::copy(vector.begin(), vector.end(), owned_.begin() + found->second * dim_);
        return Status::ok();
    }
    owned_.insert(owned_.end(), vector.begin(), vector.end());
    rows_ = owned_;
    row_of_.emplace(id, ids_.size());
    ids_.push_back(id);
    return Status::ok();
}

Status ExactIndex::remove(uint32_t id) {
    auto found = row_of_.find(id);
    if (found == row_of_.end()) {
        return Status::not_found("id " + std::to_string(id) + " is not in the index");
    }
    // A tombstone: the row stays and is skipped by search, so removal costs no copy.
    // TODO: rows of removed ids are never reclaimed — a catalog with heavy churn grows until
    // it is rebuilt with `lookbook index`; compaction would rewrite the rows.
    ids_[found->second] = kDead;
    row_of_.erase(found);
    return Status::ok();
}

std::span<const float> ExactIndex::vector(uint32_t id) const {
    auto found = row_of_.find(id);
    if (found == row_of_.end()) {
        return {};
    }
    return rows_.subspan(found->second * dim_, dim_);
}

Result<std::vector<Hit>> ExactIndex::search(std::span<const float> query,
                                            size_t k,
                                            const HitFilter& filter) const {
    LOOKBOOK_RETURN_IF_ERROR(check_vector(query, dim_, "query"));
    if (k == 0 || row_of_.empty()) {
        return std::vector<Hit>{};
    }
    // A heap whose top is the worst of the best k so far.
    std::priority_queue<Hit, std::vector<Hit>, decltype(&hit_before)> best(&hit_before);
    std::vector<float> scores(kBlockRows);
    const size_t rows = ids_.size();
    for (size_t start = 0; start < rows; start += kBlockRows) {
        const size_t count = std::min(kBlockRows, rows - start);
        vector_kernels::dot_rows(
            rows_.data() + start * dim_, count, dim_, query.data(), scores.data());
        for (size_t i = 0; i < count; ++i) {
            const uint32_t id = ids_[start + i];
            if (id == kDead) {
                continue;
            }
            const Hit hit{id, scores[i]};
            if (best.size() == k && !hit_before(hit, best.top())) {
                continue;
            }
            // The filter runs only on candidates that would enter the top k.
            if (filter && !filter(id)) {
                continue;
            }
            best.push(hit);
            if (best.size() > k) {
                best.pop();
            }
        }
    }
    std::vector<Hit> hits(best.size());
    for (size_t i = hits.size(); i > 0; --i) {
        hits[i - 1] = best.top();
        best.pop();
    }
    return hits;
}

}  // namespace lookbook
