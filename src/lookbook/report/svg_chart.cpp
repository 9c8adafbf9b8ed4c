#include "lookbook/report/svg_chart.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "lookbook/util/escape.hpp"

namespace lookbook::report {
namespace {

// Geometry shared by every chart, in SVG user units (the page scales the whole picture).
constexpr double kWidth = 760;
constexpr double kLeft = 84;  // room for y tick labels and the rotated y label
constexpr double kRight = 24;
constexpr double kPlotHeight = 240;
constexpr double kTitleBand = 40;
constexpr double kLegendBand = 22;

// Series colours, readable on white; baselines are grey. Ten, so that the report's charts (the
// blend, six sources and baselines) never give two series one colour; the first five also
// stay apart in greyscale print.
constexpr const char* kPalette[] = {"#1f6f8b",
                                    "#d1495b",
                                    "#66a182",
                                    "#edae49",
                                    "#5e548e",
                                    "#8c564b",
                                    "#e377c2",
                                    "#17becf",
                                    "#bcbd22",
                                    "#ff7f0e"};
constexpr const char* kMutedPalette[] = {"#9a9a9a", "#c4c4c4", "#6f6f6f"};

bool all_finite(const std::vector<double>& values) {
    return std::all_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); });
}

// Coordinates printed with one decimal: enough for the eye, and never "nan" (callers map only
// finite values; a stray non-finite one becomes 0 rather than breaking the SVG).
std::string coord(double value) {
    return fmt::format("{:.1f}", std::isfinite(value) ? value : 0.0);
}

// Where the plot sits inside the picture; bottom grows when category labels are slanted.
struct Frame {
    double top = kTitleBand;
    double bottom = kTitleBand + kPlotHeight;
    double left = kLeft;
    double right = kWidth - kRight;
    double height = 0;  // whole picture

    double plot_width() const { return right - left; }
};

// The reading broken at spaces into lines that fit the picture's width (about 7.5 units per
// character at 14 px), so a long sentence is not cut at the edges.
std::vector<std::string> reading_lines(std::string_view reading) {
    constexpr size_t kMaxChars = 96;
    std::vector<std::string> lines(1);
    size_t pos = 0;
    while (pos < reading.size()) {
        size_t space = reading.find(' ', pos);
        std::string_view word =
            reading.substr(pos, space == std::string_view::npos ? space : space - pos);
        if (!lines.back().empty() && lines.back().size() + 1 + word.size() > kMaxChars) {
            lines.emplace_back();
        }
        if (!lines.back().empty()) {
            lines.back() += ' ';
        }
        lines.back() += word;
        pos = space == std::string_view::npos ? reading.size() : space + 1;
    }
    return lines;
}

Frame make_frame(const ChartText& text, size_t legend_rows, double label_band) {
    Frame frame;
    frame.top = kTitleBand + kLegendBand * static_cast<double>(legend_rows);
    frame.bottom = frame.top + kPlotHeight;
    // Tick labels and the axis label, then the reading lines.
    frame.height = frame.bottom + label_band + 30 + 10 +
                   18 * static_cast<double>(reading_lines(text.reading).size());
    return frame;
}

// The opening tag, the accessible title and the chart title.
void open_svg(std::string& out, const ChartText& text, double height) {
    out += fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 {} {}\" "
        "width=\"{}\" height=\"{}\" role=\"img\" aria-label=\"{}\">\n",
        coord(kWidth),
        coord(height),
        coord(kWidth),
        coord(height),
        escape_xml(text.title));
    out += fmt::format("<title>{}</title>\n", escape_xml(text.title));
    out += fmt::format(
        "<text class=\"chart-title\" x=\"{}\" y=\"24\" font-size=\"18\" font-weight=\"bold\" "
        "text-anchor=\"middle\">{}</text>\n",
        coord(kWidth / 2),
        escape_xml(text.title));
}

