#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lookbook/util/date.hpp"
#include "lookbook/util/status.hpp"

namespace lookbook {

// Why a text is not a date.
enum class DateProblem : uint8_t {
    kNone,
    kLayout,      // the text does not follow the layout (nor does its time part, if any)
    kImpossible,  // it follows the layout but names no real day (2021-02-30, month 13)
};

// What reading a date found: the day, or the problem and the numbers as written (for messages).
struct DateReading {
    int32_t days = 0;  // days since 1970-01-01 when problem is kNone
    int32_t year = 0;
    uint8_t month = 0;
    uint8_t day = 0;
    DateProblem problem = DateProblem::kLayout;
};

// Why a kImpossible reading names no day, e.g. "February 2021 has 28 days" or "there is no
// month 13".
std::string impossible_date_reason(const DateReading& reading);

// A date layout such as "%Y-%m-%d" or "%d/%m/%Y": %Y (4 digits), %m and %d (1 or 2 digits), and
// literal characters. Only these three date fields exist, so a layout is never ambiguous.
//
// Timestamps are read as the date they are written with: the time of day is checked and
// ignored, and so is a UTC offset, which is NOT applied ("2024-01-03T23:30:00-05:00" is January
// 3, though it is January 4 in UTC): exports write the shop's local date, and a sale belongs to
// the day the shop saw it.
//  - A layout without time directives accepts a date alone or followed by a time: `T` or a
//    space, then H:MM or HH:MM, optionally :SS and .fff (1 to 9 digits), then optionally `Z`
//    or an offset +HH, +HH:MM or +HHMM (or -).
//  - A layout may end with time directives, which must then match: %H (0-23), %I (1-12),
//    %M, %S (with an optional .fff unless the layout continues with '.'), %f (1-9 digits),
//    %p (AM/PM), %z (Z or an offset as above), %Z (a zone name in letters, such as UTC),
//    %T (%H:%M:%S) and %R (%H:%M).
class DateFormat {
  public:
    // The default: ISO 8601 calendar dates, YYYY-MM-DD, with an optional time as above.
    DateFormat() = default;
    // Fails when the layout lacks one of %Y, %m, %d, repeats one, puts a date directive after a
    // time directive, or uses another directive.
    static Result<DateFormat> parse(std::string_view layout);

    const std::string& layout() const { return layout_; }
    // Whether the layout ends with time directives.
    bool has_time() const { return has_time_; }
    // Reads `text` as a date in this layout (see above).
    DateReading read(std::string_view text) const;
    // Days since 1970-01-01, or nullopt when `text` does not follow the layout or names a day
    // that does not exist (2021-02-30).
    std::optional<int32_t> to_days(std::string_view text) const;

  private:
    std::string layout_ = "%Y-%m-%d";
    bool iso_ = true;
    bool has_time_ = false;  // the layout ends with time directives
};
// Strict number parsers: the whole text must be the number (no spaces, no thousands separators,
// "." as the decimal mark). nullopt otherwise.
std::optional<double> parse_double(std::string_view text);
std::optional<int64_t> parse_int(std::string_view text);

// Removes leading and trailing ASCII spaces and tabs.
std::string_view trim(std::string_view text);

}  // namespace lookbook
