// `lookbook evaluate`: offline evaluation of every personal recommender (each source, the
// blend, two baselines) on the store's last weeks.
#include <iostream>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "lookbook/recommend/evaluate.hpp"
#include "lookbook/store/store.hpp"
#include "personal_glue.hpp"

namespace lookbook::cli {
namespace {

struct EvaluateArgs {
    std::string store;
    EvaluateOptions options;
    bool json = false;
    bool two_tower = true;
    double two_tower_minutes = 3;
};

int fail(const Status& status) {
    std::cerr << "lookbook evaluate: " << status.message() << "\n";
    return status.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
}

std::string figure(const nlohmann::json& value) {
    return value.is_null() ? "-" : fmt::format("{:.4f}", value.get<double>());
}

int run_evaluate(const EvaluateArgs& args) {
    auto store = Store::open(args.store);
    if (!store.is_ok()) {
        return fail(store.status());
    }
    EvaluateOptions options = args.options;
    if (args.two_tower) {
        add_two_tower(&options, args.two_tower_minutes);
    }
    auto result = try_evaluate_recommenders(**store, options);
    if (!result.is_ok()) {
        return fail(result.status());
    }
    const nlohmann::json& out = *result;
    if (args.json) {
        std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        return kExitOk;
    }
    const auto& p = out["protocol"];
    std::cout << fmt::format(
        "train up to {}, test {} to {} ({} weeks): {} customers, k = {}\n"
        "blend weights tuned on the weeks from {} ({} customers)\n\n",
        p["train_end"].get<std::string>(),
        p["test_start"].get<std::string>(),
        p["test_end"].get<std::string>(),
        p["test_weeks"].get<int>(),
        p["test_customers"].get<size_t>(),
        p["k"].get<size_t>(),
        p["validation_start"].get<std::string>(),
        p["validation_customers"].get<size_t>());
    std::cout << fmt::format("{:<22} {:<8} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>6} {:>6}\n",
                             "recommender",
                             "kind",
                             "MAP@k",
                             "recall",
                             "NDCG",
                             "hit",
                             "MRR",
                             "cover",
                             "pop.rank",
                             "div.pt",
                             "div.em");
    for (const auto& r : out["recommenders"]) {
        std::string name = r["name"].get<std::string>();
        std::string kind = r["kind"].get<std::string>();
        if (r.contains("status")) {
            std::cout << fmt::format(
                "{:<22} {:<8} {}\n", name, kind, r["status"].get<std::string>());
            continue;
        }
        std::cout << fmt::format(
            "{:<22} {:<8} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8.1f} {:>6.3f} {:>6}\n",
            name,
            kind,
            figure(r["map_at_k"]),
            figure(r["recall_at_k"]),
            figure(r["ndcg_at_k"]),
            figure(r["hit_rate_at_k"]),
            figure(r["mrr"]),
            figure(r["catalog_coverage"]),
            r["popularity_rank_mean"].get<double>(),
            r["diversity_product_type"].get<double>(),
            r["diversity_embedding"].is_null()
                ? std::string("-")
                : fmt::format("{:.3f}", r["diversity_embedding"].get<double>()));
    }
    // Segments of every recommender with figures, MAP@k only, to keep the table readable.
    std::cout << "\nMAP@k by segment (customers):\n";
    const auto& first = out["recommenders"][0]["segments"];
    std::cout << fmt::format("{:<22}", "recommender");
    for (const auto& [segment, values] : first.items()) {
        std::cout << fmt::format(" {:>11}",
                                 fmt::format("{}({})", segment, values["customers"].get<size_t>()));
    }
    std::cout << "\n";
    for (const auto& r : out["recommenders"]) {
        if (r.contains("status")) {
            continue;
        }
        std::cout << fmt::format("{:<22}", r["name"].get<std::string>());
        for (const auto& [segment, values] : r["segments"].items()) {
            std::cout << fmt::format(" {:>11}", figure(values["map_at_k"]));
        }
        std::cout << "\n";
    }
    std::cout << "\nblend weights:";
    for (const auto& [name, weight] : out["settings"]["blend_weights"].items()) {
        std::cout << fmt::format(" {}={}", name, weight.get<double>());
    }
    std::cout << "\n";
    return kExitOk;
}

}  // namespace

void add_evaluate_command(CLI::App& app, CommandRun* selected) {
    auto args = std::make_shared<EvaluateArgs>();
    CLI::App* cmd = app.add_subcommand(
        "evaluate", "Offline evaluation of the personal recommenders on the last weeks");
    cmd->add_option("store", args->store, "Store folder")->required();
    cmd->add_option("--weeks", args->options.test_weeks, "Test weeks at the end of the data")
        ->check(CLI::Range(1, 520))
        ->capture_default_str();
    cmd->add_option("-k", args->options.k, "Recommendations per customer")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    cmd->add_flag("--json", args->json, "Print the evaluation as JSON");
    cmd->add_flag("!--no-tune", args->options.tune, "Use the default blend weights");
    cmd->add_flag("!--no-two-tower",
                  args->two_tower,
                  "Leave the two-tower model out (it trains twice, once per cut)");
    cmd->add_option("--two-tower-minutes",
                    args->two_tower_minutes,
                    "Training time limit of each two-tower model")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    cmd->callback([args, selected] { *selected = [args] { return run_evaluate(*args); }; });
}

}  // namespace lookbook::cli
