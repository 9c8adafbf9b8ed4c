// `lookbook index`: combines the store's embeddings and saves the similar-items index in it,
// updating the saved one in place when only some articles changed.
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
    bool rebuild = false;
};

int run_index(const IndexArgs& args) {
    SimilarOptions options;
    options.weights = {args.image_weight, args.text_weight};
    options.approximate_threshold = args.approximate == "always" ? 0
                                    : args.approximate == "never"
                                        ? std::numeric_limits<size_t>::max()
                                        : args.threshold;
    options.incremental = !args.rebuild;
    auto report = build_similar_index(args.store, options);
    if (!report.is_ok()) {
        std::cerr << "lookbook index: " << report.status().message() << "\n";
        return report.status().code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
    }
    if (report->mode == "unchanged") {
        std::cout << fmt::format(
            "The saved index is up to date ({} of {} articles, {} search); generation {}\n",
            report->indexed,
            report->articles,
            report->kind,
            report->generation);
        return kExitOk;
    }
    std::cout << fmt::format(
        "Indexed {} of {} articles ({} dimensions, {} search) in {:.1f} s; generation {}\n",
        report->indexed,
        report->articles,
        report->dim,
        report->kind,
        report->seconds,
        report->generation);
    if (report->mode == "incremental") {
        std::cout << fmt::format("Updated the saved index: {} added, {} changed, {} removed\n",
                                 report->added,
                                 report->updated,
                                 report->removed);
    } else {
        std::cout << fmt::format("Built from scratch: {}\n", report->rebuild_reason);
    }
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
    cmd->add_flag("--rebuild",
                  args->rebuild,
                  "Build from scratch even when the saved index could be updated in place");
    cmd->callback([args, selected] { *selected = [args] { return run_index(*args); }; });
}

}  // namespace lookbook::cli
