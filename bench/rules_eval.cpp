// Offline evaluation of "complete the look" on the H&M sample: the sample is ingested into a
// temporary store and the protocol of rules/bought_together_eval.hpp (the one `lookbook report`
// uses) is run at several supports and confidence priors. Prints hit rate@5, @10 and MRR@10 for
// the recommender and two baselines: global popularity and raw pair co-occurrence counts.
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

void print_rates(const char* title, const lookbook::rules::HitRates& rates) {
    std::printf("%s: hit@5 %.4f hit@10 %.4f MRR@10 %.4f (%zu)",
                title,
                rates.hit_at_5,
                rates.hit_at_k,
                rates.mrr,
                rates.cases);
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

    // Every support with every prior: the grid the default prior was chosen on.
    lookbook::rules::BoughtTogetherEvalOptions options;
    options.test_weeks = weeks;
    options.k = 10;
    options.min_supports = {1, 2, 3};
    options.confidence_priors = {0.0, 2.0, 5.0, 20.0};
    auto evaluation = lookbook::rules::evaluate_bought_together(**store, options);
    if (!evaluation.is_ok()) {
        std::fprintf(stderr, "%s\n", evaluation.status().to_string().c_str());
        return 1;
    }
    std::printf(
        "H&M sample: %zu training baskets (customer, day) up to %s, %zu test baskets from %s, "
        "%zu with two or more articles (one hidden each)\n",
        evaluation->train_baskets,
        evaluation->train_end.c_str(),
        evaluation->test_baskets,
        evaluation->test_start.c_str(),
        evaluation->cases);
    for (const auto& score : evaluation->scores) {
        std::printf("  %-44s ", score.label.c_str());
        print_rates("all", score.all);
        std::printf(" | ");
        print_rates("not a variant", score.not_variant);
        std::printf("\n");
        if (score.kind == "recommender") {
            std::printf(
                "    %zu article rules, %zu product-code rules; %.1f%% of suggestions from article "
                "rules; coverage %.4f, mean popularity rank %.1f, type diversity %.3f\n",
                score.article_rules,
                score.product_code_rules,
                100.0 * score.article_rule_share,
                score.catalog_coverage,
                score.popularity_rank_mean,
                score.diversity_product_type);
        }
    }
    std::printf("evaluated in %.1f s\n", evaluation->seconds);
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
