#include "lookbook/encoders/tokenizer.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <string_view>

#include <nlohmann/json.hpp>
#include <utf8proc.h>
#include <zlib.h>

#include "lookbook/encoders/unicode_text.hpp"
#include "lookbook/util/assert.hpp"
#include "lookbook/util/file.hpp"
#include "lookbook/util/log.hpp"

namespace lookbook {
namespace {

using Text = std::u32string;

constexpr char32_t kReplacement = 0xFFFD;
// simple_tokenizer.py keeps merges[1 : 49152 - 256 - 2 + 1] of the .gz file.
constexpr size_t kGzMergeCount = 49152 - 256 - 2;
// The cache is cleared when it reaches this many words, so memory stays bounded on long runs.
constexpr size_t kMaxCachedWords = 200'000;
constexpr std::string_view kStartOfText = "<|startoftext|>";
constexpr std::string_view kEndOfText = "<|endoftext|>";
constexpr std::string_view kEndOfWord = "</w>";

// ---------------------------------------------------------------------------------------------
// UTF-8 <-> code points. Python works on code points; invalid bytes become U+FFFD, as
// bytes.decode("utf-8", "replace") would.

Text decode_utf8(std::string_view bytes) {
    Text out;
    out.reserve(bytes.size());
    const auto* data = reinterpret_cast<const utf8proc_uint8_t*>(bytes.data());
    auto remaining = static_cast<utf8proc_ssize_t>(bytes.size());
    while (remaining > 0) {
        utf8proc_int32_t cp = 0;
        utf8proc_ssize_t used = utf8proc_iterate(data, remaining, &cp);
        if (used <= 0) {
            out.push_back(kReplacement);
            used = 1;
        } else {
            out.push_back(static_cast<char32_t>(cp));
        }
        data += used;
        remaining -= used;
    }
    return out;
}

// Python's str.isspace: category Zs or bidirectional class WS, B or S.
bool is_python_space(char32_t cp) {
    if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) {
        return true;
    }
    if (cp < 0x80 && cp != 0x1C && cp != 0x1D && cp != 0x1E && cp != 0x1F) {
        return false;
    }
    const utf8proc_property_t* prop = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
    return prop->category == UTF8PROC_CATEGORY_ZS || prop->bidi_class == UTF8PROC_BIDI_CLASS_WS ||
           prop->bidi_class == UTF8PROC_BIDI_CLASS_B || prop->bidi_class == UTF8PROC_BIDI_CLASS_S;
}

bool is_letter(char32_t cp) {
    if (cp < 0x80) {
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
    }
    utf8proc_category_t c = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
    return c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LL || c == UTF8PROC_CATEGORY_LT ||
           c == UTF8PROC_CATEGORY_LM || c == UTF8PROC_CATEGORY_LO;
}

bool is_number(char32_t cp) {
    if (cp < 0x80) {
        return cp >= '0' && cp <= '9';
    }
    utf8proc_category_t c = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
    return c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_NO;
}

// ---------------------------------------------------------------------------------------------
// HTML entities. Sorted by name (byte order) for binary search; `legacy` names are also
// recognised without the trailing ';', as HTML5 (and Python's html.unescape) allows.

struct Entity {
    std::string_view name;
    char32_t cp;
    bool legacy;
};

constexpr Entity kEntities[] = {
    {"AElig", 0xC6, true},     {"AMP", 0x26, true},       {"Aacute", 0xC1, true},
    {"Acirc", 0xC2, true},     {"Agrave", 0xC0, true},    {"Aring", 0xC5, true},
    {"Atilde", 0xC3, true},    {"Auml", 0xC4, true},      {"COPY", 0xA9, true},
    {"Ccedil", 0xC7, true},    {"Dagger", 0x2021, false}, {"ETH", 0xD0, true},
    {"Eacute", 0xC9, true},    {"Ecirc", 0xCA, true},     {"Egrave", 0xC8, true},
    {"Euml", 0xCB, true},      {"GT", 0x3E, true},        {"Iacute", 0xCD, true},
    {"Icirc", 0xCE, true},     {"Igrave", 0xCC, true},    {"Iuml", 0xCF, true},
    {"LT", 0x3C, true},        {"Ntilde", 0xD1, true},    {"OElig", 0x152, false},
    {"Oacute", 0xD3, true},    {"Ocirc", 0xD4, true},     {"Ograve", 0xD2, true},
    {"Oslash", 0xD8, true},    {"Otilde", 0xD5, true},    {"Ouml", 0xD6, true},
    {"Prime", 0x2033, false},  {"QUOT", 0x22, true},      {"REG", 0xAE, true},
    {"Scaron", 0x160, false},  {"THORN", 0xDE, true},     {"Uacute", 0xDA, true},
    {"Ucirc", 0xDB, true},     {"Ugrave", 0xD9, true},    {"Uuml", 0xDC, true},
    {"Yacute", 0xDD, true},    {"Yuml", 0x178, false},    {"aacute", 0xE1, true},
    {"acirc", 0xE2, true},     {"acute", 0xB4, true},     {"aelig", 0xE6, true},
    {"agrave", 0xE0, true},    {"amp", 0x26, true},       {"apos", 0x27, false},
    {"aring", 0xE5, true},     {"atilde", 0xE3, true},    {"auml", 0xE4, true},
    {"bdquo", 0x201E, false},  {"brvbar", 0xA6, true},    {"bull", 0x2022, false},
    {"ccedil", 0xE7, true},    {"cedil", 0xB8, true},     {"cent", 0xA2, true},
    {"check", 0x2713, false},  {"circ", 0x2C6, false},    {"copy", 0xA9, true},
    {"curren", 0xA4, true},    {"dagger", 0x2020, false}, {"darr", 0x2193, false},
    {"deg", 0xB0, true},       {"divide", 0xF7, true},    {"eacute", 0xE9, true},
    {"ecirc", 0xEA, true},     {"egrave", 0xE8, true},    {"emsp", 0x2003, false},
    {"ensp", 0x2002, false},   {"eth", 0xF0, true},       {"euml", 0xEB, true},
    {"euro", 0x20AC, false},   {"fnof", 0x192, false},    {"frac12", 0xBD, true},
    {"frac14", 0xBC, true},    {"frac34", 0xBE, true},    {"ge", 0x2265, false},
    {"gt", 0x3E, true},        {"hearts", 0x2665, false}, {"hellip", 0x2026, false},
    {"iacute", 0xED, true},    {"icirc", 0xEE, true},     {"iexcl", 0xA1, true},
    {"igrave", 0xEC, true},    {"infin", 0x221E, false},  {"iquest", 0xBF, true},
    {"iuml", 0xEF, true},      {"laquo", 0xAB, true},     {"larr", 0x2190, false},
    {"ldquo", 0x201C, false},  {"le", 0x2264, false},     {"lrm", 0x200E, false},
    {"lsaquo", 0x2039, false}, {"lsquo", 0x2018, false},  {"lt", 0x3C, true},
    {"macr", 0xAF, true},      {"mdash", 0x2014, false},  {"micro", 0xB5, true},
    {"middot", 0xB7, true},    {"minus", 0x2212, false},  {"nbsp", 0xA0, true},
    {"ndash", 0x2013, false},  {"ne", 0x2260, false},     {"not", 0xAC, true},
    {"ntilde", 0xF1, true},    {"oacute", 0xF3, true},    {"ocirc", 0xF4, true},
    {"oelig", 0x153, false},   {"ograve", 0xF2, true},    {"ordf", 0xAA, true},
    {"ordm", 0xBA, true},      {"oslash", 0xF8, true},    {"otilde", 0xF5, true},
    {"ouml", 0xF6, true},      {"para", 0xB6, true},      {"permil", 0x2030, false},
    {"plusmn", 0xB1, true},    {"pound", 0xA3, true},     {"prime", 0x2032, false},
    {"quot", 0x22, true},      {"raquo", 0xBB, true},     {"rarr", 0x2192, false},
    {"rdquo", 0x201D, false},  {"reg", 0xAE, true},       {"rlm", 0x200F, false},
    {"rsaquo", 0x203A, false}, {"rsquo", 0x2019, false},  {"sbquo", 0x201A, false},
    {"scaron", 0x161, false},  {"sect", 0xA7, true},      {"shy", 0xAD, true},
    {"star", 0x2606, false},   {"sup1", 0xB9, true},      {"sup2", 0xB2, true},
    {"sup3", 0xB3, true},      {"szlig", 0xDF, true},     {"thinsp", 0x2009, false},
    {"thorn", 0xFE, true},     {"tilde", 0x2DC, false},   {"times", 0xD7, true},
    {"trade", 0x2122, false},  {"uacute", 0xFA, true},    {"uarr", 0x2191, false},
    {"ucirc", 0xFB, true},     {"ugrave", 0xF9, true},    {"uml", 0xA8, true},
    {"uuml", 0xFC, true},      {"yacute", 0xFD, true},    {"yen", 0xA5, true},
    {"yuml", 0xFF, true},      {"zwj", 0x200D, false},    {"zwnj", 0x200C, false},
};

const Entity* find_entity(std::string_view name) {
    const Entity* end = std::end(kEntities);
    const Entity* it =
        std::lower_bound(std::begin(kEntities), end, name, [](const Entity& e, std::string_view n) {
            return e.name < n;
        });
    return (it != end && it->name == name) ? it : nullptr;
}

// Windows-1252 for 0x80..0x9F; the five undefined bytes stay as the C1 code point, as in
// ftfy's "sloppy-windows-1252" and html.unescape's table of invalid character references.
constexpr char32_t kCp1252High[32] = {
    0x20AC, 0x81,   0x201A, 0x192,  0x201E, 0x2026, 0x2020, 0x2021, 0x2C6,  0x2030, 0x160,
    0x2039, 0x152,  0x8D,   0x17D,  0x8F,   0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x2DC,  0x2122, 0x161,  0x203A, 0x153,  0x9D,   0x17E,  0x178,
};

// The text a numeric character reference stands for, as html.unescape decides.
Text numeric_reference(uint64_t num) {
    if (num == 0) {
        return Text(1, kReplacement);
    }
    if (num == 0x0D) {
        return U"\r";
    }
    if (num >= 0x80 && num <= 0x9F) {
        return Text(1, kCp1252High[num - 0x80]);
    }
    if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) {
        return Text(1, kReplacement);
    }
    // Python's _invalid_codepoints decode to nothing.
    bool invalid = (num >= 0x1 && num <= 0x8) || num == 0xB || (num >= 0xE && num <= 0x1F) ||
                   (num >= 0x7F && num <= 0x9F) || (num >= 0xFDD0 && num <= 0xFDEF) ||
                   (num & 0xFFFE) == 0xFFFE;
    if (invalid) {
        return Text();
    }
    return Text(1, static_cast<char32_t>(num));
}

