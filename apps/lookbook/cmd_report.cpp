// `lookbook report`: the evaluation report of a store, as report.html and metrics.json.
#include <iostream>
#include <memory>
#include <string>

#include "commands.hpp"
#include "lookbook/report/report.hpp"
#include "lookbook/store/store.hpp"
#include "personal_glue.hpp"

namespace lookbook::cli {
namespace {

struct ReportArgs {
    std::string store;
    std::string out;
    std::string evaluation_file;
    int weeks = 4;
    bool no_bought_together = false;
};

int fail(const std::string& message, int code = kExitFailure) {
    std::cerr << "lookbook report: " << message << "\n";
    return code;
}

// Where the personal recommenders' evaluation comes from when no --evaluation file is given.
// The evaluation `lookbook build` saved (two-tower included), or a fresh one without the
// two-tower model when the store changed since.
report::PersonalEvaluator personal_evaluator() {
    return [](const Store& store) { return personal_evaluation_for_report(store); };
}

int run_report(const ReportArgs& args) {
    report::ReportOptions options;
    options.out_dir = args.out;
    options.evaluate_bought_together = !args.no_bought_together;
    options.bought_together.test_weeks = args.weeks;
    options.evaluate_personal = personal_evaluator();
    if (!args.evaluation_file.empty()) {
        auto evaluation = report::read_personal_evaluation(args.evaluation_file);
        if (!evaluation.is_ok()) {
            return fail(evaluation.status().message());
        }
        options.personal_evaluation = std::move(evaluation).value();
        options.personal_evaluation["source"] = "read from " + args.evaluation_file;
    }
    auto store = Store::open(args.store);
    if (!store.is_ok()) {
        return fail(store.status().message());
    }
    auto files = report::write_report(**store, options);
    if (!files.is_ok()) {
        return fail(files.status().message());
    }
    std::cout << "report:  " << files->html.string() << "\nmetrics: " << files->metrics.string()
              << "\n";
    return kExitOk;
}

}  // namespace

void add_report_command(CLI::App& app, CommandRun* selected) {
    auto args = std::make_shared<ReportArgs>();
    CLI::App* cmd = app.add_subcommand(
        "report", "Write an evaluation report (report.html with charts, metrics.json)");
    cmd->add_option("store", args->store, "Store folder")->required();
    cmd->add_option("--out", args->out, "Folder for report.html and metrics.json")->required();
    cmd->add_option("--evaluation",
                    args->evaluation_file,
                    "JSON file from `lookbook evaluate STORE --json` (personal recommenders)");
    cmd->add_option("--weeks", args->weeks, "Test weeks of the bought-together evaluation")
        ->capture_default_str()
        ->check(CLI::Range(1, 52));
    cmd->add_flag("--no-bought-together",
                  args->no_bought_together,
                  "Skip the bought-together evaluation (retrains the rules on the older weeks)");
    cmd->callback([args, selected] { *selected = [args] { return run_report(*args); }; });
}

}  // namespace lookbook::cli
