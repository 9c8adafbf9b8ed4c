#include "lookbook/rules/complete_the_look.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <tuple>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "lookbook/util/log.hpp"

namespace lookbook::rules {

void RuleSet::add(const AssociationRule& rule) {
    body_items.insert(body_items.end(), rule.body.begin(), rule.body.end());
    body_offsets.push_back(body_items.size());
    heads.push_back(rule.head);
    supports.push_back(rule.support_count);
    body_counts.push_back(rule.body_count);
    head_counts.push_back(rule.head_count);
}

void RuleSet::index(size_t item_count) {
    // Counting sort of (body item, rule) pairs by item.
    by_item_offsets_.assign(item_count + 1, 0);
    for (ItemId item : body_items) {
        if (item < item_count) {
            ++by_item_offsets_[item + 1];
        }
    }
    for (size_t item = 0; item < item_count; ++item) {
        by_item_offsets_[item + 1] += by_item_offsets_[item];
    }
    by_item_rules_.assign(by_item_offsets_[item_count], 0);
    std::vector<uint64_t> next(by_item_offsets_.begin(), by_item_offsets_.end() - 1);
    for (uint32_t rule_idx = 0; rule_idx < size(); ++rule_idx) {
        for (ItemId item : body(rule_idx)) {
            if (item < item_count) {
                by_item_rules_[next[item]++] = rule_idx;
            }
        }
    }
}

std::span<const uint32_t> RuleSet::rules_with(ItemId item) const {
    if (item + 1 >= by_item_offsets_.size()) {
        return {};
    }
    return {by_item_rules_.data() + by_item_offsets_[item],
            by_item_rules_.data() + by_item_offsets_[item + 1]};
}

TrainOptions default_train_options() {
    TrainOptions options;
    options.mining.min_support = MinSupport::of_count(2);
    options.mining.max_length = 3;
    // TODO: pairs from 1 basket suit a store the size of the H&M sample (146k article rules);
    // on millions of baskets they can exceed pair_max_itemsets and are then dropped (support 2
    // for pairs, with a warning). A default that follows the number of baskets is not chosen
    // yet: only the sample was evaluated.
    options.pair_min_support = 1;
    return options;
}

const char* suggestion_source_name(SuggestionSource source) {
    switch (source) {
        case SuggestionSource::kArticleRule:
            return "article_rule";
        case SuggestionSource::kProductCodeRule:
            return "product_code_rule";
        case SuggestionSource::kProductType:
            return "product_type";
        case SuggestionSource::kPopular:
            return "popular";
    }
    return "unknown";
}

namespace {

// Mines one level and keeps every rule passing the thresholds.
Result<RuleSet> mine_rule_set(const BasketSet& baskets, const TrainOptions& options) {
    LOOKBOOK_ASSIGN_OR_RETURN(FrequentItemsets itemsets,
                              mine_frequent_itemsets(baskets, options.mining));
    LOOKBOOK_ASSIGN_OR_RETURN(std::vector<AssociationRule> found,
                              derive_rules(itemsets, options.rules));
    // Pairs at a lower support come from a second run limited to pairs; the first run then
    // gives only the rules with longer bodies, its pairs being a subset of the second's.
    bool pairs_apart =
        options.pair_min_support > 0 && options.mining.max_length != 1 &&
        options.pair_min_support < options.mining.min_support.to_count(baskets.total_weight());
    std::vector<AssociationRule> pair_rules;
    if (pairs_apart) {
        MiningOptions pair_mining = options.mining;
        pair_mining.min_support = MinSupport::of_count(options.pair_min_support);
        pair_mining.max_length = 2;
        pair_mining.max_itemsets = std::min(pair_mining.max_itemsets, options.pair_max_itemsets);
        auto pairs = mine_frequent_itemsets(baskets, pair_mining);
        if (!pairs.is_ok() && pairs.status().code() == StatusCode::kResourceExhausted) {
            // Too many rare pairs to keep: the first run's pairs serve instead.
            log::warn(
                "pairs bought together in {} basket(s) are left out: there are more than {}; "
                "pairs need the minimum support of longer itemsets (raise --pair-min-support "
                "to keep some rarer pairs)",
                options.pair_min_support,
                pair_mining.max_itemsets);
            pairs_apart = false;
        } else {
            LOOKBOOK_RETURN_IF_ERROR(pairs.status());
            LOOKBOOK_ASSIGN_OR_RETURN(pair_rules, derive_rules(*pairs, options.rules));
        }
    }
    RuleSet set;
    for (const auto& rule : found) {
        if (!pairs_apart || rule.body.size() > 1) {
            set.add(rule);
        }
    }
    for (const auto& rule : pair_rules) {
        set.add(rule);
    }
    return set;
}

// The same baskets with each article replaced by its product code, so colour variants merge.
BasketSet to_product_codes(const BasketSet& baskets, const CatalogView& catalog) {
    BasketSet codes;
    for (const auto& name : catalog.product_code_names) {
        codes.intern(name);
    }
    std::vector<ItemId> basket;
    for (size_t basket_idx = 0; basket_idx < baskets.size(); ++basket_idx) {
        basket.clear();
        for (ItemId article : baskets.basket(basket_idx)) {
            basket.push_back(catalog.product_code[article]);
        }
        codes.add_basket(basket, baskets.weight(basket_idx));
    }
    return codes;
}

// Best sellers, best sellers per product code, and articles bought with each product type.
void gather_fallbacks(const BasketSet& baskets, CompleteTheLookModel* model) {
    const CatalogView& catalog = model->catalog;
    std::vector<Count> article_baskets(catalog.size(), 0);
    std::vector<std::unordered_map<uint32_t, Count>> with_type(catalog.product_type_names.size());
    std::vector<uint32_t> distinct;
    for (size_t basket_idx = 0; basket_idx < baskets.size(); ++basket_idx) {
        auto items = baskets.basket(basket_idx);
        distinct.assign(items.begin(), items.end());
        std::sort(distinct.begin(), distinct.end());
        distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
        Count weight = baskets.weight(basket_idx);
        for (uint32_t article : distinct) {
            article_baskets[article] += weight;
        }
        // Article a counts for type T when another article of the basket has type T.
        for (uint32_t anchor : distinct) {
            uint32_t type = catalog.product_type[anchor];
            for (uint32_t article : distinct) {
                if (article != anchor) {
                    with_type[type][article] += weight;
                }
            }
        }
    }

    std::vector<uint32_t> order(catalog.size());
    for (uint32_t article = 0; article < catalog.size(); ++article) {
        order[article] = article;
    }
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
        return article_baskets[a] > article_baskets[b];
    });
    model->code_articles.assign(catalog.product_code_names.size(), {});
    for (uint32_t article : order) {
        model->code_articles[catalog.product_code[article]].push_back(article);
        if (model->popular.size() < kPopular && article_baskets[article] > 0) {
            model->popular.emplace_back(article, article_baskets[article]);
        }
    }

