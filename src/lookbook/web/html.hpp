#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lookbook::web {

// Escapes & < > " ' so any text is safe inside an element or a quoted attribute.
std::string html_escape(std::string_view text);
// Percent-encodes everything but unreserved characters (RFC 3986), for a path segment or a
// query value.
std::string url_encode(std::string_view text);

// TODO: pages are built by these C++ functions, not from web/templates/*.html as the house style
// asks — no template engine is packaged in Debian for C++; a designer has to edit C++ to change
// markup until a small {{slot}} substitution over template files replaces them.

// One page in the site's single layout: title, header with navigation, an optional flash
// message and the content.
struct Page {
    std::string title;    // plain text, escaped by the layout
    std::string flash;    // plain text; shown above the content when not empty
    std::string content;  // HTML, already escaped by whoever built it
};
std::string render_layout(const Page& page);

// An article tile of a list: photo thumbnail, name, type and colour, and the reason it is shown.
struct ArticleCard {
    std::string article_id;
    std::string name;
    std::string product_type;
    std::string colour;
    bool has_photo = false;
    std::string reason;         // empty for plain catalog lists
    std::string reason_detail;  // the figures behind the reason, shown on hover (title)
    std::vector<std::string> parts;
};
// A titled section of cards, or `empty_message` in the empty-state style when there are none.
std::string render_card_section(std::string_view title,
                                std::string_view css_id,
                                const std::vector<ArticleCard>& cards,
                                std::string_view empty_message);
// A "not built yet" section for a recommender whose hook or model is missing; with a `reason`
// (a built part that cannot be loaded), "{what} unavailable: {reason}." instead.
std::string render_unavailable_section(std::string_view title,
                                       std::string_view css_id,
                                       std::string_view what,
                                       std::string_view reason = "");

}  // namespace lookbook::web
