#include "lookbook/report/svg_chart.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "xml_check.hpp"

namespace lookbook::report {
namespace {

using lookbook::testing::xml_problem;

// The text of every <text class="tick"> element, in order.
std::vector<std::string> tick_labels(const std::string& svg) {
    std::vector<std::string> labels;
    const std::string open = "<text class=\"tick\"";
    for (size_t pos = svg.find(open); pos != std::string::npos; pos = svg.find(open, pos + 1)) {
        size_t start = svg.find('>', pos) + 1;
        labels.push_back(svg.substr(start, svg.find("</text>", start) - start));
    }
    return labels;
}

bool has_bad_number(const std::string& svg) {
    return svg.find("nan") != std::string::npos || svg.find("inf") != std::string::npos;
}

TEST(NiceTicks, CoversRangeWithRoundSteps) {
    EXPECT_EQ(nice_ticks(0, 97), (std::vector<double>{0, 20, 40, 60, 80, 100}));
    EXPECT_EQ(nice_ticks(0, 100), (std::vector<double>{0, 20, 40, 60, 80, 100}));
    EXPECT_EQ(nice_ticks(0, 1), (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1}));
    EXPECT_EQ(nice_ticks(3, 18), (std::vector<double>{0, 5, 10, 15, 20}));
    EXPECT_EQ(nice_ticks(-7, 12), (std::vector<double>{-10, -5, 0, 5, 10, 15}));
    EXPECT_EQ(nice_ticks(0, 0.0123), (std::vector<double>{0, 0.005, 0.01, 0.015}));
}

TEST(NiceTicks, FlatOrNonFiniteRangeGetsAnAxis) {
    EXPECT_EQ(nice_ticks(0, 0), (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1}));
    std::vector<double> around_five = nice_ticks(5, 5);
    EXPECT_LE(around_five.front(), 4.5);
    EXPECT_GE(around_five.back(), 5.5);
    double nan = std::numeric_limits<double>::quiet_NaN();
    EXPECT_EQ(nice_ticks(nan, 3).front(), 0);
    EXPECT_EQ(nice_ticks(nan, 3).back(), 1);
}

TEST(FormatTick, PrintsAsPeopleWrite) {
    EXPECT_EQ(format_tick(0, 20), "0");
    EXPECT_EQ(format_tick(1200, 200), "1,200");
    EXPECT_EQ(format_tick(-45000, 5000), "-45,000");
    EXPECT_EQ(format_tick(0.6, 0.2), "0.6");
    EXPECT_EQ(format_tick(0.015, 0.005), "0.015");
    EXPECT_EQ(format_tick(1500000, 500000), "1.5M");
    EXPECT_EQ(format_tick(3e-17, 0.1), "0.0");
}

TEST(EscapeXml, EscapesMarkupAndDropsControlCharacters) {
    EXPECT_EQ(escape_xml("a<b & \"c\" 'd'>\x01"), "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt; ");
}

TEST(BarChart, IsWellFormedWithTicksForKnownRange) {
    BarChart chart;
    chart.text = {"Sizes <&>", "size (articles)", "baskets (count)", "Most baskets are small."};
    chart.categories = {"1", "2", "3"};
    chart.series = {{"baskets", {97, 40, 5}, false}};
    std::string svg = render_bar_chart(chart);
    EXPECT_EQ(xml_problem(svg), "") << svg;
    EXPECT_FALSE(has_bad_number(svg));
    // y ticks 0..100 by 20, then the three category labels.
    EXPECT_EQ(tick_labels(svg),
              (std::vector<std::string>{"0", "20", "40", "60", "80", "100", "1", "2", "3"}));
    EXPECT_NE(svg.find("Sizes &lt;&amp;&gt;"), std::string::npos);
    EXPECT_NE(svg.find(">size (articles)</text>"), std::string::npos);
    EXPECT_NE(svg.find(">baskets (count)</text>"), std::string::npos);
    EXPECT_NE(svg.find(">Most baskets are small.</text>"), std::string::npos);
    EXPECT_EQ(svg.find("<script"), std::string::npos);
}