// Axis labels and the reading line under the plot; closes the svg element.
void close_svg(std::string& out, const ChartText& text, const Frame& frame, double label_band) {
    double middle = (frame.top + frame.bottom) / 2;
    out += fmt::format(
        "<text class=\"axis-label\" x=\"18\" y=\"{}\" font-size=\"14\" text-anchor=\"middle\" "
        "transform=\"rotate(-90 18 {})\">{}</text>\n",
        coord(middle),
        coord(middle),
        escape_xml(text.y_label));
    out += fmt::format(
        "<text class=\"axis-label\" x=\"{}\" y=\"{}\" font-size=\"14\" "
        "text-anchor=\"middle\">{}</text>\n",
        coord((frame.left + frame.right) / 2),
        coord(frame.bottom + label_band + 22),
        escape_xml(text.x_label));
    std::vector<std::string> lines = reading_lines(text.reading);
    for (size_t line = 0; line < lines.size(); ++line) {
        out += fmt::format(
            "<text class=\"chart-reading\" x=\"{}\" y=\"{}\" font-size=\"14\" "
            "font-style=\"italic\" text-anchor=\"middle\">{}</text>\n",
            coord(kWidth / 2),
            coord(frame.height - 10 - 18 * static_cast<double>(lines.size() - 1 - line)),
            escape_xml(lines[line]));
    }
    out += "</svg>\n";
}

// The "no data" picture: same frame and texts, an empty plot with a visible message.
std::string render_no_data(const ChartText& text) {
    Frame frame = make_frame(text, 0, 20);
    std::string out;
    open_svg(out, text, frame.height);
    out += fmt::format(
        "<rect class=\"plot-empty\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#f6f6f6\" "
        "stroke=\"#cccccc\"/>\n",
        coord(frame.left),
        coord(frame.top),
        coord(frame.plot_width()),
        coord(kPlotHeight));
    out += fmt::format(
        "<text class=\"no-data\" x=\"{}\" y=\"{}\" font-size=\"16\" fill=\"#666666\" "
        "text-anchor=\"middle\">no data</text>\n",
        coord((frame.left + frame.right) / 2),
        coord((frame.top + frame.bottom) / 2));
    close_svg(out, text, frame, 20);
    return out;
}

// Maps values of [lo, hi] to the plot's vertical extent.
struct YScale {
    double lo = 0;
    double hi = 1;
    const Frame* frame = nullptr;

    double operator()(double value) const {
        double t = (value - lo) / (hi - lo);
        return frame->bottom - t * (frame->bottom - frame->top);
    }
};

// Horizontal grid lines with their tick labels on the left; returns the scale they define.
YScale draw_y_axis(std::string& out, const Frame& frame, double lo, double hi) {
    std::vector<double> ticks = nice_ticks(lo, hi);
    YScale scale{ticks.front(), ticks.back(), &frame};
    double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1;
    for (double tick : ticks) {
        double y = scale(tick);
        out += fmt::format(
            "<line class=\"grid\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#e3e3e3\"/>\n",
            coord(frame.left),
            coord(y),
            coord(frame.right),
            coord(y));
        out += fmt::format(
            "<text class=\"tick\" x=\"{}\" y=\"{}\" font-size=\"13\" "
            "text-anchor=\"end\">{}</text>\n",
            coord(frame.left - 6),
            coord(y + 4),
            escape_xml(format_tick(tick, step)));
    }
    out += fmt::format(
        "<line class=\"axis\" x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#333333\"/>\n",
        coord(frame.left),
        coord(frame.top),
        coord(frame.bottom));
    out += fmt::format(
        "<line class=\"axis\" x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#333333\"/>\n",
        coord(frame.left),
        coord(scale(std::clamp(0.0, scale.lo, scale.hi))),
        coord(frame.right));
    return scale;
}

// A label under the x axis at `x`; slanted labels end at the tick so long names stay readable.
void draw_x_label(
    std::string& out, const Frame& frame, double x, std::string_view text, bool slant) {
    double y = frame.bottom + 16;
    if (slant) {
        out += fmt::format(
            "<text class=\"tick\" x=\"{0}\" y=\"{1}\" font-size=\"13\" text-anchor=\"end\" "
            "transform=\"rotate(-35 {0} {1})\">{2}</text>\n",
            coord(x),
            coord(y),
            escape_xml(text));
    } else {
        out += fmt::format(
            "<text class=\"tick\" x=\"{}\" y=\"{}\" font-size=\"13\" "
            "text-anchor=\"middle\">{}</text>\n",
            coord(x),
            coord(y),
            escape_xml(text));
    }
}

