#include "lookbook/report/report.hpp"

#include <chrono>
#include <ctime>
#include <system_error>

#include <fmt/format.h>

#include "lookbook/report/data_profile.hpp"
#include "lookbook/report/html_report.hpp"
#include "lookbook/rules/store_rules.hpp"
#include "lookbook/util/file.hpp"
#include "lookbook/util/log.hpp"

namespace lookbook::report {
namespace {

// The metric keys whose values the report prints as numbers.
constexpr const char* kMetricKeys[] = {"map_at_k",
                                       "recall_at_k",
                                       "ndcg_at_k",
                                       "hit_rate_at_k",
                                       "mrr",
                                       "catalog_coverage",
                                       "popularity_rank_mean",
                                       "diversity_product_type",
                                       "diversity_embedding",
                                       "customers"};

Status shape_error(std::string_view source, const std::string& field, const std::string& found) {
    return Status::invalid_data(fmt::format(
        "{}: {} is {}; expected the shape `lookbook evaluate --json` prints (see README, "
        "\"lookbook report\"). Regenerate the file or fix that field.",
        source,
        field,
        found));
}

std::string describe(const nlohmann::json& value) {
    std::string text = value.dump();
    return text.size() > 60 ? text.substr(0, 57) + "..." : text;
}

// Metric values of one recommender or segment: numbers or null.
Status check_metrics(const nlohmann::json& figures,
                     std::string_view source,
                     const std::string& path) {
    for (const char* key : kMetricKeys) {
        if (figures.contains(key) && !figures[key].is_number() && !figures[key].is_null()) {
            return shape_error(source, fmt::format("{}.{}", path, key), describe(figures[key]));
        }
    }
    return Status::ok();
}

Status check_string_fields(const nlohmann::json& object,
                           std::initializer_list<const char*> keys,
                           std::string_view source,
                           const std::string& path) {
    for (const char* key : keys) {
        if (object.contains(key) && !object[key].is_string()) {
            return shape_error(source, fmt::format("{}.{}", path, key), describe(object[key]));
        }
    }
    return Status::ok();
}

std::string utc_now() {
    std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm parts{};
    gmtime_r(&now, &parts);
    char text[32];
    std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M UTC", &parts);
    return text;
}

// How the store and its rules were made, from the metadata the writers kept.
nlohmann::json store_settings(const Store& store) {
    nlohmann::json settings;
    settings["store"]["dir"] = store.dir().string();
    settings["store"]["generation"] = store.generation();
    nlohmann::json ingest = nlohmann::json::parse(store.metadata(), nullptr, false);
    if (!ingest.is_discarded()) {
        settings["store"]["ingest"] = ingest;
    }
    if (store.has_file(rules::kRulesFileName)) {
        auto file = store.open_file(rules::kRulesFileName);
        if (file.is_ok()) {
            nlohmann::json mined = nlohmann::json::parse(file->metadata(), nullptr, false);
            if (!mined.is_discarded()) {
                settings["rules_in_store"] = mined;
            }
        }
    } else {
        settings["rules_in_store"] = "none: run `lookbook mine STORE` to serve bought-together";
    }
    return settings;
}

}  // namespace

Status check_personal_evaluation(const nlohmann::json& evaluation, std::string_view source) {
    if (!evaluation.is_object()) {
        return shape_error(source, "the document", describe(evaluation));
    }
    // `lookbook evaluate --json` prints {"error": ...} when it could not evaluate.
    if (!evaluation.contains("recommenders") && evaluation.contains("error") &&
        evaluation["error"].is_string()) {
        return Status::invalid_data(
            fmt::format("{}: the evaluation failed: {}; fix that and run `lookbook evaluate` again",
                        source,
                        evaluation["error"].get<std::string>()));
    }
    if (!evaluation.contains("recommenders") || !evaluation["recommenders"].is_array()) {
        return shape_error(source,
                           "\"recommenders\"",
                           evaluation.contains("recommenders")
                               ? describe(evaluation["recommenders"])
                               : std::string("missing"));
    }
    for (const char* key : {"protocol", "settings"}) {
        if (evaluation.contains(key) && !evaluation[key].is_object()) {
            return shape_error(source, fmt::format("\"{}\"", key), describe(evaluation[key]));
        }
    }
    if (evaluation.contains("protocol")) {
        const nlohmann::json& protocol = evaluation["protocol"];
        LOOKBOOK_RETURN_IF_ERROR(check_string_fields(
            protocol, {"train_end", "test_start", "test_end", "description"}, source, "protocol"));
        if (protocol.contains("k") &&
            (!protocol["k"].is_number_integer() || protocol["k"].get<int64_t>() < 1)) {
            return shape_error(source, "protocol.k", describe(protocol["k"]));
        }
    }
    const nlohmann::json& recommenders = evaluation["recommenders"];
    for (size_t idx = 0; idx < recommenders.size(); ++idx) {
        const nlohmann::json& entry = recommenders[idx];
        std::string path = fmt::format("recommenders[{}]", idx);
        if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string()) {
            return shape_error(
                source, path, describe(entry) + " (each recommender needs a string \"name\")");
        }
        LOOKBOOK_RETURN_IF_ERROR(
            check_string_fields(entry, {"kind", "label", "status"}, source, path));
        LOOKBOOK_RETURN_IF_ERROR(check_metrics(entry, source, path));
        if (!entry.contains("segments")) {
            continue;
        }
        if (!entry["segments"].is_object()) {
            return shape_error(source, path + ".segments", describe(entry["segments"]));
        }
        for (const auto& [segment, figures] : entry["segments"].items()) {
            std::string segment_path = fmt::format("{}.segments.{}", path, segment);
            if (!figures.is_object()) {
                return shape_error(source, segment_path, describe(figures));
            }
            LOOKBOOK_RETURN_IF_ERROR(check_metrics(figures, source, segment_path));
        }
    }
    return Status::ok();
}