    // A type with many partners keeps its strongest; ties go to the lower article number.
    model->type_partners.assign(with_type.size(), {});
    for (size_t type = 0; type < with_type.size(); ++type) {
        auto& partners = model->type_partners[type];
        partners.assign(with_type[type].begin(), with_type[type].end());
        std::sort(partners.begin(), partners.end(), [](const auto& a, const auto& b) {
            return a.second != b.second ? a.second > b.second : a.first < b.first;
        });
        if (partners.size() > kTypePartners) {
            partners.resize(kTypePartners);
        }
    }
}

}  // namespace

Result<CompleteTheLookModel> train_complete_the_look(const BasketSet& baskets,
                                                     CatalogView catalog,
                                                     const TrainOptions& options) {
    if (baskets.item_count() > catalog.size()) {
        return Status::invalid_argument(fmt::format(
            "baskets name {} items but the catalog has {} articles; build the baskets with one "
            "item per catalog article (item id = article number).",
            baskets.item_count(),
            catalog.size()));
    }
    CompleteTheLookModel model;
    model.catalog = std::move(catalog);
    model.total_baskets = baskets.total_weight();

    LOOKBOOK_ASSIGN_OR_RETURN(model.article_rules, mine_rule_set(baskets, options));
    model.article_rules.index(model.catalog.size());
    BasketSet codes = to_product_codes(baskets, model.catalog);
    LOOKBOOK_ASSIGN_OR_RETURN(model.code_rules, mine_rule_set(codes, options));
    model.code_rules.index(model.catalog.product_code_names.size());
    gather_fallbacks(baskets, &model);
    log::info("complete the look: {} article rules, {} product-code rules from {} baskets",
              model.article_rules.size(),
              model.code_rules.size(),
              model.total_baskets);
    return model;
}

