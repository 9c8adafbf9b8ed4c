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
#include "personal_glue.hpp"

namespace lookbook::cli {
namespace {

struct TrainArgs {
    std::string store;
    TrainSettings settings;
    bool tune = true;
    int validation_weeks = 8;
    bool two_tower = true;
    double two_tower_minutes = 5;
};

int fail(const Status& status) {
    std::cerr << "lookbook train: " << status.message() << "\n";
    return status.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
}

int run_train(const TrainArgs& args) {
    PersonalTrainOptions options;
    options.settings = args.settings;
    options.tune = args.tune;
    options.validation_weeks = args.validation_weeks;
    options.two_tower = args.two_tower;
    options.two_tower_minutes = args.two_tower_minutes;
    auto trained = train_personal(args.store, options);
    if (!trained.is_ok()) {
        return fail(trained.status());
    }
    if (!trained->two_tower_error.empty()) {
        std::cerr << "lookbook train: the two-tower model was not trained ("
                  << trained->two_tower_error << "); the blend uses the other sources.\n";
    }
    const TrainedModels& models = trained->models;
    std::cout << fmt::format("trained on {} transactions up to {}; peak memory {:.0f} MB\n",
                             trained->transactions,
                             format_iso_date(models.trained_until - 1),
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
    cmd->add_flag("!--no-two-tower", args->two_tower, "Do not train the two-tower model");
    cmd->add_option("--two-tower-minutes",
                    args->two_tower_minutes,
                    "Training time limit of each two-tower model")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    cmd->callback([args, selected] { *selected = [args] { return run_train(*args); }; });
}

}  // namespace lookbook::cli
