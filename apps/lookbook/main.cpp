// lookbook: the command-line entry point. Parses the command line, sets up logging and runs the
// chosen subcommand; all work happens in the libraries.
#include <exception>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "command_hint.hpp"
#include "commands.hpp"
#include "lookbook/util/log.hpp"
#include "lookbook/util/row_graph.hpp"

int main(int argc, char** argv) {
    CLI::App app{
        "lookbook: fashion recommendations from a retailer's catalog, customers and sales"};
    app.require_subcommand(1);
    std::string level_text = "info";
    app.add_option("--log-level", level_text, "trace, debug, info, warn, error or off")
        ->capture_default_str();
    app.set_version_flag("--version", "lookbook 0.1.0");
    // Before the command: `lookbook --exact-scan serve STORE`.
    bool exact_scan = false;
    app.add_flag(
        "--exact-scan",
        exact_scan,
        "Recommendations: score every article in the ALS, profile and two-tower sources "
        "instead of searching their HNSW graphs (exact; slower per request on large catalogs, "
        "but no graphs to build; `recommend` does this unless --candidate-ef is given)");
    size_t candidate_ef = lookbook::RowGraphParams{}.ef_search;
    app.add_option("--candidate-ef",
                   candidate_ef,
                   "Recommendations: candidate list of the HNSW graph searches (recall against "
                   "CPU time; at least the candidates a source is asked for). Given to "
                   "`recommend`, it also makes it build the graphs instead of scanning")
        ->capture_default_str()
        ->check(CLI::Range(size_t{1}, size_t{100'000}));

    lookbook::cli::CommandRun selected;
    lookbook::cli::add_ingest_command(app, &selected);
    lookbook::cli::add_info_command(app, &selected);
#if LOOKBOOK_WITH_TORCH
    lookbook::cli::add_encode_command(app, &selected);
    lookbook::cli::add_embed_command(app, &selected);
    lookbook::cli::add_train_encoder_command(app, &selected);
    lookbook::cli::add_search_command(app, &selected);
#endif
    lookbook::cli::add_mine_command(app, &selected);
    lookbook::cli::add_bought_together_command(app, &selected);
    lookbook::cli::add_report_command(app, &selected);
    lookbook::cli::add_build_command(app, &selected);
    lookbook::cli::add_serve_command(app, &selected);
    lookbook::cli::add_train_command(app, &selected);
    lookbook::cli::add_recommend_command(app, &selected);
    lookbook::cli::add_evaluate_command(app, &selected);
    lookbook::cli::add_index_command(app, &selected);
    lookbook::cli::add_similar_command(app, &selected);

    // CLI11 answers a mistyped command with "A subcommand is required"; name it and the closest.
    if (auto unknown = lookbook::cli::unknown_command_message(app, argc, argv)) {
        std::cerr << *unknown << "\n";
        return lookbook::cli::kExitUsage;
    }
    if (auto misplaced = lookbook::cli::misplaced_option_message(app, argc, argv)) {
        std::cerr << *misplaced << "\n";
        return lookbook::cli::kExitUsage;
    }

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // CLI11 prints the message (or the help text); every usage error exits with 2.
        return app.exit(e) == 0 ? lookbook::cli::kExitOk : lookbook::cli::kExitUsage;
    }

    lookbook::log::Level level;
    if (!lookbook::log::parse_level(level_text, &level)) {
        std::cerr << "lookbook: --log-level is \"" << level_text
                  << "\"; expected trace, debug, info, warn, error or off.\n";
        return lookbook::cli::kExitUsage;
    }
    lookbook::log::init_logging(level);
    // One customer's recommendations need one search per source: building the HNSW graphs
    // for it (about a second on the H&M store) costs far more than scanning every article
    // once, so `recommend` scans unless a candidate list is asked for.
    bool one_query = app.got_subcommand("recommend") && app.count("--candidate-ef") == 0;
    if (one_query && !exact_scan) {
        lookbook::log::debug(
            "recommend: exact candidate scans (no graphs to build for one customer)");
    }
    lookbook::RowSearch::set_approximate(!exact_scan && !one_query);
    lookbook::RowGraphParams graph_params = lookbook::RowSearch::graph_params();
    graph_params.ef_search = candidate_ef;
    lookbook::RowSearch::set_graph_params(graph_params);

    try {
        return selected ? selected() : lookbook::cli::kExitUsage;
    } catch (const std::exception& e) {
        std::cerr << "lookbook: " << e.what() << "\n";
        return lookbook::cli::kExitFailure;
    }
}
