#include "lookbook/data/fields.hpp"

#include <algorithm>
#include <cctype>
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

// The date as written, checked: kNone with its day number, or kImpossible.
DateReading checked_date(int year, unsigned month, unsigned day) {
    DateReading reading;
    reading.year = year;
    reading.month = static_cast<uint8_t>(std::min(month, 255u));
    reading.day = static_cast<uint8_t>(std::min(day, 255u));
    if (year < 1 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) {
        reading.problem = DateProblem::kImpossible;
        return reading;
    }
    reading.days = days_from_civil(year, month, day);
    reading.problem = DateProblem::kNone;
    return reading;
}

// Reads 1 to `max_digits` digits at text[*at] as a number no larger than `max_value`; advances
// *at past them. False when there is no digit or the number is too large.
bool read_number(std::string_view text, size_t* at, size_t max_digits, int max_value, int* out) {
    size_t n = 0;
    int value = 0;
    while (*at + n < text.size() && n < max_digits && digit(text[*at + n])) {
        value = value * 10 + (text[*at + n] - '0');
        ++n;
    }
    if (n == 0 || value > max_value) {
        return false;
    }
    *at += n;
    *out = value;
    return true;
}

bool read_fixed_number(std::string_view text, size_t* at, size_t digits, int max_value) {
    int value = 0;
    size_t start = *at;
    return read_number(text, at, digits, max_value, &value) && *at - start == digits;
}

// A fraction of a second after its '.': 1 to 9 digits.
bool read_fraction_digits(std::string_view text, size_t* at) {
    size_t n = 0;
    while (*at + n < text.size() && digit(text[*at + n])) {
        ++n;
    }
    *at += n;
    return n >= 1 && n <= 9;
}

// "Z" or a UTC offset +HH, +HH:MM or +HHMM (or -) at text[*at].
bool read_zone_offset(std::string_view text, size_t* at) {
    if (*at >= text.size()) {
        return false;
    }
    if (text[*at] == 'Z' || text[*at] == 'z') {
        ++*at;
        return true;
    }
    if (text[*at] != '+' && text[*at] != '-') {
        return false;
    }
    ++*at;
    if (!read_fixed_number(text, at, 2, 23)) {
        return false;
    }
    if (*at < text.size() && text[*at] == ':') {
        ++*at;
        return read_fixed_number(text, at, 2, 59);
    }
    if (*at < text.size() && digit(text[*at])) {
        return read_fixed_number(text, at, 2, 59);
    }
    return true;
}

// Whether `rest`, what follows a date in a layout without time directives, is empty or a time:
// 'T' or ' ', H:MM or HH:MM, optionally :SS and .fff, then optionally Z or an offset. Checked
// so that "2024-01-03x" or "2024-01-03 25:00" stay errors; the values are not used (the day is
// the date as written).
bool is_time_suffix(std::string_view rest) {
    if (rest.empty()) {
        return true;
    }
    if (rest[0] != 'T' && rest[0] != 't' && rest[0] != ' ') {
        return false;
    }
    size_t at = 1;
    int value = 0;
    if (!read_number(rest, &at, 2, 23, &value) || at >= rest.size() || rest[at] != ':') {
        return false;
    }
    ++at;
    if (!read_fixed_number(rest, &at, 2, 59)) {
        return false;
    }
    if (at < rest.size() && rest[at] == ':') {
        ++at;
        if (!read_fixed_number(rest, &at, 2, 60)) {  // 60: a leap second
            return false;
        }
        if (at < rest.size() && rest[at] == '.') {
            ++at;
            if (!read_fraction_digits(rest, &at)) {
                return false;
            }
        }
    }
    if (at < rest.size() && !read_zone_offset(rest, &at)) {
        return false;
    }
    return at == rest.size();
}

// (strchr would also find the string's terminating NUL, which a JSON layout can hold.)
bool is_time_directive(char directive) {
    return directive != '\0' && std::strchr("HIMSfpzZTR", directive) != nullptr;
}

// Matches the time directive `directive` at text[*at]; `dot_follows` when the layout continues
// with a literal '.', which then belongs to the layout rather than to a fraction after %S.
bool read_time_directive(char directive, bool dot_follows, std::string_view text, size_t* at) {
    int value = 0;
    switch (directive) {
        case 'H':
            return read_number(text, at, 2, 23, &value);
        case 'I':
            return read_number(text, at, 2, 12, &value) && value >= 1;
        case 'M':
            return read_number(text, at, 2, 59, &value);
        case 'S':
            if (!read_number(text, at, 2, 60, &value)) {
                return false;
            }
            if (!dot_follows && *at < text.size() && text[*at] == '.') {
                ++*at;
                return read_fraction_digits(text, at);
            }
            return true;
        case 'f':
            return read_fraction_digits(text, at);
        case 'p': {
            if (*at + 2 > text.size()) {
                return false;
            }
            char first = static_cast<char>(std::toupper(static_cast<unsigned char>(text[*at])));
            char second =
                static_cast<char>(std::toupper(static_cast<unsigned char>(text[*at + 1])));
            *at += 2;
            return (first == 'A' || first == 'P') && second == 'M';
        }
        case 'z':
            return read_zone_offset(text, at);
        case 'Z': {
            size_t n = 0;
            while (*at + n < text.size() &&
                   std::isalpha(static_cast<unsigned char>(text[*at + n]))) {
                ++n;
            }
            *at += n;
            return n > 0;
        }
        case 'T':
            return read_time_directive('H', false, text, at) && *at < text.size() &&
                   text[(*at)++] == ':' && read_time_directive('M', false, text, at) &&
                   *at < text.size() && text[(*at)++] == ':' &&
                   read_time_directive('S', dot_follows, text, at);
        case 'R':
            return read_time_directive('H', false, text, at) && *at < text.size() &&
                   text[(*at)++] == ':' && read_time_directive('M', false, text, at);
    }
    return false;
}

