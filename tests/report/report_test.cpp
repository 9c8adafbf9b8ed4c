#include "lookbook/report/report.hpp"

#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "fixture_store.hpp"
#include "lookbook/report/html_report.hpp"
#include "xml_check.hpp"

namespace lookbook::report {
namespace {

using ReportTest = lookbook::testing::ReportFixtureStore;
using lookbook::testing::xml_problem;

std::string slurp(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

nlohmann::json fixture_evaluation() {
    return nlohmann::json::parse(
        slurp(lookbook::testing::ReportFixtureStore::fixture_dir() + "/personal_evaluation.json"));
}

// Every <svg>...</svg> of the page, each checked for well-formedness; returns how many.
size_t check_charts(const std::string& html) {
    size_t charts = 0;
    for (size_t pos = html.find("<svg"); pos != std::string::npos;
         pos = html.find("<svg", pos + 1)) {
        size_t end = html.find("</svg>", pos);
        EXPECT_NE(end, std::string::npos);
        std::string svg = html.substr(pos, end + 6 - pos);
        EXPECT_EQ(xml_problem(svg), "") << svg;
        EXPECT_EQ(svg.find("nan"), std::string::npos) << svg;
        ++charts;
    }
    return charts;
}

TEST_F(ReportTest, WritesPageAndMetricsWithGivenEvaluation) {
    ReportOptions options;
    options.out_dir = dir_ / "out";
    options.bought_together.test_weeks = 1;
    options.personal_evaluation = fixture_evaluation();
    auto files = write_report(*store_, options);
    ASSERT_TRUE(files.is_ok()) << files.status().to_string();

    std::string html = slurp(files->html);
    // Five profile charts, one bought-together chart, two personal charts.
    EXPECT_EQ(check_charts(html), 8u);
    EXPECT_EQ(html.find("<script"), std::string::npos);
    EXPECT_EQ(html.find("http://www.w3.org/2000/svg\" class") == std::string::npos, false);
    // The label with markup is escaped, the unavailable source says so, segments are listed.
    EXPECT_NE(html.find("Blend &lt;all&gt; &amp; sources"), std::string::npos);
    EXPECT_EQ(html.find("Blend <all>"), std::string::npos);
    EXPECT_NE(html.find(">not built</td>"), std::string::npos);
    EXPECT_NE(html.find("<td class=\"name\">club_ACTIVE</td>"), std::string::npos);
    EXPECT_NE(html.find("blend: MAP@12 0.0000 for new customers against 0.0185 for returning"),
              std::string::npos);
    // Segments in reading order: new, returning, age bands, club status.
    EXPECT_LT(html.find("<td class=\"name\">new</td>"),
              html.find("<td class=\"name\">returning</td>"));
    EXPECT_LT(html.find("<td class=\"name\">returning</td>"),
              html.find("<td class=\"name\">age_16-24</td>"));
    EXPECT_LT(html.find("<td class=\"name\">age_16-24</td>"),
              html.find("<td class=\"name\">club_ACTIVE</td>"));
    // Figures rounded: 0.0123 keeps four decimals, 341.54 one, coverage as a percentage.
    EXPECT_NE(html.find("<td>0.0123</td>"), std::string::npos);
    EXPECT_NE(html.find("<td>341.5</td>"), std::string::npos);
    EXPECT_NE(html.find("<td>12.0%</td>"), std::string::npos);
    // Settings from the evaluation and from the bought-together run.
    EXPECT_NE(html.find("personal_evaluation.als.factors"), std::string::npos);
    EXPECT_NE(html.find("bought_together_evaluation.min_supports"), std::string::npos);
    EXPECT_NE(html.find("tested on 2020-09-04 to 2020-09-10"), std::string::npos);
    EXPECT_NE(html.find("personal_evaluation.tuning.steps</td><td class=\"name\">9 entries "
                        "(listed in metrics.json)"),
              std::string::npos);
    EXPECT_NE(html.find("personal_evaluation.tuning.grid</td><td class=\"name\">0, 0.5, 1"),
              std::string::npos);

    nlohmann::json metrics = nlohmann::json::parse(slurp(files->metrics));
    EXPECT_EQ(metrics["personal"], fixture_evaluation());
    EXPECT_EQ(metrics["data_profile"]["transactions"], 11);
    EXPECT_EQ(metrics["bought_together"]["protocol"]["cases"], 2);
    // Three baselines (global and recent best sellers, pair co-occurrence) and one setting.
    EXPECT_EQ(metrics["bought_together"]["scores"].size(), 4u);
}

TEST_F(ReportTest, ShowsEveryPersonalRecommenderAsNotBuiltWithoutEvaluation) {
    ReportOptions options;
    options.out_dir = dir_ / "out";
    options.bought_together.test_weeks = 1;
    auto files = write_report(*store_, options);
    ASSERT_TRUE(files.is_ok()) << files.status().to_string();
    std::string html = slurp(files->html);
    for (const char* name : kExpectedPersonalRecommenders) {
        EXPECT_NE(html.find(std::string("<td class=\"name\">") + name +
                            "</td><td class=\"status\">not built</td>"),
                  std::string::npos)
            << name;
    }
    EXPECT_NE(html.find("pass --evaluation FILE"), std::string::npos);
    nlohmann::json metrics = nlohmann::json::parse(slurp(files->metrics));
    EXPECT_TRUE(metrics["personal"].is_null());
}

TEST_F(ReportTest, UsesTheEvaluatorHookAndReportsItsFailure) {
    ReportOptions options;
    options.out_dir = dir_ / "out";
    options.evaluate_bought_together = false;
    options.evaluate_personal = [](const Store&) -> Result<nlohmann::json> {
        return Status::invalid_data("no model in the store; run `lookbook train` first");
    };
    auto files = write_report(*store_, options);
    ASSERT_TRUE(files.is_ok());
    std::string html = slurp(files->html);
    EXPECT_NE(html.find("no model in the store; run `lookbook train` first"), std::string::npos);
    EXPECT_NE(html.find("Not evaluated: skipped on request"), std::string::npos);

    options.evaluate_personal = [](const Store&) -> Result<nlohmann::json> {
        return fixture_evaluation();
    };
    files = write_report(*store_, options);
    ASSERT_TRUE(files.is_ok());
    EXPECT_EQ(nlohmann::json::parse(slurp(files->metrics))["personal"], fixture_evaluation());
    EXPECT_EQ(slurp(files->html).find("<p class=\"note\">Figures: "), std::string::npos);

    // Found by the fresh-user trial: the page did not say where its figures came from (the
    // evaluation `build` saved or one made for the report). The source, escaped, is shown.
    options.evaluate_personal = [](const Store&) -> Result<nlohmann::json> {
        nlohmann::json evaluation = fixture_evaluation();
        evaluation["source"] = "evaluated for <this> report";
        return evaluation;
    };
    files = write_report(*store_, options);
    ASSERT_TRUE(files.is_ok());
    EXPECT_NE(slurp(files->html)
                  .find("<p class=\"note\">Figures: evaluated for &lt;this&gt; report.</p>"),
              std::string::npos);
}

TEST_F(ReportTest, BoughtTogetherFailureIsShownNotFatal) {
    ReportOptions options;
    options.out_dir = dir_ / "out";
    options.bought_together.test_weeks = 3;
    auto files = write_report(*store_, options);
    ASSERT_TRUE(files.is_ok());
    EXPECT_NE(slurp(files->html).find("Not evaluated: store "), std::string::npos);
}

TEST_F(ReportTest, RefusesMalformedGivenEvaluationBeforeWriting) {
    ReportOptions options;
    options.out_dir = dir_ / "out";
    options.personal_evaluation = nlohmann::json::parse(R"({"recommenders": [{"name": 7}]})");
    auto files = write_report(*store_, options);
    ASSERT_FALSE(files.is_ok());
    EXPECT_EQ(files.status().code(), StatusCode::kInvalidData);
    EXPECT_EQ(files.status().message().rfind("the given evaluation: recommenders[0] is ", 0), 0u)
        << files.status().message();
    EXPECT_FALSE(std::filesystem::exists(dir_ / "out"));
}

TEST_F(ReportTest, RefusesUnwritableFolder) {
    std::ofstream(dir_ / "file") << "x";
    ReportOptions options;
    options.out_dir = dir_ / "file" / "out";
    options.evaluate_bought_together = false;
    auto files = write_report(*store_, options);
    ASSERT_FALSE(files.is_ok());
    EXPECT_NE(files.status().message().find("cannot create the report folder"), std::string::npos);
    EXPECT_NE(files.status().message().find("choose another --out"), std::string::npos);
}

TEST(PersonalEvaluationShape, NamesTheBadField) {
    nlohmann::json evaluation = fixture_evaluation();
    EXPECT_TRUE(check_personal_evaluation(evaluation, "e.json").is_ok());

    evaluation["recommenders"][0]["map_at_k"] = "high";
    EXPECT_EQ(check_personal_evaluation(evaluation, "e.json").message(),
              "e.json: recommenders[0].map_at_k is \"high\"; expected the shape `lookbook "
              "evaluate --json` prints (see README, \"lookbook report\"). Regenerate the file or "
              "fix that field.");

    evaluation = fixture_evaluation();
    evaluation["recommenders"][1]["segments"]["new"] = 3;
    EXPECT_NE(check_personal_evaluation(evaluation, "e.json")
                  .message()
                  .find("e.json: recommenders[1].segments.new is 3;"),
              std::string::npos);

    EXPECT_NE(check_personal_evaluation(nlohmann::json::object(), "e.json")
                  .message()
                  .find("e.json: \"recommenders\" is missing;"),
              std::string::npos);
    evaluation = fixture_evaluation();
    evaluation["recommenders"][2].erase("name");
    EXPECT_NE(check_personal_evaluation(evaluation, "e.json")
                  .message()
                  .find("(each recommender needs a string \"name\")"),
              std::string::npos);
    EXPECT_EQ(check_personal_evaluation({{"error", "nobody bought in the test weeks"}}, "e.json")
                  .message(),
              "e.json: the evaluation failed: nobody bought in the test weeks; fix that and run "
              "`lookbook evaluate` again");
    evaluation = fixture_evaluation();
    evaluation["protocol"]["k"] = 0;
    EXPECT_NE(check_personal_evaluation(evaluation, "e.json").message().find("protocol.k is 0"),
              std::string::npos);
}

TEST_F(ReportTest, ReadEvaluationReportsUnreadableAndNonJsonFiles) {
    auto missing = read_personal_evaluation(dir_ / "absent.json");
    ASSERT_FALSE(missing.is_ok());
    EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
    EXPECT_NE(missing.status().message().find("absent.json: cannot read the evaluation file"),
              std::string::npos);

    std::ofstream(dir_ / "bad.json") << "{\"recommenders\": [";
    auto bad = read_personal_evaluation(dir_ / "bad.json");
    ASSERT_FALSE(bad.is_ok());
    EXPECT_NE(bad.status().message().find("bad.json: not JSON (byte "), std::string::npos)
        << bad.status().message();

    auto good = read_personal_evaluation(fixture_dir() + "/personal_evaluation.json");
    ASSERT_TRUE(good.is_ok());
    EXPECT_EQ(*good, fixture_evaluation());
}

TEST(FormatFigure, RoundsSensibly) {
    EXPECT_EQ(format_figure(0.012345), "0.0123");
    EXPECT_EQ(format_figure(341.54), "341.5");
    EXPECT_EQ(format_figure(12345.6), "12,346");
    EXPECT_EQ(format_figure(412), "412");
    EXPECT_EQ(format_figure(31662), "31,662");
    EXPECT_EQ(format_figure(nlohmann::json()), "–");
    EXPECT_EQ(format_figure(std::nan("")), "–");
    EXPECT_EQ(format_figure("a<b"), "a&lt;b");
}

}  // namespace
}  // namespace lookbook::report
