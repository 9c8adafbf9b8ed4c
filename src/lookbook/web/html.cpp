#include "lookbook/web/html.hpp"

#include <fmt/format.h>

#include "lookbook/util/escape.hpp"

namespace lookbook::web {

std::string html_escape(std::string_view text) { return escape_markup(text); }

std::string url_encode(std::string_view text) {
    std::string out;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += fmt::format("%{:02X}", c);
        }
    }
    return out;
}

std::string render_layout(const Page& page) {
    std::string flash;
    if (!page.flash.empty()) {
        flash = fmt::format("<p class=\"flash\" role=\"status\">{}</p>\n", html_escape(page.flash));
    }
    return fmt::format(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<title>{} · lookbook</title>\n<link rel=\"stylesheet\" href=\"/static/style.css\">\n"
        "</head>\n<body>\n<header class=\"site-header\">\n"
        "<a class=\"brand\" href=\"/catalog\">lookbook</a>\n"
        "<nav aria-label=\"Main\"><a href=\"/catalog\">Catalog</a> <a href=\"/search\">Search</a>"
        " <a href=\"/customers\">Customers</a>"
        "</nav>\n</header>\n<main>\n{}<h1>{}</h1>\n{}</main>\n"
        "<footer class=\"site-footer\"><a href=\"/api/openapi.json\">API</a> · "
        "<a href=\"/api/health\">health</a></footer>\n</body>\n</html>\n",
        html_escape(page.title),
        flash,
        html_escape(page.title),
        page.content);
}

namespace {

std::string render_card(const ArticleCard& card) {
    std::string href = "/articles/" + url_encode(card.article_id);
    std::string photo =
        card.has_photo
            ? fmt::format(
                  "<img src=\"/thumbnails/{}.jpg\" alt=\"{}\" loading=\"lazy\" width=\"160\" "
                  "height=\"240\">",
                  url_encode(card.article_id),
                  html_escape(card.name))
            : std::string("<div class=\"no-photo\" aria-hidden=\"true\">no photo</div>");
    std::string details = html_escape(card.product_type);
    if (!card.colour.empty()) {
        details += " · " + html_escape(card.colour);
    }
    std::string reason;
    if (!card.reason.empty()) {
        reason = card.reason_detail.empty()
                     ? fmt::format("<p class=\"reason\">{}</p>", html_escape(card.reason))
                     : fmt::format("<p class=\"reason\" title=\"{}\">{}</p>",
                                   html_escape(card.reason_detail),
                                   html_escape(card.reason));
    }
    if (!card.parts.empty()) {
        reason += "<ul class=\"reason-parts\">";
        for (const auto& part : card.parts) {
            reason += "<li>" + html_escape(part) + "</li>";
        }
        reason += "</ul>";
    }
    return fmt::format(
        "<li class=\"article-card\"><a href=\"{}\">{}<span class=\"article-name\">{}</span></a>"
        "<span class=\"article-details\">{}</span>{}</li>\n",
        href,
        photo,
        html_escape(card.name.empty() ? card.article_id : card.name),
        details,
        reason);
}

}  // namespace

std::string render_card_section(std::string_view title,
                                std::string_view css_id,
                                const std::vector<ArticleCard>& cards,
                                std::string_view empty_message) {
    std::string out =
        fmt::format("<section class=\"card-section\" id=\"{}\" aria-label=\"{}\">\n<h2>{}</h2>\n",
                    html_escape(css_id),
                    html_escape(title),
                    html_escape(title));
    if (cards.empty()) {
        out += fmt::format("<p class=\"empty-state\">{}</p>\n", html_escape(empty_message));
    } else {
        out += "<ul class=\"card-grid\">\n";
        for (const auto& card : cards) {
            out += render_card(card);
        }
        out += "</ul>\n";
    }
    return out + "</section>\n";
}

std::string render_unavailable_section(std::string_view title,
                                       std::string_view css_id,
                                       std::string_view what,
                                       std::string_view reason) {
    if (!reason.empty()) {
        return fmt::format(
            "<section class=\"card-section\" id=\"{}\" aria-label=\"{}\">\n<h2>{}</h2>\n"
            "<p class=\"empty-state not-built\">{} unavailable: {}.</p>\n</section>\n",
            html_escape(css_id),
            html_escape(title),
            html_escape(title),
            html_escape(what),
            html_escape(reason));
    }
    return fmt::format(
        "<section class=\"card-section\" id=\"{}\" aria-label=\"{}\">\n<h2>{}</h2>\n"
        "<p class=\"empty-state not-built\">{} not built yet: run <code>lookbook build "
        "STORE</code> "
        "and reload this page.</p>\n</section>\n",
        html_escape(css_id),
        html_escape(title),
        html_escape(title),
        html_escape(what));
}

}  // namespace lookbook::web