namespace {

// The cart as sets, and the filters every suggestion must pass.
class Eligibility {
  public:
    Eligibility(const CompleteTheLookModel& model,
                std::span<const uint32_t> cart,
                const RecommendOptions& options)
        : model_(model), options_(options) {
        for (uint32_t article : cart) {
            articles_.insert(article);
            codes_.insert(model.catalog.product_code[article]);
            groups_.insert(model.catalog.product_group[article]);
        }
    }

    bool in_cart(uint32_t article) const { return articles_.count(article) > 0; }
    bool has_code(uint32_t code) const { return codes_.count(code) > 0; }

    bool allows(uint32_t article) const {
        const CatalogView& catalog = model_.catalog;
        if (article >= catalog.size() || in_cart(article) ||
            has_code(catalog.product_code[article]) || taken_.count(article) > 0 ||
            taken_codes_.count(catalog.product_code[article]) > 0) {
            return false;
        }
        // "Other groups only" needs a known group: an article without one could be more of
        // what the cart already holds.
        if (options_.other_groups_only &&
            (groups_.count(catalog.product_group[article]) > 0 ||
             catalog.product_group_names[catalog.product_group[article]].empty())) {
            return false;
        }
        if (options_.catalog_only && !catalog.described.empty() && !catalog.described[article]) {
            return false;
        }
        return !options_.allow || options_.allow->count(article) > 0;
    }

    // One suggestion per product: a colour variant of a suggested article adds nothing.
    void take(uint32_t article) {
        taken_.insert(article);
        taken_codes_.insert(model_.catalog.product_code[article]);
    }

