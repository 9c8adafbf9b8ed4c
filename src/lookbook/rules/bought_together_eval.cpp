#include "lookbook/rules/bought_together_eval.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "lookbook/eval/metrics.hpp"
#include "lookbook/rules/store_rules.hpp"
#include "lookbook/util/date.hpp"
#include "lookbook/util/log.hpp"

namespace lookbook::rules {
namespace {

// The window of the recent-popularity baseline, in weeks before the test window.
constexpr int kRecentWeeks = 4;

struct Case {
    std::vector<uint32_t> cart;
    uint32_t hidden = 0;
    bool variant_of_cart = false;
};

// Sums of per-case figures for one list-maker; turned into a BoughtTogetherScore at the end.
class Tally {
  public:
    Tally(size_t k, const std::vector<uint32_t>& product_type, const std::vector<uint32_t>& rank)
        : k_(k), product_type_(product_type), rank_(rank) {}

    // Scores one list; returns whether it holds the hidden article within k.
    bool add(const std::vector<uint32_t>& ranked, const Case& c) {
        std::span<const uint32_t> hidden(&c.hidden, 1);
        bool hit = add_to(&all_, ranked, hidden);
        if (!c.variant_of_cart) {
            add_to(&not_variant_, ranked, hidden);
        }
        size_t shown = std::min(ranked.size(), k_);
        for (size_t idx = 0; idx < shown; ++idx) {
            suggested_.insert(ranked[idx]);
            rank_sum_ += rank_[ranked[idx]];
        }
        suggestions_ += shown;
        diversity_sum_ += eval::intra_list_diversity(ranked, k_, [&](uint32_t a, uint32_t b) {
            return product_type_[a] == product_type_[b] ? 0.0 : 1.0;
        });
        return hit;
    }

    void finish(size_t article_count, BoughtTogetherScore* score) const {
        score->all = average(all_);
        score->not_variant = average(not_variant_);
        score->catalog_coverage = static_cast<double>(suggested_.size()) /
                                  static_cast<double>(std::max<size_t>(1, article_count));
        score->popularity_rank_mean =
            rank_sum_ / static_cast<double>(std::max<size_t>(1, suggestions_));
        score->diversity_product_type =
            diversity_sum_ / static_cast<double>(std::max<size_t>(1, all_.cases));
    }

  private:
    bool add_to(HitRates* rates,
                const std::vector<uint32_t>& ranked,
                std::span<const uint32_t> hidden) {
        ++rates->cases;
        bool hit_5 = eval::hit_at_k(ranked, hidden, 5) > 0;
        bool hit_k = eval::hit_at_k(ranked, hidden, k_) > 0;
        rates->hits_at_5 += hit_5 ? 1 : 0;
        rates->hits_at_k += hit_k ? 1 : 0;
        rates->mrr += eval::reciprocal_rank(ranked, hidden, k_);
        return hit_k;
    }
    static HitRates average(HitRates sums) {
        double n = static_cast<double>(std::max<size_t>(sums.cases, 1));
        sums.hit_at_5 = static_cast<double>(sums.hits_at_5) / n;
        sums.hit_at_k = static_cast<double>(sums.hits_at_k) / n;
        sums.mrr /= n;
        std::tie(sums.hit_at_k_low, sums.hit_at_k_high) =
            wilson_interval(sums.hits_at_k, sums.cases);
        return sums;
    }

