// Runs the built `lookbook report` as a user would: ingest a tiny store, write the report.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

namespace {
namespace fs = std::filesystem;

class ReportCliTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("lookbook_report_cli_" + std::to_string(::getpid()) + "_" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        std::string data = std::string(LOOKBOOK_TEST_DATA_DIR) + "/report";
        CommandResult ingested =
            run("ingest --articles " + data + "/articles.csv --customers " + data +
                "/customers.csv --transactions " + data + "/transactions.csv --store " + store());
        ASSERT_EQ(ingested.exit_code, 0) << ingested.out;
    }
    void TearDown() override { fs::remove_all(dir_); }

    struct CommandResult {
        int exit_code;
        std::string out;  // stdout and stderr
    };

    CommandResult run(const std::string& args) {
        fs::path captured = dir_ / "captured.txt";
        std::string command = std::string(LOOKBOOK_CLI) + " --log-level off " + args + " > " +
                              captured.string() + " 2>&1";
        int status = std::system(command.c_str());
        std::ifstream in(captured);
        std::stringstream text;
        text << in.rdbuf();
        return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text.str()};
    }
    std::string store() const { return (dir_ / "store").string(); }

    fs::path dir_;
};

TEST_F(ReportCliTest, WritesReportAndMetrics) {
    std::string evaluation =
        std::string(LOOKBOOK_TEST_DATA_DIR) + "/report/personal_evaluation.json";
    std::string out = (dir_ / "out").string();
    CommandResult result =
        run("report " + store() + " --out " + out + " --weeks 1 --evaluation " + evaluation);
    ASSERT_EQ(result.exit_code, 0) << result.out;
    EXPECT_EQ(result.out, "report:  " + out + "/report.html\nmetrics: " + out + "/metrics.json\n");
    std::ifstream in(out + "/metrics.json");
    nlohmann::json metrics = nlohmann::json::parse(in);
    EXPECT_EQ(metrics["data_profile"]["transactions"], 11);
    EXPECT_EQ(metrics["personal"]["recommenders"][0]["name"], "blend");
    EXPECT_EQ(metrics["bought_together"]["protocol"]["test_weeks"], 1);
}

TEST_F(ReportCliTest, BadEvaluationFileExitsOneNamingIt) {
    fs::path bad = dir_ / "e.json";
    std::ofstream(bad) << "{\"recommenders\": 3}";
    CommandResult result = run("report " + store() + " --out " + (dir_ / "out").string() +
                               " --evaluation " + bad.string());
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_EQ(result.out,
              "lookbook report: " + bad.string() +
                  ": \"recommenders\" is 3; expected the shape `lookbook evaluate --json` prints "
                  "(see README, \"lookbook report\"). Regenerate the file or fix that field.\n");
    EXPECT_FALSE(fs::exists(dir_ / "out"));
}

TEST_F(ReportCliTest, MissingOutIsUsageError) {
    EXPECT_EQ(run("report " + store()).exit_code, 2);
    EXPECT_EQ(run("report " + store() + " --out x --weeks 0").exit_code, 2);
}

TEST_F(ReportCliTest, MissingStoreExitsOne) {
    CommandResult result =
        run("report " + (dir_ / "nothing").string() + " --out " + (dir_ / "out").string());
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_EQ(result.out.rfind("lookbook report: ", 0), 0u) << result.out;
}

}  // namespace