  private:
    const CompleteTheLookModel& model_;
    const RecommendOptions& options_;
    std::unordered_set<uint32_t> articles_;
    std::unordered_set<uint32_t> codes_;
    std::unordered_set<uint32_t> groups_;
    std::unordered_set<uint32_t> taken_codes_;
    std::unordered_set<uint32_t> taken_;
};

std::string percent(double share) { return fmt::format("{:.0f}%", share * 100.0); }

// "1 basket", "2 baskets": a pair seen once is common since pairs are kept from one basket.
std::string baskets_text(uint64_t count) {
    return fmt::format("{} basket{}", count, count == 1 ? "" : "s");
}

// "0706016001 Jade HW Skinny"; the name only when the catalog has one.
std::string article_label(const CatalogView& catalog, uint32_t article) {
    const std::string& name = catalog.article_names[article];
    return name.empty() ? catalog.article_ids[article]
                        : fmt::format("{} {}", catalog.article_ids[article], name);
}

// Fires every rule whose body lies within `cart_items`; keeps the best rule per head.
struct FiredRule {
    uint32_t rule = 0;
    double score = 0.0;  // shrunk confidence, see RecommendOptions::confidence_prior
    double confidence = 0.0;
    double lift = 0.0;
};

std::unordered_map<ItemId, FiredRule> fire_rules(const RuleSet& set,
                                                 const std::unordered_set<ItemId>& cart_items,
                                                 Count total,
                                                 double prior) {
    std::unordered_map<ItemId, FiredRule> best;
    for (ItemId item : cart_items) {
        for (uint32_t rule_idx : set.rules_with(item)) {
            auto body = set.body(rule_idx);
            // Evaluate each rule once: from its first body item only.
            if (body.front() != item && cart_items.count(body.front()) > 0) {
                continue;
            }
            bool fires = std::all_of(body.begin(), body.end(), [&](ItemId body_item) {
                return cart_items.count(body_item) > 0;
            });
            if (!fires || cart_items.count(set.head(rule_idx)) > 0) {
                continue;
            }
            AssociationRule rule = make_rule({},
                                             set.head(rule_idx),
                                             set.support(rule_idx),
                                             set.body_count(rule_idx),
                                             set.head_count(rule_idx),
                                             total);
            double score = static_cast<double>(set.support(rule_idx)) /
                           (static_cast<double>(set.body_count(rule_idx)) + prior);
            FiredRule candidate{rule_idx, score, rule.confidence, rule.lift};
            auto [it, inserted] = best.emplace(set.head(rule_idx), candidate);
            if (!inserted && std::tie(candidate.score, candidate.lift) >
                                 std::tie(it->second.score, it->second.lift)) {
                it->second = candidate;
            }
        }
    }
    return best;
}

std::string body_label(const RuleSet& set,
                       uint32_t rule_idx,
                       const std::function<std::string(ItemId)>& label) {
    std::string text;
    for (ItemId item : set.body(rule_idx)) {
        text += text.empty() ? label(item) : " + " + label(item);
    }
    return text;
}

bool by_rank(const Suggestion& a, const Suggestion& b) {
    if (a.score != b.score) {
        return a.score > b.score;
    }
    if (a.lift != b.lift) {
        return a.lift > b.lift;
    }
    if (a.support != b.support) {
        return a.support > b.support;
    }
    return a.article < b.article;
}

}  // namespace

