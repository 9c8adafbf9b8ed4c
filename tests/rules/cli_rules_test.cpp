// Runs the built `lookbook` binary: mine a basket file, mine a store, ask for suggestions.
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

class RulesCliTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("lookbook_rules_cli_" + std::to_string(::getpid()) + "_" +
                std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    struct CommandResult {
        int exit_code;
        std::string out;  // stdout, and stderr when asked
    };

    // Runs `lookbook --log-level off ARGS` through the shell, output captured in a file.
    CommandResult run(const std::string& args, bool with_stderr = false) {
        fs::path captured = dir_ / "captured.txt";
        std::string command = std::string(LOOKBOOK_CLI) + " --log-level off " + args + " > " +
                              captured.string() + (with_stderr ? " 2>&1" : " 2>/dev/null");
        int status = std::system(command.c_str());
        std::ifstream in(captured);
        std::stringstream text;
        text << in.rdbuf();
        return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text.str()};
    }
    std::string write(const std::string& name, const std::string& text) {
        std::ofstream(dir_ / name, std::ios::binary) << text;
        return (dir_ / name).string();
    }
    fs::path dir_;
};

TEST_F(RulesCliTest, MinesBasketFileToJsonLines) {
    std::string baskets = write("g.csv", "whole milk,yogurt\nwhole milk\nyogurt,\"odd\"\n");
    CommandResult mined = run("mine --baskets " + baskets + " --min-support 2");
    ASSERT_EQ(mined.exit_code, 0) << mined.out;
    // Itemsets come grouped by their least frequent item, rarest first (ties: later item id).
    EXPECT_EQ(mined.out,
              "{\"items\": [\"yogurt\"], \"support\": 2}\n"
              "{\"items\": [\"whole milk\"], \"support\": 2}\n");

    // A fraction rounds up: ceil(0.3 * 3) = 1, so pairs and the quoted name appear.
    std::string rules = (dir_ / "rules.jsonl").string();
    mined = run("mine --baskets " + baskets + " --min-support 0.3 --rules " + rules +
                " --min-confidence 0.5");
    ASSERT_EQ(mined.exit_code, 0) << mined.out;
    EXPECT_NE(mined.out.find("{\"items\": [\"yogurt\", \"\\\"odd\\\"\"], \"support\": 1}"),
              std::string::npos)
        << mined.out;
    std::ifstream in(rules);
    std::string line;
    size_t n_rules = 0;
    while (std::getline(in, line)) {
        auto rule = nlohmann::json::parse(line);
        EXPECT_GE(rule["confidence"].get<double>(), 0.5);
        ++n_rules;
    }
    // whole milk <-> yogurt (1 of 2 each way) and "odd" -> yogurt (1 of 1); yogurt -> "odd" too.
    EXPECT_EQ(n_rules, 4u);
}

TEST_F(RulesCliTest, NeedsStoreOrBasketsButNotBoth) {
    CommandResult none = run("mine", true);
    EXPECT_EQ(none.exit_code, 2);
    EXPECT_NE(none.out.find("give either a STORE folder or --baskets FILE (a FIMI or "
                            "comma-separated basket file), not both and not neither."),
              std::string::npos)
        << none.out;
}