bool is_ascii_digit(char32_t c) { return c >= '0' && c <= '9'; }

bool is_ascii_hex(char32_t c) {
    return is_ascii_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_ascii_alnum(char32_t c) {
    return is_ascii_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Parses digits [begin, end) in `base`, saturating above the Unicode range.
uint64_t parse_number(const Text& s, size_t begin, size_t end, int base) {
    uint64_t num = 0;
    for (size_t i = begin; i < end; ++i) {
        char32_t c = s[i];
        uint64_t digit = is_ascii_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
        num = std::min<uint64_t>(num * base + digit, 0x110000);
    }
    return num;
}

// Only ASCII names can be entity names, so a name with other code points is never found.
std::string ascii_name(const Text& s, size_t begin, size_t end) {
    std::string name;
    for (size_t i = begin; i < end; ++i) {
        if (s[i] >= 0x80) {
            return {};
        }
        name.push_back(static_cast<char>(s[i]));
    }
    return name;
}

// Copies `s`, letting `at_ampersand(s, i, &out)` decode a reference that starts at the '&' in
// s[i]; it returns the index after what it consumed, or i when nothing matched there.
template <typename AtAmpersand>
Text replace_references(const Text& s, AtAmpersand at_ampersand) {
    if (s.find(U'&') == Text::npos) {
        return s;
    }
    Text out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        if (s[i] == U'&') {
            size_t next = at_ampersand(s, i, &out);
            if (next > i) {
                i = next;
                continue;
            }
        }
        out.push_back(s[i++]);
    }
    return out;
}

// One reference for Python's html.unescape: &#123; &#x7B; (';' optional) and named references,
// with HTML5's rule that a legacy name may end without ';' and match as the longest prefix.
size_t html_reference(const Text& s, size_t i, Text* out) {
    size_t j = i + 1;
    if (j < s.size() && s[j] == U'#') {
        size_t k = j + 1;
        int base = 10;
        if (k + 1 < s.size() && (s[k] == U'x' || s[k] == U'X') && is_ascii_hex(s[k + 1])) {
            base = 16;
            ++k;
        }
        size_t digits = k;
        while (k < s.size() && (base == 16 ? is_ascii_hex(s[k]) : is_ascii_digit(s[k]))) {
            ++k;
        }
        if (k == digits) {
            return i;
        }
        uint64_t num = parse_number(s, digits, k, base);
        *out += numeric_reference(num);
        return (k < s.size() && s[k] == U';') ? k + 1 : k;
    }
    // A name is up to 32 code points other than tab, LF, FF, space, '<', '&', '#', ';'.
    size_t k = j;
    while (k < s.size() && k - j < 32) {
        char32_t c = s[k];
        if (c == U'\t' || c == U'\n' || c == U'\f' || c == U' ' || c == U'<' || c == U'&' ||
            c == U'#' || c == U';') {
            break;
        }
        ++k;
    }
    if (k == j) {
        return i;
    }
    bool semicolon = k < s.size() && s[k] == U';';
    size_t end = semicolon ? k + 1 : k;
    std::string name = ascii_name(s, j, k);
    const Entity* entity = name.empty() ? nullptr : find_entity(name);
    if (entity != nullptr && (semicolon || entity->legacy)) {
        out->push_back(entity->cp);
        return end;
    }
    // Longest legacy prefix of the name (at least 2 characters), the rest kept as text.
    for (size_t len = end - j - 1; len >= 2; --len) {
        std::string prefix = ascii_name(s, j, j + len);
        const Entity* e = prefix.empty() ? nullptr : find_entity(prefix);
        if (e != nullptr && e->legacy) {
            out->push_back(e->cp);
            out->append(s, j + len, end - j - len);
            return end;
        }
    }
    out->append(s, i, end - i);
    return end;
}

Text html_unescape(const Text& s) { return replace_references(s, html_reference); }

// One reference for ftfy's unescape_html: only "&name;" / "&#...;" with 1..24 ASCII letters or
// digits, plus upper-cased names of lowercase entities ("&EACUTE;" -> "É").
size_t ftfy_reference(const Text& s, size_t i, Text* out) {
    size_t j = i + 1;
    bool numeric = j < s.size() && s[j] == U'#';
    size_t k = numeric ? j + 1 : j;
    size_t name_begin = k;
    while (k < s.size() && is_ascii_alnum(s[k])) {
        ++k;
    }
    size_t len = k - name_begin;
    if (len < 1 || len > 24 || k >= s.size() || s[k] != U';') {
        return i;
    }
    Text match = s.substr(i, k + 1 - i);
    if (numeric) {
        // Kept as text unless html.unescape consumed the whole reference.
        Text unescaped = html_unescape(match);
        *out += unescaped.find(U';') == Text::npos ? unescaped : match;
        return k + 1;
    }
    std::string name = ascii_name(s, name_begin, k);
    std::string lower = name;
    std::string upper = name;
    for (size_t c = 0; c < name.size(); ++c) {
        lower[c] = static_cast<char>(std::tolower(static_cast<unsigned char>(name[c])));
        upper[c] = static_cast<char>(std::toupper(static_cast<unsigned char>(name[c])));
    }
    const Entity* exact = find_entity(name);
    const Entity* folded = find_entity(lower);
    if (exact != nullptr) {
        out->push_back(exact->cp);
    } else if (folded != nullptr && name == upper && html_unescape(match) == match) {
        auto cp = static_cast<utf8proc_int32_t>(folded->cp);
        out->push_back(static_cast<char32_t>(utf8proc_toupper(cp)));
    } else {
        *out += match;
    }
    return k + 1;
}

Text ftfy_unescape_html(const Text& s) { return replace_references(s, ftfy_reference); }

// ---------------------------------------------------------------------------------------------
// The other ftfy fixers, each as a code point map.

// fix_latin_ligatures: typographic ligatures and digraph letters back to their letters.
struct Ligature {
    char32_t cp;
    std::u32string_view letters;
};

constexpr Ligature kLigatures[] = {
    {0x132, U"IJ"},       {0x133, U"ij"},      {0x149, U"\u02BCn"}, {0x1C4, U"D\u017D"},
    {0x1C5, U"D\u017E"},  {0x1C6, U"d\u017E"}, {0x1C7, U"LJ"},      {0x1C8, U"Lj"},
    {0x1C9, U"lj"},       {0x1CA, U"NJ"},      {0x1CB, U"Nj"},      {0x1CC, U"nj"},
    {0x1F1, U"DZ"},       {0x1F2, U"Dz"},      {0x1F3, U"dz"},      {0xFB00, U"ff"},
    {0xFB01, U"fi"},      {0xFB02, U"fl"},     {0xFB03, U"ffi"},    {0xFB04, U"ffl"},
    {0xFB05, U"\u017Ft"}, {0xFB06, U"st"},
};

bool append_ligature(char32_t cp, Text* out) {
    if (cp < 0x132 || (cp > 0x1F3 && cp < 0xFB00) || cp > 0xFB06) {
        return false;
    }
    for (const Ligature& lig : kLigatures) {
        if (lig.cp == cp) {
            *out += lig.letters;
            return true;
        }
    }
    return false;
}

// fix_character_width: U+FF01..U+FFEF become their NFKC form (fullwidth ASCII, halfwidth
// katakana and hangul), U+3000 becomes a space. Built once from utf8proc's tables.
const std::vector<Text>& width_map() {
    static const std::vector<Text> map = [] {
        std::vector<Text> m(0xFFF0 - 0xFF01);
        for (char32_t cp = 0xFF01; cp < 0xFFF0; ++cp) {
            std::string one;
            append_utf8(cp, &one);
            std::string nfkc =
                utf8proc_normalize(one, UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
            if (nfkc != one) {
                m[cp - 0xFF01] = decode_utf8(nfkc);
            }
        }
        return m;
    }();
    return map;
}

bool is_ftfy_control(char32_t cp) {
    return cp <= 0x08 || cp == 0x0B || (cp >= 0x0E && cp <= 0x1F) || cp == 0x7F ||
           (cp >= 0x206A && cp <= 0x206F) || cp == 0xFEFF || (cp >= 0xFFF9 && cp <= 0xFFFC);
}

// One pass of fix_c1_controls, fix_latin_ligatures, fix_character_width, uncurl_quotes,
// fix_line_breaks, remove_terminal_escapes and remove_control_chars, in ftfy's order. They
// are per code point except CRLF and the escapes, so one loop applies them in sequence.
Text ftfy_character_fixes(const Text& in) {
    Text c1_fixed;
    c1_fixed.reserve(in.size());
    for (char32_t cp : in) {
        c1_fixed.push_back(cp >= 0x80 && cp <= 0x9F ? kCp1252High[cp - 0x80] : cp);
    }
    Text out;
    out.reserve(c1_fixed.size());
    const std::vector<Text>& widths = width_map();
    for (char32_t cp : c1_fixed) {
        if (append_ligature(cp, &out)) {
            continue;
        }
        if (cp >= 0xFF01 && cp < 0xFFF0 && !widths[cp - 0xFF01].empty()) {
            out += widths[cp - 0xFF01];
        } else if (cp == 0x3000) {
            out.push_back(U' ');
        } else {
            out.push_back(cp);
        }
    }
    // Straight quotes, then line breaks; these map single code points to single code points.
    for (char32_t& cp : out) {
        if (cp == 0x2BC || (cp >= 0x2018 && cp <= 0x201B)) {
            cp = U'\'';
        } else if (cp >= 0x201C && cp <= 0x201F) {
            cp = U'"';
        }
    }
    Text lines;
    lines.reserve(out.size());
    for (size_t i = 0; i < out.size(); ++i) {
        char32_t cp = out[i];
        if (cp == U'\r' && i + 1 < out.size() && out[i + 1] == U'\n') {
            continue;
        }
        bool line_break = cp == U'\r' || cp == 0x2028 || cp == 0x2029 || cp == 0x85;
        lines.push_back(line_break ? U'\n' : cp);
    }
    // Terminal escapes "ESC [ digits-and-semicolons letter", then control characters.
    Text result;
    result.reserve(lines.size());
    for (size_t i = 0; i < lines.size(); ++i) {
        if (lines[i] == 0x1B && i + 1 < lines.size() && lines[i + 1] == U'[') {
            size_t k = i + 2;
            while (k < lines.size() && (is_ascii_digit(lines[k]) || lines[k] == U';')) {
                ++k;
            }
            char32_t c = k < lines.size() ? lines[k] : 0;
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
                i = k;
                continue;
            }
        }
        if (!is_ftfy_control(lines[i])) {
            result.push_back(lines[i]);
        }
    }
    return result;
}

// ftfy.fix_and_explain on one line: fixers repeated until the text stops changing.
Text ftfy_fix_segment(Text text, bool unescape_entities) {
    for (int round = 0; round < 16; ++round) {
        Text before = text;
        if (unescape_entities) {
            text = ftfy_unescape_html(text);
        }
        text = ftfy_character_fixes(text);
        text =
            decode_utf8(utf8proc_normalize(encode_utf8(text), UTF8PROC_STABLE | UTF8PROC_COMPOSE));
        if (text == before) {
            break;
        }
    }
    return text;
}

// ftfy.fix_text: line by line; once a line contains '<', entities are left alone from then on
// (ftfy assumes the text is HTML whose entities are intended).
Text ftfy_fix_text(const Text& text) {
    Text out;
    bool unescape_entities = true;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t newline = text.find(U'\n', pos);
        size_t end = newline == Text::npos ? text.size() : newline + 1;
        Text segment = text.substr(pos, end - pos);
        if (segment.find(U'<') != Text::npos) {
            unescape_entities = false;
        }
        out += ftfy_fix_segment(std::move(segment), unescape_entities);
        pos = end;
    }
    return out;
}

