#include "lookbook/index/dot.hpp"

#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "lookbook/util/dot.hpp"

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
        EXPECT_NEAR(vector_kernels::dot(a.data(), b.data(), dim), expected, 1e-4) << "dim " << dim;
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
    vector_kernels::dot_rows(data.data(), rows, dim, query.data(), out.data());
    for (size_t row = 0; row < rows; ++row) {
        // Small integers: the sums are exact in float whatever the order.
        float expected = 0;
        for (size_t i = 0; i < dim; ++i) {
            expected += data[row * dim + i] * query[i];
        }
        EXPECT_EQ(out[row], expected) << "row " << row;
    }
}

// The recommenders' kernels (util/dot.hpp) and these once shared the names lookbook::dot and
// lookbook::dot_rows; in a binary linking both libraries (like `lookbook`) the link order
// picked one definition for every caller, so RowScan's float re-scoring (dot) and its reference
// (dot_rows) could come from the index's kernels, which round differently row by row. Found by
// the break-it review as 1-ulp differences in blended scores. This binary links both.
TEST(Dot, RecommenderKernelsAgreeRowByRowBitForBit) {
    std::mt19937 rng(11);
    std::normal_distribution<float> normal;
    for (size_t dim : {37, 64, 128}) {
        const size_t rows = 203;
        std::vector<float> data(rows * dim), query(dim), out(rows);
        for (float& x : data) {
            x = normal(rng);
        }
        for (float& x : query) {
            x = normal(rng);
        }
        lookbook::dot_rows(data.data(), rows, dim, query.data(), out.data());
        for (size_t row = 0; row < rows; ++row) {
            const float one = lookbook::dot(data.data() + row * dim, query.data(), dim);
            EXPECT_EQ(std::memcmp(&one, &out[row], sizeof(float)), 0)
                << "dim " << dim << " row " << row << ": " << one << " vs " << out[row];
        }
    }
}

}  // namespace
}  // namespace lookbook
