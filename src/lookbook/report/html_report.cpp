#include "lookbook/report/html_report.hpp"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "lookbook/report/svg_chart.hpp"
#include "lookbook/util/date.hpp"

namespace lookbook::report {

const char* const kExpectedPersonalRecommenders[6] = {
    "blend", "als", "two_tower", "similar_items", "popularity_last_week", "repurchase_popularity"};

namespace {

// One stylesheet for the page; the charts carry their own presentation attributes so they also
// read when saved on their own.
constexpr const char* kStyle = R"css(
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 0 auto; max-width: 1120px;
       padding: 24px; color: #222; background: #fff; }
h1 { font-size: 26px; margin-bottom: 4px; }
h2 { font-size: 21px; border-bottom: 2px solid #1f6f8b; padding-bottom: 4px; margin-top: 36px; }
h3 { font-size: 16px; margin-top: 24px; }
p.meta, p.note { color: #555; font-size: 14px; }
p.not-built { color: #8a5a00; background: #fff6e0; padding: 8px 12px; border-radius: 4px; }
table { border-collapse: collapse; margin: 12px 0; font-size: 13px; }
th, td { border: 1px solid #d6d6d6; padding: 4px 8px; text-align: right; }
th { background: #eef4f7; }
td.name, th.name { text-align: left; }
tr.baseline td { color: #666; }
tr.status td.status { color: #8a5a00; text-align: left; }
div.chart-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(480px, 1fr));
                 gap: 8px 24px; }
figure.chart-figure { margin: 8px 0; }
figure.chart-figure svg { max-width: 100%; height: auto; }
dl.figures { display: grid; grid-template-columns: max-content auto; gap: 4px 16px; font-size: 14px; }
dl.figures dt { font-weight: bold; }
dl.figures dd { margin: 0; }
footer { margin-top: 40px; color: #777; font-size: 12px; }
)css";

std::string esc(std::string_view text) { return escape_xml(text); }

double number_or_nan(const nlohmann::json& value) {
    return value.is_number() ? value.get<double>() : std::nan("");
}

std::string figure_html(const std::string& svg) {
    return "<figure class=\"chart-figure\">\n" + svg + "</figure>\n";
}

std::string percent(double share) {
    return std::isfinite(share) ? fmt::format("{:.1f}%", 100 * share) : "–";
}

// A <tr> of cells; the first is a left-aligned name.
std::string row(const std::vector<std::string>& cells, std::string_view css_class = "") {
    std::string out = css_class.empty() ? "<tr>" : fmt::format("<tr class=\"{}\">", css_class);
    for (size_t idx = 0; idx < cells.size(); ++idx) {
        out += idx == 0 ? "<td class=\"name\">" : "<td>";
        out += cells[idx] + "</td>";
    }
    return out + "</tr>\n";
}

std::string header_row(const std::vector<std::string>& cells) {
    std::string out = "<tr>";
    for (size_t idx = 0; idx < cells.size(); ++idx) {
        out += idx == 0 ? "<th class=\"name\">" : "<th>";
        out += esc(cells[idx]) + "</th>";
    }
    return out + "</tr>\n";
}

// ---- data profile ----

std::string data_profile_section(const DataProfile& profile) {
    const StoreSummary& s = profile.summary;
    auto count = [](uint64_t n) { return format_tick(static_cast<double>(n), 1); };
    auto of = [&](uint64_t part, uint64_t whole) {
        return whole == 0
                   ? count(part)
                   : fmt::format("{} ({})",
                                 count(part),
                                 percent(static_cast<double>(part) / static_cast<double>(whole)));
    };
    std::string out =
        "<section id=\"data-profile\">\n<h2>Data profile</h2>\n<dl class=\"figures\">\n";
    auto item = [&](std::string_view name, const std::string& value) {
        out += fmt::format("<dt>{}</dt><dd>{}</dd>\n", esc(name), esc(value));
    };
    item("Articles", count(s.articles));
    item("with catalog metadata", of(s.catalog_articles, s.articles));
    item("with a photo", of(s.articles_with_image, s.articles));
    item("Sold articles with metadata", of(s.sold_articles_with_metadata, s.sold_articles));
    item("Sales of articles with a photo", of(s.rows_with_image, s.transactions));
    item("Customers", count(s.customers));
    item("buying in the period", of(s.buying_customers, s.customers));
    item("Transactions", count(s.transactions));
    item("Date range", s.first_date.empty() ? "–" : s.first_date + " to " + s.last_date);
    item("Baskets (customer, day)", count(profile.baskets));
    item("Mean basket size", fmt::format("{:.2f} articles", profile.mean_basket_size));
    item("Sales share of the top 1% of articles", percent(profile.top1_share));
    item("Sales share of the top 10% of articles", percent(profile.top10_share));
    item("Median customer age",
         profile.median_age > 0 ? fmt::format("{:.0f} years", profile.median_age) : "–");
    out += "</dl>\n<div class=\"chart-grid\">\n";

    // Weekly sales.
    LineChart weekly;
    weekly.text = {"Transactions per week", "week starting (date)", "transactions (rows)", ""};
    uint64_t peak = 0;
    size_t peak_week = 0;
    for (size_t week = 0; week < profile.weekly_transactions.size(); ++week) {
        weekly.x.push_back(profile.first_week_day + 7.0 * static_cast<double>(week));
        weekly.y.push_back(static_cast<double>(profile.weekly_transactions[week]));
        if (profile.weekly_transactions[week] > peak) {
            peak = profile.weekly_transactions[week];
            peak_week = week;
        }
    }
    weekly.text.reading =
        weekly.x.empty()
            ? "No transactions in the store."
            : fmt::format(
                  "{} weeks; the busiest, starting {}, had {} transactions.",
                  weekly.x.size(),
                  format_iso_date(profile.first_week_day + static_cast<int32_t>(7 * peak_week)),
                  count(peak));
    weekly.x_format = [](double day, double) {
        return format_iso_date(static_cast<int32_t>(std::lround(day)));
    };
    out += figure_html(render_line_chart(weekly));

    // Basket sizes.
    BarChart baskets;
    baskets.text = {"Basket sizes",
                    "distinct articles in a basket (customer, day)",
                    "baskets (count)",
                    profile.baskets == 0
                        ? "No baskets."
                        : fmt::format("{} baskets, {:.2f} articles each on average; {} hold a "
                                      "single article.",
                                      count(profile.baskets),
                                      profile.mean_basket_size,
                                      percent(static_cast<double>(profile.basket_sizes[0]) /
                                              static_cast<double>(profile.baskets)))};
    BarSeries sizes{"baskets", {}, false};
    for (size_t size = 0; size < profile.basket_sizes.size(); ++size) {
        baskets.categories.push_back(size + 1 == kBasketSizeCap ? fmt::format("{}+", size + 1)
                                                                : std::to_string(size + 1));
        sizes.values.push_back(static_cast<double>(profile.basket_sizes[size]));
    }
    baskets.series.push_back(sizes);
    out += figure_html(render_bar_chart(baskets));

    // Long tail.
    LineChart tail;
    tail.text = {"Long tail: cumulative share of sales",
                 "best-selling articles (% of sold articles)",
                 "share of transactions (%)",
                 profile.sales_curve.empty()
                     ? "No sales."
                     : fmt::format("The top 1% of articles make {} of sales, the top 10% make {}.",
                                   percent(profile.top1_share),
                                   percent(profile.top10_share))};
    for (size_t p = 0; p < profile.sales_curve.size(); ++p) {
        tail.x.push_back(static_cast<double>(p));
        tail.y.push_back(100 * profile.sales_curve[p]);
    }
    out += figure_html(render_line_chart(tail));

    // Ages.
    Histogram ages;
    uint64_t known = 0;
    for (uint64_t n : profile.age_bins) {
        known += n;
    }
    ages.text = {"Customer ages",
                 "age (years)",
                 "customers (count)",
                 known == 0 ? "No customer ages."
                            : fmt::format("{} customers with an age, median {:.0f} years; {} "
                                          "without one.",
                                          count(known),
                                          profile.median_age,
                                          count(profile.age_unknown))};
    for (size_t bin = 0; bin <= profile.age_bins.size() && !profile.age_bins.empty(); ++bin) {
        ages.edges.push_back(kAgeFirst + kAgeBin * static_cast<double>(bin));
    }
    for (uint64_t n : profile.age_bins) {
        ages.counts.push_back(static_cast<double>(n));
    }
    ages.last_open = true;
    out += figure_html(render_histogram(ages));

    // Product types.
    BarChart types;
    types.text = {"Best-selling product types",
                  "product type",
                  "transactions (rows)",
                  s.top_product_types.empty()
                      ? "No sales of catalog articles."
                      : fmt::format("{} leads with {} transactions.",
                                    s.top_product_types.front().first,
                                    count(s.top_product_types.front().second))};
    BarSeries type_rows{"transactions", {}, false};
    for (const auto& [type, rows] : s.top_product_types) {
        types.categories.push_back(type);
        type_rows.values.push_back(static_cast<double>(rows));
    }
    types.series.push_back(type_rows);
    out += figure_html(render_bar_chart(types));
    return out + "</div>\n</section>\n";
}

// ---- bought together ----

std::string bought_together_section(const nlohmann::json& evaluation, const std::string& note) {
    std::string out =
        "<section id=\"bought-together\">\n<h2>Bought together (complete the look)</h2>\n";
    if (evaluation.is_null() || !evaluation.contains("scores")) {
        return out + fmt::format("<p class=\"not-built\">Not evaluated: {}</p>\n</section>\n",
                                 esc(note.empty() ? "no evaluation was run" : note));
    }
    const nlohmann::json& protocol = evaluation["protocol"];
    size_t k = protocol.value("k", size_t{10});
    std::string hit_k = fmt::format("hit_rate_at_{}", k);
    out += fmt::format(
        "<p class=\"note\">Time split: trained on baskets up to {}, tested on {} to {} ({} "
        "weeks). {} of {} test baskets hold two or more articles; in each one article is hidden "
        "at random and {} suggestions are made for the rest. Hit rate@k: share of cases whose "
        "hidden article is in the first k; MRR: mean reciprocal rank within {}.</p>\n",
        esc(protocol.value("train_end", "")),
        esc(protocol.value("test_start", "")),
        esc(protocol.value("test_end", "")),
        protocol.value("test_weeks", 0),
        format_figure(protocol.value("cases", nlohmann::json())),
        format_figure(protocol.value("test_baskets", nlohmann::json())),
        k,
        k);

    BarChart chart;
    chart.categories = {"hit rate@5", fmt::format("hit rate@{}", k), fmt::format("MRR@{}", k)};
    std::string table = "<table>\n" + header_row({"recommender",
                                                  "hit rate@5",
                                                  fmt::format("hit rate@{}", k),
                                                  fmt::format("MRR@{}", k),
                                                  fmt::format("hit rate@{}, not a variant", k),
                                                  "catalog coverage",
                                                  "mean popularity rank",
                                                  "diversity (product type)",
                                                  "from article rules"});
    double best_recommender = std::nan("");
    double best_baseline = std::nan("");
    for (const nlohmann::json& score : evaluation["scores"]) {
        const nlohmann::json& all = score["all"];
        bool baseline = score.value("kind", "") == "baseline";
        chart.series.push_back(
            BarSeries{score.value("label", score.value("name", "?")),
                      {number_or_nan(all.value("hit_rate_at_5", nlohmann::json())),
                       number_or_nan(all.value(hit_k, nlohmann::json())),
                       number_or_nan(all.value("mrr", nlohmann::json()))},
                      baseline});
        double hit = number_or_nan(all.value(hit_k, nlohmann::json()));
        double& best = baseline ? best_baseline : best_recommender;
        best = std::isnan(best) ? hit : std::max(best, hit);
        table +=
            row({esc(score.value("label", score.value("name", "?"))),
                 format_figure(all.value("hit_rate_at_5", nlohmann::json())),
                 format_figure(all.value(hit_k, nlohmann::json())),
                 format_figure(all.value("mrr", nlohmann::json())),
                 format_figure(score["not_variant"].value(hit_k, nlohmann::json())),
                 percent(number_or_nan(score.value("catalog_coverage", nlohmann::json()))),
                 format_figure(score.value("popularity_rank_mean", nlohmann::json())),
                 format_figure(score.value("diversity_product_type", nlohmann::json())),
                 baseline
                     ? "–"
                     : percent(number_or_nan(score.value("article_rule_share", nlohmann::json())))},
                baseline ? "baseline" : "");
    }
    table += "</table>\n";
    chart.text = {"Bought together: finding the hidden article",
                  "metric",
                  "share of test cases (0 to 1)",
                  std::isfinite(best_recommender) && std::isfinite(best_baseline)
                      ? fmt::format("Complete the look finds the hidden article in {} of cases "
                                    "within {}; the best baseline in {} (grey bars: baselines).",
                                    percent(best_recommender),
                                    k,
                                    percent(best_baseline))
                      : "Grey bars are baselines."};
    out += "<div class=\"chart-grid\">\n" + figure_html(render_bar_chart(chart)) + "</div>\n";
    return out + table + "</section>\n";
}

// ---- personal recommenders ----

// The metric columns of the personal tables: json key and heading.
struct MetricColumn {
    const char* key;
    std::string heading;
};

std::vector<MetricColumn> personal_columns(size_t k) {
    return {{"map_at_k", fmt::format("MAP@{}", k)},
            {"recall_at_k", fmt::format("recall@{}", k)},
            {"ndcg_at_k", fmt::format("NDCG@{}", k)},
            {"hit_rate_at_k", fmt::format("hit rate@{}", k)},
            {"mrr", "MRR"}};
}

std::string not_built_section(const std::string& note) {
    std::string out = fmt::format(
        "<p class=\"not-built\">No personal-recommendation evaluation: {}</p>\n<table>\n{}",
        esc(note.empty() ? "none was given" : note),
        header_row({"recommender", "status"}));
    for (const char* name : kExpectedPersonalRecommenders) {
        out += fmt::format(
            "<tr class=\"status\"><td class=\"name\">{}</td><td class=\"status\">not "
            "built</td></tr>\n",
            esc(name));
    }
    return out + "</table>\n";
}

// Segments: MAP@k and hit rate per segment and recommender, as a chart and a table.
std::string segments_html(const std::vector<const nlohmann::json*>& measured, size_t k) {
    std::string out;
    std::vector<std::string> segments;
    for (const nlohmann::json* entry : measured) {
        if (entry->contains("segments") && (*entry)["segments"].is_object()) {
            for (const auto& [segment, figures] : (*entry)["segments"].items()) {
                if (std::find(segments.begin(), segments.end(), segment) == segments.end()) {
                    segments.push_back(segment);
                }
            }
        }
    }
    // New and returning first, then age bands, then club status; json objects come sorted by
    // name, which would put "age_..." before "new".
    auto segment_rank = [](const std::string& segment) {
        return segment == "new"                 ? 0
               : segment == "returning"         ? 1
               : segment.rfind("age_", 0) == 0  ? 2
               : segment.rfind("club_", 0) == 0 ? 3
                                                : 4;
    };
    std::stable_sort(
        segments.begin(), segments.end(), [&](const std::string& a, const std::string& b) {
            return segment_rank(a) < segment_rank(b);
        });
    out += "<h3>By customer segment</h3>\n";
    if (segments.empty()) {
        return out + "<p class=\"note\">The evaluation gave no segment breakdown.</p>\n";
    }
    BarChart by_segment;
    by_segment.categories = segments;
    std::vector<std::string> segment_headings = {"segment", "customers"};
    for (const nlohmann::json* entry : measured) {
        segment_headings.push_back(
            fmt::format("{}: MAP@{} / hit rate@{}", entry->value("name", "?"), k, k));
    }
    std::string segment_table = "<table>\n" + header_row(segment_headings);
    for (const nlohmann::json* entry : measured) {
        BarSeries series{entry->value("name", "?"), {}, entry->value("kind", "") == "baseline"};
        for (const std::string& segment : segments) {
            nlohmann::json figures = entry->value("segments", nlohmann::json::object())
                                         .value(segment, nlohmann::json::object());
            series.values.push_back(number_or_nan(figures.value("map_at_k", nlohmann::json())));
        }
        by_segment.series.push_back(std::move(series));
    }
    for (const std::string& segment : segments) {
        nlohmann::json customers;
        std::vector<std::string> cells = {esc(segment), ""};
        for (const nlohmann::json* entry : measured) {
            nlohmann::json figures = entry->value("segments", nlohmann::json::object())
                                         .value(segment, nlohmann::json::object());
            if (customers.is_null() && figures.contains("customers")) {
                customers = figures["customers"];
            }
            cells.push_back(
                fmt::format("{} / {}",
                            format_figure(figures.value("map_at_k", nlohmann::json())),
                            format_figure(figures.value("hit_rate_at_k", nlohmann::json()))));
        }
        cells[1] = format_figure(customers);
        segment_table += row(cells);
    }
    segment_table += "</table>\n";
    // The reading compares new and returning customers for the first recommender (the blend
    // when the evaluation lists it first, as `lookbook evaluate` does).
    nlohmann::json first_segments = measured.front()->value("segments", nlohmann::json::object());
    std::string reading = "Segments with few customers give noisy figures; see the table.";
    if (first_segments.contains("new") && first_segments.contains("returning")) {
        reading = fmt::format(
            "{}: MAP@{} {} for new customers against {} for returning ones.",
            measured.front()->value("name", "?"),
            k,
            format_figure(first_segments["new"].value("map_at_k", nlohmann::json())),
            format_figure(first_segments["returning"].value("map_at_k", nlohmann::json())));
    }
    by_segment.text = {fmt::format("MAP@{} by customer segment", k),
                       "segment (new = no purchase before the test weeks; age band; club status)",
                       fmt::format("MAP@{} (0 to 1)", k),
                       reading};
    out += "<div class=\"chart-grid\">\n" + figure_html(render_bar_chart(by_segment)) + "</div>\n";
    return out + segment_table;
}

std::string personal_section(const nlohmann::json& evaluation, const std::string& note) {
    std::string out = "<section id=\"personal\">\n<h2>Personal recommendations</h2>\n";
    if (evaluation.is_null() || !evaluation.contains("recommenders")) {
        return out + not_built_section(note) + "</section>\n";
    }
    nlohmann::json protocol = evaluation.value("protocol", nlohmann::json::object());
    size_t k = protocol.value("k", size_t{12});
    out += fmt::format(
        "<p class=\"note\">Time split: trained up to {}, tested on {} to {} ({} weeks, {} test "
        "customers). {}</p>\n",
        esc(protocol.value("train_end", "?")),
        esc(protocol.value("test_start", "?")),
        esc(protocol.value("test_end", "?")),
        format_figure(protocol.value("test_weeks", nlohmann::json())),
        format_figure(protocol.value("test_customers", nlohmann::json())),
        esc(protocol.value("description", "")));
    // Where the figures come from (the evaluation `build` saved, one made for this report, or a
    // file given): a reader cannot tell them apart otherwise (fresh-user trial).
    if (evaluation.contains("source") && evaluation["source"].is_string()) {
        out += fmt::format("<p class=\"note\">Figures: {}.</p>\n",
                           esc(evaluation["source"].get<std::string>()));
    }

    // Recommenders with figures, in the order given; the others list their status.
    std::vector<const nlohmann::json*> measured;
    for (const nlohmann::json& entry : evaluation["recommenders"]) {
        if (entry.contains("map_at_k")) {
            measured.push_back(&entry);
        }
    }
    std::vector<MetricColumn> columns = personal_columns(k);
    std::vector<std::string> headings = {"recommender", "kind"};
    for (const MetricColumn& column : columns) {
        headings.push_back(column.heading);
    }
    for (const char* extra : {"catalog coverage",
                              "mean popularity rank",
                              "diversity (product type)",
                              "diversity (embedding)"}) {
        headings.push_back(extra);
    }
    std::string table = "<table>\n" + header_row(headings);
    for (const nlohmann::json& entry : evaluation["recommenders"]) {
        std::string name = entry.value("label", entry.value("name", "?"));
        std::string kind = entry.value("kind", "");
        if (!entry.contains("map_at_k")) {
            table += fmt::format(
                "<tr class=\"status\"><td class=\"name\">{}</td><td>{}</td><td class=\"status\" "
                "colspan=\"{}\">{}</td></tr>\n",
                esc(name),
                esc(kind),
                headings.size() - 2,
                esc(entry.value("status", "not built")));
            continue;
        }
        std::vector<std::string> cells = {esc(name), esc(kind)};
        for (const MetricColumn& column : columns) {
            cells.push_back(format_figure(entry.value(column.key, nlohmann::json())));
        }
        cells.push_back(percent(number_or_nan(entry.value("catalog_coverage", nlohmann::json()))));
        cells.push_back(format_figure(entry.value("popularity_rank_mean", nlohmann::json())));
        cells.push_back(format_figure(entry.value("diversity_product_type", nlohmann::json())));
        cells.push_back(format_figure(entry.value("diversity_embedding", nlohmann::json())));
        table += row(cells, kind == "baseline" ? "baseline" : "");
    }
    table += "</table>\n";

    // Accuracy chart: one group per metric, one bar per measured recommender.
    BarChart accuracy;
    for (const MetricColumn& column : columns) {
        accuracy.categories.push_back(column.heading);
    }
    const nlohmann::json* blend = nullptr;
    const nlohmann::json* best_baseline = nullptr;
    for (const nlohmann::json* entry : measured) {
        BarSeries series{entry->value("name", "?"), {}, entry->value("kind", "") == "baseline"};
        for (const MetricColumn& column : columns) {
            series.values.push_back(number_or_nan(entry->value(column.key, nlohmann::json())));
        }
        accuracy.series.push_back(std::move(series));
        if (entry->value("kind", "") == "blend") {
            blend = entry;
        }
        if (entry->value("kind", "") == "baseline" &&
            (best_baseline == nullptr ||
             number_or_nan(entry->value("map_at_k", nlohmann::json())) >
                 number_or_nan(best_baseline->value("map_at_k", nlohmann::json())))) {
            best_baseline = entry;
        }
    }
    std::string reading = "Grey bars are baselines.";
    if (blend != nullptr && best_baseline != nullptr) {
        reading = fmt::format(
            "The blend reaches MAP@{} {} against {} for the best baseline ({}); "
            "grey bars are baselines.",
            k,
            format_figure(blend->value("map_at_k", nlohmann::json())),
            format_figure(best_baseline->value("map_at_k", nlohmann::json())),
            best_baseline->value("name", "?"));
    }
    accuracy.text = {"Personal recommendations: accuracy on the test weeks",
                     "metric",
                     "mean over test customers (0 to 1)",
                     reading};
    out += "<div class=\"chart-grid\">\n" + figure_html(render_bar_chart(accuracy)) + "</div>\n";
    out += table;
    return out + segments_html(measured, k) + "</section>\n";
}

// ---- settings ----

// Lists of records longer than this are summarised in the settings table.
constexpr size_t kMaxListedRecords = 8;

// Scalars of a JSON tree as "a.b.c" -> text rows; arrays of scalars joined with ", ".
void flatten(const nlohmann::json& value,
             const std::string& path,
             std::vector<std::pair<std::string, std::string>>* rows) {
    if (value.is_object()) {
        for (const auto& [key, child] : value.items()) {
            flatten(child, path.empty() ? key : path + "." + key, rows);
        }
        return;
    }
    if (value.is_array()) {
        bool scalars = std::all_of(
            value.begin(), value.end(), [](const nlohmann::json& v) { return v.is_primitive(); });
        // A long list of records (a tuning log) would swamp the table; metrics.json has it.
        if (!scalars && value.size() > kMaxListedRecords) {
            rows->emplace_back(path,
                               fmt::format("{} entries (listed in metrics.json)", value.size()));
            return;
        }
        if (!scalars) {
            for (size_t idx = 0; idx < value.size(); ++idx) {
                flatten(value[idx], fmt::format("{}[{}]", path, idx), rows);
            }
            return;
        }
        std::string joined;
        for (const nlohmann::json& v : value) {
            joined +=
                (joined.empty() ? "" : ", ") + (v.is_string() ? v.get<std::string>() : v.dump());
        }
        rows->emplace_back(path, joined);
        return;
    }
    rows->emplace_back(path, value.is_string() ? value.get<std::string>() : value.dump());
}

std::string settings_section(const ReportData& data) {
    nlohmann::json all = data.settings.is_object() ? data.settings : nlohmann::json::object();
    if (data.bought_together.is_object() && data.bought_together.contains("settings")) {
        all["bought_together_evaluation"] = data.bought_together["settings"];
    }
    if (data.personal.is_object() && data.personal.contains("settings")) {
        all["personal_evaluation"] = data.personal["settings"];
    }
    std::vector<std::pair<std::string, std::string>> rows;
    flatten(all, "", &rows);
    std::string out =
        "<section id=\"settings\">\n<h2>Settings used</h2>\n<p class=\"note\">Everything needed "
        "to reproduce the figures above: the store, how its rules were mined, the evaluation "
        "settings and model sizes.</p>\n<table>\n" +
        header_row({"setting", "value"});
    for (const auto& [key, value] : rows) {
        out += fmt::format("<tr><td class=\"name\">{}</td><td class=\"name\">{}</td></tr>\n",
                           esc(key),
                           esc(value));
    }
    return out + "</table>\n</section>\n";
}

}  // namespace

std::string format_figure(const nlohmann::json& value) {
    if (value.is_number_integer() || value.is_number_unsigned()) {
        return format_tick(value.get<double>(), 1);
    }
    if (value.is_number_float()) {
        double v = value.get<double>();
        if (!std::isfinite(v)) {
            return "–";
        }
        if (std::fabs(v) < 1) {
            return fmt::format("{:.4f}", v);
        }
        if (std::fabs(v) < 1000) {
            return fmt::format("{:.1f}", v);
        }
        return format_tick(std::round(v), 1);
    }
    if (value.is_string()) {
        return esc(value.get<std::string>());
    }
    if (value.is_boolean()) {
        return value.get<bool>() ? "yes" : "no";
    }
    return "–";
}

std::string render_report_html(const ReportData& data) {
    std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
    out += "<title>lookbook evaluation report</title>\n<style>";
    out += kStyle;
    out += "</style>\n</head>\n<body>\n<header>\n<h1>lookbook evaluation report</h1>\n";
    out += fmt::format(
        "<p class=\"meta\">Store {} (generation {}), {} transactions from {} to {}. Generated "
        "{} in {:.1f} s.</p>\n</header>\n<main>\n",
        esc(data.store_dir),
        esc(data.profile.summary.generation),
        format_tick(static_cast<double>(data.profile.summary.transactions), 1),
        esc(data.profile.summary.first_date.empty() ? "–" : data.profile.summary.first_date),
        esc(data.profile.summary.last_date.empty() ? "–" : data.profile.summary.last_date),
        esc(data.generated_at),
        data.seconds);
    out += data_profile_section(data.profile);
    out += bought_together_section(data.bought_together, data.bought_together_note);
    out += personal_section(data.personal, data.personal_note);
    out += settings_section(data);
    out +=
        "</main>\n<footer>Written by <code>lookbook report</code>; every figure is also in "
        "metrics.json next to this page.</footer>\n</body>\n</html>\n";
    return out;
}

nlohmann::json report_metrics(const ReportData& data) {
    nlohmann::json out;
    out["store"] = data.store_dir;
    out["generated_at"] = data.generated_at;
    out["data_profile"] = to_json(data.profile);
    out["bought_together"] = data.bought_together;
    if (!data.bought_together_note.empty()) {
        out["bought_together_note"] = data.bought_together_note;
    }
    out["personal"] = data.personal;
    if (!data.personal_note.empty()) {
        out["personal_note"] = data.personal_note;
    }
    out["settings"] = data.settings;
    out["seconds"] = data.seconds;
    return out;
}

}  // namespace lookbook::report
