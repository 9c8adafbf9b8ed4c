#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "lookbook/rules/bought_together_eval.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/util/status.hpp"

// `lookbook report`: measures what can be measured on a store and writes report.html (one
// self-contained page, inline CSS and SVG) and metrics.json (every figure) into a folder.
namespace lookbook::report {

// Computes the personal-recommendation evaluation of a store, in the shape `lookbook evaluate
// --json` prints (protocol, recommenders, settings). Connected by the application once the
// recommenders exist; an empty function means "not available".
using PersonalEvaluator = std::function<Result<nlohmann::json>(const Store&)>;

struct ReportOptions {
    std::filesystem::path out_dir;  // created when missing; report.html and metrics.json go here
    bool evaluate_bought_together = true;
    rules::BoughtTogetherEvalOptions bought_together;
    // The personal evaluation as given (read from a file); null when none was given.
    nlohmann::json personal_evaluation;
    // Used when personal_evaluation is null; when both are missing every personal recommender
    // shows "not built".
    PersonalEvaluator evaluate_personal;
};

struct ReportFiles {
    std::filesystem::path html;
    std::filesystem::path metrics;
    double seconds = 0;
};

// Checks that `evaluation` has the `lookbook evaluate --json` shape the report reads: an object
// with a "recommenders" array of objects, each with a string "name" and numbers (or null) for
// the metrics it has, "segments" an object of objects, "protocol" and "settings" objects when
// present. kInvalidData naming `source` (a file name), the field and what was found.
Status check_personal_evaluation(const nlohmann::json& evaluation, std::string_view source);

// Reads and checks a personal evaluation file. kNotFound when it cannot be read; kInvalidData
// when it is not JSON (with the parser's position) or not in the expected shape.
Result<nlohmann::json> read_personal_evaluation(const std::filesystem::path& path);

// Profiles the store, evaluates bought-together (when enabled), takes or computes the personal
// evaluation and writes both files. An evaluation that fails (too few weeks, an evaluator
// error) is logged and shown in the report as the reason it is missing, not returned: the rest
// of the report is still worth having. Fails with kInvalidData when personal_evaluation is not
// in the expected shape, and kIOError when the folder or a file cannot be written.
Result<ReportFiles> write_report(const Store& store, const ReportOptions& options);

}  // namespace lookbook::report