Result<std::vector<Suggestion>> complete_the_look(const CompleteTheLookModel& model,
                                                  std::span<const uint32_t> cart,
                                                  const RecommendOptions& options) {
    const CatalogView& catalog = model.catalog;
    if (cart.empty()) {
        return Status::invalid_argument(
            "the cart is empty; give at least one article to complete the look from.");
    }
    for (uint32_t article : cart) {
        if (article >= catalog.size()) {
            return Status::invalid_argument(
                fmt::format("article number {} is outside the catalog of {} articles.",
                            article,
                            catalog.size()));
        }
    }
    Eligibility eligible(model, cart, options);
    std::vector<Suggestion> out;
    auto label = [&](ItemId article) { return article_label(catalog, article); };

    // Each tier collects its candidates with what their reason needs, ranks them, and writes
    // the reason only for the ones it takes: an article can fire thousands of rules.
    struct Why {
        uint32_t rule = 0;          // tiers 1 and 2: the rule that fired
        double confidence = 0;      // tiers 1 and 2
        uint32_t cart_article = 0;  // tier 3: the cart article whose type it matched
    };
    std::vector<std::pair<Suggestion, Why>> tier;
    auto append_tier =
        [&](const std::function<std::string(const Suggestion&, const Why&)>& reason) {
            std::sort(tier.begin(), tier.end(), [](const auto& a, const auto& b) {
                return by_rank(a.first, b.first);
            });
            for (auto& [suggestion, why] : tier) {
                if (out.size() < options.k && eligible.allows(suggestion.article)) {
                    eligible.take(suggestion.article);
                    suggestion.reason = reason(suggestion, why);
                    out.push_back(std::move(suggestion));
                }
            }
            tier.clear();
        };

    // 1. Article rules whose whole body is in the cart, ranked by shrunk confidence.
    std::unordered_set<ItemId> cart_items(cart.begin(), cart.end());
    for (const auto& [head, fired] : fire_rules(
             model.article_rules, cart_items, model.total_baskets, options.confidence_prior)) {
        if (!eligible.allows(head)) {
            continue;
        }
        Count together = model.article_rules.support(fired.rule);
        tier.push_back(
            {Suggestion{
                 head, SuggestionSource::kArticleRule, fired.score, fired.lift, together, {}},
             Why{fired.rule, fired.confidence}});
    }
    append_tier([&](const Suggestion& s, const Why& why) {
        return fmt::format("bought together in {}; {} of baskets with {} also had {}; lift {:.1f}",
                           baskets_text(s.support),
                           percent(why.confidence),
                           body_label(model.article_rules, why.rule, label),
                           label(s.article),
                           s.lift);
    });

    // 2. Product-code rules (colour variants merged); the head's best-selling variant.
    if (out.size() < options.k) {
        std::unordered_set<ItemId> cart_codes;
        for (uint32_t article : cart) {
            cart_codes.insert(catalog.product_code[article]);
        }
        auto code_label = [&](ItemId code) {
            return "product " + catalog.product_code_names[code];
        };
        for (const auto& [head_code, fired] : fire_rules(
                 model.code_rules, cart_codes, model.total_baskets, options.confidence_prior)) {
            for (uint32_t article : model.code_articles[head_code]) {
                if (!eligible.allows(article)) {
                    continue;
                }
                Count together = model.code_rules.support(fired.rule);
                tier.push_back({Suggestion{article,
                                           SuggestionSource::kProductCodeRule,
                                           fired.score,
                                           fired.lift,
                                           together,
                                           {}},
                                Why{fired.rule, fired.confidence}});
                break;
            }
        }
        append_tier([&](const Suggestion& s, const Why& why) {
            return fmt::format(
                "no rule for these exact articles; colour variants merged: bought together in "
                "{}; {} of baskets with {} also had {}; lift {:.1f}",
                baskets_text(s.support),
                percent(why.confidence),
                body_label(model.code_rules, why.rule, code_label),
                code_label(model.code_rules.head(why.rule)),
                s.lift);
        });
    }

    // 3. Articles bought in baskets with the cart's product types.
    if (out.size() < options.k) {
        for (uint32_t article : cart) {
            uint32_t type = catalog.product_type[article];
            // Articles without metadata have an empty type, which says nothing about them.
            if (type >= model.type_partners.size() || catalog.product_type_names[type].empty()) {
                continue;
            }
            for (const auto& [partner, count] : model.type_partners[type]) {
                tier.push_back({Suggestion{partner,
                                           SuggestionSource::kProductType,
                                           static_cast<double>(count) /
                                               static_cast<double>(model.total_baskets),
                                           0.0,
                                           count,
                                           {}},
                                Why{0, 0.0, article}});
            }
        }
        append_tier([&](const Suggestion& s, const Why& why) {
            return fmt::format(
                "no rule for these articles; bought in {} together with a {} (the product type "
                "of {})",
                baskets_text(s.support),
                catalog.product_type_names[catalog.product_type[why.cart_article]],
                label(why.cart_article));
        });
    }

    // 4. Best sellers, so that an article of the catalog always gets an answer.
    if (out.size() < options.k) {
        for (const auto& [article, count] : model.popular) {
            tier.push_back(
                {Suggestion{article,
                            SuggestionSource::kPopular,
                            static_cast<double>(count) / static_cast<double>(model.total_baskets),
                            0.0,
                            count,
                            {}},
                 Why{}});
        }
        append_tier([&](const Suggestion& s, const Why&) {
            return fmt::format("popular: in {} (no purchase data links it to the cart)",
                               baskets_text(s.support));
        });
    }

    // 5. With an allow-list (stock), any allowed article beats an empty answer: the best
    // sellers above are only the most popular few.
    if (out.size() < options.k && options.allow && !options.allow->empty()) {
        std::vector<uint32_t> allowed(options.allow->begin(), options.allow->end());
        std::sort(allowed.begin(), allowed.end());
        for (uint32_t article : allowed) {
            tier.push_back(
                {Suggestion{article, SuggestionSource::kPopular, 0.0, 0.0, 0, {}}, Why{}});
        }
        append_tier([](const Suggestion&, const Why&) {
            return std::string("in the allow-list; no purchase data links it to the cart");
        });
    }
    return out;
}

}  // namespace lookbook::rules
