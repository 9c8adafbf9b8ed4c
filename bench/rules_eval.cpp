// Offline evaluation of "complete the look" on the H&M sample: the sample is ingested into a
// temporary store and the protocol of rules/bought_together_eval.hpp (the one `lookbook report`
// uses) is run at several supports and confidence priors, twice: on a validation window (the
// `--weeks` weeks before the last `--weeks` weeks, trained on what precedes it) to choose a
// configuration, then on the test window (the last `--weeks` weeks). The choice is made on
// validation only, so the test figures are not tuned on. Prints hit rate@5, @10 (with hits and
// a 95% interval) and MRR@10 for the recommender and three baselines: global popularity, raw
// pair co-occurrence counts and the best sellers of the weeks just before the test window.
//
//   rules_eval [--weeks N] [--store DIR]   (DIR: an existing store to use instead of ingesting)
//   rules_eval --rolling N [--store DIR]   N one-week windows, each trained on all before it,
//                                          pooled; N validation weeks before them;
//                                          --max-length L caps the itemsets mined
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "hm_sample.hpp"
#include "lookbook/rules/bought_together_eval.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/util/log.hpp"

namespace {

namespace fs = std::filesystem;
using lookbook::rules::BoughtTogetherEvaluation;
using lookbook::rules::BoughtTogetherScore;

void print_rates(const char* title, const lookbook::rules::HitRates& rates) {
    std::printf("%s: hit@5 %.4f hit@10 %.4f (%zu/%zu, 95%% %.4f-%.4f) MRR@10 %.4f",
                title,
                rates.hit_at_5,
                rates.hit_at_k,
                rates.hits_at_k,
                rates.cases,
                rates.hit_at_k_low,
                rates.hit_at_k_high,
                rates.mrr);
}

void print_evaluation(const char* window, const BoughtTogetherEvaluation& evaluation) {
    std::printf(
        "%s: %zu training baskets (customer, day) up to %s, %zu test baskets %s to %s, %zu with "
        "two or more articles (one hidden each), %zu whose hidden article is not a colour "
        "variant of the cart\n",
        window,
        evaluation.train_baskets,
        evaluation.train_end.c_str(),
        evaluation.test_baskets,
        evaluation.test_start.c_str(),
        evaluation.test_end.c_str(),
        evaluation.cases,
        evaluation.not_variant_cases);
    for (const BoughtTogetherScore& score : evaluation.scores) {
        std::printf("  %-44s ", score.label.c_str());
        print_rates("all", score.all);
        std::printf("\n  %-44s ", "");
        print_rates("not a variant", score.not_variant);
        std::printf("\n");
        if (score.kind == "recommender") {
            std::printf(
                "    %zu article rules, %zu product-code rules; %.1f%% of suggestions from article "
                "rules; hits by source: article rule %zu, product-code rule %zu, product type "
                "%zu, popular %zu; vs pair co-occurrence: %zu cases found only here, %zu only "
                "there; coverage %.4f, mean popularity rank %.1f\n",
                score.article_rules,
                score.product_code_rules,
                100.0 * score.article_rule_share,
                score.hits_by_source[0],
                score.hits_by_source[1],
                score.hits_by_source[2],
                score.hits_by_source[3],
                score.wins_over_pairs,
                score.losses_to_pairs,
                score.catalog_coverage,
                score.popularity_rank_mean);
        }
    }
    std::printf("evaluated in %.1f s\n\n", evaluation.seconds);
}

// The recommender row with the most hits within 10, then the best MRR.
const BoughtTogetherScore* best_recommender(const BoughtTogetherEvaluation& evaluation) {
    const BoughtTogetherScore* best = nullptr;
    for (const BoughtTogetherScore& score : evaluation.scores) {
        if (score.kind == "recommender" &&
            (best == nullptr || score.all.hits_at_k > best->all.hits_at_k ||
             (score.all.hits_at_k == best->all.hits_at_k && score.all.mrr > best->all.mrr))) {
            best = &score;
        }
    }
    return best;
}

// One row's figures summed over several one-week windows.
struct Pooled {
    std::string label;
    std::string kind;
    size_t cases = 0;
    size_t hits_at_5 = 0;
    size_t hits_at_10 = 0;
    double reciprocal_ranks = 0;
    size_t not_variant_cases = 0;
    size_t not_variant_hits_at_10 = 0;
    size_t wins_over_pairs = 0;
    size_t losses_to_pairs = 0;
};

// Evaluates `windows` one-week windows, the newest ending `first_skip` weeks before the last
// sale, each trained on every basket before it (a rolling origin: the model is as fresh as it
// would be if retrained weekly), and pools the figures by row.
bool pool_windows(const lookbook::Store& store,
                  lookbook::rules::BoughtTogetherEvalOptions options,
                  int first_skip,
                  int windows,
                  std::vector<Pooled>* rows) {
    for (int window = 0; window < windows; ++window) {
        options.test_weeks = 1;
        options.skip_last_weeks = first_skip + window;
        auto evaluation = lookbook::rules::evaluate_bought_together(store, options);
        if (!evaluation.is_ok()) {
            std::fprintf(stderr, "%s\n", evaluation.status().to_string().c_str());
            return false;
        }
        for (size_t idx = 0; idx < evaluation->scores.size(); ++idx) {
            const BoughtTogetherScore& score = evaluation->scores[idx];
            if (rows->size() <= idx) {
                rows->push_back(Pooled{.label = score.label, .kind = score.kind});
            }
            Pooled& row = (*rows)[idx];
            row.cases += score.all.cases;
            row.hits_at_5 += score.all.hits_at_5;
            row.hits_at_10 += score.all.hits_at_k;
            row.reciprocal_ranks += score.all.mrr * static_cast<double>(score.all.cases);
            row.not_variant_cases += score.not_variant.cases;
            row.not_variant_hits_at_10 += score.not_variant.hits_at_k;
            row.wins_over_pairs += score.wins_over_pairs;
            row.losses_to_pairs += score.losses_to_pairs;
        }
    }
    return true;
}

void print_pooled(const char* window, const std::vector<Pooled>& rows) {
    std::printf("%s\n", window);
    for (const Pooled& row : rows) {
        double cases = static_cast<double>(std::max<size_t>(1, row.cases));
        auto [low, high] = lookbook::rules::wilson_interval(row.hits_at_10, row.cases);
        std::printf(
            "  %-44s cases %5zu  hit@5 %.4f  hit@10 %.4f (%zu, 95%% %.4f-%.4f)  MRR@10 %.4f  "
            "not a variant: %zu/%zu",
            row.label.c_str(),
            row.cases,
            static_cast<double>(row.hits_at_5) / cases,
            static_cast<double>(row.hits_at_10) / cases,
            row.hits_at_10,
            low,
            high,
            row.reciprocal_ranks / cases,
            row.not_variant_hits_at_10,
            row.not_variant_cases);
        if (row.kind == "recommender") {
            std::printf("  vs pairs +%zu -%zu", row.wins_over_pairs, row.losses_to_pairs);
        }
        std::printf("\n");
    }
}

// Rolling origin: `weeks` one-week test windows (the last weeks) and as many validation
// windows before them; the configuration is chosen on the pooled validation hits.
int run_rolling(const lookbook::Store& store, int weeks, int max_length) {
    lookbook::rules::BoughtTogetherEvalOptions options;
    options.k = 10;
    options.min_supports = {1, 2, 3};
    options.confidence_priors = {0.0, 2.0, 20.0};
    // --max-length 2 mines pairs only, to see what the 3-article itemsets add.
    if (max_length > 0) {
        options.train.mining.max_length = static_cast<size_t>(max_length);
    }
    std::vector<Pooled> validation;
    std::vector<Pooled> test;
    if (!pool_windows(store, options, weeks, weeks, &validation) ||
        !pool_windows(store, options, 0, weeks, &test)) {
        return 1;
    }
    print_pooled("validation (rolling weekly, pooled):", validation);
    print_pooled("test (rolling weekly, pooled):", test);
    const Pooled* chosen = nullptr;
    size_t chosen_idx = 0;
    for (size_t idx = 0; idx < validation.size(); ++idx) {
        const Pooled& row = validation[idx];
        if (row.kind == "recommender" &&
            (chosen == nullptr || row.hits_at_10 > chosen->hits_at_10 ||
             (row.hits_at_10 == chosen->hits_at_10 &&
              row.reciprocal_ranks > chosen->reciprocal_ranks))) {
            chosen = &row;
            chosen_idx = idx;
        }
    }
    if (chosen != nullptr) {
        std::printf("chosen on validation: %s; test hits@10 %zu of %zu\n",
                    chosen->label.c_str(),
                    test[chosen_idx].hits_at_10,
                    test[chosen_idx].cases);
    }
    return 0;
}

int run(int weeks, int rolling, int max_length, const std::string& given_store) {
    fs::path store_dir = given_store;
    if (store_dir.empty()) {
        store_dir = fs::temp_directory_path() / "lookbook_rules_eval_store";
        if (!lookbook::bench::ingest_hm_sample(store_dir)) {
            return 1;
        }
    }
    auto store = lookbook::Store::open(store_dir);
    if (!store.is_ok()) {
        std::fprintf(stderr, "%s\n", store.status().to_string().c_str());
        return 1;
    }
    if (rolling > 0) {
        int status = run_rolling(**store, rolling, max_length);
        if (given_store.empty()) {
            fs::remove_all(store_dir);
        }
        return status;
    }

    // Every support with every prior: the grid the defaults are chosen on.
    lookbook::rules::BoughtTogetherEvalOptions options;
    options.test_weeks = weeks;
    options.k = 10;
    options.min_supports = {1, 2, 3};
    options.confidence_priors = {0.0, 2.0, 5.0, 20.0};
    options.skip_last_weeks = weeks;
    auto validation = lookbook::rules::evaluate_bought_together(**store, options);
    options.skip_last_weeks = 0;
    auto test = lookbook::rules::evaluate_bought_together(**store, options);
    if (!validation.is_ok() || !test.is_ok()) {
        std::fprintf(
            stderr,
            "%s\n",
            (validation.is_ok() ? test.status() : validation.status()).to_string().c_str());
        return 1;
    }
    print_evaluation("validation window", *validation);
    print_evaluation("test window", *test);
    const BoughtTogetherScore* chosen = best_recommender(*validation);
    for (const BoughtTogetherScore& score : test->scores) {
        if (chosen != nullptr && score.label == chosen->label) {
            std::printf("chosen on validation: %s; on the test window ", score.label.c_str());
            print_rates("all", score.all);
            std::printf("\n");
        }
    }
    if (given_store.empty()) {
        fs::remove_all(store_dir);
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    lookbook::log::init_logging(lookbook::log::Level::kWarn);
    int weeks = 4;
    int rolling = 0;
    int max_length = 0;
    std::string store;
    for (int idx = 1; idx + 1 < argc; idx += 2) {
        std::string flag = argv[idx];
        if (flag == "--weeks") {
            weeks = std::max(1, std::atoi(argv[idx + 1]));
        } else if (flag == "--max-length") {
            max_length = std::max(0, std::atoi(argv[idx + 1]));
        } else if (flag == "--rolling") {
            rolling = std::max(1, std::atoi(argv[idx + 1]));
        } else if (flag == "--store") {
            store = argv[idx + 1];
        }
    }
    return run(weeks, rolling, max_length, store);
}
