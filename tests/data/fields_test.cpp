#include "lookbook/data/fields.hpp"

#include <chrono>
#include <cmath>

#include <gtest/gtest.h>

namespace lookbook {
namespace {

TEST(DateFormat, ParsesIsoDates) {
    DateFormat iso;
    EXPECT_EQ(iso.to_days("1970-01-01"), 0);
    EXPECT_EQ(iso.to_days("2020-09-22"), 18527);
    EXPECT_EQ(iso.to_days("2020-02-29"), 18321);
}

TEST(DateFormat, RejectsImpossibleAndAmbiguousDates) {
    DateFormat iso;
    EXPECT_FALSE(iso.to_days("2021-02-29"));
    EXPECT_FALSE(iso.to_days("2020-13-01"));
    EXPECT_FALSE(iso.to_days("2020-00-10"));
    EXPECT_FALSE(iso.to_days("04/05/2020"));
    EXPECT_FALSE(iso.to_days("2020-9-22"));
    EXPECT_FALSE(iso.to_days("2020-09-22T10:00"));
    EXPECT_FALSE(iso.to_days(""));
}

TEST(DateFormat, DeclaredLayoutReadsDayFirstDates) {
    auto format = DateFormat::parse("%d/%m/%Y");
    ASSERT_TRUE(format.is_ok());
    EXPECT_EQ(format->to_days("22/09/2020"), 18527);
    EXPECT_EQ(format->to_days("1/2/1970"), 31);
    EXPECT_FALSE(format->to_days("2020-09-22"));
    EXPECT_FALSE(format->to_days("31/04/2020"));
}

TEST(DateFormat, RejectsLayoutsWithoutEachField) {
    auto missing = DateFormat::parse("%d/%m");
    ASSERT_FALSE(missing.is_ok());
    EXPECT_EQ(missing.status().message(),
              "date format \"%d/%m\" must contain each of %Y, %m and %d exactly once (for example "
              "\"%d/%m/%Y\")");
    auto other = DateFormat::parse("%Y-%m-%d %H");
    ASSERT_FALSE(other.is_ok());
    EXPECT_EQ(other.status().message(),
              "date format \"%Y-%m-%d %H\" uses %H; only %Y, %m and %d are supported");
}

TEST(DateFormat, AgreesWithStdChronoOverFourCenturies) {
    using namespace std::chrono;
    for (int days = -50000; days < 100000; days += 7) {
        year_month_day ymd{sys_days{std::chrono::days{days}}};
        EXPECT_EQ(days_from_civil(static_cast<int>(ymd.year()),
                                  static_cast<unsigned>(ymd.month()),
                                  static_cast<unsigned>(ymd.day())),
                  days);
        std::string iso = format_iso_date(days);
        if (static_cast<int>(ymd.year()) >= 1) {
            EXPECT_EQ(DateFormat().to_days(iso), days) << iso;
        }
    }
}

TEST(ParseDouble, IsStrict) {
    EXPECT_EQ(parse_double("0.0209152542372881"), 0.0209152542372881);
    EXPECT_EQ(parse_double("+3"), 3.0);
    EXPECT_EQ(parse_double("1e3"), 1000.0);
    EXPECT_FALSE(parse_double("12,50"));
    EXPECT_FALSE(parse_double(" 1"));
    EXPECT_FALSE(parse_double("1.5kg"));
    EXPECT_FALSE(parse_double(""));
    ASSERT_TRUE(parse_double("nan"));
    EXPECT_TRUE(std::isnan(*parse_double("nan")));  // callers reject it explicitly
}

TEST(ParseInt, IsStrict) {
    EXPECT_EQ(parse_int("2"), 2);
    EXPECT_EQ(parse_int("-7"), -7);
    EXPECT_FALSE(parse_int("2.0"));
    EXPECT_FALSE(parse_int("x"));
}

}  // namespace
}  // namespace lookbook
