#pragma once

#include <cstdint>
#include <string>

namespace lookbook {

// Days since 1970-01-01 for a proleptic Gregorian date (no validation of the day).
int32_t days_from_civil(int year, unsigned month, unsigned day);
// "YYYY-MM-DD" for days since 1970-01-01.
std::string format_iso_date(int32_t days);

}  // namespace lookbook
