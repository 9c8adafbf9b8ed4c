#include "lookbook/data/fields.hpp"

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <string>

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

// Found by the break-it review: "1e-400" was refused (from_chars reports it out of range), so
// a price written that way was called "not a number >= 0". It is zero; an overflow stays
// refused.
TEST(ParseDouble, UnderflowIsZeroAndOverflowIsRefused) {
    ASSERT_TRUE(parse_double("1e-400"));
    EXPECT_EQ(*parse_double("1e-400"), 0.0);
    EXPECT_FALSE(std::signbit(*parse_double("1e-400")));
    ASSERT_TRUE(parse_double("-2.5E-999"));
    EXPECT_TRUE(std::signbit(*parse_double("-2.5E-999")));
    EXPECT_EQ(*parse_double("4.9e-324"), 4.9e-324);  // the smallest subnormal is representable
    EXPECT_FALSE(parse_double("1e400"));
    EXPECT_FALSE(parse_double("-1e+400"));
    EXPECT_FALSE(parse_double("1e-400x"));
}

// parse_double reads plain decimals itself and hands the rest to from_chars; both must give
// the same double, bit for bit, on every input.
double from_chars_value(const std::string& text) {
    double value = 0;
    std::from_chars(text.data(), text.data() + text.size(), value);
    return value;
}

void expect_same_as_from_chars(const std::string& text) {
    auto parsed = parse_double(text);
    ASSERT_TRUE(parsed) << text;
    double expected = from_chars_value(text);
    uint64_t got_bits = 0;
    uint64_t expected_bits = 0;
    std::memcpy(&got_bits, &*parsed, 8);
    std::memcpy(&expected_bits, &expected, 8);
    EXPECT_EQ(got_bits, expected_bits) << text;
}

TEST(ParseDouble, PlainDecimalsMatchFromCharsBitForBit) {
    // Around the limits of the fast path: 2^53 and 19 digits, 22 and more decimals.
    for (const char* text : {"0",
                             "0.0",
                             "7",
                             "000123.4500",
                             "9007199254740992",
                             "9007199254740993",
                             "9007199254740995",
                             "0.9007199254740993",
                             "9999999999999999999",
                             "99999999999999999999",
                             "0.0000000000000000001",
                             "0.00000000000000000000001",
                             "0.1",
                             "0.3",
                             "2.675",
                             "0.0508474576271186",
                             "1.7976931348623157",
                             "123456789012345678.9"}) {
        expect_same_as_from_chars(text);
    }
    std::mt19937_64 rng(7);
    for (int i = 0; i < 200000; ++i) {
        int integer_digits = 1 + static_cast<int>(rng() % 10);
        int fraction_digits = static_cast<int>(rng() % 20);
        std::string text;
        for (int d = 0; d < integer_digits; ++d) {
            text.push_back(static_cast<char>('0' + rng() % 10));
        }
        if (fraction_digits > 0) {
            text.push_back('.');
            for (int d = 0; d < fraction_digits; ++d) {
                text.push_back(static_cast<char>('0' + rng() % 10));
            }
        }
        expect_same_as_from_chars(text);
    }
    // Forms the fast path leaves to from_chars keep their meaning.
    EXPECT_EQ(parse_double("1."), 1.0);
    EXPECT_EQ(parse_double(".5"), 0.5);
    EXPECT_EQ(parse_double("-2.5"), -2.5);
    EXPECT_TRUE(std::signbit(*parse_double("-0")));
    EXPECT_EQ(parse_double("2.5e-3"), 0.0025);
    EXPECT_FALSE(parse_double("."));
    EXPECT_FALSE(parse_double("1.2.3"));
    EXPECT_FALSE(parse_double("1..2"));
}

TEST(ParseInt, IsStrict) {
    EXPECT_EQ(parse_int("2"), 2);
    EXPECT_EQ(parse_int("-7"), -7);
    EXPECT_FALSE(parse_int("2.0"));
    EXPECT_FALSE(parse_int("x"));
}

}  // namespace
}  // namespace lookbook
