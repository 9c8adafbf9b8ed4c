#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace lookbook {

// Python's str.lower on code points: the simple lowercase mapping plus the special cases that
// change tokens (U+0130 -> "i\u0307"; capital sigma at the end of a word -> final sigma). Shared
// by the CLIP and WordPiece tokenizers, which both reproduce Python tokenizers.
// TODO: other full (multi-character) lowercase mappings of SpecialCasing.txt are not applied;
// only U+0130 has one in lowercasing, so nothing is lost today.
std::u32string python_lower(const std::u32string& text);

// Appends the UTF-8 bytes of code point `cp` (or of one code point per element) to `out`.
void append_utf8(char32_t cp, std::string* out);
std::string encode_utf8(const std::u32string& text);

// Decodes strict UTF-8 (no overlong forms, surrogates or values past U+10FFFF). Returns false
// and sets *bad_offset to the first byte of the invalid sequence when `bytes` is not UTF-8.
bool decode_utf8_strict(std::string_view bytes, std::u32string* out, size_t* bad_offset);

// A utf8proc normalisation (UTF8PROC_COMPOSE for NFC, UTF8PROC_DECOMPOSE for NFD, plus
// UTF8PROC_COMPAT for the K forms) of valid UTF-8; returns the input unchanged if it refuses.
std::string utf8proc_normalize(const std::string& in, int options);

}  // namespace lookbook
