#include "lookbook/util/progress.hpp"

#include <gtest/gtest.h>

namespace lookbook {
namespace {

TEST(Progress, HumanCountUsesShortSuffixes) {
    EXPECT_EQ(Progress::human_count(999), "999");
    EXPECT_EQ(Progress::human_count(12345), "12.3k");
    EXPECT_EQ(Progress::human_count(5'000'000), "5.00M");
    EXPECT_EQ(Progress::human_count(2.5e9), "2.50G");
}

TEST(Progress, CountsItems) {
    Progress progress("test", 10);
    progress.add(3);
    progress.add();
    progress.set(9);
    EXPECT_EQ(progress.done(), 9u);
    progress.finish();
}

}  // namespace
}  // namespace lookbook
