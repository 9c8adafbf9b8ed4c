#include "lookbook/rules/json_lines.hpp"

#include <cmath>

#include <fmt/format.h>

namespace lookbook::rules {

std::string json_quote(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                // Other control characters have no short escape; bytes >= 0x80 are UTF-8.
                if (static_cast<unsigned char>(c) < 0x20) {
                    out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
                } else {
                    out += c;
                }
        }
    }
    out += '"';
    return out;
}

std::string json_number(double value) {
    return std::isfinite(value) ? fmt::format("{}", value) : "null";
}

std::vector<std::string> quoted_item_names(const BasketSet& baskets) {
    std::vector<std::string> quoted;
    quoted.reserve(baskets.item_count());
    for (ItemId item = 0; item < baskets.item_count(); ++item) {
        quoted.push_back(json_quote(baskets.item_name(item)));
    }
    return quoted;
}

namespace {

void append_items(std::span<const ItemId> items,
                  const std::vector<std::string>& quoted_names,
                  std::string* out) {
    *out += '[';
    for (size_t pos = 0; pos < items.size(); ++pos) {
        if (pos > 0) {
            *out += ", ";
        }
        *out += quoted_names[items[pos]];
    }
    *out += ']';
}

}  // namespace

void append_itemset_line(std::span<const ItemId> items,
                         Count support,
                         const std::vector<std::string>& quoted_names,
                         std::string* out) {
    *out += "{\"items\": ";
    append_items(items, quoted_names, out);
    *out += ", \"support\": ";
    *out += std::to_string(support);
    *out += "}\n";
}

void append_rule_line(const AssociationRule& rule,
                      const std::vector<std::string>& quoted_names,
                      std::string* out) {
    *out += "{\"body\": ";
    append_items(rule.body, quoted_names, out);
    *out += fmt::format(
        ", \"head\": {}, \"support\": {}, \"confidence\": {}, \"lift\": {}, \"leverage\": {}, "
        "\"conviction\": {}}}\n",
        quoted_names[rule.head],
        rule.support_count,
        json_number(rule.confidence),
        json_number(rule.lift),
        json_number(rule.leverage),
        json_number(rule.conviction));
}

}  // namespace lookbook::rules
