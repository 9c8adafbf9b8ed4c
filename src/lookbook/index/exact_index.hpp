#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <unordered_map>
#include <vector>

#include "lookbook/index/vector_index.hpp"

namespace lookbook {

// Exact inner-product search: one scan over contiguous float rows with the AVX2 kernel of
// dot.hpp, keeping the best k in a small heap. Memory-bandwidth bound: 100k 512-d rows (205 MB)
// are scanned in tens of milliseconds. The rows can be borrowed from a mapped store file, so
// opening costs no copy; the first add() or replacement copies them (copy on write).
class ExactIndex : public VectorIndex {
  public:
    explicit ExactIndex(size_t dim) : dim_(dim) {}

    // An index over `rows` ([present.size() * dim], borrowed: the caller keeps them alive, e.g.
    // a mapped ColumnFile) where row i holds id i when present[i] != 0.
    static ExactIndex borrowed(size_t dim,
                               std::span<const float> rows,
                               std::span<const uint8_t> present);

    size_t dim() const override { return dim_; }
    size_t size() const override { return row_of_.size(); }
    bool contains(uint32_t id) const override { return row_of_.count(id) > 0; }
    Status add(uint32_t id, std::span<const float> vector) override;
    Status remove(uint32_t id) override;
    Result<std::vector<Hit>> search(std::span<const float> query,
                                    size_t k,
                                    const HitFilter& filter = {}) const override;
    std::string kind() const override { return "exact"; }

    // The stored vector of `id` (empty when absent); valid until the next add().
    std::span<const float> vector(uint32_t id) const;

  private:
    static constexpr uint32_t kDead = std::numeric_limits<uint32_t>::max();
    void make_owned();

    size_t dim_;
    std::span<const float> rows_;  // [ids_.size() * dim_], owned_ or borrowed
    std::vector<float> owned_;     // empty while the rows are borrowed
    std::vector<uint32_t> ids_;    // id of each row, kDead once removed
    std::unordered_map<uint32_t, size_t> row_of_;
};

}  // namespace lookbook
