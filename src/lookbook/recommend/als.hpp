#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <Eigen/Dense>

#include "lookbook/recommend/interactions.hpp"

// Implicit-feedback matrix factorisation (Hu, Koren and Volinsky, 2008): every (user, item)
// pair has a preference p = 1 when the user interacted with the item and 0 otherwise, trusted
// with confidence c = 1 + alpha * count. Alternating least squares fixes one side and solves a
// weighted ridge regression per row of the other; each solve runs a few conjugate-gradient steps
// warm-started from the previous value (Takács, Pilászy and Tikk, 2011), which costs
// O(factors^2 + nnz * factors) per row instead of a factors^3 Cholesky.
namespace lookbook {

struct AlsOptions {
    int factors = 64;
    float regularization = 0.1f;
    float alpha = 10.0f;
    int iterations = 15;
    int cg_steps = 3;
    uint64_t seed = 42;
};

// Row-major float matrices (rows = users or items).
using FactorMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct AlsModel {
    AlsOptions options;
    FactorMatrix user_factors;  // [users, factors]; empty when loaded from a store
    FactorMatrix item_factors;  // [items, factors]
    Eigen::MatrixXf item_gram;  // item_factors^T item_factors, [factors, factors]

    // Recomputes item_gram after item_factors changed.
    void update_gram();
    // The user vector that best explains `items` (with `counts`) against the fixed item factors:
    // the exact solution of the user's weighted least-squares problem. An empty history gives 0.
    Eigen::VectorXf fold_in(std::span<const uint32_t> items, std::span<const float> counts) const;
};

// Trains on a users x items count matrix. Deterministic for a given seed.
// TODO: rows are solved one after another on one core with Eigen's own kernels (no OpenBLAS,
// no threads): 193 s for 136k customers x 247k articles; the per-row solves are independent and
// would split across cores.
AlsModel fit_als(const SparseMatrix& user_items, const AlsOptions& options);

// One conjugate-gradient solve of row `x` against the fixed `other` factors and their gram
// matrix: (G + sum_i (c_i - 1) y_i y_i^T + reg I) x = sum_i c_i y_i, starting from `x`, for
// `steps` steps. Exposed for the tests, which compare it with a dense solve.
void conjugate_gradient_row(const FactorMatrix& other,
                            const Eigen::MatrixXf& gram,
                            std::span<const uint32_t> columns,
                            std::span<const float> counts,
                            float alpha,
                            float regularization,
                            int steps,
                            Eigen::Ref<Eigen::VectorXf> x);

}  // namespace lookbook
