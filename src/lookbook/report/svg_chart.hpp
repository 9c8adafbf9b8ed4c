#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

// Static SVG charts for the evaluation report: bar charts (one or several series), histograms
// and line charts. Each chart is a self-contained <svg> element with a title, labelled axes
// with ticks and units, and a one-line reading under it; no script, no external resource, every
// text escaped. Empty or non-finite data draws an explicit "no data" chart instead of NaN
// coordinates, so a report on a small store still opens cleanly.
namespace lookbook::report {

// Text safe inside XML/HTML element content and double-quoted attribute values.
std::string escape_xml(std::string_view text);

// Round tick values covering [lo, hi]: steps of 1, 2 or 5 times a power of ten, at most about
// `max_ticks` of them, the first <= lo and the last >= hi. [0, 97] with 6 ticks gives 0, 20,
// 40, 60, 80, 100. A zero-width or non-finite range gets a small range around its value (or
// [0, 1]).
std::vector<double> nice_ticks(double lo, double hi, int max_ticks = 6);

// A tick value as people write it: "0", "0.25", "1,200", "1.5M"; `step` (the distance between
// ticks) decides how many decimals are needed so neighbours never print alike.
std::string format_tick(double value, double step);

// What every chart shows around its plot.
struct ChartText {
    std::string title;    // "Transactions per week"
    std::string x_label;  // with its unit: "week starting (date)"
    std::string y_label;  // "transactions (count)"
    std::string reading;  // one line saying what to read from the chart
};

struct BarSeries {
    std::string name;  // shown in the legend when there are several series
    std::vector<double> values;
    bool muted = false;  // drawn in grey: baselines beside the recommender
};

// Vertical bars: one group per category, one bar per series in each group.
struct BarChart {
    ChartText text;
    std::vector<std::string> categories;
    std::vector<BarSeries> series;
};

// Adjacent bars over numeric bins: counts[i] is the number in [edges[i], edges[i + 1]);
// edges has counts.size() + 1 values. `last_open` labels the last bin "edges[n-1]+".
struct Histogram {
    ChartText text;
    std::vector<double> edges;
    std::vector<double> counts;
    bool last_open = false;
};

// A polyline through (x[i], y[i]); x must be increasing. `x_format` turns an x tick into text
// (for days since 1970 a date); the default prints the number.
struct LineChart {
    ChartText text;
    std::vector<double> x;
    std::vector<double> y;
    std::function<std::string(double value, double step)> x_format;
};

std::string render_bar_chart(const BarChart& chart);
std::string render_histogram(const Histogram& chart);
std::string render_line_chart(const LineChart& chart);

}  // namespace lookbook::report