const char* series_colour(const std::vector<BarSeries>& series, size_t series_idx) {
    size_t muted_before = 0;
    size_t bright_before = 0;
    for (size_t idx = 0; idx < series_idx; ++idx) {
        (series[idx].muted ? muted_before : bright_before) += 1;
    }
    if (series[series_idx].muted) {
        return kMutedPalette[muted_before % std::size(kMutedPalette)];
    }
    return kPalette[bright_before % std::size(kPalette)];
}

}  // namespace

std::string escape_xml(std::string_view text) { return escape_markup(text); }

std::vector<double> nice_ticks(double lo, double hi, int max_ticks) {
    if (!std::isfinite(lo) || !std::isfinite(hi)) {
        lo = 0;
        hi = 1;
    }
    if (hi < lo) {
        std::swap(lo, hi);
    }
    // A flat range still needs an axis: widen it around the value.
    if (hi - lo <= 1e-12 * std::max(1.0, std::fabs(hi))) {
        double pad = lo == 0 ? 1 : std::fabs(lo) * 0.1;
        hi = lo == 0 ? 1 : hi + pad;
        lo = lo == 0 ? 0 : lo - pad;
    }
    max_ticks = std::max(max_ticks, 2);
    double raw = (hi - lo) / (max_ticks - 1);
    int exponent = static_cast<int>(std::floor(std::log10(raw)));
    double magnitude = std::pow(10.0, exponent);
    // The tolerance keeps 0.2 / 0.1 = 2.0000000000000004 a step of 2, not 5.
    double norm = raw / magnitude;
    double nice = norm <= 1 + 1e-9 ? 1 : norm <= 2 + 1e-9 ? 2 : norm <= 5 + 1e-9 ? 5 : 10;
    double step = nice * magnitude;
    // The small tolerance keeps 100 from becoming 120 when 100 / 20 lands a hair above 5.
    double first = std::floor(lo / step + 1e-9);
    double last = std::ceil(hi / step - 1e-9);
    std::vector<double> ticks;
    for (double idx = first; idx <= last; idx += 1) {
        // A whole number divided by an exact power of ten: 3 * 5 / 1000 is the double nearest
        // 0.015, where 3 * 0.005 is not.
        double tick = exponent < 0 ? idx * nice / std::pow(10.0, -exponent) : idx * step;
        ticks.push_back(tick == 0 ? 0.0 : tick);
    }
    return ticks;
}

std::string format_tick(double value, double step) {
    if (!std::isfinite(value)) {
        return "";
    }
    step = std::fabs(step);
    if (!std::isfinite(step) || step == 0) {
        step = std::max(std::fabs(value), 1.0);
    }
    if (std::fabs(value) < step * 1e-9) {
        value = 0;
    }
    // Millions read better as "1.5M" than as seven digits.
    if (std::fabs(value) >= 1e6 && step >= 1e5) {
        int decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(step / 1e6) - 1e-9)));
        return fmt::format("{:.{}f}M", value / 1e6, decimals);
    }
    if (step >= 1 && std::fabs(value - std::round(value)) < 1e-9) {
        // Whole numbers with thousands separators.
        std::string digits = fmt::format("{:.0f}", std::fabs(value));
        std::string grouped;
        for (size_t idx = 0; idx < digits.size(); ++idx) {
            if (idx > 0 && (digits.size() - idx) % 3 == 0) {
                grouped += ',';
            }
            grouped += digits[idx];
        }
        return (value < 0 ? "-" : "") + grouped;
    }
    int decimals = std::max(1, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
    return fmt::format("{:.{}f}", value, std::min(decimals, 8));
}

