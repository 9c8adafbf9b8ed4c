// `lookbook index`: combines the store's embeddings and saves the similar-items index in it.
#include <iostream>
#include <limits>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "commands.hpp"
#include "lookbook/index/similar.hpp"
#include "similar_output.hpp"

namespace lookbook::cli {
namespace {

struct IndexArgs {
    std::string store;
    float image_weight = 0.5f;
    float text_weight = 0.5f;
    std::string approximate = "auto";
    size_t threshold = SimilarOptions{}.approximate_threshold;
};

int run_index(const IndexArgs& args) {
    SimilarOptions options;
    options.weights = {args.image_weight, args.text_weight};
    options.approximate_threshold = args.approximate == "always" ? 0
                                    : args.approximate == "never"
                                        ? std::numeric_limits<size_t>::max()
                                        : args.threshold;
    auto report = build_similar_index(args.store, options);
    if (!report.is_ok()) {
        std::cerr << "lookbook index: " << report.status().message() << "\n";
        return report.status().code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
    }
    std::cout << fmt::format(
        "Indexed {} of {} articles ({} dimensions, {} search) in {:.1f} s; generation {}\n",
        report->indexed,
        report->articles,
        report->dim,
        report->kind,
        report->seconds,
        report->generation);
    return kExitOk;
}

}  // namespace

void add_index_command(CLI::App& app, CommandRun* selected) {
    auto args = std::make_shared<IndexArgs>();
    CLI::App* cmd = app.add_subcommand(
        "index", "Combine the store's embeddings and save the similar-items index");
    cmd->add_option("store", args->store, "Store folder (after `lookbook embed`)")->required();
    add_weight_options(cmd, &args->image_weight, &args->text_weight);
    cmd->add_option(
           "--approximate", args->approximate, "HNSW: auto (by --threshold), always, never")
        ->capture_default_str()
        ->check(CLI::IsMember({"auto", "always", "never"}));
    cmd->add_option("--threshold", args->threshold, "Articles from which auto builds HNSW")
        ->capture_default_str();
    cmd->callback([args, selected] { *selected = [args] { return run_index(*args); }; });
}

}  // namespace lookbook::cli