Text python_strip(const Text& s) {
    size_t b = 0;
    size_t e = s.size();
    while (b < e && is_python_space(s[b])) {
        ++b;
    }
    while (e > b && is_python_space(s[e - 1])) {
        --e;
    }
    return s.substr(b, e - b);
}

// re.sub(r"\s+", " ", text).strip()
Text collapse_whitespace(const Text& s) {
    Text out;
    out.reserve(s.size());
    bool in_space = false;
    for (char32_t cp : s) {
        if (is_python_space(cp)) {
            in_space = true;
            continue;
        }
        if (in_space && !out.empty()) {
            out.push_back(U' ');
        }
        in_space = false;
        out.push_back(cp);
    }
    return out;
}

Text clean_text(std::string_view raw) {
    Text text = ftfy_fix_text(decode_utf8(raw));
    text = python_strip(html_unescape(html_unescape(text)));
    return python_lower(collapse_whitespace(text));
}

// The tokenizer regex, with IGNORECASE (text is already lowercase; U+017F LONG S folds to 's'):
//   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
std::vector<Text> pre_tokenize(const Text& text) {
    static const Text kSpecial[] = {U"<|startoftext|>", U"<|endoftext|>"};
    static const Text kContractions[] = {U"s", U"t", U"re", U"ve", U"m", U"ll", U"d"};
    std::vector<Text> tokens;
    size_t i = 0;
    auto starts_with_folded = [&](size_t at, const Text& what) {
        if (at + what.size() > text.size()) {
            return false;
        }
        for (size_t k = 0; k < what.size(); ++k) {
            char32_t c = text[at + k] == 0x17F ? U's' : text[at + k];
            if (c != what[k]) {
                return false;
            }
        }
        return true;
    };
    while (i < text.size()) {
        bool matched = false;
        for (const Text& special : kSpecial) {
            if (!matched && text.compare(i, special.size(), special) == 0) {
                tokens.push_back(special);
                i += special.size();
                matched = true;
            }
        }
        if (!matched && text[i] == U'\'') {
            for (const Text& c : kContractions) {
                if (!matched && starts_with_folded(i + 1, c)) {
                    tokens.push_back(text.substr(i, c.size() + 1));
                    i += c.size() + 1;
                    matched = true;
                }
            }
        }
        if (matched) {
            continue;
        }
        size_t k = i;
        if (is_letter(text[i])) {
            while (k < text.size() && is_letter(text[k])) {
                ++k;
            }
        } else if (is_number(text[i])) {
            k = i + 1;
        } else if (!is_python_space(text[i])) {
            while (k < text.size() && !is_python_space(text[k]) && !is_letter(text[k]) &&
                   !is_number(text[k])) {
                ++k;
            }
        } else {
            ++i;
            continue;
        }
        tokens.push_back(text.substr(i, k - i));
        i = k;
    }
    return tokens;
}

// GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the other 68 bytes to
// U+0100 onwards in byte order.
std::array<char32_t, 256> byte_code_points() {
    std::array<char32_t, 256> code_points{};
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
        bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        code_points[b] = printable ? static_cast<char32_t>(b) : next++;
    }
    return code_points;
}

// Each byte's symbol as UTF-8, indexed by byte.
std::array<std::string, 256> make_byte_symbols() {
    std::array<char32_t, 256> code_points = byte_code_points();
    std::array<std::string, 256> symbols;
    for (int b = 0; b < 256; ++b) {
        append_utf8(code_points[b], &symbols[b]);
    }
    return symbols;
}

// The byte symbols in the order of bytes_to_unicode's dict (printable bytes first, then the
// others), which is the order of the first 256 vocabulary ids: code point order.
std::vector<std::string> byte_symbols_in_vocab_order() {
    std::array<char32_t, 256> code_points = byte_code_points();
    std::sort(code_points.begin(), code_points.end());
    std::vector<std::string> symbols(code_points.size());
    for (size_t i = 0; i < code_points.size(); ++i) {
        append_utf8(code_points[i], &symbols[i]);
    }
    return symbols;
}

// Splits "first second" merge lines; false for anything but two non-empty fields.
bool split_merge_line(std::string_view line, std::pair<std::string, std::string>* merge) {
    auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v'; };
    std::vector<std::string_view> fields;
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && is_space(line[i])) {
            ++i;
        }
        size_t start = i;
        while (i < line.size() && !is_space(line[i])) {
            ++i;
        }
        if (i > start) {
            fields.push_back(line.substr(start, i - start));
        }
    }
    if (fields.size() != 2) {
        return false;
    }
    *merge = {std::string(fields[0]), std::string(fields[1])};
    return true;
}

