#include "lookbook/rules/association_rules.hpp"

#include <string_view>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "lookbook/util/log.hpp"

namespace lookbook::rules {

namespace {

// An itemset's items as bytes, to key a hash map without copying them into a string.
std::string_view as_key(std::span<const ItemId> items) {
    return {reinterpret_cast<const char*>(items.data()), items.size() * sizeof(ItemId)};
}

// a * b / (c * d) with the products exact in 128 bits, so that the quotient is rounded once.
double ratio_of_products(Count a, Count b, Count c, Count d) {
    unsigned __int128 numerator = static_cast<unsigned __int128>(a) * b;
    unsigned __int128 denominator = static_cast<unsigned __int128>(c) * d;
    return static_cast<double>(numerator) / static_cast<double>(denominator);
}

}  // namespace

AssociationRule make_rule(std::vector<ItemId> body,
                          ItemId head,
                          Count support_count,
                          Count body_count,
                          Count head_count,
                          Count total_weight) {
    AssociationRule rule;
    rule.body = std::move(body);
    rule.head = head;
    rule.support_count = support_count;
    rule.body_count = body_count;
    rule.head_count = head_count;
    auto n = static_cast<double>(total_weight);
    rule.support = static_cast<double>(support_count) / n;
    rule.confidence = static_cast<double>(support_count) / static_cast<double>(body_count);
    rule.lift = ratio_of_products(support_count, total_weight, body_count, head_count);
    rule.leverage = rule.support -
                    (static_cast<double>(body_count) / n) * (static_cast<double>(head_count) / n);
    // Decided on counts: a confidence of 0.9999999 rounded to 1.0 must not read as infinite.
    if (support_count == body_count) {
        rule.conviction = std::numeric_limits<double>::infinity();
    } else {
        double head_share = static_cast<double>(head_count) / n;
        rule.conviction = (1.0 - head_share) / (1.0 - rule.confidence);
    }
    return rule;
}

bool passes(const AssociationRule& rule, const RuleOptions& options) {
    return rule.confidence >= options.min_confidence && rule.lift >= options.min_lift;
}

Result<std::vector<AssociationRule>> derive_rules(const FrequentItemsets& itemsets,
                                                  const RuleOptions& options) {
    if (!(options.min_confidence >= 0.0 && options.min_confidence <= 1.0)) {
        return Status::invalid_argument(fmt::format(
            "minimum confidence is {}; expected a value from 0 to 1 (--min-confidence).",
            options.min_confidence));
    }
    if (!(options.min_lift >= 0.0)) {
        return Status::invalid_argument(fmt::format(
            "minimum lift is {}; expected 0 or more (--min-lift; 1 keeps rules at least as "
            "likely as chance).",
            options.min_lift));
    }

    // Every itemset's support by its items; bodies are looked up here.
    const ItemsetTable& table = itemsets.itemsets;
    std::unordered_map<std::string_view, Count> support_of;
    support_of.reserve(table.size());
    for (size_t itemset_idx = 0; itemset_idx < table.size(); ++itemset_idx) {
        support_of.emplace(as_key(table.items(itemset_idx)), table.support(itemset_idx));
    }

    std::vector<AssociationRule> rules;
    std::vector<ItemId> body;
    for (size_t itemset_idx = 0; itemset_idx < table.size(); ++itemset_idx) {
        auto items = table.items(itemset_idx);
        if (items.size() < 2) {
            continue;
        }
        for (size_t head_pos = 0; head_pos < items.size(); ++head_pos) {
            body.assign(items.begin(), items.end());
            body.erase(body.begin() + static_cast<ptrdiff_t>(head_pos));
            auto body_it = support_of.find(as_key(body));
            auto head_it = support_of.find(as_key(items.subspan(head_pos, 1)));
            if (body_it == support_of.end() || head_it == support_of.end()) {
                return Status::invalid_data(
                    fmt::format("itemset {} of {} has a subset missing from the table; rules need "
                                "every frequent itemset, so mine again without editing the "
                                "result.",
                                itemset_idx,
                                table.size()));
            }
            AssociationRule rule = make_rule(body,
                                             items[head_pos],
                                             table.support(itemset_idx),
                                             body_it->second,
                                             head_it->second,
                                             itemsets.total_weight);
            if (passes(rule, options)) {
                rules.push_back(std::move(rule));
            }
        }
    }
    log::info("derived {} association rules from {} itemsets (minimum confidence {}, lift {})",
              rules.size(),
              table.size(),
              options.min_confidence,
              options.min_lift);
    return rules;
}

}  // namespace lookbook::rules
