#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "lookbook/rules/basket.hpp"
#include "lookbook/rules/fp_growth.hpp"
#include "lookbook/util/status.hpp"

namespace lookbook::rules {

// "Baskets with every item of `body` also hold `head`", with its measures. N is the total basket
// weight the itemsets were mined from; supports are counts of baskets.
struct AssociationRule {
    std::vector<ItemId> body;  // one or more items, in the itemsets' order
    ItemId head = 0;
    Count support_count = 0;  // baskets with body and head
    Count body_count = 0;     // baskets with body
    Count head_count = 0;     // baskets with head
    double support = 0.0;     // support_count / N
    double confidence = 0.0;  // support_count / body_count
    double lift = 0.0;        // confidence / (head_count / N)
    double leverage = 0.0;    // support - (body_count / N) * (head_count / N)
    // (1 - head_count / N) / (1 - confidence). When confidence is 1 (support_count equals
    // body_count) the rule never fails and conviction is +infinity
    // (std::numeric_limits<double>::infinity()); JSON output writes it as null.
    double conviction = 0.0;
};

// Thresholds are inclusive: a rule whose measure equals the minimum is kept. Confidence is
// compared as the quotient of two counts, which IEEE division rounds to the double nearest the
// exact ratio, i.e. to the same double as the decimal threshold when they are equal (3/30 and
// 0.1); lift likewise from exact integer products while they stay below 2^53.
struct RuleOptions {
    double min_confidence = 0.0;  // in [0, 1]
    double min_lift = 0.0;        // >= 0
};

// Derives every rule body -> head from the itemsets of two or more items: each item of an
// itemset in turn is the head, the others the body. Rules come in itemset order.
// TODO: heads of several items (A -> B + C) are not derived — "complete the look" adds one
// article at a time, so they were not needed; a user of `mine --rules` misses those rules. Fails
// with kInvalidArgument for a threshold out of range, and kInvalidData when the table misses the
// body or head of an itemset (a table that was not mined as a whole).
Result<std::vector<AssociationRule>> derive_rules(const FrequentItemsets& itemsets,
                                                  const RuleOptions& options);

// The measures of body -> head from the three counts and N; public for tests and the recommender.
AssociationRule make_rule(std::vector<ItemId> body,
                          ItemId head,
                          Count support_count,
                          Count body_count,
                          Count head_count,
                          Count total_weight);

// Whether `rule` passes `options`, inclusively, as described above.
bool passes(const AssociationRule& rule, const RuleOptions& options);

}  // namespace lookbook::rules