Result<std::string> gunzip(const std::string& compressed, const std::string& name) {
    z_stream stream{};
    if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) {
        return Status::internal("zlib could not start inflating " + name);
    }
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
    stream.avail_in = static_cast<uInt>(compressed.size());
    std::string out;
    char buffer[1 << 16];
    int rc = Z_OK;
    while (rc == Z_OK) {
        stream.next_out = reinterpret_cast<Bytef*>(buffer);
        stream.avail_out = sizeof(buffer);
        rc = inflate(&stream, Z_NO_FLUSH);
        out.append(buffer, sizeof(buffer) - stream.avail_out);
        if (rc == Z_BUF_ERROR && stream.avail_in == 0) {
            break;
        }
    }
    std::string zlib_msg = stream.msg != nullptr ? stream.msg : "truncated data";
    inflateEnd(&stream);
    if (rc != Z_STREAM_END) {
        return Status::invalid_data(name + ": not a complete gzip file (zlib: " + zlib_msg +
                                    "); download bpe_simple_vocab_16e6.txt.gz again");
    }
    return out;
}

}  // namespace

struct ClipTokenizer::Cache {
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<std::string>> words;
};

ClipTokenizer::ClipTokenizer()
    : byte_symbols_(make_byte_symbols()), cache_(std::make_unique<Cache>()) {}
