#include "lookbook/index/vector_index.hpp"

#include <cmath>

namespace lookbook {

Status check_vector(std::span<const float> vector, size_t dim, const std::string& what) {
    if (vector.size() != dim) {
        return Status::invalid_argument(what + " has " + std::to_string(vector.size()) +
                                        " dimensions; the index holds " + std::to_string(dim) +
                                        "-dimensional vectors (was it made by another model?)");
    }
    bool all_zero = true;
    for (size_t i = 0; i < vector.size(); ++i) {
        if (!std::isfinite(vector[i])) {
            return Status::invalid_argument(what + " has a non-finite value at dimension " +
                                            std::to_string(i));
        }
        all_zero = all_zero && vector[i] == 0.0f;
    }
    if (all_zero) {
        return Status::invalid_argument(
            what + " is all zeros, so every item would score the same; give a non-zero vector");
    }
    return Status::ok();
}

bool hit_before(const Hit& a, const Hit& b) {
    return a.score != b.score ? a.score > b.score : a.id < b.id;
}

}  // namespace lookbook