Result<nlohmann::json> read_personal_evaluation(const std::filesystem::path& path) {
    auto text = read_file(path);
    if (!text.is_ok()) {
        return Status::not_found(fmt::format(
            "{}: cannot read the evaluation file ({}); pass the output of `lookbook evaluate "
            "STORE --json` saved to a file",
            path.string(),
            text.status().message()));
    }
    nlohmann::json evaluation;
    try {
        evaluation = nlohmann::json::parse(*text);
    } catch (const nlohmann::json::parse_error& e) {
        return Status::invalid_data(
            fmt::format("{}: not JSON (byte {}: {}); pass the output of `lookbook evaluate STORE "
                        "--json`",
                        path.string(),
                        e.byte,
                        e.what()));
    }
    LOOKBOOK_RETURN_IF_ERROR(check_personal_evaluation(evaluation, path.string()));
    return evaluation;
}

Result<ReportFiles> write_report(const Store& store, const ReportOptions& options) {
    auto start = std::chrono::steady_clock::now();
    // A bad evaluation given by the caller fails before any work is done.
    if (!options.personal_evaluation.is_null()) {
        LOOKBOOK_RETURN_IF_ERROR(
            check_personal_evaluation(options.personal_evaluation, "the given evaluation"));
    }
    ReportData data;
    data.store_dir = store.dir().string();
    data.generated_at = utc_now();
    data.profile = profile_store(store);
    data.settings = store_settings(store);
    log::info("report: profiled {} transactions of {} customers",
              data.profile.summary.transactions,
              data.profile.summary.customers);

    // Bought together: a failure is a finding of the report, not a reason to stop it.
    if (options.evaluate_bought_together) {
        auto evaluation = rules::evaluate_bought_together(store, options.bought_together);
        if (evaluation.is_ok()) {
            data.bought_together = rules::to_json(*evaluation);
        } else {
            data.bought_together_note = evaluation.status().message();
            log::warn("report: bought-together not evaluated: {}", data.bought_together_note);
        }
    } else {
        data.bought_together_note = "skipped on request (--no-bought-together)";
    }

    // Personal recommenders: given, computed by the hook, or "not built".
    if (!options.personal_evaluation.is_null()) {
        data.personal = options.personal_evaluation;
    } else if (options.evaluate_personal) {
        auto evaluation = options.evaluate_personal(store);
        Status status = evaluation.is_ok()
                            ? check_personal_evaluation(*evaluation, "the evaluator's output")
                            : evaluation.status();
        if (status.is_ok()) {
            data.personal = std::move(evaluation).value();
        } else {
            data.personal_note = status.message();
            log::warn("report: personal recommenders not evaluated: {}", data.personal_note);
        }
    } else {
        data.personal_note =
            "this build has no personal recommenders to evaluate; pass --evaluation FILE with "
            "the output of `lookbook evaluate STORE --json`";
    }
    data.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    // Write both files.
    std::error_code ec;
    std::filesystem::create_directories(options.out_dir, ec);
    if (ec) {
        return Status::io_error(
            fmt::format("{}: cannot create the report folder ({}); choose "
                        "another --out",
                        options.out_dir.string(),
                        ec.message()));
    }
    ReportFiles files;
    files.html = options.out_dir / "report.html";
    files.metrics = options.out_dir / "metrics.json";
    LOOKBOOK_RETURN_IF_ERROR(write_file_synced(files.html, render_report_html(data)));
    LOOKBOOK_RETURN_IF_ERROR(write_file_synced(
        files.metrics,
        report_metrics(data).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"));
    files.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    log::info("report: wrote {} and {} in {:.1f} s",
              files.html.string(),
              files.metrics.string(),
              files.seconds);
    return files;
}

}  // namespace lookbook::report
