#include "lookbook/recommend/als.hpp"

#include <cmath>
#include <random>

#include "lookbook/util/log.hpp"
#include "lookbook/util/progress.hpp"

namespace lookbook {

void conjugate_gradient_row(const FactorMatrix& other,
                            const Eigen::MatrixXf& gram,
                            std::span<const uint32_t> columns,
                            std::span<const float> counts,
                            float alpha,
                            float regularization,
                            int steps,
                            Eigen::Ref<Eigen::VectorXf> x) {
    // A v = G v + reg v + sum_i (c_i - 1) (y_i . v) y_i, never formed as a matrix.
    auto times_a = [&](const Eigen::VectorXf& v) {
        Eigen::VectorXf out = gram * v + regularization * v;
        for (size_t pos = 0; pos < columns.size(); ++pos) {
            auto y = other.row(columns[pos]);
            out.noalias() += (alpha * counts[pos] * y.dot(v)) * y.transpose();
        }
        return out;
    };
    // Residual r = b - A x with b = sum_i c_i y_i.
    Eigen::VectorXf r = -times_a(x);
    for (size_t pos = 0; pos < columns.size(); ++pos) {
        r.noalias() += (1.0f + alpha * counts[pos]) * other.row(columns[pos]).transpose();
    }
    Eigen::VectorXf p = r;
    float rs_old = r.squaredNorm();
    for (int step = 0; step < steps && rs_old > 1e-20f; ++step) {
        Eigen::VectorXf ap = times_a(p);
        float step_size = rs_old / p.dot(ap);
        x.noalias() += step_size * p;
        r.noalias() -= step_size * ap;
        float rs_new = r.squaredNorm();
        p = r + (rs_new / rs_old) * p;
        rs_old = rs_new;
    }
}

void AlsModel::update_gram() { item_gram = item_factors.transpose() * item_factors; }

Eigen::VectorXf AlsModel::fold_in(std::span<const uint32_t> items,
                                  std::span<const float> counts) const {
    // Exact normal equations: a factors x factors Cholesky is cheap next to scoring the catalog.
    // The history's terms sum_i extra_i y_i y_i^T go in as one rank-n update of the lower
    // triangle (all llt() reads) from the rows sqrt(extra_i) y_i: a matrix product instead of n
    // outer products of the whole matrix (those were 4% of the web server's CPU on the cold
    // recommendations API, issue 7).
    const auto f = item_factors.cols();
    Eigen::MatrixXf a = item_gram;
    a.diagonal().array() += options.regularization;
    Eigen::VectorXf b = Eigen::VectorXf::Zero(f);
    if (items.empty()) {
        return b;
    }
    Eigen::MatrixXf scaled(static_cast<Eigen::Index>(items.size()), f);  // [history, factors]
    for (size_t pos = 0; pos < items.size(); ++pos) {
        auto y = item_factors.row(items[pos]);
        const float extra = options.alpha * counts[pos];
        scaled.row(static_cast<Eigen::Index>(pos)) = std::sqrt(extra) * y;
        b.noalias() += (1.0f + extra) * y.transpose();
    }
    a.selfadjointView<Eigen::Lower>().rankUpdate(scaled.transpose());
    return a.llt().solve(b);
}

namespace {

// One half-step: every row of `rows` re-solved against the fixed `other` factors.
void solve_side(const SparseMatrix& matrix,
                const FactorMatrix& other,
                const AlsOptions& options,
                FactorMatrix* rows) {
    Eigen::MatrixXf gram = other.transpose() * other;
    for (uint32_t row = 0; row < matrix.rows; ++row) {
        Eigen::VectorXf x = rows->row(row).transpose();
        conjugate_gradient_row(other,
                               gram,
                               matrix.row_columns(row),
                               matrix.row_values(row),
                               options.alpha,
                               options.regularization,
                               options.cg_steps,
                               x);
        rows->row(row) = x.transpose();
    }
}

}  // namespace

AlsModel fit_als(const SparseMatrix& user_items, const AlsOptions& options) {
    AlsModel model;
    model.options = options;
    SparseMatrix item_users = user_items.transposed();
    // Small random start: CG warm-starts from it, and zero would be a fixed point.
    std::mt19937_64 rng(options.seed);
    std::normal_distribution<float> normal(0.0f, 0.01f);
    auto random_matrix = [&](uint32_t rows) {
        FactorMatrix m(rows, options.factors);
        for (Eigen::Index i = 0; i < m.size(); ++i) {
            m.data()[i] = normal(rng);
        }
        return m;
    };
    model.user_factors = random_matrix(user_items.rows);
    model.item_factors = random_matrix(user_items.cols);
    Progress progress("ALS", static_cast<uint64_t>(options.iterations), "iterations");
    for (int iteration = 0; iteration < options.iterations; ++iteration) {
        solve_side(user_items, model.item_factors, options, &model.user_factors);
        solve_side(item_users, model.user_factors, options, &model.item_factors);
        progress.add();
    }
    progress.finish();
    model.update_gram();
    log::debug("ALS: {} users, {} items, {} interactions, {} factors",
               user_items.rows,
               user_items.cols,
               user_items.nonzeros(),
               options.factors);
    return model;
}

}  // namespace lookbook
