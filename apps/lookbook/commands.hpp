#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace lookbook::cli {

// What a subcommand runs once its options are parsed; returns the process exit code.
using CommandRun = std::function<int()>;

// Each add_*_command registers one subcommand on `app` and, when it is chosen, stores its run
// function in `*selected`. Defined in the matching cmd_*.cpp file.
void add_encode_command(CLI::App& app, CommandRun* selected);
void add_embed_command(CLI::App& app, CommandRun* selected);
void add_train_encoder_command(CLI::App& app, CommandRun* selected);
void add_search_command(CLI::App& app, CommandRun* selected);

void add_ingest_command(CLI::App& app, CommandRun* selected);
void add_info_command(CLI::App& app, CommandRun* selected);
void add_mine_command(CLI::App& app, CommandRun* selected);
void add_bought_together_command(CLI::App& app, CommandRun* selected);
void add_report_command(CLI::App& app, CommandRun* selected);
void add_build_command(CLI::App& app, CommandRun* selected);
void add_serve_command(CLI::App& app, CommandRun* selected);

void add_train_command(CLI::App& app, CommandRun* selected);
void add_recommend_command(CLI::App& app, CommandRun* selected);
void add_evaluate_command(CLI::App& app, CommandRun* selected);
void add_index_command(CLI::App& app, CommandRun* selected);
void add_similar_command(CLI::App& app, CommandRun* selected);

// Exit codes shared by every subcommand.
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;  // the command ran and failed (bad data, I/O error)
constexpr int kExitUsage = 2;    // bad command line

}  // namespace lookbook::cli
