#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "lookbook/rules/association_rules.hpp"
#include "lookbook/rules/basket.hpp"

namespace lookbook::rules {

// Writes itemsets and rules as JSON Lines with item names. Names are escaped once (quoted_names)
// and reused, which keeps writing a million itemsets fast without a JSON library per line.

// `text` as a JSON string literal: quotes, backslashes and control characters escaped, UTF-8
// bytes passed through unchanged.
std::string json_quote(std::string_view text);

// A measure as a JSON number; infinity and NaN have no JSON spelling and are written as null
// (an infinite conviction: the rule never failed).
std::string json_number(double value);

// json_quote of every item name of `baskets`, indexed by item id.
std::vector<std::string> quoted_item_names(const BasketSet& baskets);

// {"items": ["whole milk", "yogurt"], "support": 205} and a newline.
void append_itemset_line(std::span<const ItemId> items,
                         Count support,
                         const std::vector<std::string>& quoted_names,
                         std::string* out);

// {"body": [...], "head": "...", "support": n, "confidence": c, "lift": l, "leverage": v,
// "conviction": x or null} and a newline.
void append_rule_line(const AssociationRule& rule,
                      const std::vector<std::string>& quoted_names,
                      std::string* out);

}  // namespace lookbook::rules
