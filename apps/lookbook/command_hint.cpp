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

// Whether `arg` names an option of `app` that takes a value in the next argument.
bool takes_next_value(const CLI::App& app, std::string_view arg) {
    if (!arg.starts_with("--") || arg.find('=') != std::string_view::npos) {
        return false;
    }
    const CLI::Option* option = app.get_option_no_throw(std::string(arg));
    return option != nullptr && option->get_items_expected_min() > 0;
}

// The index in argv of the first word that is not an option or a global option's value (the
// command, normally), or argc when there is none.
int command_index(const CLI::App& app, int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        // The value of a global option (`--log-level warn`, `--candidate-ef 150`) is not a
        // command; flags (`--exact-scan`) take none.
        if (takes_next_value(app, arg)) {
            ++i;
            continue;
        }
        if (!arg.starts_with("-")) {
            return i;
        }
    }
    return argc;
}

}  // namespace

std::optional<std::string> misplaced_option_message(const CLI::App& app, int argc, char** argv) {
    const int at = command_index(app, argc, argv);
    if (at >= argc) {
        return std::nullopt;
    }
    const CLI::App* command = nullptr;
    try {
        command = app.get_subcommand(std::string(argv[at]));
    } catch (const CLI::OptionNotFound&) {
        return std::nullopt;
    }
    for (int i = at + 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        const std::string name(arg.substr(0, arg.find('=')));
        if (!name.starts_with("--") || app.get_option_no_throw(name) == nullptr ||
            command->get_option_no_throw(name) != nullptr) {
            continue;
        }
        std::string moved(arg);
        if (takes_next_value(app, arg) && i + 1 < argc) {
            moved += " " + std::string(argv[i + 1]);
        }
        return "lookbook: " + name + " is an option of lookbook itself, not of `" +
               command->get_name() + "`: put it before the command, as in `lookbook " + moved +
               " " + command->get_name() + " ...`.";
    }
    return std::nullopt;
}

std::optional<std::string> unknown_command_message(const CLI::App& app, int argc, char** argv) {
    const int at = command_index(app, argc, argv);
    if (at >= argc) {
        return std::nullopt;
    }
    const std::string_view word = argv[at];
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
