#include "lookbook/util/status.hpp"

#include <gtest/gtest.h>

namespace lookbook {
namespace {

Result<int> parse_positive(int x) {
    if (x <= 0) {
        return Status::invalid_argument("x is " + std::to_string(x) + "; expected > 0");
    }
    return x;
}

Status doubled(int x, int* out) {
    LOOKBOOK_ASSIGN_OR_RETURN(int value, parse_positive(x));
    *out = 2 * value;
    return Status::ok();
}

TEST(Status, OkHasNoMessage) {
    Status s = Status::ok();
    EXPECT_TRUE(s.is_ok());
    EXPECT_EQ(s.to_string(), "ok");
}

TEST(Status, CarriesCodeAndMessageWithContext) {
    Status s = Status::invalid_data("price is NaN").with_context("t.csv:3");
    EXPECT_FALSE(s.is_ok());
    EXPECT_EQ(s.code(), StatusCode::kInvalidData);
    EXPECT_EQ(s.to_string(), "invalid data: t.csv:3: price is NaN");
}

TEST(Result, AssignOrReturnPropagatesFailure) {
    int out = 0;
    EXPECT_TRUE(doubled(21, &out).is_ok());
    EXPECT_EQ(out, 42);
    Status s = doubled(-1, &out);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(s.message(), "x is -1; expected > 0");
}

}  // namespace
}  // namespace lookbook