ClipTokenizer::ClipTokenizer(ClipTokenizer&&) noexcept = default;
ClipTokenizer& ClipTokenizer::operator=(ClipTokenizer&&) noexcept = default;
ClipTokenizer::~ClipTokenizer() = default;

Result<ClipTokenizer> ClipTokenizer::from_bpe_gz(const std::filesystem::path& bpe_gz) {
    const std::string name = bpe_gz.string();
    LOOKBOOK_ASSIGN_OR_RETURN(std::string compressed, read_file(bpe_gz));
    LOOKBOOK_ASSIGN_OR_RETURN(std::string text, gunzip(compressed, name));

    // Line 1 is a version header; simple_tokenizer.py uses the next 48894 lines as merges.
    ClipTokenizer tok;
    tok.merges_.reserve(kGzMergeCount);
    size_t pos = text.find('\n');
    size_t line_no = 1;
    while (pos != std::string::npos && tok.merges_.size() < kGzMergeCount) {
        size_t start = pos + 1;
        pos = text.find('\n', start);
        std::string_view line(text.data() + start,
                              (pos == std::string::npos ? text.size() : pos) - start);
        ++line_no;
        if (line.empty() && pos == std::string::npos) {
            break;  // the newline that ends the file
        }
        std::pair<std::string, std::string> merge;
        if (!split_merge_line(line, &merge)) {
            return Status::invalid_data(
                name + ":" + std::to_string(line_no) + ": merge line is \"" +
                std::string(line.substr(0, 80)) +
                "\"; expected two symbols separated by a space. The file is damaged; use the "
                "original bpe_simple_vocab_16e6.txt.gz");
        }
        tok.merges_.push_back(std::move(merge));
    }
    if (tok.merges_.size() < kGzMergeCount) {
        return Status::invalid_data(name + ": has " + std::to_string(tok.merges_.size()) +
                                    " merges; CLIP's BPE needs " + std::to_string(kGzMergeCount) +
                                    ". The file is truncated; use the original "
                                    "bpe_simple_vocab_16e6.txt.gz");
    }

    return from_merges(std::move(tok.merges_), name);
}