std::string render_bar_chart(const BarChart& chart) {
    // Non-finite values are left out (no bar); a chart with no finite value at all has no data.
    double lo = 0;
    double hi = 0;
    bool any = false;
    for (const BarSeries& s : chart.series) {
        for (size_t idx = 0; idx < s.values.size() && idx < chart.categories.size(); ++idx) {
            if (std::isfinite(s.values[idx])) {
                lo = std::min(lo, s.values[idx]);
                hi = std::max(hi, s.values[idx]);
                any = true;
            }
        }
    }
    if (!any) {
        return render_no_data(chart.text);
    }

    size_t n_categories = chart.categories.size();
    size_t n_series = chart.series.size();
    size_t longest = 0;
    for (const std::string& category : chart.categories) {
        longest = std::max(longest, category.size());
    }
    double slot = (kWidth - kLeft - kRight) / static_cast<double>(n_categories);
    // Slant the labels when they would not fit side by side (about 7.5 units per character).
    bool slant = static_cast<double>(longest) * 7.5 > slot;
    double label_band = slant ? std::min(180.0, 10 + static_cast<double>(longest) * 6.5) : 20;
    // Legend entries left to right, on as many rows as the picture's width needs (about 7.3
    // units per character at 13 px): one row ran past the right edge with five long names.
    struct LegendEntry {
        double x = 0;
        size_t row = 0;
    };
    std::vector<LegendEntry> legend;
    if (n_series > 1) {
        double x = kLeft;
        size_t row = 0;
        for (size_t series_idx = 0; series_idx < n_series; ++series_idx) {
            const double width =
                30 + 7.3 * static_cast<double>(chart.series[series_idx].name.size());
            if (x > kLeft && x + width - 14 > kWidth) {
                x = kLeft;
                ++row;
            }
            legend.push_back({x, row});
            x += width;
        }
    }
    Frame frame = make_frame(chart.text, legend.empty() ? 0 : legend.back().row + 1, label_band);

    std::string out;
    open_svg(out, chart.text, frame.height);
    for (size_t series_idx = 0; series_idx < legend.size(); ++series_idx) {
        const double row_y = kTitleBand + kLegendBand * static_cast<double>(legend[series_idx].row);
        out += fmt::format(
            "<rect class=\"legend-key\" x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" "
            "fill=\"{}\"/>\n",
            coord(legend[series_idx].x),
            coord(row_y - 4),
            series_colour(chart.series, series_idx));
        out += fmt::format("<text class=\"legend\" x=\"{}\" y=\"{}\" font-size=\"13\">{}</text>\n",
                           coord(legend[series_idx].x + 16),
                           coord(row_y + 6),
                           escape_xml(chart.series[series_idx].name));
    }
    YScale y = draw_y_axis(out, frame, lo, hi);
    double group_width = slot * 0.8;
    double bar_width = group_width / static_cast<double>(n_series);
    for (size_t category_idx = 0; category_idx < n_categories; ++category_idx) {
        double group_left = frame.left + slot * static_cast<double>(category_idx) + slot * 0.1;
        for (size_t series_idx = 0; series_idx < n_series; ++series_idx) {
            const BarSeries& s = chart.series[series_idx];
            if (category_idx >= s.values.size() || !std::isfinite(s.values[category_idx])) {
                continue;
            }
            double value = s.values[category_idx];
            double top = std::min(y(value), y(0));
            double height = std::fabs(y(value) - y(0));
            out += fmt::format(
                "<rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\">"
                "<title>{}: {}</title></rect>\n",
                coord(group_left + bar_width * static_cast<double>(series_idx)),
                coord(top),
                coord(std::max(bar_width - 1, 1.0)),
                coord(height),
                series_colour(chart.series, series_idx),
                escape_xml(s.name.empty() ? chart.categories[category_idx] : s.name),
                escape_xml(fmt::format("{:.4g}", value)));
        }
        draw_x_label(
            out, frame, group_left + group_width / 2, chart.categories[category_idx], slant);
    }
    close_svg(out, chart.text, frame, label_band);
    return out;
}