TEST_F(RulesCliTest, MineStoreThenBoughtTogether) {
    std::string articles = write("a.csv",
                                 "article_id,product_code,prod_name,product_type_name,"
                                 "product_group_name\n"
                                 "0001001,1,Tee,T-shirt,Upper\n"
                                 "0002001,2,Jeans,Trousers,Lower\n"
                                 "0003001,3,Cap,Hat,Accessories\n");
    std::string transactions = write("t.csv",
                                     "t_dat,customer_id,article_id,price,sales_channel_id\n"
                                     "2020-01-01,c1,0001001,0.1,1\n"
                                     "2020-01-01,c1,0002001,0.2,1\n"
                                     "2020-01-02,c2,0001001,0.1,1\n"
                                     "2020-01-02,c2,0002001,0.2,1\n"
                                     "2020-01-03,c3,0003001,0.1,1\n");
    std::string store = (dir_ / "store").string();
    ASSERT_EQ(run("ingest --articles " + articles + " --transactions " + transactions +
                  " --store " + store)
                  .exit_code,
              0);
    CommandResult mined = run("mine " + store);
    ASSERT_EQ(mined.exit_code, 0) << mined.out;
    EXPECT_NE(mined.out.find("2 article rules"), std::string::npos) << mined.out;

    CommandResult suggested = run("bought-together " + store + " 0001001 -k 2 --json");
    ASSERT_EQ(suggested.exit_code, 0) << suggested.out;
    auto json = nlohmann::json::parse(suggested.out);
    ASSERT_EQ(json.size(), 2u);
    EXPECT_EQ(json[0]["article_id"], "0002001");
    EXPECT_EQ(json[0]["source"], "article_rule");
    EXPECT_EQ(json[0]["reason"],
              "bought together in 2 baskets; 100% of baskets with 0001001 Tee also had 0002001 "
              "Jeans; lift 1.5");
    EXPECT_EQ(json[1]["article_id"], "0003001");
    EXPECT_EQ(json[1]["source"], "popular");

    // Found by a fresh-user trial: an empty answer blamed "the filters" whatever the cause.
    std::string allow = write("allow.txt", "0001001\n");
    CommandResult none = run("bought-together " + store + " 0001001 --allow " + allow);
    ASSERT_EQ(none.exit_code, 0) << none.out;
    EXPECT_NE(none.out.find("No suggestions: without filters there would be 2 articles, but the "
                            "filters leave none: catalog articles only (--any-article shows the "
                            "others); --allow."),
              std::string::npos)
        << none.out;

    CommandResult unknown = run("bought-together " + store + " 1001", true);
    EXPECT_EQ(unknown.exit_code, 2);
    // The id lost its leading zeros (as in a spreadsheet); the message names the stored one.
    EXPECT_NE(unknown.out.find("article \"1001\" is not in the store's catalog; did you mean "
                               "\"0001001\"?"),
              std::string::npos)
        << unknown.out;
}

TEST_F(RulesCliTest, CompleteTheLookWithoutProductGroupsSaysSo) {
    // Two customers buy articles `a` and `b` together, once each; the store is mined.
    auto mined_store = [&](const std::string& name,
                           const std::string& articles_csv,
                           const std::string& a,
                           const std::string& b) {
        std::string transactions = "t_dat,customer_id,article_id\n";
        for (const std::string day : {"2020-01-01,c1,", "2020-01-02,c2,"}) {
            transactions += day + a + "\n" + day + b + "\n";
        }
        const std::string store = (dir_ / name).string();
        EXPECT_EQ(
            run("ingest --articles " + write(name + ".csv", articles_csv) + " --transactions " +
                write(name + "-t.csv", transactions) + " --store " + store)
                .exit_code,
            0);
        EXPECT_EQ(run("mine " + store).exit_code, 0);
        return store;
    };
    const std::string store = mined_store(
        "groupless", "article_id,prod_name\n0001001,Tee\n0002001,Jeans\n", "0001001", "0002001");
    CommandResult look = run("bought-together " + store + " 0001001 --other-groups");
    ASSERT_EQ(look.exit_code, 0) << look.out;
    EXPECT_NE(look.out.find("No suggestions: without filters there would be 1 article, but the "
                            "filters leave none: --other-groups, and the cart's articles have no "
                            "product group in the catalog (map a product_group column at "
                            "ingest); catalog articles only (--any-article shows the others)."),
              std::string::npos)
        << look.out;
    // A colour variant (same product code) is never suggested: nothing else is left.
    const std::string variants =
        mined_store("variants",
                    "article_id,product_code,prod_name\n0001001,1,Tee\n0001002,1,Tee\n",
                    "0001001",
                    "0001002");
    CommandResult only_variant = run("bought-together " + variants + " 0001001");
    ASSERT_EQ(only_variant.exit_code, 0) << only_variant.out;
    EXPECT_NE(only_variant.out.find("No suggestions: even without filters nothing comes up but "
                                    "the cart's own articles and their colour variants."),
              std::string::npos)
        << only_variant.out;
}

TEST_F(RulesCliTest, RefusesOptionsThatWouldBeIgnored) {
    // -o and --rules belong to basket files; on a store they used to be silently ignored.
    CommandResult r = run("mine " + (dir_ / "store").string() + " -o x.jsonl", true);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.out.find("-o/--output and --rules write the itemsets and rules of a basket file"),
              std::string::npos)
        << r.out;
    // -k 0 and negative k are usage errors, not "the filters leave no article".
    EXPECT_EQ(run("bought-together " + (dir_ / "store").string() + " 0001 -k 0").exit_code, 2);
    EXPECT_EQ(run("bought-together " + (dir_ / "store").string() + " 0001 -k -1").exit_code, 2);
}

}  // namespace
