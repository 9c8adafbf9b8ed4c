#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lookbook/util/date.hpp"
#include "lookbook/util/status.hpp"

namespace lookbook {

// A date layout such as "%Y-%m-%d" or "%d/%m/%Y": %Y (4 digits), %m and %d (1 or 2 digits), and
// literal characters. Only these three fields exist, so a layout is never ambiguous.
class DateFormat {
  public:
    // The default: ISO 8601 calendar dates, YYYY-MM-DD.
    DateFormat() = default;
    // Fails when the layout lacks one of %Y, %m, %d, repeats one, or uses another directive.
    static Result<DateFormat> parse(std::string_view layout);

    const std::string& layout() const { return layout_; }
    // Days since 1970-01-01, or nullopt when `text` does not follow the layout or names a day
    // that does not exist (2021-02-30).
    std::optional<int32_t> to_days(std::string_view text) const;

  private:
    std::string layout_ = "%Y-%m-%d";
    bool iso_ = true;
};

// Strict number parsers: the whole text must be the number (no spaces, no thousands separators,
// "." as the decimal mark). nullopt otherwise.
std::optional<double> parse_double(std::string_view text);
std::optional<int64_t> parse_int(std::string_view text);

// Removes leading and trailing ASCII spaces and tabs.
std::string_view trim(std::string_view text);

}  // namespace lookbook