Result<ClipTokenizer> ClipTokenizer::from_merges(
    std::vector<std::pair<std::string, std::string>> merges, const std::string& name) {
    ClipTokenizer tok;
    tok.merges_ = std::move(merges);
    // Vocabulary in simple_tokenizer.py's order: byte symbols, the same with "</w>", merges,
    // specials.
    const std::vector<std::string> symbols = byte_symbols_in_vocab_order();
    for (const std::string& sym : symbols) {
        tok.id_to_token_.push_back(sym);
    }
    for (const std::string& sym : symbols) {
        tok.id_to_token_.push_back(sym + std::string(kEndOfWord));
    }
    for (const auto& [first, second] : tok.merges_) {
        tok.id_to_token_.push_back(first + second);
    }
    tok.id_to_token_.emplace_back(kStartOfText);
    tok.id_to_token_.emplace_back(kEndOfText);
    for (size_t id = 0; id < tok.id_to_token_.size(); ++id) {
        tok.token_to_id_[tok.id_to_token_[id]] = static_cast<int64_t>(id);
    }
    LOOKBOOK_RETURN_IF_ERROR(tok.finish_setup(name));
    return tok;
}

Result<ClipTokenizer> ClipTokenizer::from_vocab_and_merges(
    const std::filesystem::path& vocab_json, const std::filesystem::path& merges_txt) {
    const std::string vocab_name = vocab_json.string();
    const std::string merges_name = merges_txt.string();
    LOOKBOOK_ASSIGN_OR_RETURN(std::string vocab_text, read_file(vocab_json));
    LOOKBOOK_ASSIGN_OR_RETURN(std::string merges_text, read_file(merges_txt));

    ClipTokenizer tok;
    nlohmann::json vocab = nlohmann::json::parse(vocab_text, nullptr, /*allow_exceptions=*/false);
    if (vocab.is_discarded() || !vocab.is_object()) {
        return Status::invalid_data(vocab_name +
                                    ": is not a JSON object of token -> id; expected the "
                                    "tokenizer's vocab.json");
    }
    int64_t max_id = -1;
    for (const auto& [token, id] : vocab.items()) {
        if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > 10'000'000) {
            return Status::invalid_data(vocab_name + ": token \"" + token + "\" has id " +
                                        id.dump() + "; expected an integer from 0 to 10000000");
        }
        tok.token_to_id_[token] = id.get<int64_t>();
        max_id = std::max(max_id, id.get<int64_t>());
    }
    tok.id_to_token_.resize(static_cast<size_t>(max_id + 1));
    for (const auto& [token, id] : tok.token_to_id_) {
        tok.id_to_token_[static_cast<size_t>(id)] = token;
    }

    // merges.txt: an optional "#version" header, then "first second" per line.
    size_t line_no = 0;
    size_t pos = 0;
    while (pos < merges_text.size()) {
        size_t end = merges_text.find('\n', pos);
        if (end == std::string::npos) {
            end = merges_text.size();
        }
        std::string_view line(merges_text.data() + pos, end - pos);
        pos = end + 1;
        ++line_no;
        if ((line_no == 1 && line.starts_with("#version")) || line.empty()) {
            continue;
        }
        std::pair<std::string, std::string> merge;
        if (!split_merge_line(line, &merge)) {
            return Status::invalid_data(merges_name + ":" + std::to_string(line_no) +
                                        ": merge line is \"" + std::string(line.substr(0, 80)) +
                                        "\"; expected two symbols separated by a space. Fix the "
                                        "line or use the model's original merges.txt");
        }
        std::string merged = merge.first + merge.second;
        if (tok.token_to_id_.find(merged) == tok.token_to_id_.end()) {
            return Status::invalid_data(merges_name + ":" + std::to_string(line_no) +
                                        ": merge result \"" + merged + "\" is not in " +
                                        vocab_name +
                                        "; the two files do not belong together. Use the "
                                        "vocab.json and merges.txt of the same model");
        }
        tok.merges_.push_back(std::move(merge));
    }
    LOOKBOOK_RETURN_IF_ERROR(tok.finish_setup(vocab_name));
    return tok;
}

Result<ClipTokenizer> ClipTokenizer::from_model_dir(const std::filesystem::path& dir) {
    for (const std::filesystem::path& folder : {dir, dir / "tokenizer"}) {
        if (std::filesystem::exists(folder / "vocab.json") &&
            std::filesystem::exists(folder / "merges.txt")) {
            return from_vocab_and_merges(folder / "vocab.json", folder / "merges.txt");
        }
        if (std::filesystem::exists(folder / "bpe_simple_vocab_16e6.txt.gz")) {
            return from_bpe_gz(folder / "bpe_simple_vocab_16e6.txt.gz");
        }
    }
    return Status::not_found(dir.string() +
                             ": no tokenizer found; expected vocab.json and merges.txt, or "
                             "bpe_simple_vocab_16e6.txt.gz, in this folder or its tokenizer/ "
                             "subfolder");
}

