#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "lookbook/util/status.hpp"

namespace lookbook {

// One neighbour: the id it was added under and its inner product with the query.
struct Hit {
    uint32_t id = 0;
    float score = 0;
};

// Keeps a candidate when it returns true. Called from search(), on the calling thread.
using HitFilter = std::function<bool(uint32_t id)>;

// Inner-product nearest-neighbour search over vectors of one dimension, keyed by caller ids
// (article rows). Implementations: ExactIndex (a scan, exact) and HnswIndex (a graph,
// approximate). search() may run on many threads at once; add() and remove() need the caller
// to hold off searches while they run.
class VectorIndex {
  public:
    virtual ~VectorIndex() = default;

    // The dimension every vector must have.
    virtual size_t dim() const = 0;
    // Vectors currently searchable (added and not removed).
    virtual size_t size() const = 0;
    virtual bool contains(uint32_t id) const = 0;

    // Adds `vector` under `id`, replacing the vector `id` had. kInvalidArgument for a wrong
    // dimension, a non-finite value or an all-zero vector (it would match everything equally).
    virtual Status add(uint32_t id, std::span<const float> vector) = 0;
    // Removes `id`; kNotFound when it is not in the index.
    virtual Status remove(uint32_t id) = 0;

    // The min(k, matching vectors) vectors with the largest inner product with `query` that pass
    // `filter` (all when empty), best first; ties by smaller id. kInvalidArgument for a wrong
    // dimension, a non-finite value or an all-zero query; k == 0 or an empty index give no hits.
    virtual Result<std::vector<Hit>> search(std::span<const float> query,
                                            size_t k,
                                            const HitFilter& filter = {}) const = 0;

    // "exact" or "hnsw", for logs and `lookbook index`.
    virtual std::string kind() const = 0;
};

// Checks a vector given to an index: `what` ("query", "vector of id 12") names it in the error.
Status check_vector(std::span<const float> vector, size_t dim, const std::string& what);

// Orders hits best first: larger score, then smaller id (so results are deterministic).
bool hit_before(const Hit& a, const Hit& b);

}  // namespace lookbook
