#include "lookbook/data/fields.hpp"

#include <charconv>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

namespace lookbook {
namespace {

bool is_leap(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

unsigned days_in_month(int year, unsigned month) {
    static const unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && is_leap(year) ? 29 : kDays[month - 1];
}

inline bool digit(char c) { return c >= '0' && c <= '9'; }

std::optional<int32_t> checked_days(int year, unsigned month, unsigned day) {
    if (year < 1 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) {
        return std::nullopt;
    }
    return days_from_civil(year, month, day);
}

}  // namespace

Result<DateFormat> DateFormat::parse(std::string_view layout) {
    int seen_y = 0;
    int seen_m = 0;
    int seen_d = 0;
    for (size_t i = 0; i < layout.size(); ++i) {
        if (layout[i] != '%') {
            continue;
        }
        if (i + 1 >= layout.size()) {
            return Status::invalid_argument(
                fmt::format("date format \"{}\" ends with a lone '%'; use %Y, %m and %d", layout));
        }
        char directive = layout[++i];
        if (directive == 'Y') {
            ++seen_y;
        } else if (directive == 'm') {
            ++seen_m;
        } else if (directive == 'd') {
            ++seen_d;
        } else {
            return Status::invalid_argument(
                fmt::format("date format \"{}\" uses %{}; only %Y, %m and %d are supported",
                            layout,
                            directive));
        }
    }
    if (seen_y != 1 || seen_m != 1 || seen_d != 1) {
        return Status::invalid_argument(
            fmt::format("date format \"{}\" must contain each of %Y, %m and %d exactly once "
                        "(for example \"%d/%m/%Y\")",
                        layout));
    }
    DateFormat format;
    format.layout_ = std::string(layout);
    format.iso_ = layout == "%Y-%m-%d";
    return format;
}

std::optional<int32_t> DateFormat::to_days(std::string_view text) const {
    if (iso_) {
        // Fast path for the common case: exactly YYYY-MM-DD.
        if (text.size() != 10 || text[4] != '-' || text[7] != '-') {
            return std::nullopt;
        }
        for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
            if (!digit(text[i])) {
                return std::nullopt;
            }
        }
        int year =
            (text[0] - '0') * 1000 + (text[1] - '0') * 100 + (text[2] - '0') * 10 + (text[3] - '0');
        unsigned month = static_cast<unsigned>((text[5] - '0') * 10 + (text[6] - '0'));
        unsigned day = static_cast<unsigned>((text[8] - '0') * 10 + (text[9] - '0'));
        return checked_days(year, month, day);
    }
    int year = -1;
    int month = -1;
    int day = -1;
    size_t t = 0;
    for (size_t i = 0; i < layout_.size(); ++i) {
        if (layout_[i] != '%') {
            if (t >= text.size() || text[t] != layout_[i]) {
                return std::nullopt;
            }
            ++t;
            continue;
        }
        char directive = layout_[++i];
        size_t max_digits = directive == 'Y' ? 4 : 2;
        size_t min_digits = directive == 'Y' ? 4 : 1;
        size_t n = 0;
        int value = 0;
        while (t + n < text.size() && n < max_digits && digit(text[t + n])) {
            value = value * 10 + (text[t + n] - '0');
            ++n;
        }
        if (n < min_digits) {
            return std::nullopt;
        }
        t += n;
        (directive == 'Y' ? year : directive == 'm' ? month : day) = value;
    }
    if (t != text.size()) {
        return std::nullopt;
    }
    return checked_days(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
}

namespace {

// Powers of ten that a double holds exactly (10^0 .. 10^22).
constexpr double kExactPowersOfTen[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                        1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                        1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

// True when all eight bytes of `word` are ASCII digits.
bool all_digits(uint64_t word) {
    return ((word & 0xF0F0F0F0F0F0F0F0ull) |
            (((word + 0x0606060606060606ull) & 0xF0F0F0F0F0F0F0F0ull) >> 4)) ==
           0x3333333333333333ull;
}

// The number eight ASCII digits spell, first byte most significant (little-endian load):
// pairs, then fours, then the eight are combined with three multiplications in all.
uint64_t eight_digits_value(uint64_t word) {
    word -= 0x3030303030303030ull;
    word = word * 10 + (word >> 8);
    return (((word & 0x000000FF000000FFull) * (100 + (1000000ull << 32))) +
            (((word >> 16) & 0x000000FF000000FFull) * (1 + (10000ull << 32)))) >>
           32;
}

// Plain decimals such as "0.0508474576271186" or "2" (digits, optionally a point and more
// digits, at most 19 digits in all) whose digits, read as an integer, fit in 53 bits: the
// integer and the power of ten are then exact doubles, and one IEEE division rounds their
// quotient correctly, so the result is the same double from_chars gives (Clinger's fast path).
// Prices in retail exports are nearly all of this form; from_chars costs several times more.
// nullopt for anything else, which the caller hands to from_chars.
std::optional<double> parse_plain_decimal(std::string_view text) {
    constexpr uint64_t kExactIntegerLimit = uint64_t{1} << 53;
    const size_t n = text.size();
    if (n == 0 || n > 20) {
        return std::nullopt;
    }
    uint64_t digits = 0;
    size_t i = 0;
    size_t point = n;  // where the '.' is, n when there is none
    while (i < n) {
        // Eight digits at a time when eight bytes are left, else one.
        uint64_t word = 0;
        if (n - i >= 8) {
            std::memcpy(&word, text.data() + i, 8);
            if (all_digits(word)) {
                digits = digits * 100'000'000 + eight_digits_value(word);
                i += 8;
                continue;
            }
        }
        char c = text[i];
        if (digit(c)) {
            digits = digits * 10 + static_cast<uint64_t>(c - '0');
        } else if (c != '.' || point != n) {
            return std::nullopt;
        } else {
            point = i;
        }
        ++i;
    }
    const size_t digit_count = point == n ? n : n - 1;
    const size_t fraction_digits = point == n ? 0 : n - point - 1;
    // "1." and ".5" are left to from_chars, as is anything with a sign or an exponent.
    if (point == 0 || (point != n && fraction_digits == 0) || digit_count > 19 ||
        digits > kExactIntegerLimit) {
        return std::nullopt;
    }
    return static_cast<double>(digits) / kExactPowersOfTen[fraction_digits];
}

}  // namespace

std::optional<double> parse_double(std::string_view text) {
    if (text.empty()) {
        return std::nullopt;
    }
    if (auto plain = parse_plain_decimal(text)) {
        return plain;
    }
    const char* first = text.data();
    // from_chars rejects a leading '+', which people do write.
    if (*first == '+') {
        ++first;
    }
    double value = 0;
    auto [ptr, ec] = std::from_chars(first, text.data() + text.size(), value);
    if (ec == std::errc::result_out_of_range && ptr == text.data() + text.size()) {
        // Too small to represent ("1e-400") is zero, with its sign; too large stays refused.
        size_t e = text.find_last_of("eE");
        if (e != std::string_view::npos && e + 1 < text.size() && text[e + 1] == '-') {
            return *first == '-' ? -0.0 : 0.0;
        }
        return std::nullopt;
    }
    if (ec != std::errc() || ptr != text.data() + text.size()) {
        return std::nullopt;
    }
    return value;
}

std::optional<int64_t> parse_int(std::string_view text) {
    if (text.empty()) {
        return std::nullopt;
    }
    const char* first = text.data();
    if (*first == '+') {
        ++first;
    }
    int64_t value = 0;
    auto [ptr, ec] = std::from_chars(first, text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size()) {
        return std::nullopt;
    }
    return value;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
        text.remove_prefix(1);
    }
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
        text.remove_suffix(1);
    }
    return text;
}

}  // namespace lookbook
