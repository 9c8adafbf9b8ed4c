#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

namespace lookbook::cli {

// When the first word of the command line that is not an option (or --log-level's value) names
// no subcommand of `app`, the message to print instead of CLI11's "A subcommand is required":
// the word, the closest command by edit distance when it is within 2 edits (or a prefix), and
// where the list is. nullopt when the command line has a known command or none at all.
std::optional<std::string> unknown_command_message(const CLI::App& app, int argc, char** argv);

// When an option of lookbook itself (--log-level, --exact-scan, --candidate-ef, ...) comes after
// the command, which CLI11 answers with "The following arguments were not expected", the
// message saying to put it before the command, with the corrected order. nullopt otherwise
// (also when the command has an option of that name).
std::optional<std::string> misplaced_option_message(const CLI::App& app, int argc, char** argv);

}  // namespace lookbook::cli
