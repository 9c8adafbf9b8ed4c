#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "lookbook/store/store.hpp"
#include "lookbook/web/services.hpp"

// The JSON bodies of the API. Most routes build an nlohmann tree; the lists of scored articles
// (recommendations, similar items, search), asked for thousands of times a second, are written
// straight into the response text, with the bytes nlohmann's dump() would give for the same
// tree: keys in order, strings escaped alike, numbers in the same shortest form, NaN and
// infinities as null.
namespace lookbook::web {

// Length of the well-formed UTF-8 sequence (RFC 3629: no overlong forms, no surrogates, nothing
// past U+10FFFF) starting at text[pos], or 0 when there is none.
size_t utf8_sequence(std::string_view text, size_t pos);

// An article's fields as the API shows them (GET /api/articles/ID and every list).
nlohmann::json article_json(const ArticleTable& articles, uint32_t article);

// Appends `text` as a quoted JSON string, as dump(-1, ' ', false, error_handler_t::replace)
// writes it: ", \ and control characters escaped, other UTF-8 as is, invalid UTF-8 replaced.
void append_json_string(std::string* out, std::string_view text);
// Appends a number as nlohmann writes a double (shortest text that reads back to it); null when
// it is NaN or infinite.
void append_json_number(std::string* out, double value);

// Appends the array of `items`: each one the article's fields (only its id when the catalog
// does not know it) with score, reason, parts and, when set, source and because_of.
void append_scored_items(std::string* out,
                         const ArticleTable& articles,
                         std::span<const ScoredArticle> items);

}  // namespace lookbook::web
