#include "command_hint.hpp"

#include <algorithm>
#include <string_view>
#include <vector>

namespace lookbook::cli {

namespace {

// Levenshtein distance, two rows.
size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> previous(b.size() + 1), current(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) {
        previous[j] = j;
    }
    for (size_t i = 1; i <= a.size(); ++i) {
        current[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t substitute = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitute});
        }
        std::swap(previous, current);
    }
    return previous[b.size()];
}

}  // namespace

std::optional<std::string> unknown_command_message(const CLI::App& app, int argc, char** argv) {
    std::string_view word;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        // The value of a global option (`--log-level warn`, `--candidate-ef 150`) is not a
        // command; flags (`--exact-scan`) take none.
        if (arg.starts_with("--") && arg.find('=') == std::string_view::npos) {
            const CLI::Option* option = app.get_option_no_throw(std::string(arg));
            if (option != nullptr && option->get_items_expected_min() > 0) {
                ++i;
                continue;
            }
        }
        if (!arg.starts_with("-")) {
            word = arg;
            break;
        }
    }
    if (word.empty()) {
        return std::nullopt;
    }
    const auto commands = app.get_subcommands([](const CLI::App*) { return true; });
    std::string closest;
    size_t best = 3;  // more than 2 edits away is no suggestion
    for (const CLI::App* command : commands) {
        const std::string& name = command->get_name();
        if (name == word) {
            return std::nullopt;
        }
        // A prefix ("recom") counts as one edit so it wins over unrelated near names.
        const size_t distance = name.starts_with(word) ? 1 : edit_distance(word, name);
        if (distance < best) {
            best = distance;
            closest = name;
        }
    }
    std::string message = "lookbook: \"" + std::string(word) + "\" is not a command.";
    if (!closest.empty()) {
        message += " Did you mean \"" + closest + "\"?";
    }
    return message + " `lookbook --help` lists the commands.";
}

}  // namespace lookbook::cli