TEST(BarChart, GroupedSeriesGetLegendAndSkipNonFiniteValues) {
    BarChart chart;
    chart.text = {"Hit rate", "metric", "share (0 to 1)", "reading"};
    chart.categories = {"hit@5", "hit@10"};
    chart.series = {{"rules", {0.2, 0.3}, false},
                    {"popularity", {0.1, std::numeric_limits<double>::quiet_NaN()}, true}};
    std::string svg = render_bar_chart(chart);
    EXPECT_EQ(xml_problem(svg), "") << svg;
    EXPECT_FALSE(has_bad_number(svg));
    EXPECT_NE(svg.find(">popularity</text>"), std::string::npos);
    // Three bars: the NaN one is left out.
    size_t bars = 0;
    for (size_t pos = svg.find("class=\"bar\""); pos != std::string::npos;
         pos = svg.find("class=\"bar\"", pos + 1)) {
        ++bars;
    }
    EXPECT_EQ(bars, 3u);
}

// Found by the fresh-user trial: with five colours the report's chart of the blend and its
// sources drew blend and trending, als and two_tower, in the same colour.
TEST(BarChart, EightSeriesGetEightColours) {
    BarChart chart;
    chart.text = {"Accuracy", "metric", "share (0 to 1)", "reading"};
    chart.categories = {"MAP@12"};
    for (const char* name : {"blend",
                             "als",
                             "two_tower",
                             "profile",
                             "item_to_item",
                             "repurchase",
                             "trending",
                             "mix"}) {
        chart.series.push_back({name, {0.01}, false});
    }
    chart.series.push_back({"popularity", {0.01}, true});
    std::string svg = render_bar_chart(chart);
    std::set<std::string> fills;
    size_t keys = 0;
    for (size_t pos = svg.find("class=\"legend-key\""); pos != std::string::npos;
         pos = svg.find("class=\"legend-key\"", pos + 1)) {
        size_t fill = svg.find("fill=\"", pos) + 6;
        fills.insert(svg.substr(fill, svg.find('"', fill) - fill));
        ++keys;
    }
    EXPECT_EQ(keys, 9u);
    EXPECT_EQ(fills.size(), 9u);
}

TEST(BarChart, LongLegendWrapsOntoRowsInsideThePicture) {
    // Found by a fresh user: "complete the look (support 2, pairs 1, prior 2)" beside four
    // baselines began at x 796 of a 760-wide picture, so the main series had no visible label.
    BarChart chart;
    chart.text = {"Hidden article", "metric", "share", "reading"};
    chart.categories = {"hit@5", "hit@10"};
    chart.series = {{"complete the look (support 2, pairs 1, prior 2)", {0.02, 0.03}, false},
                    {"pair co-occurrence", {0.03, 0.04}, true},
                    {"global popularity", {0.01, 0.01}, true},
                    {"recent best sellers", {0.003, 0.003}, true},
                    {"repurchase_popularity", {0.002, 0.002}, true}};
    std::string svg = render_bar_chart(chart);
    EXPECT_EQ(xml_problem(svg), "") << svg;
    // Every legend label ends inside the 760-unit width (7.3 units per character at 13 px).
    std::vector<double> rows;
    const std::string open = "<text class=\"legend\" x=\"";
    size_t labels = 0;
    for (size_t pos = svg.find(open); pos != std::string::npos; pos = svg.find(open, pos + 1)) {
        const double x = std::stod(svg.substr(pos + open.size()));
        const size_t y_at = svg.find("y=\"", pos) + 3;
        const double y = std::stod(svg.substr(y_at));
        const size_t start = svg.find('>', pos) + 1;
        const std::string name = svg.substr(start, svg.find("</text>", start) - start);
        EXPECT_LE(x + 7.3 * static_cast<double>(name.size()), 760.0) << name;
        if (std::find(rows.begin(), rows.end(), y) == rows.end()) {
            rows.push_back(y);
        }
        ++labels;
    }
    EXPECT_EQ(labels, 5u);
    EXPECT_GE(rows.size(), 2u);
    // The plot starts below the last legend row: its top gridline is under every label.
    BarChart one_row = chart;
    one_row.series.resize(2);
    one_row.series[0].name = "rules";
    const std::string svg_one = render_bar_chart(one_row);
    auto height = [](const std::string& text) {
        const size_t at = text.find("height=\"") + 8;
        return std::stod(text.substr(at));
    };
    EXPECT_DOUBLE_EQ(height(svg) - height(svg_one), 22.0 * static_cast<double>(rows.size() - 1));
}

