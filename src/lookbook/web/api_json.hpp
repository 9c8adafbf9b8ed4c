#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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

// Every article's fields as a list of scored articles shows them, written once per store
// generation (an item's own fields fall between five runs of them), so an answer copies them
// rather than escaping each description again: 9 us of the 140 us of server CPU a
// recommendations API request took. About 800 bytes an article (9.3 MB for the 11,800 of the
// H&M sample, some 85 MB for a catalog of 105,000); `articles` must outlive it.
class ArticleFragments {
  public:
    static constexpr size_t kRuns = 5;
    explicit ArticleFragments(const ArticleTable& articles);
    const ArticleTable& articles() const { return *articles_; }
    // Run `run` (0-4) of `article`: comma-terminated "key":value pairs, possibly empty.
    std::string_view run(uint32_t article, size_t run) const;
    size_t bytes() const { return text_.size() + offsets_.size() * sizeof(size_t); }

  private:
    const ArticleTable* articles_;
    std::string text_;
    std::vector<size_t> offsets_;  // kRuns per article, then the end of the text
};

// Appends the array of `items`: each one the article's fields (only its id when the catalog
// does not know it) with score, reason, parts and, when set, source and because_of.
void append_scored_items(std::string* out,
                         const ArticleFragments& fragments,
                         std::span<const ScoredArticle> items);

}  // namespace lookbook::web
