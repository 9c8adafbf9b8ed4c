// Opens generated reports in headless Chromium: the page must load from a file:// URL with no
// network, render every chart, and give a full-page screenshot. Skipped when /usr/bin/chromium
// is missing (scripts/install-deps.sh installs it).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <stdlib.h>

#include "fixture_store.hpp"
#include "lookbook/data/ingest.hpp"
#include "lookbook/report/report.hpp"
#include "lookbook/rules/store_rules.hpp"

namespace lookbook::report {
namespace {

namespace fs = std::filesystem;

constexpr const char* kChromium = "/usr/bin/chromium";

std::string slurp(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

size_t count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) {
        ++n;
    }
    return n;
}

// Runs Chromium headless on `page` with a fresh profile and no network services; `mode` is
// "--dump-dom" (DOM to `output`) or "--screenshot=<output>". Returns the exit code.
int run_chromium(const fs::path& page, const std::string& mode, const fs::path& output) {
    char profile_template[] = "/tmp/lookbook_chromium_XXXXXX";
    const char* profile = mkdtemp(profile_template);
    if (profile == nullptr) {
        return -1;
    }
    std::string command =
        std::string("timeout 120 ") + kChromium +
        " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
        " --disable-background-networking --disable-component-update --disable-sync"
        " --user-data-dir=" +
        profile + " --window-size=1280,4000 " + mode + " file://" + fs::absolute(page).string() +
        (mode == "--dump-dom" ? " > " + output.string() : "") + " 2> " + profile + ".log";
    int status = std::system(command.c_str());
    fs::remove_all(profile);
    fs::remove(std::string(profile) + ".log");
    return status;
}

// Loads the report, checks the DOM Chromium built from it, and takes a screenshot kept under
// /tmp/lookbook_report_screenshots (not removed, so a person can look at it).
void check_in_browser(const fs::path& html, size_t expected_charts, const std::string& shot_name) {
    fs::path dom = html.parent_path() / "dom.html";
    ASSERT_EQ(run_chromium(html, "--dump-dom", dom), 0);
    std::string text = slurp(dom);
    EXPECT_NE(text.find("lookbook evaluation report"), std::string::npos);
    for (const char* section : {"data-profile", "bought-together", "personal", "settings"}) {
        EXPECT_NE(text.find(std::string("id=\"") + section + "\""), std::string::npos) << section;
    }
    // Every chart reached the DOM as an <svg> with its title, and none says "no data".
    EXPECT_EQ(count(text, "<svg "), expected_charts);
    EXPECT_EQ(count(text, "class=\"chart-title\""), expected_charts);
    EXPECT_EQ(text.find(">no data<"), std::string::npos);
    EXPECT_EQ(text.find("ERR_"), std::string::npos);
    EXPECT_EQ(text.find("NaN"), std::string::npos);
    // The page ends where we wrote it: the browser did not give up half way.
    EXPECT_NE(text.find("every figure is also in metrics.json"), std::string::npos);

    // TODO: the screenshot is the first 4000 px of the page (Chromium's --screenshot takes the
    // window, not the whole page); a report with many recommenders and settings runs longer and
    // its end is only checked through the DOM above.
    fs::path shots = fs::temp_directory_path() / "lookbook_report_screenshots";
    fs::create_directories(shots);
    fs::path shot = shots / shot_name;
    fs::remove(shot);
    ASSERT_EQ(run_chromium(html, "--screenshot=" + shot.string(), {}), 0);
    ASSERT_TRUE(fs::exists(shot));
    EXPECT_GT(fs::file_size(shot), 20000u);  // a blank 1280x4000 page compresses far below this
    std::cout << "screenshot: " << shot.string() << "\n";
}

using ReportBrowser = lookbook::testing::ReportFixtureStore;

TEST_F(ReportBrowser, FixtureReportRendersEveryChart) {
    if (!fs::exists(kChromium)) {
        GTEST_SKIP() << kChromium << " is missing; run scripts/install-deps.sh";
    }
    ReportOptions options;
    options.out_dir = dir_ / "out";
    options.bought_together.test_weeks = 1;
    auto evaluation = read_personal_evaluation(fixture_dir() + "/personal_evaluation.json");
    ASSERT_TRUE(evaluation.is_ok());
    options.personal_evaluation = *evaluation;
    auto files = write_report(*store_, options);
    ASSERT_TRUE(files.is_ok()) << files.status().to_string();
    check_in_browser(files->html, 8, "fixture_report.png");
}

// The README's flow on the H&M sample: ingest, report (bought-together evaluated on the last
// four weeks; personal recommenders from the hand-made evaluation file).
TEST(ReportBrowserHm, SampleReportRendersEveryChart) {
    if (!fs::exists(kChromium)) {
        GTEST_SKIP() << kChromium << " is missing; run scripts/install-deps.sh";
    }
    fs::path dir = fs::temp_directory_path() / ("lookbook_report_hm_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    std::string data = std::string(LOOKBOOK_SHARED_DIR) + "/data/hm_hungle45_pse";
    IngestOptions ingest_options;
    ingest_options.articles = data + "/articles_train_sample.csv";
    ingest_options.customers = data + "/customers_sample.csv";
    ingest_options.transactions = data + "/transactions_train_sample.csv";
    ingest_options.images = data + "/images";
    ingest_options.store = dir / "store";
    auto ingested = ingest(ingest_options);
    ASSERT_TRUE(ingested.is_ok()) << ingested.status().to_string();
    auto store = Store::open(dir / "store");
    ASSERT_TRUE(store.is_ok());
    ReportOptions options;
    options.out_dir = dir / "out";
    auto files = write_report(**store, options);
    ASSERT_TRUE(files.is_ok()) << files.status().to_string();
    // Without a personal evaluation the personal section has no charts: 5 profile + 1.
    check_in_browser(files->html, 6, "hm_sample_report.png");

    // The profile's baskets agree with the rules library's own grouping (8,802 on the sample).
    std::ifstream metrics_file(files->metrics);
    nlohmann::json metrics = nlohmann::json::parse(metrics_file);
    auto baskets = rules::baskets_from_store(**store, {});
    ASSERT_TRUE(baskets.is_ok());
    EXPECT_EQ(metrics["data_profile"]["baskets"].get<size_t>(), baskets->size());
    EXPECT_EQ(metrics["data_profile"]["transactions"], 31662);
    fs::remove_all(dir);
}

}  // namespace
}  // namespace lookbook::report