TEST(Charts, EmptyDataDrawsNoDataChart) {
    ChartText text{"Nothing", "x (unit)", "y (unit)", "No transactions."};
    BarChart bars{text, {}, {}};
    Histogram histogram{text, {}, {}, false};
    LineChart line{text, {}, {}, {}};
    double nan = std::numeric_limits<double>::quiet_NaN();
    LineChart all_nan{text, {1, 2}, {nan, nan}, {}};
    Histogram bad_edges{text, {5, 5}, {3}, false};
    for (const std::string& svg : {render_bar_chart(bars),
                                   render_histogram(histogram),
                                   render_line_chart(line),
                                   render_line_chart(all_nan),
                                   render_histogram(bad_edges)}) {
        EXPECT_EQ(xml_problem(svg), "") << svg;
        EXPECT_NE(svg.find(">no data</text>"), std::string::npos) << svg;
        EXPECT_NE(svg.find(">Nothing</text>"), std::string::npos);
        EXPECT_FALSE(has_bad_number(svg)) << svg;
    }
}

TEST(BarChart, WrapsLongReadingInsteadOfCuttingIt) {
    std::string reading;
    for (int word = 0; word < 40; ++word) {
        reading += "word" + std::to_string(word) + " ";
    }
    BarChart chart{{"T", "x", "y", reading}, {"a"}, {{"s", {1}, false}}};
    std::string svg = render_bar_chart(chart);
    EXPECT_EQ(xml_problem(svg), "") << svg;
    std::string joined;
    size_t lines = 0;
    const std::string open = "<text class=\"chart-reading\"";
    for (size_t pos = svg.find(open); pos != std::string::npos; pos = svg.find(open, pos + 1)) {
        size_t start = svg.find('>', pos) + 1;
        std::string line = svg.substr(start, svg.find("</text>", start) - start);
        EXPECT_LE(line.size(), 96u);
        joined += (joined.empty() ? "" : " ") + line;
        ++lines;
    }
    EXPECT_EQ(lines, 3u);  // 270 characters
    EXPECT_EQ(joined + " ", reading);
}

TEST(Histogram, LabelsEdgesAndOpenLastBin) {
    Histogram chart;
    chart.text = {"Ages", "age (years)", "customers (count)", "reading"};
    chart.edges = {15, 20, 25, 30};
    chart.counts = {3, 9, 4};
    chart.last_open = true;
    std::string svg = render_histogram(chart);
    EXPECT_EQ(xml_problem(svg), "") << svg;
    // y ticks for 0..9, then edges 15, 20 and "25+" (the open end has no label).
    EXPECT_EQ(tick_labels(svg),
              (std::vector<std::string>{"0", "2", "4", "6", "8", "10", "15", "20", "25+"}));
}

TEST(LineChart, FormatsXTicksWithTheGivenFunction) {
    LineChart chart;
    chart.text = {"Weekly", "week", "rows (count)", "reading"};
    chart.x = {0, 50, 100};
    chart.y = {10, 30, 20};
    chart.x_format = [](double value, double) { return "d" + format_tick(value, 1); };
    std::string svg = render_line_chart(chart);
    EXPECT_EQ(xml_problem(svg), "") << svg;
    EXPECT_FALSE(has_bad_number(svg));
    std::vector<std::string> labels = tick_labels(svg);
    ASSERT_FALSE(labels.empty());
    EXPECT_EQ(labels.back(), "d100");
    EXPECT_NE(svg.find("<polyline"), std::string::npos);
}

TEST(XmlCheck, CatchesUnbalancedTagsAndBareAmpersands) {
    EXPECT_EQ(xml_problem("<svg><text>a</text></svg>"), "");
    EXPECT_NE(xml_problem("<svg><text>a</svg>"), "");
    EXPECT_NE(xml_problem("<svg>a & b</svg>"), "");
    EXPECT_NE(xml_problem("<svg x=1></svg>"), "");
}

}  // namespace
}  // namespace lookbook::report