const char* kMonthNames[] = {"January",
                             "February",
                             "March",
                             "April",
                             "May",
                             "June",
                             "July",
                             "August",
                             "September",
                             "October",
                             "November",
                             "December"};

}  // namespace

std::string impossible_date_reason(const DateReading& reading) {
    if (reading.year < 1) {
        return fmt::format("there is no year {} (years start at 1)", reading.year);
    }
    if (reading.month < 1 || reading.month > 12) {
        return fmt::format("there is no month {} (months are 1 to 12)", reading.month);
    }
    if (reading.day < 1) {
        return "there is no day 0";
    }
    return fmt::format("{} {} has {} days",
                       kMonthNames[reading.month - 1],
                       reading.year,
                       days_in_month(reading.year, reading.month));
}

Result<DateFormat> DateFormat::parse(std::string_view layout) {
    int seen_y = 0;
    int seen_m = 0;
    int seen_d = 0;
    bool seen_time = false;
    for (size_t i = 0; i < layout.size(); ++i) {
        if (layout[i] != '%') {
            continue;
        }
        if (i + 1 >= layout.size()) {
            return Status::invalid_argument(
                fmt::format("date format \"{}\" ends with a lone '%'; use %Y, %m and %d", layout));
        }
        char directive = layout[++i];
        if (directive == 'Y' || directive == 'm' || directive == 'd') {
            if (seen_time) {
                return Status::invalid_argument(fmt::format(
                    "date format \"{}\" has %{} after a time directive; the time must come after "
                    "%Y, %m and %d (for example \"%d/%m/%Y %H:%M\")",
                    layout,
                    directive));
            }
            ++(directive == 'Y' ? seen_y : directive == 'm' ? seen_m : seen_d);
        } else if (is_time_directive(directive)) {
            seen_time = true;
        } else {
            return Status::invalid_argument(fmt::format(
                "date format \"{}\" uses %{}; only %Y, %m and %d are supported, followed if "
                "need be by the time directives %H, %I, %M, %S, %f, %p, %z, %Z, %T and %R "
                "(the time is checked and ignored)",
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
    format.has_time_ = seen_time;
    return format;
}

DateReading DateFormat::read(std::string_view text) const {
    DateReading layout_mismatch;  // problem kLayout
    if (iso_) {
        // Fast path for the common case: YYYY-MM-DD, perhaps with a time after it.
        if (text.size() < 10 || text[4] != '-' || text[7] != '-') {
            return layout_mismatch;
        }
        for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
            if (!digit(text[i])) {
                return layout_mismatch;
            }
        }
        if (text.size() > 10 && !is_time_suffix(text.substr(10))) {
            return layout_mismatch;
        }
        int year =
            (text[0] - '0') * 1000 + (text[1] - '0') * 100 + (text[2] - '0') * 10 + (text[3] - '0');
        unsigned month = static_cast<unsigned>((text[5] - '0') * 10 + (text[6] - '0'));
        unsigned day = static_cast<unsigned>((text[8] - '0') * 10 + (text[9] - '0'));
        return checked_date(year, month, day);
    }
    int year = -1;
    int month = -1;
    int day = -1;
    size_t t = 0;
    for (size_t i = 0; i < layout_.size(); ++i) {
        if (layout_[i] != '%') {
            if (t >= text.size() || text[t] != layout_[i]) {
                return layout_mismatch;
            }
            ++t;
            continue;
        }
        char directive = layout_[++i];
        if (is_time_directive(directive)) {
            bool dot_follows = i + 1 < layout_.size() && layout_[i + 1] == '.';
            if (!read_time_directive(directive, dot_follows, text, &t)) {
                return layout_mismatch;
            }
            continue;
        }
        size_t max_digits = directive == 'Y' ? 4 : 2;
        size_t min_digits = directive == 'Y' ? 4 : 1;
        size_t n = 0;
        int value = 0;
        while (t + n < text.size() && n < max_digits && digit(text[t + n])) {
            value = value * 10 + (text[t + n] - '0');
            ++n;
        }
        if (n < min_digits) {
            return layout_mismatch;
        }
        t += n;
        (directive == 'Y' ? year : directive == 'm' ? month : day) = value;
    }
    // A layout without time directives takes a time after the date; one with them, nothing.
    if (has_time_ ? t != text.size() : !is_time_suffix(text.substr(t))) {
        return layout_mismatch;
    }
    return checked_date(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
}

std::optional<int32_t> DateFormat::to_days(std::string_view text) const {
    DateReading reading = read(text);
    if (reading.problem != DateProblem::kNone) {
        return std::nullopt;
    }
    return reading.days;
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
    // from_chars rejects a leading '+', which people do write; "+-1" stays refused.
    if (*first == '+') {
        ++first;
        if (first == text.data() + text.size() || *first == '-' || *first == '+') {
            return std::nullopt;
        }
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
