// Offline evaluation of "complete the look" on the H&M sample: the sample is ingested into a
// temporary store and the protocol of rules/bought_together_eval.hpp (the one `lookbook report`
// uses) is run at several supports and confidence priors, twice: on a validation window (the
// `--weeks` weeks before the last `--weeks` weeks, trained on what precedes it) to choose a
// configuration, then on the test window (the last `--weeks` weeks). The choice is made on
// validation only, so the test figures are not tuned on. Prints hit rate@5, @10 (with hits and
// a 95% interval) and MRR@10 for the recommender and two baselines: global popularity and raw
// pair co-occurrence counts.
//
//   rules_eval [--weeks N] [--store DIR]   (DIR: an existing store to use instead of ingesting)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

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

int run(int weeks, const std::string& given_store) {
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
    std::string store;
    for (int idx = 1; idx + 1 < argc; idx += 2) {
        std::string flag = argv[idx];
        if (flag == "--weeks") {
            weeks = std::max(1, std::atoi(argv[idx + 1]));
        } else if (flag == "--store") {
            store = argv[idx + 1];
        }
    }
    return run(weeks, store);
}
