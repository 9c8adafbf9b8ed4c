#pragma once

#include <string>
#include <string_view>

namespace lookbook {

// Text safe inside XML or HTML element content and in single- or double-quoted attribute
// values: & < > " ' become entities, and control characters other than tab and newline (not
// allowed in XML 1.0, never meaningful in a page) become spaces. Shared by the web pages and
// the report's SVG charts.
std::string escape_markup(std::string_view text);

}  // namespace lookbook