Status ClipTokenizer::finish_setup(const std::string& source) {
    for (size_t rank = 0; rank < merges_.size(); ++rank) {
        // The first occurrence wins, as dict(zip(merges, range(...))) keeps the last; CLIP's
        // files have no duplicates, so either rule gives the same ranks.
        merge_ranks_.emplace(merges_[rank].first + " " + merges_[rank].second,
                             static_cast<int>(rank));
    }
    std::vector<std::string> required = byte_symbols_in_vocab_order();
    for (const std::string& sym : byte_symbols_in_vocab_order()) {
        required.push_back(sym + std::string(kEndOfWord));
    }
    required.emplace_back(kStartOfText);
    required.emplace_back(kEndOfText);
    for (const std::string& token : required) {
        if (token_to_id_.find(token) == token_to_id_.end()) {
            return Status::invalid_data(source + ": token \"" + token +
                                        "\" is missing from the vocabulary; a CLIP vocabulary "
                                        "has every byte symbol (with and without </w>) and the "
                                        "<|startoftext|> and <|endoftext|> tokens");
        }
    }
    start_id_ = token_to_id_.at(std::string(kStartOfText));
    end_id_ = token_to_id_.at(std::string(kEndOfText));
    log::debug("CLIP tokenizer from {}: {} tokens, {} merges",
               source,
               token_to_id_.size(),
               merges_.size());
    return Status::ok();
}

std::vector<std::string> ClipTokenizer::bpe_word(const std::string& token) const {
    if (token == kStartOfText || token == kEndOfText) {
        return {token};
    }
    {
        std::lock_guard<std::mutex> lock(cache_->mutex);
        auto it = cache_->words.find(token);
        if (it != cache_->words.end()) {
            return it->second;
        }
    }

    // Split into byte symbols (each one UTF-8 code point); the last one carries "</w>".
    std::vector<std::string> word;
    for (size_t i = 0; i < token.size();) {
        size_t len = 1;
        auto lead = static_cast<unsigned char>(token[i]);
        len = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
        word.push_back(token.substr(i, len));
        i += len;
    }
    word.back() += kEndOfWord;

    // Merge the lowest-ranked adjacent pair everywhere, until no known pair remains.
    std::string key;
    while (word.size() > 1) {
        int best_rank = -1;
        size_t best_idx = 0;
        for (size_t idx = 0; idx + 1 < word.size(); ++idx) {
            key.assign(word[idx]).append(" ").append(word[idx + 1]);
            auto it = merge_ranks_.find(key);
            if (it != merge_ranks_.end() && (best_rank < 0 || it->second < best_rank)) {
                best_rank = it->second;
                best_idx = idx;
            }
        }
        if (best_rank < 0) {
            break;
        }
        const std::string first = word[best_idx];
        const std::string second = word[best_idx + 1];
        std::vector<std::string> merged;
        merged.reserve(word.size());
        for (size_t idx = 0; idx < word.size();) {
            if (idx + 1 < word.size() && word[idx] == first && word[idx + 1] == second) {
                merged.push_back(first + second);
                idx += 2;
            } else {
                merged.push_back(std::move(word[idx]));
                idx += 1;
            }
        }
        word = std::move(merged);
    }

    std::lock_guard<std::mutex> lock(cache_->mutex);
    if (cache_->words.size() >= kMaxCachedWords) {
        cache_->words.clear();
    }
    cache_->words.emplace(token, word);
    return word;
}

void ClipTokenizer::append_pieces(std::string_view cleaned,
                                  size_t max_pieces,
                                  std::vector<std::string>* pieces) const {
    for (const Text& token : pre_tokenize(decode_utf8(cleaned))) {
        if (pieces->size() >= max_pieces) {
            break;
        }
        std::string symbols;
        for (unsigned char byte : encode_utf8(token)) {
            symbols += byte_symbols_[byte];
        }
        for (std::string& piece : bpe_word(symbols)) {
            pieces->push_back(std::move(piece));
        }
    }
}

std::string ClipTokenizer::clean(std::string_view text) const {
    return encode_utf8(clean_text(text));
}

std::vector<std::string> ClipTokenizer::bpe_tokens(std::string_view text) const {
    std::vector<std::string> pieces;
    append_pieces(clean(text), std::numeric_limits<size_t>::max(), &pieces);
    return pieces;
}

std::vector<int64_t> ClipTokenizer::encode(std::string_view text, size_t context_length) const {
    LOOKBOOK_ASSERT(context_length >= 2, "context_length must leave room for SOT and EOT");
    std::vector<int64_t> ids;
    ids.reserve(context_length);
    ids.push_back(start_id_);
    // Pieces past context_length - 1 would be cut off, so their words are not even split.
    std::vector<std::string> pieces;
    append_pieces(clean(text), context_length - 1, &pieces);
    for (const std::string& piece : pieces) {
        auto it = token_to_id_.find(piece);
        LOOKBOOK_ASSERT(it != token_to_id_.end(), "finish_setup checked every BPE result");
        ids.push_back(it->second);
    }
    ids.push_back(end_id_);
    if (ids.size() > context_length) {
        ids.resize(context_length);
        ids.back() = end_id_;
    }
    ids.resize(context_length, 0);
    return ids;
}

}  // namespace lookbook
