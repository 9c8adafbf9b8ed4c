#include "lookbook/recommend/als.hpp"

#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "lookbook/recommend/interactions.hpp"

namespace lookbook {
namespace {

// A small count matrix: 6 users x 5 items, some items bought twice.
SparseMatrix small_counts() {
    std::vector<uint32_t> users = {0, 0, 1, 1, 1, 2, 3, 3, 4, 5, 5, 5};
    std::vector<uint32_t> items = {0, 1, 1, 2, 2, 3, 0, 4, 2, 1, 3, 4};
    std::vector<float> ones(users.size(), 1.0f);
    return sparse_from_triples(6, 5, users, items, ones);
}

FactorMatrix random_factors(int rows, int cols, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 0.5f);
    FactorMatrix m(rows, cols);
    for (Eigen::Index i = 0; i < m.size(); ++i) {
        m.data()[i] = normal(rng);
    }
    return m;
}

// The weighted least-squares solution written out densely, in double precision:
// (Y^T C_u Y + reg I) x = Y^T C_u p_u with C_u = diag(1 + alpha * count) over every item.
Eigen::VectorXd dense_solution(const FactorMatrix& y,
                               std::span<const uint32_t> columns,
                               std::span<const float> counts,
                               double alpha,
                               double reg) {
    Eigen::MatrixXd yd = y.cast<double>();
    Eigen::VectorXd confidence = Eigen::VectorXd::Ones(yd.rows());
    Eigen::VectorXd preference = Eigen::VectorXd::Zero(yd.rows());
    for (size_t pos = 0; pos < columns.size(); ++pos) {
        confidence[columns[pos]] = 1.0 + alpha * counts[pos];
        preference[columns[pos]] = 1.0;
    }
    Eigen::MatrixXd a = yd.transpose() * confidence.asDiagonal() * yd;
    a.diagonal().array() += reg;
    Eigen::VectorXd b = yd.transpose() * confidence.asDiagonal() * preference;
    return a.ldlt().solve(b);
}

TEST(ImplicitAls, ConjugateGradientMatchesDenseNormalEquations) {
    SparseMatrix counts = small_counts();
    FactorMatrix items = random_factors(5, 3, 7);
    Eigen::MatrixXf gram = items.transpose() * items;
    for (uint32_t user = 0; user < counts.rows; ++user) {
        // CG on a 3 x 3 system is exact after 3 steps up to rounding; 6 leave no doubt.
        Eigen::VectorXf x = Eigen::VectorXf::Zero(3);
        conjugate_gradient_row(
            items, gram, counts.row_columns(user), counts.row_values(user), 4.0f, 0.3f, 6, x);
        Eigen::VectorXd expected =
            dense_solution(items, counts.row_columns(user), counts.row_values(user), 4.0, 0.3);
        for (int f = 0; f < 3; ++f) {
            EXPECT_NEAR(x[f], expected[f], 1e-4) << "user " << user << " factor " << f;
        }
    }
}

TEST(ImplicitAls, WarmStartedConjugateGradientConvergesToTheSameSolution) {
    SparseMatrix counts = small_counts();
    FactorMatrix items = random_factors(5, 3, 11);
    Eigen::MatrixXf gram = items.transpose() * items;
    Eigen::VectorXf x = Eigen::VectorXf::Constant(3, 5.0f);
    conjugate_gradient_row(
        items, gram, counts.row_columns(5), counts.row_values(5), 2.0f, 0.1f, 8, x);
    Eigen::VectorXd expected =
        dense_solution(items, counts.row_columns(5), counts.row_values(5), 2.0, 0.1);
    EXPECT_NEAR((x.cast<double>() - expected).norm(), 0.0, 1e-4);
}

TEST(ImplicitAls, FoldInIsTheExactUserSolution) {
    AlsModel model;
    model.options.alpha = 3.0f;
    model.options.regularization = 0.2f;
    model.item_factors = random_factors(5, 3, 3);
    model.update_gram();
    std::vector<uint32_t> items = {1, 4};
    std::vector<float> counts = {2.0f, 1.0f};
    Eigen::VectorXf folded = model.fold_in(items, counts);
    Eigen::VectorXd expected = dense_solution(model.item_factors, items, counts, 3.0, 0.2);
    EXPECT_NEAR((folded.cast<double>() - expected).norm(), 0.0, 1e-4);
    EXPECT_EQ(model.fold_in({}, {}).norm(), 0.0f);
}

TEST(ImplicitAls, TrainingRanksAUsersOwnItemsAboveOthers) {
    // Two disjoint groups: users 0-9 buy items 0-2, users 10-19 buy items 3-5. A user of the
    // first group must score the first group's items above the second's.
    std::vector<uint32_t> users, items;
    for (uint32_t u = 0; u < 20; ++u) {
        for (uint32_t i = 0; i < 3; ++i) {
            if ((u + i) % 4 != 0) {
                users.push_back(u);
                items.push_back(u < 10 ? i : i + 3);
            }
        }
    }
    std::vector<float> ones(users.size(), 1.0f);
    AlsOptions options;
    options.factors = 4;
    options.iterations = 10;
    AlsModel model = fit_als(sparse_from_triples(20, 6, users, items, ones), options);
    Eigen::VectorXf scores = model.item_factors * model.user_factors.row(0).transpose();
    for (int own = 0; own < 3; ++own) {
        for (int other = 3; other < 6; ++other) {
            EXPECT_GT(scores[own], scores[other]) << own << " vs " << other;
        }
    }
}

TEST(SparseMatrix, MergesDuplicatesAndTransposes) {
    std::vector<uint32_t> rows = {1, 0, 1, 1};
    std::vector<uint32_t> cols = {2, 1, 0, 2};
    std::vector<float> values = {1, 1, 1, 1};
    SparseMatrix m = sparse_from_triples(2, 3, rows, cols, values);
    ASSERT_EQ(m.nonzeros(), 3u);
    EXPECT_EQ(std::vector<uint32_t>(m.row_columns(1).begin(), m.row_columns(1).end()),
              (std::vector<uint32_t>{0, 2}));
    EXPECT_EQ(m.row_values(1)[1], 2.0f);
    SparseMatrix t = m.transposed();
    EXPECT_EQ(t.rows, 3u);
    EXPECT_EQ(t.row_columns(2).size(), 1u);
    EXPECT_EQ(t.row_values(2)[0], 2.0f);
}

}  // namespace
}  // namespace lookbook
