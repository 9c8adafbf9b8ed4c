#include "lookbook/web/api_json.hpp"

#include <array>
#include <cmath>
#include <optional>

#include "lookbook/web/html.hpp"

namespace lookbook::web {

using nlohmann::json;

// Length of the well-formed UTF-8 sequence (RFC 3629: no overlong forms, no surrogates, nothing
// past U+10FFFF) starting at text[pos], or 0 when there is none. These are the sequences
// nlohmann's decoder accepts.
size_t utf8_sequence(std::string_view text, size_t pos) {
    auto byte = [&](size_t i) {
        return pos + i < text.size() ? static_cast<unsigned char>(text[pos + i]) : 0u;
    };
    auto tail = [&](size_t i) { return byte(i) >= 0x80 && byte(i) <= 0xBF; };
    const unsigned lead = byte(0);
    if (lead < 0x80) {
        return 1;
    }
    if (lead >= 0xC2 && lead <= 0xDF) {
        return tail(1) ? 2 : 0;
    }
    if (lead >= 0xE0 && lead <= 0xEF) {
        const unsigned low = lead == 0xE0 ? 0xA0 : 0x80;
        const unsigned high = lead == 0xED ? 0x9F : 0xBF;
        return byte(1) >= low && byte(1) <= high && tail(2) ? 3 : 0;
    }
    if (lead >= 0xF0 && lead <= 0xF4) {
        const unsigned low = lead == 0xF0 ? 0x90 : 0x80;
        const unsigned high = lead == 0xF4 ? 0x8F : 0xBF;
        return byte(1) >= low && byte(1) <= high && tail(2) && tail(3) ? 4 : 0;
    }
    return 0;
}

namespace {

void append_key(std::string* out, const char* key) {
    out->push_back('"');
    out->append(key);
    out->append("\":");
}

void append_string_field(std::string* out, const char* key, std::string_view value) {
    append_key(out, key);
    append_json_string(out, value);
    out->push_back(',');
}

void append_bool_field(std::string* out, const char* key, bool value) {
    append_key(out, key);
    out->append(value ? "true," : "false,");
}

// The scored fields that sort between the article's ones: parts, then reason and score.
void append_parts(std::string* out, const ScoredArticle& item) {
    append_key(out, "parts");
    out->push_back('[');
    for (size_t i = 0; i < item.parts.size(); ++i) {
        if (i > 0) {
            out->push_back(',');
        }
        append_json_string(out, item.parts[i]);
    }
    out->append("],");
}

void append_reason_and_score(std::string* out, const ScoredArticle& item) {
    append_string_field(out, "reason", item.reason);
    append_key(out, "score");
    append_json_number(out, item.score);
    out->push_back(',');
}

// The article's fields of one list entry, in the five runs the item's own fields fall between
// (keys in byte order, as nlohmann's object keeps them): article_id | because_of | colour ...
// name | parts | photo_url ... product_type | reason, score | section | source | thumbnail_url,
// url. Each run ends with a comma; a run may be empty.
void append_article_runs(std::string* out,
                         const ArticleTable& articles,
                         uint32_t article,
                         std::array<size_t, ArticleFragments::kRuns + 1>* ends) {
    const size_t start = out->size();
    const std::string_view id = articles.id(article);
    const bool metadata = articles.has_metadata(article);
    const bool photo = !articles.image_path(article).empty();
    const std::string encoded_id = url_encode(id);
    size_t run = 0;
    auto end_run = [&] { (*ends)[++run] = out->size() - start; };
    (*ends)[0] = 0;
    append_string_field(out, "article_id", id);
    end_run();
    append_string_field(out, "colour", articles.colour(article));
    if (metadata) {
        append_string_field(
            out, "department", articles.attribute(ArticleAttribute::kDepartment).value(article));
        append_string_field(out, "description", articles.description(article));
        append_string_field(out,
                            "garment_group",
                            articles.attribute(ArticleAttribute::kGarmentGroup).value(article));
    }
    append_bool_field(out, "has_metadata", metadata);
    append_bool_field(out, "has_photo", photo);
    append_string_field(out, "name", articles.name(article));
    end_run();
    if (photo) {
        append_string_field(out, "photo_url", "/photos/" + encoded_id);
    }
    append_string_field(out, "product_code", articles.product_code(article));
    append_string_field(out, "product_group", articles.product_group(article));
    append_string_field(out, "product_type", articles.product_type(article));
    end_run();
    if (metadata) {
        append_string_field(
            out, "section", articles.attribute(ArticleAttribute::kSection).value(article));
    }
    end_run();
    if (photo) {
        append_string_field(out, "thumbnail_url", "/thumbnails/" + encoded_id + ".jpg");
    }
    append_string_field(out, "url", "/articles/" + encoded_id);
    end_run();
}

void append_scored_item(std::string* out,
                        const ArticleFragments& fragments,
                        const ScoredArticle& item) {
    out->push_back('{');
    const std::optional<uint32_t> found = fragments.articles().find(item.article_id);
    if (!found) {
        append_string_field(out, "article_id", item.article_id);
        if (!item.because_of.empty()) {
            append_string_field(out, "because_of", item.because_of);
        }
        append_parts(out, item);
        append_reason_and_score(out, item);
        if (!item.source.empty()) {
            append_string_field(out, "source", item.source);
        }
        out->back() = '}';
        return;
    }
    const uint32_t article = *found;
    out->append(fragments.run(article, 0));
    if (!item.because_of.empty()) {
        append_string_field(out, "because_of", item.because_of);
    }
    out->append(fragments.run(article, 1));
    append_parts(out, item);
    out->append(fragments.run(article, 2));
    append_reason_and_score(out, item);
    out->append(fragments.run(article, 3));
    if (!item.source.empty()) {
        append_string_field(out, "source", item.source);
    }
    out->append(fragments.run(article, 4));
    out->back() = '}';
}

}  // namespace

json article_json(const ArticleTable& articles, uint32_t article) {
    std::string id(articles.id(article));
    json out = {{"article_id", id},
                {"name", std::string(articles.name(article))},
                {"product_code", std::string(articles.product_code(article))},
                {"product_type", std::string(articles.product_type(article))},
                {"product_group", std::string(articles.product_group(article))},
                {"colour", std::string(articles.colour(article))},
                {"has_metadata", articles.has_metadata(article)},
                {"has_photo", !articles.image_path(article).empty()},
                {"url", "/articles/" + url_encode(id)}};
    if (articles.has_metadata(article)) {
        out["department"] = articles.attribute(ArticleAttribute::kDepartment).value(article);
        out["section"] = articles.attribute(ArticleAttribute::kSection).value(article);
        out["garment_group"] = articles.attribute(ArticleAttribute::kGarmentGroup).value(article);
        out["description"] = articles.description(article);
    }
    if (!articles.image_path(article).empty()) {
        out["thumbnail_url"] = "/thumbnails/" + url_encode(id) + ".jpg";
        out["photo_url"] = "/photos/" + url_encode(id);
    }
    return out;
}

void append_json_string(std::string* out, std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    const size_t start = out->size();
    out->push_back('"');
    size_t pos = 0;
    while (pos < text.size()) {
        // A run of ASCII that needs no escape goes in at once (most of every answer's text;
        // a byte at a time it was 3% of the server's CPU on the recommendations API).
        size_t plain = pos;
        while (plain < text.size()) {
            const auto d = static_cast<unsigned char>(text[plain]);
            if (d < 0x20 || d >= 0x80 || d == '"' || d == '\\') {
                break;
            }
            ++plain;
        }
        if (plain > pos) {
            out->append(text.data() + pos, plain - pos);
            pos = plain;
            continue;
        }
        const auto c = static_cast<unsigned char>(text[pos]);
        if (c >= 0x80) {
            const size_t length = utf8_sequence(text, pos);
            if (length == 0) {
                // Invalid UTF-8 is rare; nlohmann's own replacement keeps the bytes identical.
                out->resize(start);
                out->append(
                    json(std::string(text)).dump(-1, ' ', false, json::error_handler_t::replace));
                return;
            }
            out->append(text.substr(pos, length));
            pos += length;
            continue;
        }
        switch (c) {
            case '"':
                out->append("\\\"");
                break;
            case '\\':
                out->append("\\\\");
                break;
            case '\b':
                out->append("\\b");
                break;
            case '\f':
                out->append("\\f");
                break;
            case '\n':
                out->append("\\n");
                break;
            case '\r':
                out->append("\\r");
                break;
            case '\t':
                out->append("\\t");
                break;
            default:
                if (c < 0x20) {
                    const char escaped[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
                    out->append(escaped, sizeof(escaped));
                } else {
                    out->push_back(static_cast<char>(c));
                }
        }
        ++pos;
    }
    out->push_back('"');
}

void append_json_number(std::string* out, double value) {
    if (!std::isfinite(value)) {
        out->append("null");
        return;
    }
    // nlohmann's own conversion (Grisu2, its exponent format), so the text is the one dump()
    // gives.
    std::array<char, 64> buffer{};
    char* end = nlohmann::detail::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
    out->append(buffer.data(), static_cast<size_t>(end - buffer.data()));
}

ArticleFragments::ArticleFragments(const ArticleTable& articles) : articles_(&articles) {
    offsets_.reserve(articles.size() * kRuns + 1);
    std::array<size_t, kRuns + 1> ends{};
    for (uint32_t article = 0; article < articles.size(); ++article) {
        const size_t start = text_.size();
        append_article_runs(&text_, articles, article, &ends);
        for (size_t run = 0; run < kRuns; ++run) {
            offsets_.push_back(start + ends[run]);
        }
    }
    offsets_.push_back(text_.size());
    text_.shrink_to_fit();
}

std::string_view ArticleFragments::run(uint32_t article, size_t run) const {
    const size_t at = static_cast<size_t>(article) * kRuns + run;
    return std::string_view(text_).substr(offsets_[at], offsets_[at + 1] - offsets_[at]);
}

void append_scored_items(std::string* out,
                         const ArticleFragments& fragments,
                         std::span<const ScoredArticle> items) {
    out->push_back('[');
    for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) {
            out->push_back(',');
        }
        append_scored_item(out, fragments, items[i]);
    }
    out->push_back(']');
}

}  // namespace lookbook::web
