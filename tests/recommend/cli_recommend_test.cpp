// Runs the built `lookbook` binary: train, recommend and evaluate on the hand-made store.
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lookbook/web/event_log.hpp"
#include "store_fixture.hpp"

namespace lookbook {
namespace {

class RecommendCliTest : public testing::HandMadeStore {
  protected:
    struct CommandResult {
        int exit_code;
        std::string out;  // stdout, and stderr when asked
    };

    // Runs `lookbook --log-level off ARGS` through the shell, output captured in a file.
    CommandResult run(const std::string& args, bool with_stderr = false) {
        std::filesystem::path captured = dir_ / "captured.txt";
        std::string command = std::string(LOOKBOOK_CLI) + " --log-level off " + args + " > " +
                              captured.string() + (with_stderr ? " 2>&1" : " 2>/dev/null");
        int status = std::system(command.c_str());
        std::ifstream in(captured);
        std::stringstream text;
        text << in.rdbuf();
        return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text.str()};
    }
    std::string store() const { return (dir_ / "store").string(); }
};

TEST_F(RecommendCliTest, RecommendBeforeTrainSaysToTrain) {
    CommandResult result = run("recommend " + store() + " c1", true);
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_EQ(result.out,
              "lookbook recommend: the store at \"" + store() +
                  "\" has no recommendation models yet; run `lookbook train " + store() +
                  "` first.\n");
}

TEST_F(RecommendCliTest, TrainsThenRecommendsAsJson) {
    CommandResult trained = run("train " + store() + " --factors 4 --iterations 3");
    ASSERT_EQ(trained.exit_code, 0) << trained.out;
    EXPECT_NE(trained.out.find("trained on 10 transactions up to 2020-09-22"), std::string::npos);

    CommandResult listed = run("recommend " + store() + " c3 -k 3 --json");
    ASSERT_EQ(listed.exit_code, 0) << listed.out;
    auto json = nlohmann::json::parse(listed.out);
    ASSERT_EQ(json.size(), 3u);
    for (const auto& item : json) {
        EXPECT_TRUE(item.contains("article_id"));
        EXPECT_FALSE(item["reason"].get<std::string>().empty());
    }

    // An unknown id without events is a typo; with a live purchase it is a new customer.
    CommandResult unknown = run("recommend " + store() + " nobody", true);
    EXPECT_EQ(unknown.exit_code, 1);
    EXPECT_EQ(unknown.out,
              "lookbook recommend: customer \"nobody\" is not in the store; check the id "
              "(customer ids here look like \"c1\", 2 characters). To serve a new customer, "
              "give --bought/--viewed.\n");
    CommandResult fresh = run("recommend " + store() + " nobody --bought 1004 -k 2 --json");
    ASSERT_EQ(fresh.exit_code, 0) << fresh.out;
    EXPECT_EQ(nlohmann::json::parse(fresh.out).size(), 2u);

    CommandResult bad_article = run("recommend " + store() + " c1 --bought 999", true);
    EXPECT_EQ(bad_article.exit_code, 2);
    EXPECT_EQ(bad_article.out,
              "lookbook recommend: article \"999\" is not in the store's catalog; check the id "
              "(article ids here look like \"1001\", 4 characters).\n");
    // Found by the break-it review: an unknown product group gave an empty list.
    CommandResult bad_group =
        run("recommend " + store() + " c3 --group 'Garment lower body'", true);
    EXPECT_EQ(bad_group.exit_code, 2);
    EXPECT_EQ(bad_group.out,
              "lookbook recommend: no product group is called \"Garment lower body\" (names "
              "match exactly, case included); the catalog's groups are \"Garment Full body\", "
              "\"Garment Lower body\", \"Garment Upper body\", \"Socks & Tights\".\n");
    CommandResult lower = run("recommend " + store() + " c3 --group 'Garment Lower body' --json");
    ASSERT_EQ(lower.exit_code, 0) << lower.out;
    auto lower_items = nlohmann::json::parse(lower.out);
    EXPECT_FALSE(lower_items.empty());
    for (const auto& item : lower_items) {
        EXPECT_EQ(item["product_group"], "Garment Lower body") << item.dump();
        EXPECT_TRUE(item.contains("product_type"));
        EXPECT_TRUE(item.contains("colour"));
    }
    // More asked for than the catalog holds: the list is short and says so.
    CommandResult many = run("recommend " + store() + " c3 -k 50", true);
    ASSERT_EQ(many.exit_code, 0) << many.out;
    EXPECT_NE(many.out.find("of the 50 asked for: the sources and the trending fill found no more"),
              std::string::npos)
        << many.out;
    // A customer id pasted with its CSV quotes is recognised.
    CommandResult quoted = run("recommend " + store() + " '\"c1\"'", true);
    EXPECT_EQ(quoted.out,
              "lookbook recommend: customer \"\"c1\"\" is not in the store; did you mean "
              "\"c1\"? To serve a new customer, give --bought/--viewed.\n");
}

// One customer's answer needs one search per source: `recommend` scans exactly rather than
// building HNSW graphs (about a second on the H&M store), unless a candidate list is given.
TEST_F(RecommendCliTest, RecommendForOneCustomerBuildsNoGraphsUnlessAskedTo) {
    ASSERT_EQ(run("train " + store() + " --factors 4 --iterations 3").exit_code, 0);
    auto debug_log = [&](const std::string& global) {
        std::filesystem::path captured = dir_ / "debug.txt";
        std::string command = std::string(LOOKBOOK_CLI) + " --log-level debug " + global +
                              " recommend " + store() + " c3 -k 3 > /dev/null 2> " +
                              captured.string();
        EXPECT_EQ(std::system(command.c_str()), 0) << command;
        std::ifstream in(captured);
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    };
    const std::string line = "recommend: exact candidate scans";
    EXPECT_NE(debug_log("").find(line), std::string::npos);
    EXPECT_EQ(debug_log("--candidate-ef 50").find(line), std::string::npos);
}

// Found by the fresh-user trial: the command ignored the events the server had recorded, so
// it gave another list than the site for the same customer.
TEST_F(RecommendCliTest, RecommendCountsTheServersRecordedEvents) {
    ASSERT_EQ(run("train " + store() + " --factors 4 --iterations 3").exit_code, 0);
    auto has_dress = [&] {
        CommandResult listed = run("recommend " + store() + " c3 -k 6 --json");
        EXPECT_EQ(listed.exit_code, 0) << listed.out;
        for (const auto& item : nlohmann::json::parse(listed.out)) {
            if (item["article_id"] == "1005") {
                return item["reason"].get<std::string>();
            }
        }
        return std::string();
    };
    // Without an events file none is created.
    EXPECT_EQ(has_dress().find("buy again"), std::string::npos);
    EXPECT_FALSE(std::filesystem::exists(web::event_log_path(dir_ / "store")));
    {
        auto log = web::EventLog::open(web::event_log_path(dir_ / "store"));
        ASSERT_TRUE(log.is_ok()) << log.status().to_string();
        web::CustomerEvent event;
        event.customer_id = "c3";
        event.article_id = "1005";
        event.kind = web::EventKind::kPurchase;
        event.unix_ms = 1'600'000'000'000;  // 2020-09-13
        event.price = 0.05;
        ASSERT_TRUE((*log)->record(event).is_ok());
    }
    EXPECT_NE(has_dress().find("buy again: you bought Dress X"), std::string::npos);
}

// A free port on 127.0.0.1 (the kernel's pick, released for the server to take).
int free_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        return 0;
    }
    close(fd);
    return ntohs(address.sin_port);
}