std::string render_histogram(const Histogram& chart) {
    size_t n_bins = chart.counts.size();
    bool usable = n_bins > 0 && chart.edges.size() == n_bins + 1 && all_finite(chart.edges) &&
                  std::is_sorted(chart.edges.begin(), chart.edges.end()) &&
                  chart.edges.back() > chart.edges.front();
    double hi = 0;
    bool any = false;
    for (double count : chart.counts) {
        if (std::isfinite(count)) {
            hi = std::max(hi, count);
            any = true;
        }
    }
    if (!usable || !any) {
        return render_no_data(chart.text);
    }

    Frame frame = make_frame(chart.text, 0, 20);
    std::string out;
    open_svg(out, chart.text, frame.height);
    YScale y = draw_y_axis(out, frame, 0, hi);
    double x0 = chart.edges.front();
    double span = chart.edges.back() - x0;
    auto x_of = [&](double value) { return frame.left + (value - x0) / span * frame.plot_width(); };
    for (size_t bin = 0; bin < n_bins; ++bin) {
        if (!std::isfinite(chart.counts[bin])) {
            continue;
        }
        double left = x_of(chart.edges[bin]);
        double right = x_of(chart.edges[bin + 1]);
        out += fmt::format(
            "<rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" "
            "stroke=\"#ffffff\"><title>{}</title></rect>\n",
            coord(left),
            coord(y(chart.counts[bin])),
            coord(std::max(right - left, 1.0)),
            coord(y(0) - y(chart.counts[bin])),
            kPalette[0],
            escape_xml(fmt::format("{:.4g}", chart.counts[bin])));
    }
    // Edge labels; thinned so at most about 16 are printed.
    size_t every = (chart.edges.size() + 15) / 16;
    double step = span / static_cast<double>(n_bins);
    for (size_t edge = 0; edge < chart.edges.size(); edge += every) {
        bool open_end = chart.last_open && edge + 1 == chart.edges.size();
        if (open_end) {
            continue;
        }
        std::string label = format_tick(chart.edges[edge], step);
        if (chart.last_open && edge + 2 == chart.edges.size()) {
            label += "+";
        }
        draw_x_label(out, frame, x_of(chart.edges[edge]), label, false);
    }
    close_svg(out, chart.text, frame, 20);
    return out;
}

std::string render_line_chart(const LineChart& chart) {
    // Only finite points are drawn; fewer than one leaves nothing to show.
    std::vector<std::pair<double, double>> points;
    for (size_t idx = 0; idx < chart.x.size() && idx < chart.y.size(); ++idx) {
        if (std::isfinite(chart.x[idx]) && std::isfinite(chart.y[idx])) {
            points.emplace_back(chart.x[idx], chart.y[idx]);
        }
    }
    if (points.empty()) {
        return render_no_data(chart.text);
    }

    double y_lo = 0;
    double y_hi = 0;
    double x_lo = points.front().first;
    double x_hi = points.front().first;
    for (const auto& [x, y] : points) {
        y_lo = std::min(y_lo, y);
        y_hi = std::max(y_hi, y);
        x_lo = std::min(x_lo, x);
        x_hi = std::max(x_hi, x);
    }
    Frame frame = make_frame(chart.text, 0, 20);
    std::string out;
    open_svg(out, chart.text, frame.height);
    YScale y_scale = draw_y_axis(out, frame, y_lo, y_hi);
    // The axis spans the data; round ticks are placed inside it (a date axis would otherwise
    // start months before the first sale).
    std::vector<double> x_ticks = nice_ticks(x_lo, x_hi, 7);
    double x_step = x_ticks.size() > 1 ? x_ticks[1] - x_ticks[0] : 1;
    if (x_hi - x_lo < x_step) {
        x_lo = x_ticks.front();
        x_hi = x_ticks.back();
    }
    double tolerance = x_step * 1e-9;
    x_ticks.erase(std::remove_if(x_ticks.begin(),
                                 x_ticks.end(),
                                 [&](double tick) {
                                     return tick < x_lo - tolerance || tick > x_hi + tolerance;
                                 }),
                  x_ticks.end());
    double tick_lo = x_lo;
    double tick_span = x_hi - x_lo;
    auto x_of = [&](double value) {
        return frame.left + (value - tick_lo) / tick_span * frame.plot_width();
    };
    for (double tick : x_ticks) {
        std::string label =
            chart.x_format ? chart.x_format(tick, x_step) : format_tick(tick, x_step);
        out += fmt::format(
            "<line class=\"tick-mark\" x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" "
            "stroke=\"#333333\"/>\n",
            coord(x_of(tick)),
            coord(frame.bottom),
            coord(frame.bottom + 4));
        draw_x_label(out, frame, x_of(tick), label, false);
    }
    std::string path;
    for (const auto& [x, y] : points) {
        path += fmt::format("{}{},{}", path.empty() ? "" : " ", coord(x_of(x)), coord(y_scale(y)));
    }
    out += fmt::format(
        "<polyline class=\"line\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" "
        "points=\"{}\"/>\n",
        kPalette[0],
        path);
    close_svg(out, chart.text, frame, 20);
    return out;
}

}  // namespace lookbook::report
