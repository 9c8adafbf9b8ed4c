#include "lookbook/util/escape.hpp"

#include <gtest/gtest.h>

namespace lookbook {
namespace {

TEST(EscapeMarkup, EntitiesForMarkupAndSpacesForControlCharacters) {
    EXPECT_EQ(escape_markup("<a href='x'>\"R&D\"</a>"),
              "&lt;a href=&#39;x&#39;&gt;&quot;R&amp;D&quot;&lt;/a&gt;");
    // Tab and newline stay; other control characters (invalid in XML 1.0) become spaces.
    EXPECT_EQ(escape_markup("a\tb\nc\x01\x1f\rd"), "a\tb\nc   d");
    EXPECT_EQ(escape_markup("Strap top \xc3\xa9"), "Strap top \xc3\xa9");  // UTF-8 untouched
    EXPECT_EQ(escape_markup(""), "");
}

}  // namespace
}  // namespace lookbook