// Issue 7: `lookbook serve` computes the model sources' lists ahead for the customers with
// purchases (--precompute), and answers blended from them are the ones a server that searches
// for every answer gives, before and after a live event.
TEST_F(RecommendCliTest, ServedAnswersFromListsComputedAheadAreTheSearchedOnes) {
    ASSERT_EQ(run("train " + store() + " --factors 4 --iterations 3").exit_code, 0);
    struct Served {
        int port = 0;
        int pid = 0;
    };
    // A child process of this test, so that its exit status can be checked.
    auto start = [&](bool precompute) {
        Served served;
        for (int attempt = 0; attempt < 5 && served.port == 0; ++attempt) {
            served.port = free_port();
        }
        const std::string port = std::to_string(served.port);
        const std::string store_dir = store();
        served.pid = fork();
        if (served.pid == 0) {
            // Only async-signal-safe calls between fork and exec.
            const int null_fd = open("/dev/null", O_WRONLY);
            dup2(null_fd, STDOUT_FILENO);
            dup2(null_fd, STDERR_FILENO);
            execl(LOOKBOOK_CLI,
                  LOOKBOOK_CLI,
                  "--log-level",
                  "off",
                  "serve",
                  store_dir.c_str(),
                  "--port",
                  port.c_str(),
                  "--api-key",
                  "k",
                  "--recommend-cache",
                  "0",
                  "--precompute",
                  precompute ? "100000" : "0",
                  static_cast<char*>(nullptr));
            _exit(127);
        }
        return served;
    };
    auto get = [](const Served& served, const std::string& path) {
        httplib::Client client("127.0.0.1", served.port);
        for (int attempt = 0; attempt < 200; ++attempt) {
            if (auto res = client.Get(path)) {
                return std::make_pair(res->status, res->body);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        return std::make_pair(0, std::string());
    };
    const Served ahead = start(true);
    const Served searching = start(false);
    ASSERT_GT(ahead.pid, 0);
    ASSERT_GT(searching.pid, 0);
    // The four customers of the store have purchases: all four get lists.
    nlohmann::json progress;
    for (int attempt = 0; attempt < 200; ++attempt) {
        progress = nlohmann::json::parse(get(ahead, "/api/health").second);
        if (progress["recommend_lists_ahead"]["ready"] == 4) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_EQ(progress["recommend_lists_ahead"], nlohmann::json({{"ready", 4}, {"customers", 4}}));
    EXPECT_FALSE(nlohmann::json::parse(get(searching, "/api/health").second)
                     .contains("recommend_lists_ahead"));

    auto compare = [&](const std::string& when) {
        std::vector<std::string> answers;
        for (const char* customer : {"c1", "c2", "c3", "c4", "c9"}) {
            for (const char* query : {"k=1", "k=3", "k=12", "k=6&max_per_type=1"}) {
                const std::string path =
                    fmt::format("/api/customers/{}/recommendations?{}", customer, query);
                const auto [status, body] = get(ahead, path);
                EXPECT_EQ(status, customer == std::string("c9") ? 404 : 200) << path;
                EXPECT_EQ(body, get(searching, path).second) << when << ": " << path;
                answers.push_back(body);
            }
        }
        return answers;
    };
    const std::vector<std::string> before = compare("before the event");
    // Both servers read the store's events: a view recorded on one is live history on both.
    {
        // Closed before the servers are stopped: an open keep-alive connection holds a worker
        // (cpp-httplib lets it finish its keep-alive wait, ~5 s, before the server stops).
        httplib::Client client("127.0.0.1", ahead.port);
        auto recorded = client.Post("/api/customers/c3/events",
                                    httplib::Headers{{"X-API-Key", "k"}},
                                    R"({"article_id": "1006", "kind": "purchase"})",
                                    "application/json");
        ASSERT_TRUE(recorded);
        EXPECT_EQ(recorded->status, 201) << recorded->body;
    }
    const std::vector<std::string> after = compare("after the event");
    EXPECT_NE(before, after);
    // SIGTERM stops the server cleanly (exit status 0). Break-it review: a thread OpenBLAS
    // starts before main took the signal with its default action, which killed the process.
    for (const Served& served : {ahead, searching}) {
        kill(served.pid, SIGTERM);
        int status = 0;
        pid_t ended = 0;
        // Generous: the sanitizer build's leak check at exit takes seconds too.
        for (int attempt = 0; attempt < 1200 && ended == 0; ++attempt) {
            ended = waitpid(served.pid, &status, WNOHANG);
            if (ended == 0) {
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
        }
        ASSERT_EQ(ended, served.pid) << "the server did not stop within 60 s";
        EXPECT_TRUE(WIFEXITED(status)) << "ended by signal " << WTERMSIG(status);
        EXPECT_EQ(WEXITSTATUS(status), 0);
    }
}

TEST_F(RecommendCliTest, EvaluatePrintsTheContractJson) {
    CommandResult result = run("evaluate " + store() + " --weeks 1 --json --no-tune");
    ASSERT_EQ(result.exit_code, 0) << result.out;
    auto json = nlohmann::json::parse(result.out);
    EXPECT_EQ(json["protocol"]["test_customers"], 3);
    EXPECT_EQ(json["recommenders"][0]["name"], "blend");
    CommandResult text = run("evaluate " + store() + " --weeks 1 --no-tune");
    ASSERT_EQ(text.exit_code, 0);
    EXPECT_NE(text.out.find("popularity_last_week"), std::string::npos);
}

// The catalog with a name in invalid UTF-8 (ingest keeps the retailer's bytes).
class RecommendCliBadUtf8Test : public RecommendCliTest {
  protected:
    std::string articles() const override {
        std::string text = testing::kArticles;
        size_t at = text.find("Dress X");
        EXPECT_NE(at, std::string::npos);
        return text.replace(at, 7, "Dress \xff\xfe");
    }
};

TEST_F(RecommendCliBadUtf8Test, JsonReplacesInvalidBytesInsteadOfFailing) {
    // Found by the break-it review: --json ended with nlohmann's "invalid UTF-8 byte" error.
    ASSERT_EQ(run("train " + store() + " --factors 4 --iterations 3").exit_code, 0);
    // A live purchase of the dress puts it in the list (repurchase) whichever sources run.
    CommandResult listed = run("recommend " + store() + " c1 -k 6 --bought 1005 --json");
    ASSERT_EQ(listed.exit_code, 0) << listed.out;
    auto json = nlohmann::json::parse(listed.out);
    bool dress_listed = false;
    for (const auto& item : json) {
        if (item["article_id"] == "1005") {
            dress_listed = true;
            EXPECT_EQ(item["name"], "Dress \xEF\xBF\xBD\xEF\xBF\xBD");  // two U+FFFD
        }
    }
    EXPECT_TRUE(dress_listed) << listed.out;
}

}  // namespace
}  // namespace lookbook
