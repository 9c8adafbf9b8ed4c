// `lookbook train`: trains the personal-recommendation models (ALS, item-to-item, trending),
// tunes the blend weights on the last week and saves everything in the store.
#include <iostream>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "commands.hpp"
#include "lookbook/recommend/evaluate.hpp"
#include "lookbook/recommend/models.hpp"
#include "lookbook/recommend/sources.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/util/date.hpp"
#include "lookbook/util/file.hpp"

namespace lookbook::cli {
namespace {

struct TrainArgs {
    std::string store;
    TrainSettings settings;
    bool tune = true;
    int validation_weeks = 8;
};

int fail(const Status& status) {
    std::cerr << "lookbook train: " << status.message() << "\n";
    return status.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
}

int run_train(const TrainArgs& args) {
    auto store = Store::open(args.store);
    if (!store.is_ok()) {
        return fail(store.status());
    }
    const TransactionTable& rows = (*store)->transactions();
    if (rows.size() == 0) {
        return fail(Status::invalid_data(
            "the store has no transactions to train on; ingest a transactions file first."));
    }
    int32_t last_day = *std::max_element(rows.date().begin(), rows.date().end());

    // The weights come from the last weeks, with models that have not seen them.
    int32_t validation_start = last_day + 1 - 7 * args.validation_weeks;
    EvaluateOptions evaluate_options;
    evaluate_options.train = args.settings;
    TuningResult tuning;
    tuning.weights = default_blend_weights();
    if (args.tune) {
        std::shared_ptr<const ContentVectors> vectors;
        if (auto loaded = load_content_vectors(**store); loaded.is_ok()) {
            vectors = std::move(loaded).value();
        }
        tuning = tune_blend_weights(
            **store, validation_start, last_day + 1, evaluate_options, std::move(vectors));
    }
    TrainedModels models =
        train_models(interaction_log_from_store(**store), last_day + 1, args.settings);
    models.weights = tuning.weights;
    models.tuning = {{"validation_start", format_iso_date(validation_start)},
                     {"validation_customers", tuning.validation_customers},
                     {"validation_map_at_12", tuning.validation_map},
                     {"steps", tuning.log}};
    Status saved = save_models(args.store, models, (*store)->generation());
    if (!saved.is_ok()) {
        return fail(saved);
    }
    std::cout << fmt::format("trained on {} transactions up to {}; peak memory {:.0f} MB\n",
                             rows.size(),
                             format_iso_date(last_day),
                             peak_rss_bytes() / 1e6);
    for (const auto& [name, cost] : models.costs) {
        std::cout << fmt::format("  {:<10} {:.2f} s\n", name, cost.first);
    }
    std::cout << "blend weights:";
    for (const auto& [name, weight] : models.weights) {
        std::cout << fmt::format(" {}={}", name, weight);
    }
    std::cout << "\n";
    return kExitOk;
}

}  // namespace

void add_train_command(CLI::App& app, CommandRun* selected) {
    auto args = std::make_shared<TrainArgs>();
    CLI::App* cmd = app.add_subcommand(
        "train", "Train the personal-recommendation models and save them in the store");
    cmd->add_option("store", args->store, "Store folder")->required();
    cmd->add_option("--factors", args->settings.als.factors, "ALS factors")
        ->check(CLI::Range(1, 1024))
        ->capture_default_str();
    cmd->add_option("--iterations", args->settings.als.iterations, "ALS iterations")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    cmd->add_option("--regularization", args->settings.als.regularization, "ALS regularisation")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd->add_option("--alpha", args->settings.als.alpha, "ALS confidence 1 + alpha * count")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd->add_option("--validation-weeks",
                    args->validation_weeks,
                    "Tune the blend weights on the last N weeks (models trained without them)")
        ->check(CLI::Range(1, 520))
        ->capture_default_str();
    cmd->add_flag("!--no-tune", args->tune, "Keep the default blend weights (no validation)");
    cmd->callback([args, selected] { *selected = [args] { return run_train(*args); }; });
}

}  // namespace lookbook::cli
