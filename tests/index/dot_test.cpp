#include "lookbook/index/dot.hpp"

#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace lookbook {
namespace {

// Every dimension from 1 to 70 crosses the 16-, 8- and 1-float tails of the kernels.
TEST(Dot, MatchesDoubleSumForEveryTailLength) {
    std::mt19937 rng(7);
    std::normal_distribution<float> normal;
    for (size_t dim = 1; dim <= 70; ++dim) {
        std::vector<float> a(dim), b(dim);
        double expected = 0;
        for (size_t i = 0; i < dim; ++i) {
            a[i] = normal(rng);
            b[i] = normal(rng);
            expected += static_cast<double>(a[i]) * b[i];
        }
        EXPECT_NEAR(dot(a.data(), b.data(), dim), expected, 1e-4) << "dim " << dim;
    }
}

TEST(Dot, RowsMatchOneAtATime) {
    const size_t dim = 37;
    const size_t rows = 11;  // not a multiple of the 4-row block
    std::vector<float> data(rows * dim), query(dim);
    for (size_t i = 0; i < data.size(); ++i) {
        data[i] = static_cast<float>((i * 7919) % 13) - 6.0f;
    }
    for (size_t i = 0; i < dim; ++i) {
        query[i] = static_cast<float>(i % 5) - 2.0f;
    }
    std::vector<float> out(rows);
    dot_rows(data.data(), rows, dim, query.data(), out.data());
    for (size_t row = 0; row < rows; ++row) {
        // Small integers: the sums are exact in float whatever the order.
        float expected = 0;
        for (size_t i = 0; i < dim; ++i) {
            expected += data[row * dim + i] * query[i];
        }
        EXPECT_EQ(out[row], expected) << "row " << row;
    }
}

}  // namespace
}  // namespace lookbook
