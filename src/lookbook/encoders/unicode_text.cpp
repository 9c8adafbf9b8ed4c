#include "lookbook/encoders/unicode_text.hpp"

#include <algorithm>
#include <cstdlib>
#include <iterator>

#include <utf8proc.h>

namespace lookbook {
namespace {

// Approximations of Unicode's Cased and Case_Ignorable properties for final sigma.
bool is_cased(char32_t cp) {
    auto c = static_cast<utf8proc_int32_t>(cp);
    return utf8proc_islower(c) || utf8proc_isupper(c) ||
           utf8proc_category(c) == UTF8PROC_CATEGORY_LT;
}

bool is_case_ignorable(char32_t cp) {
    // Word_Break MidLetter, MidNumLet and Single_Quote characters are case-ignorable too.
    constexpr char32_t kMidLetters[] = {U'\'',
                                        U'.',
                                        U':',
                                        0xB7,
                                        0x387,
                                        0x2018,
                                        0x2019,
                                        0x2024,
                                        0x2027,
                                        0xFE13,
                                        0xFE52,
                                        0xFE55,
                                        0xFF07,
                                        0xFF0E,
                                        0xFF1A};
    if (std::find(std::begin(kMidLetters), std::end(kMidLetters), cp) != std::end(kMidLetters)) {
        return true;
    }
    utf8proc_category_t c = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
    return c == UTF8PROC_CATEGORY_MN || c == UTF8PROC_CATEGORY_ME || c == UTF8PROC_CATEGORY_CF ||
           c == UTF8PROC_CATEGORY_LM || c == UTF8PROC_CATEGORY_SK;
}

}  // namespace

void append_utf8(char32_t cp, std::string* out) {
    utf8proc_uint8_t buf[4];
    utf8proc_ssize_t n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(cp), buf);
    out->append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

std::string encode_utf8(const std::u32string& text) {
    std::string out;
    out.reserve(text.size());
    for (char32_t cp : text) {
        append_utf8(cp, &out);
    }
    return out;
}

bool decode_utf8_strict(std::string_view bytes, std::u32string* out, size_t* bad_offset) {
    out->clear();
    out->reserve(bytes.size());
    const auto* data = reinterpret_cast<const utf8proc_uint8_t*>(bytes.data());
    size_t pos = 0;
    while (pos < bytes.size()) {
        utf8proc_int32_t cp = 0;
        // utf8proc_iterate refuses overlong forms, surrogates and truncated sequences.
        utf8proc_ssize_t used =
            utf8proc_iterate(data + pos, static_cast<utf8proc_ssize_t>(bytes.size() - pos), &cp);
        if (used <= 0 || cp < 0) {
            *bad_offset = pos;
            return false;
        }
        out->push_back(static_cast<char32_t>(cp));
        pos += static_cast<size_t>(used);
    }
    return true;
}

std::string utf8proc_normalize(const std::string& in, int options) {
    utf8proc_uint8_t* mapped = nullptr;
    utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(in.data()),
                                      static_cast<utf8proc_ssize_t>(in.size()),
                                      &mapped,
                                      static_cast<utf8proc_option_t>(options));
    if (n < 0) {
        return in;
    }
    std::string out(reinterpret_cast<const char*>(mapped), static_cast<size_t>(n));
    std::free(mapped);
    return out;
}

// Python's str.lower: simple lowercase mapping, plus the two context-free and contextual
// special cases that matter (U+0130 -> "i\u0307", capital sigma at a word end -> final sigma).
std::u32string python_lower(const std::u32string& s) {
    std::u32string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        char32_t cp = s[i];
        if (cp < 0x80) {
            out.push_back(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
        } else if (cp == 0x130) {
            out += U"i\u0307";
        } else if (cp == 0x3A3) {
            size_t j = i;
            while (j > 0 && is_case_ignorable(s[j - 1])) {
                --j;
            }
            bool final_sigma = j > 0 && is_cased(s[j - 1]);
            size_t k = i + 1;
            while (k < s.size() && is_case_ignorable(s[k])) {
                ++k;
            }
            if (final_sigma && k < s.size() && is_cased(s[k])) {
                final_sigma = false;
            }
            out.push_back(final_sigma ? 0x3C2 : 0x3C3);
        } else {
            out.push_back(
                static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
        }
    }
    return out;
}

}  // namespace lookbook
