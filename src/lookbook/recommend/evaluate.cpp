#include "lookbook/recommend/evaluate.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>

#include <fmt/format.h>

#include "lookbook/eval/metrics.hpp"
#include "lookbook/recommend/recommender.hpp"
#include "lookbook/util/date.hpp"
#include "lookbook/util/log.hpp"

namespace lookbook {
namespace {

constexpr size_t kCandidatesPerSource = 100;

// Customers who bought in [start, end) and the distinct articles each bought there.
struct TestSet {
    std::vector<uint32_t> customers;
    std::vector<std::vector<uint32_t>> relevant;
};

TestSet customers_buying_in(const Store& store, int32_t start, int32_t end) {
    const TransactionTable& rows = store.transactions();
    TestSet set;
    for (uint32_t customer = 0; customer < store.customers().size(); ++customer) {
        std::vector<uint32_t> bought;
        for (uint64_t row = rows.customer_offsets()[customer];
             row < rows.customer_offsets()[customer + 1];
             ++row) {
            if (rows.date()[row] >= start && rows.date()[row] < end) {
                bought.push_back(rows.article()[row]);
            }
        }
        if (bought.empty()) {
            continue;
        }
        std::sort(bought.begin(), bought.end());
        bought.erase(std::unique(bought.begin(), bought.end()), bought.end());
        set.customers.push_back(customer);
        set.relevant.push_back(std::move(bought));
    }
    return set;
}

// Every source's candidates for every test customer, computed once so the weight search and
// the per-source figures only re-blend.
struct CandidateCache {
    std::vector<std::string> names;
    std::vector<std::vector<std::vector<Candidate>>> lists;  // [customer][source]
    std::vector<std::vector<uint32_t>> bought;               // [customer], sorted
    std::vector<std::vector<Interaction>> histories;         // [customer]
};

CandidateCache collect_candidates(const Recommender& recommender,
                                  const TestSet& set,
                                  int32_t today) {
    CandidateCache cache;
    cache.names = recommender.source_names();
    for (uint32_t customer : set.customers) {
        cache.histories.push_back(recommender.history(customer, today, {}));
        CustomerContext context{customer, today, cache.histories.back()};
        cache.lists.emplace_back();
        for (const std::string& name : cache.names) {
            // Metrics need the ranking, not the reasons shown to a shopper.
            cache.lists.back().push_back(
                recommender.source(name)->ranked(context, kCandidatesPerSource));
        }
        cache.bought.push_back(history_articles(context, true));
    }
    return cache;
}

// The blend fills short lists with trending; a source alone is shown as it is.
std::vector<std::vector<uint32_t>> blend_lists(const CandidateCache& cache,
                                               const BlendWeights& weights,
                                               const BlendCatalog& catalog,
                                               size_t k,
                                               bool fill_with_trending) {
    RecommendOptions options;
    options.k = k;
    options.fill_with_trending = fill_with_trending;
    std::vector<std::vector<uint32_t>> lists;
    for (size_t c = 0; c < cache.lists.size(); ++c) {
        lists.emplace_back();
        for (const Recommendation& r : blend_candidates(
                 cache.lists[c], cache.names, weights, cache.bought[c], catalog, options)) {
            lists.back().push_back(r.article);
        }
    }
    return lists;
}

// Top articles by purchases in [start, end).
std::vector<uint32_t> popular_in(const Store& store, int32_t start, int32_t end, size_t k) {
    const TransactionTable& rows = store.transactions();
    std::vector<uint32_t> counts(store.articles().size(), 0);
    for (uint64_t row = 0; row < rows.size(); ++row) {
        if (rows.date()[row] >= start && rows.date()[row] < end) {
            ++counts[rows.article()[row]];
        }
    }
    std::vector<float> scores(counts.begin(), counts.end());
    std::vector<uint32_t> top;
    for (auto [article, score] : top_scores(scores, k)) {
        top.push_back(article);
    }
    return top;
}

nlohmann::json metrics_json(const ListMetrics& m) {
    return {{"map_at_k", m.map},
            {"recall_at_k", m.recall},
            {"ndcg_at_k", m.ndcg},
            {"hit_rate_at_k", m.hit},
            {"mrr", m.mrr}};
}

// What every recommender's figures need besides its lists.
struct EvaluationFrame {
    const Store* store = nullptr;
    const TestSet* test = nullptr;
    size_t k = 12;
    std::vector<uint32_t> popularity_rank;                // [articles], 1 = best seller
    std::map<std::string, std::vector<size_t>> segments;  // name -> positions in test set
    std::shared_ptr<const ContentVectors> vectors;
};

nlohmann::json recommender_json(const EvaluationFrame& frame,
                                const std::vector<std::vector<uint32_t>>& lists) {
    const TestSet& test = *frame.test;
    nlohmann::json out = metrics_json(mean_metrics(lists, test.relevant, frame.k));

    // Coverage, popularity, diversity over the first k of every list.
    std::set<uint32_t> distinct;
    double rank_sum = 0, type_diversity = 0, embedding_diversity = 0;
    size_t shown = 0;
    auto types = frame.store->articles().attribute(ArticleAttribute::kProductType).codes;
    auto type_distance = [&](uint32_t a, uint32_t b) { return types[a] == types[b] ? 0.0 : 1.0; };
    auto embedding_distance = [&](uint32_t a, uint32_t b) {
        const ContentVectors& v = *frame.vectors;
        if (!v.present[a] || !v.present[b]) {
            return 1.0;
        }
        double dot = 0;
        for (int64_t d = 0; d < v.dim; ++d) {
            dot += double(v.row(a)[d]) * v.row(b)[d];
        }
        return 1.0 - dot;
    };
    for (const auto& list : lists) {
        for (size_t pos = 0; pos < std::min(frame.k, list.size()); ++pos) {
            distinct.insert(list[pos]);
            rank_sum += frame.popularity_rank[list[pos]];
            ++shown;
        }
        type_diversity += eval::intra_list_diversity(list, frame.k, type_distance);
        if (frame.vectors) {
            embedding_diversity += eval::intra_list_diversity(list, frame.k, embedding_distance);
        }
    }
    double n = std::max<size_t>(lists.size(), 1);
    out["catalog_coverage"] =
        double(distinct.size()) / std::max<uint32_t>(frame.store->articles().size(), 1);
    out["popularity_rank_mean"] = shown == 0 ? 0.0 : rank_sum / shown;
    out["diversity_product_type"] = type_diversity / n;
    out["diversity_embedding"] =
        frame.vectors ? nlohmann::json(embedding_diversity / n) : nlohmann::json();

    nlohmann::json segments = nlohmann::json::object();
    for (const auto& [name, members] : frame.segments) {
        std::vector<std::vector<uint32_t>> seg_lists, seg_relevant;
        for (size_t pos : members) {
            seg_lists.push_back(lists[pos]);
            seg_relevant.push_back(test.relevant[pos]);
        }
        nlohmann::json seg = metrics_json(mean_metrics(seg_lists, seg_relevant, frame.k));
        seg["customers"] = members.size();
        segments[name] = seg;
    }
    out["segments"] = segments;
    return out;
}

std::map<std::string, std::vector<size_t>> segment_customers(const Store& store,
                                                             const TestSet& test,
                                                             int32_t test_start) {
    std::map<std::string, std::vector<size_t>> segments;
    // Every documented segment is present, even when empty.
    for (const char* name : {"new", "returning", "age_unknown", "club_unknown"}) {
        segments[name];
    }
    for (uint8_t band = 0; band < kAgeBandCount; ++band) {
        segments[std::string("age_") + age_band_name(band)];
    }
    const CustomerTable& customers = store.customers();
    for (size_t code = 0; code < customers.club_status().cardinality(); ++code) {
        std::string_view club = customers.club_status().values.at(code);
        if (!club.empty()) {
            segments["club_" + std::string(club)];
        }
    }
    const TransactionTable& rows = store.transactions();
    for (size_t pos = 0; pos < test.customers.size(); ++pos) {
        uint32_t customer = test.customers[pos];
        uint64_t first = rows.customer_offsets()[customer];
        bool returning = rows.date()[first] < test_start;
        segments[returning ? "returning" : "new"].push_back(pos);
        segments[std::string("age_") + age_band_name(age_band(customers.age(customer)))].push_back(
            pos);
        std::string_view club = customers.club_status().codes.empty()
                                    ? std::string_view()
                                    : customers.club_status().value(customer);
        segments["club_" + std::string(club.empty() ? "unknown" : club)].push_back(pos);
    }
    return segments;
}

std::vector<uint32_t> popularity_ranks(const Store& store, int32_t before) {
    const TransactionTable& rows = store.transactions();
    std::vector<uint32_t> counts(store.articles().size(), 0);
    for (uint64_t row = 0; row < rows.size(); ++row) {
        if (rows.date()[row] < before) {
            ++counts[rows.article()[row]];
        }
    }
    std::vector<uint32_t> order(counts.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(
        order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return counts[a] > counts[b]; });
    std::vector<uint32_t> rank(counts.size());
    for (uint32_t pos = 0; pos < order.size(); ++pos) {
        rank[order[pos]] = pos + 1;
    }
    return rank;
}

}  // namespace

ListMetrics mean_metrics(const std::vector<std::vector<uint32_t>>& lists,
                         const std::vector<std::vector<uint32_t>>& relevant,
                         size_t k) {
    ListMetrics sum;
    for (size_t c = 0; c < lists.size(); ++c) {
        sum.map += eval::average_precision_at_k(lists[c], relevant[c], k);
        sum.recall += eval::recall_at_k(lists[c], relevant[c], k);
        sum.ndcg += eval::ndcg_at_k(lists[c], relevant[c], k);
        sum.hit += eval::hit_at_k(lists[c], relevant[c], k);
        sum.mrr += eval::reciprocal_rank(lists[c], relevant[c], k);
    }
    double n = std::max<size_t>(lists.size(), 1);
    return {sum.map / n, sum.recall / n, sum.ndcg / n, sum.hit / n, sum.mrr / n};
}

TuningResult tune_blend_weights(const Store& store,
                                int32_t validation_start,
                                int32_t validation_end,
                                const EvaluateOptions& options,
                                std::shared_ptr<const ContentVectors> vectors) {
    TuningResult result;
    result.weights = default_blend_weights();
    result.log = nlohmann::json::array();
    TestSet validation = customers_buying_in(store, validation_start, validation_end);
    result.validation_customers = validation.customers.size();
    if (validation.customers.empty()) {
        log::warn("nobody bought between {} and {}; the blend keeps its default weights",
                  format_iso_date(validation_start),
                  format_iso_date(validation_end - 1));
        return result;
    }
    auto models = std::make_shared<TrainedModels>(train_models(
        interaction_log_from_store(store, validation_start), validation_start, options.train));
    Recommender recommender(store, models, vectors);
    if (options.two_tower) {
        if (auto source = options.two_tower(store, validation_start)) {
            recommender.add_source(source, result.weights["two_tower"]);
        }
    }
    CandidateCache cache = collect_candidates(recommender, validation, validation_start);
    auto score = [&](const BlendWeights& weights) {
        return mean_metrics(blend_lists(cache, weights, recommender.catalog(), options.k, true),
                            validation.relevant,
                            options.k)
            .map;
    };
    double best = score(result.weights);
    for (int round = 0; round < options.tuning_rounds; ++round) {
        for (const std::string& name : cache.names) {
            for (float w : options.weight_grid) {
                BlendWeights trial = result.weights;
                trial[name] = w;
                double map = score(trial);
                result.log.push_back(
                    {{"round", round}, {"source", name}, {"weight", w}, {"map_at_k", map}});
                if (map > best) {
                    best = map;
                    result.weights = trial;
                }
            }
        }
    }
    result.validation_map = best;
    log::info("blend weights tuned on {} validation customers: MAP@{} {:.4f}",
              validation.customers.size(),
              options.k,
              best);
    return result;
}

Result<nlohmann::json> try_evaluate_recommenders(const Store& store,
                                                 const EvaluateOptions& options) {
    const TransactionTable& rows = store.transactions();
    if (rows.size() == 0) {
        return Status::invalid_argument(
            "the store has no transactions to evaluate on; ingest a transactions file first.");
    }
    if (options.test_weeks < 1) {
        return Status::invalid_argument(fmt::format(
            "{} is {}; expected at least 1.",
            options.weeks_option.empty() ? "the number of test weeks" : options.weeks_option,
            options.test_weeks));
    }
    int32_t last_day = *std::max_element(rows.date().begin(), rows.date().end());
    int32_t test_end = last_day + 1;
    int32_t test_start = test_end - 7 * options.test_weeks;
    // Validation: as many weeks as the test, just before it (one week is too few customers to
    // choose weights on a small store); the test weeks are never looked at while tuning.
    int32_t validation_start = test_start - 7 * options.test_weeks;
    int32_t first_day = *std::min_element(rows.date().begin(), rows.date().end());
    if (first_day >= test_start) {
        // Found by the fresh-user trial: the models were trained on nothing and every figure
        // printed as 0.0000, as if measured.
        return Status::invalid_argument(fmt::format(
            "the store's sales run from {} to {}, all inside the {} test week{} (from {}), so "
            "nothing is left to train the models on; {}ingest a longer history.",
            format_iso_date(first_day),
            format_iso_date(last_day),
            options.test_weeks,
            options.test_weeks == 1 ? "" : "s",
            format_iso_date(test_start),
            options.weeks_option.empty() ? "" : "lower " + options.weeks_option + " or "));
    }
    TestSet test = customers_buying_in(store, test_start, test_end);
    if (test.customers.empty()) {
        return Status::invalid_argument(
            fmt::format("nobody bought between {} and {}, so there is nothing to test; {}.",
                        format_iso_date(test_start),
                        format_iso_date(last_day),
                        options.weeks_option.empty() ? "ingest the transactions of those weeks"
                                                     : "raise " + options.weeks_option));
    }

    std::shared_ptr<const ContentVectors> vectors;
    if (auto loaded = load_content_vectors(store); loaded.is_ok()) {
        vectors = std::move(loaded).value();
    }
    TuningResult tuning;
    tuning.weights = default_blend_weights();
    if (options.tune) {
        tuning = tune_blend_weights(store, validation_start, test_start, options, vectors);
    }

    // Models for the test see only the days before it.
    auto models = std::make_shared<TrainedModels>(
        train_models(interaction_log_from_store(store, test_start), test_start, options.train));
    models->weights = tuning.weights;
    Recommender recommender(store, models, vectors);
    if (options.two_tower) {
        if (auto source = options.two_tower(store, test_start)) {
            recommender.add_source(source, tuning.weights["two_tower"]);
        }
    }
    CandidateCache cache = collect_candidates(recommender, test, test_start);

    EvaluationFrame frame;
    frame.store = &store;
    frame.test = &test;
    frame.k = options.k;
    frame.popularity_rank = popularity_ranks(store, test_start);
    frame.segments = segment_customers(store, test, test_start);
    frame.vectors = vectors;

    nlohmann::json recommenders = nlohmann::json::array();
    auto add = [&](const std::string& name,
                   const std::string& kind,
                   const std::string& label,
                   const std::vector<std::vector<uint32_t>>& lists) {
        nlohmann::json entry = {{"name", name}, {"kind", kind}, {"label", label}};
        entry.update(recommender_json(frame, lists));
        recommenders.push_back(entry);
    };
    add("blend",
        "blend",
        "Blend of all sources",
        blend_lists(cache, tuning.weights, recommender.catalog(), options.k, true));

    // Baselines: last week's best sellers; the customer's own articles, then those.
    std::vector<uint32_t> popular = popular_in(store, test_start - 7, test_start, options.k);
    std::vector<std::vector<uint32_t>> popularity(test.customers.size(), popular);
    add("popularity_last_week", "baseline", "Best sellers of the last week", popularity);
    std::vector<std::vector<uint32_t>> again;
    for (size_t c = 0; c < test.customers.size(); ++c) {
        // Most recent first: the history is oldest first.
        std::vector<uint32_t> list;
        const auto& history = cache.histories[c];
        for (auto it = history.rbegin(); it != history.rend() && list.size() < options.k; ++it) {
            if (std::find(list.begin(), list.end(), it->article) == list.end()) {
                list.push_back(it->article);
            }
        }
        for (uint32_t article : popular) {
            if (list.size() < options.k &&
                std::find(list.begin(), list.end(), article) == list.end()) {
                list.push_back(article);
            }
        }
        again.push_back(std::move(list));
    }
    add("repurchase_popularity",
        "baseline",
        "Own past articles (most recent first), then best sellers",
        again);

    // Each source alone, through the same filters as the blend.
    const std::map<std::string, std::string> labels = {
        {"repurchase", "Repurchase (own recent articles)"},
        {"trending", "Trending by age band"},
        {"item_item", "Item-to-item co-purchase similarity"},
        {"als", "Implicit ALS"},
        {"profile", "Profile similarity (content vectors)"},
        {"two_tower", "Two-tower model"}};
    for (const auto& [name, label] : labels) {
        if (std::find(cache.names.begin(), cache.names.end(), name) == cache.names.end()) {
            recommenders.push_back(
                {{"name", name}, {"kind", "source"}, {"label", label}, {"status", "not built"}});
            continue;
        }
        add(name,
            "source",
            label,
            blend_lists(cache, {{name, 1.0f}}, recommender.catalog(), options.k, false));
    }

    const TrainSettings& s = options.train;
    nlohmann::json out;
    out["protocol"] = {
        {"train_end", format_iso_date(test_start - 1)},
        {"test_start", format_iso_date(test_start)},
        {"test_end", format_iso_date(last_day)},
        {"test_weeks", options.test_weeks},
        {"k", options.k},
        {"test_customers", test.customers.size()},
        {"validation_start", format_iso_date(validation_start)},
        {"validation_customers", tuning.validation_customers},
        {"description",
         fmt::format("train on all weeks but the last N; recommend {} per customer who bought in "
                     "those weeks; blend weights tuned on the N weeks before them",
                     options.k)}};
    out["recommenders"] = recommenders;
    out["settings"] = {
        {"blend_weights", tuning.weights},
        {"als",
         {{"factors", s.als.factors},
          {"regularization", s.als.regularization},
          {"alpha", s.als.alpha},
          {"iterations", s.als.iterations},
          {"cg_steps", s.als.cg_steps}}},
        {"item_item", {{"neighbours", s.item_neighbours}, {"shrink", s.item_shrink}}},
        {"trending", {{"half_life_days", s.trending_half_life_days}}},
        {"tuning",
         {{"method", "coordinate ascent over a weight grid, MAP@k on the validation week"},
          {"grid", options.weight_grid},
          {"rounds", options.tuning_rounds},
          {"validation_map_at_k", tuning.validation_map},
          {"steps", tuning.log}}}};
    return out;
}

nlohmann::json evaluate_recommenders(const Store& store, const EvaluateOptions& options) {
    auto result = try_evaluate_recommenders(store, options);
    if (!result.is_ok()) {
        return {{"error", result.status().message()}};
    }
    return std::move(result).value();
}

}  // namespace lookbook