    size_t k_;
    const std::vector<uint32_t>& product_type_;
    const std::vector<uint32_t>& rank_;
    HitRates all_;
    HitRates not_variant_;
    std::unordered_set<uint32_t> suggested_;
    double rank_sum_ = 0;
    size_t suggestions_ = 0;
    double diversity_sum_ = 0;
};

// The distinct items of a basket, sorted, into *out.
void distinct_items(std::span<const ItemId> items, std::vector<ItemId>* out) {
    out->assign(items.begin(), items.end());
    std::sort(out->begin(), out->end());
    out->erase(std::unique(out->begin(), out->end()), out->end());
}

// Every article ordered by number of training baskets holding it, most first (ties by number).
std::vector<uint32_t> popularity_order(const BasketSet& train, size_t n_articles) {
    std::vector<Count> counts(n_articles, 0);
    std::vector<ItemId> distinct;
    for (size_t basket_idx = 0; basket_idx < train.size(); ++basket_idx) {
        distinct_items(train.basket(basket_idx), &distinct);
        for (ItemId item : distinct) {
            ++counts[item];
        }
    }
    std::vector<uint32_t> order(n_articles);
    for (uint32_t article = 0; article < n_articles; ++article) {
        order[article] = article;
    }
    std::stable_sort(
        order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return counts[a] > counts[b]; });
    return order;
}

// For each article, the articles sharing a training basket with it and how often.
std::vector<std::unordered_map<uint32_t, Count>> pair_counts(const BasketSet& train,
                                                             size_t n_articles) {
    std::vector<std::unordered_map<uint32_t, Count>> pairs(n_articles);
    std::vector<ItemId> distinct;
    for (size_t basket_idx = 0; basket_idx < train.size(); ++basket_idx) {
        distinct_items(train.basket(basket_idx), &distinct);
        for (ItemId a : distinct) {
            for (ItemId b : distinct) {
                if (a != b) {
                    ++pairs[a][b];
                }
            }
        }
    }
    return pairs;
}

// Tops `ranked` up to k from the popularity order, skipping the cart and what is already there.
void fill_popular(const std::vector<uint32_t>& popular,
                  const std::unordered_set<uint32_t>& cart,
                  size_t k,
                  std::vector<uint32_t>* ranked) {
    for (uint32_t article : popular) {
        if (ranked->size() >= k) {
            break;
        }
        if (cart.count(article) == 0 &&
            std::find(ranked->begin(), ranked->end(), article) == ranked->end()) {
            ranked->push_back(article);
        }
    }
}

// One hidden article per test basket of two or more distinct articles.
std::vector<Case> make_cases(const BasketSet& test,
                             const CatalogView& catalog,
                             uint32_t seed,
                             size_t* non_empty) {
    std::mt19937 rng(seed);
    std::vector<Case> cases;
    for (size_t basket_idx = 0; basket_idx < test.size(); ++basket_idx) {
        std::vector<uint32_t> distinct;
        distinct_items(test.basket(basket_idx), &distinct);
        *non_empty += distinct.empty() ? 0 : 1;
        if (distinct.size() < 2) {
            continue;
        }
        std::uniform_int_distribution<size_t> pick(0, distinct.size() - 1);
        size_t hidden_pos = pick(rng);
        Case c;
        c.hidden = distinct[hidden_pos];
        distinct.erase(distinct.begin() + static_cast<ptrdiff_t>(hidden_pos));
        c.cart = std::move(distinct);
        for (uint32_t article : c.cart) {
            c.variant_of_cart = c.variant_of_cart ||
                                catalog.product_code[article] == catalog.product_code[c.hidden];
        }
        cases.push_back(std::move(c));
    }
    return cases;
}

// The co-occurrence baseline's list: articles by summed pair counts with the cart, ties by
// article number, topped up with best sellers.
std::vector<uint32_t> cooccurrence_list(
    const std::vector<std::unordered_map<uint32_t, Count>>& pairs,
    const std::vector<uint32_t>& popular,
    const Case& c,
    const std::unordered_set<uint32_t>& cart,
    size_t k) {
    std::unordered_map<uint32_t, Count> summed;
    for (uint32_t article : c.cart) {
        for (const auto& [other, count] : pairs[article]) {
            if (cart.count(other) == 0) {
                summed[other] += count;
            }
        }
    }
    std::vector<std::pair<uint32_t, Count>> by_count(summed.begin(), summed.end());
    std::sort(by_count.begin(), by_count.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    std::vector<uint32_t> ranked;
    for (size_t idx = 0; idx < by_count.size() && idx < k; ++idx) {
        ranked.push_back(by_count[idx].first);
    }
    fill_popular(popular, cart, k, &ranked);
    return ranked;
}

nlohmann::json rates_json(const HitRates& rates, size_t k) {
    return {{"cases", rates.cases},
            {"hit_rate_at_5", rates.hit_at_5},
            {fmt::format("hit_rate_at_{}", k), rates.hit_at_k},
            {"mrr", rates.mrr},
            {"hits_at_5", rates.hits_at_5},
            {fmt::format("hits_at_{}", k), rates.hits_at_k},
            {fmt::format("hit_rate_at_{}_ci95", k),
             nlohmann::json::array({rates.hit_at_k_low, rates.hit_at_k_high})}};
}

}  // namespace

std::pair<double, double> wilson_interval(size_t hits, size_t cases) {
    if (cases == 0) {
        return {0.0, 0.0};
    }
    // z for a two-sided 95% interval. Wilson's interval stays inside [0, 1] and is not empty at
    // 0 hits, unlike the normal approximation, which matters at 2 hits in 200.
    constexpr double kZ = 1.959963984540054;
    double n = static_cast<double>(cases);
    double p = static_cast<double>(hits) / n;
    double z2 = kZ * kZ;
    double centre = (p + z2 / (2 * n)) / (1 + z2 / n);
    double half = kZ * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n);
    return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

Result<BoughtTogetherEvaluation> evaluate_bought_together(
    const Store& store, const BoughtTogetherEvalOptions& options) {
    auto start = std::chrono::steady_clock::now();
    if (options.test_weeks < 1 || options.skip_last_weeks < 0 || options.k < 5 ||
        options.min_supports.empty() || options.confidence_priors.empty()) {
        return Status::invalid_argument(fmt::format(
            "bought-together evaluation: test weeks {} and list length {} must be at least 1 and "
            "5, with at least one support and prior",
            options.test_weeks,
            options.k));
    }
    auto dates = store.transactions().date();
    if (dates.empty()) {
        return Status::invalid_data(
            fmt::format("store {}: no transactions, so bought-together cannot be evaluated; "
                        "ingest transactions first",
                        store.dir().string()));
    }
    int32_t first_day = *std::min_element(dates.begin(), dates.end());
    // The window ends skip_last_weeks before the last transaction (a validation run).
    int32_t last_sale = *std::max_element(dates.begin(), dates.end());
    int32_t last_day = last_sale - 7 * options.skip_last_weeks;
    int32_t first_test_day = last_day - 7 * options.test_weeks + 1;
    if (first_test_day <= first_day) {
        return Status::invalid_data(fmt::format(
            "store {}: its transactions span {} to {}, leaving nothing before the last {} weeks "
            "to train on; evaluate on fewer test weeks",
            store.dir().string(),
            format_iso_date(first_day),
            format_iso_date(last_sale),
            options.test_weeks + options.skip_last_weeks));
    }

    BoughtTogetherEvaluation evaluation;
    evaluation.test_weeks = options.test_weeks;
    evaluation.k = options.k;
    evaluation.options = options;
    evaluation.train_end = format_iso_date(first_test_day - 1);
    evaluation.test_start = format_iso_date(first_test_day);
    evaluation.test_end = format_iso_date(last_day);
    StoreBasketOptions train_options;
    train_options.last_day = first_test_day - 1;
    StoreBasketOptions test_options;
    test_options.first_day = first_test_day;
    test_options.last_day = last_day;
    LOOKBOOK_ASSIGN_OR_RETURN(BasketSet train, baskets_from_store(store, train_options));
    LOOKBOOK_ASSIGN_OR_RETURN(BasketSet test, baskets_from_store(store, test_options));
    size_t n_articles = store.articles().size();
    CatalogView catalog = catalog_from_store(store);
    std::vector<Case> cases = make_cases(test, catalog, options.seed, &evaluation.test_baskets);
    evaluation.train_baskets = train.size();
    evaluation.cases = cases.size();
    evaluation.not_variant_cases = static_cast<size_t>(std::count_if(
        cases.begin(), cases.end(), [](const Case& c) { return !c.variant_of_cart; }));

    // Popularity rank of every article (1 = best seller in training) for the bias figure.
    std::vector<uint32_t> popular = popularity_order(train, n_articles);
    std::vector<uint32_t> rank(n_articles, 0);
    for (size_t position = 0; position < popular.size(); ++position) {
        rank[popular[position]] = static_cast<uint32_t>(position + 1);
    }
    const std::vector<uint32_t>& types = catalog.product_type;

    // Best sellers of the last weeks before the test window, then of all training: fashion sales
    // follow the season, so this tells whether the recommender's all-time best-seller fallback
    // is what loses.
    StoreBasketOptions recent_options;
    recent_options.first_day = first_test_day - 7 * kRecentWeeks;
    recent_options.last_day = first_test_day - 1;
    LOOKBOOK_ASSIGN_OR_RETURN(BasketSet recent, baskets_from_store(store, recent_options));
    std::vector<uint32_t> recent_popular = popularity_order(recent, n_articles);
    // Articles unsold in those weeks tie at zero; the all-time order ranks them instead.
    std::vector<bool> sold_recently(n_articles, false);
    for (size_t basket_idx = 0; basket_idx < recent.size(); ++basket_idx) {
        for (ItemId item : recent.basket(basket_idx)) {
            sold_recently[item] = true;
        }
    }
    recent_popular.resize(
        static_cast<size_t>(std::count(sold_recently.begin(), sold_recently.end(), true)));

    // Baselines.
    auto pairs = pair_counts(train, n_articles);
    Tally popularity_tally(options.k, types, rank);
    Tally pair_tally(options.k, types, rank);
    Tally recent_tally(options.k, types, rank);
    std::vector<bool> pair_hit;  // per case, for the paired comparison
    for (const Case& c : cases) {
        std::unordered_set<uint32_t> cart(c.cart.begin(), c.cart.end());
        std::vector<uint32_t> ranked;
        fill_popular(popular, cart, options.k, &ranked);
        popularity_tally.add(ranked, c);
        std::vector<uint32_t> recent_ranked;
        fill_popular(recent_popular, cart, options.k, &recent_ranked);
        fill_popular(popular, cart, options.k, &recent_ranked);
        recent_tally.add(recent_ranked, c);
        pair_hit.push_back(
            pair_tally.add(cooccurrence_list(pairs, popular, c, cart, options.k), c));
    }
    BoughtTogetherScore popularity_score{
        .name = "global_popularity", .kind = "baseline", .label = "global popularity"};
    popularity_tally.finish(n_articles, &popularity_score);
    BoughtTogetherScore pair_score{
        .name = "pair_cooccurrence", .kind = "baseline", .label = "pair co-occurrence counts"};
    pair_tally.finish(n_articles, &pair_score);
    BoughtTogetherScore recent_score{
        .name = "recent_popularity",
        .kind = "baseline",
        .label = fmt::format("best sellers of the last {} training weeks", kRecentWeeks)};
    recent_tally.finish(n_articles, &recent_score);
    evaluation.scores = {popularity_score, pair_score, recent_score};

    // The recommender at each configuration; one model per support, reused for every prior.
    for (Count min_count : options.min_supports) {
        TrainOptions train_settings = options.train;
        train_settings.mining.min_support = MinSupport::of_count(min_count);
        LOOKBOOK_ASSIGN_OR_RETURN(auto model,
                                  train_complete_the_look(train, catalog, train_settings));
        Count pairs_from = train_settings.pair_min_support;
        std::string support_text = pairs_from > 0 && pairs_from < min_count
                                       ? fmt::format("{}, pairs {}", min_count, pairs_from)
                                       : std::to_string(min_count);
        for (double prior : options.confidence_priors) {
            RecommendOptions recommend;
            recommend.k = options.k;
            recommend.confidence_prior = prior;
            Tally tally(options.k, types, rank);
            size_t by_rule = 0;
            size_t shown = 0;
            std::array<size_t, 4> hits_by_source{};
            size_t wins = 0;
            size_t losses = 0;
            for (size_t case_idx = 0; case_idx < cases.size(); ++case_idx) {
                const Case& c = cases[case_idx];
                LOOKBOOK_ASSIGN_OR_RETURN(auto suggestions,
                                          complete_the_look(model, c.cart, recommend));
                std::vector<uint32_t> ranked;
                for (const Suggestion& s : suggestions) {
                    ranked.push_back(s.article);
                    by_rule += s.source == SuggestionSource::kArticleRule ? 1 : 0;
                }
                shown += ranked.size();
                bool hit = tally.add(ranked, c);
                wins += hit && !pair_hit[case_idx] ? 1 : 0;
                losses += !hit && pair_hit[case_idx] ? 1 : 0;
                for (size_t pos = 0; hit && pos < suggestions.size(); ++pos) {
                    if (suggestions[pos].article == c.hidden) {
                        ++hits_by_source[static_cast<size_t>(suggestions[pos].source)];
                    }
                }
            }
            BoughtTogetherScore score{
                .name = "complete_the_look",
                .kind = "recommender",
                .label =
                    fmt::format("complete the look (support {}, prior {})", support_text, prior),
                .min_support = min_count,
                .confidence_prior = prior,
                .article_rules = model.article_rules.size(),
                .product_code_rules = model.code_rules.size(),
                .article_rule_share =
                    static_cast<double>(by_rule) / static_cast<double>(std::max<size_t>(1, shown)),
                .hits_by_source = hits_by_source,
                .wins_over_pairs = wins,
                .losses_to_pairs = losses};
            tally.finish(n_articles, &score);
            evaluation.scores.push_back(std::move(score));
        }
    }
    evaluation.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    log::info(
        "bought-together evaluation: {} training baskets, {} cases, {} configurations in "
        "{:.1f} s",
        evaluation.train_baskets,
        evaluation.cases,
        evaluation.scores.size() - 3,
        evaluation.seconds);
    return evaluation;
}

nlohmann::json to_json(const BoughtTogetherEvaluation& evaluation) {
    nlohmann::json out;
    out["protocol"] = {
        {"train_end", evaluation.train_end},
        {"test_start", evaluation.test_start},
        {"test_end", evaluation.test_end},
        {"test_weeks", evaluation.test_weeks},
        {"skipped_last_weeks", evaluation.options.skip_last_weeks},
        {"k", evaluation.k},
        {"train_baskets", evaluation.train_baskets},
        {"test_baskets", evaluation.test_baskets},
        {"cases", evaluation.cases},
        {"not_variant_cases", evaluation.not_variant_cases},
        {"description",
         "baskets are (customer, day); train on baskets before the last test weeks; in each test "
         "basket of two or more articles hide one at random (fixed seed) and recommend from the "
         "rest"}};
    out["scores"] = nlohmann::json::array();
    for (const BoughtTogetherScore& s : evaluation.scores) {
        nlohmann::json row = {{"name", s.name},
                              {"kind", s.kind},
                              {"label", s.label},
                              {"all", rates_json(s.all, evaluation.k)},
                              {"not_variant", rates_json(s.not_variant, evaluation.k)},
                              {"catalog_coverage", s.catalog_coverage},
                              {"popularity_rank_mean", s.popularity_rank_mean},
                              {"diversity_product_type", s.diversity_product_type}};
        if (s.kind == "recommender") {
            row["min_support"] = s.min_support;
            row["confidence_prior"] = s.confidence_prior;
            row["article_rules"] = s.article_rules;
            row["product_code_rules"] = s.product_code_rules;
            row["article_rule_share"] = s.article_rule_share;
            for (size_t source = 0; source < s.hits_by_source.size(); ++source) {
                row["hits_by_source"]
                   [suggestion_source_name(static_cast<SuggestionSource>(source))] =
                       s.hits_by_source[source];
            }
            row["wins_over_pair_cooccurrence"] = s.wins_over_pairs;
            row["losses_to_pair_cooccurrence"] = s.losses_to_pairs;
        }
        out["scores"].push_back(std::move(row));
    }
    const BoughtTogetherEvalOptions& options = evaluation.options;
    out["settings"] = {{"min_supports", options.min_supports},
                       {"confidence_priors", options.confidence_priors},
                       {"max_itemset_length", options.train.mining.max_length},
                       {"pair_min_support", options.train.pair_min_support},
                       {"max_basket_size", options.train.mining.max_basket_size},
                       {"min_confidence", options.train.rules.min_confidence},
                       {"min_lift", options.train.rules.min_lift},
                       {"seed", options.seed}};
    out["seconds"] = evaluation.seconds;
    return out;
}

}  // namespace lookbook::rules
