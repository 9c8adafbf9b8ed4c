#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "lookbook/report/data_profile.hpp"

namespace lookbook::report {

// Everything the report shows, gathered by write_report (report.hpp); kept apart from the
// store so the page can be rendered and tested from hand-made figures.
struct ReportData {
    std::string store_dir;
    std::string generated_at;  // "2026-12-04 19:30 UTC"
    DataProfile profile;
    // rules::to_json(BoughtTogetherEvaluation), or null with the reason in bought_together_note.
    nlohmann::json bought_together;
    std::string bought_together_note;
    // The personal-recommendation evaluation (the `lookbook evaluate --json` shape), or null
    // with the reason in personal_note; then every personal recommender shows "not built".
    nlohmann::json personal;
    std::string personal_note;
    // How the inputs were made, beyond the evaluations' own settings: the rules saved in the
    // store, the ingest metadata. Flattened into the settings table.
    nlohmann::json settings;
    double seconds = 0;  // time to gather the figures, for the footer
};

// Recommenders the personal section lists as "not built" when no evaluation was given.
extern const char* const kExpectedPersonalRecommenders[6];

// The self-contained page: inline CSS and SVG, no script, no external resource.
std::string render_report_html(const ReportData& data);

// Every figure of the page for metrics.json: the data profile, the bought-together evaluation
// and the personal evaluation exactly as given.
nlohmann::json report_metrics(const ReportData& data);

// A figure as the tables print it: NaN or a missing value as "–"; shares below 1 with four
// decimals ("0.0123"), larger values with one ("341.5"), whole counts with thousands separators.
std::string format_figure(const nlohmann::json& value);

}  // namespace lookbook::report
