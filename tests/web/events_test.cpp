// Events: API key, durable recording, live use by the recommend hook, folding by the build.
#include <signal.h>
#include <sys/wait.h>

#include "lookbook/store/store.hpp"
#include "lookbook/web/event_log.hpp"
#include "lookbook/web/fold_events.hpp"
#include "web_fixture.hpp"

namespace lookbook::web::testing {
namespace {

using nlohmann::json;

const char* kKey = "test-key-123";

ServicesFactory echo_services(std::vector<CustomerEvent>* seen) {
    return [seen](const Snapshot&) {
        Services services;
        services.recommend =
            [seen](const std::string&,
                   const RecommendQuery&,
                   const std::vector<CustomerEvent>& live) -> Result<std::vector<ScoredArticle>> {
            *seen = live;
            std::vector<ScoredArticle> out;
            for (const auto& event : live) {
                out.push_back({event.article_id, 1.0, "you just saw it", {}, "live"});
            }
            return out;
        };
        return services;
    };
}

class EventsTest : public WebServerTest {
  protected:
    httplib::Result post_event(const std::string& customer,
                               const std::string& body,
                               const std::string& key = kKey) {
        httplib::Headers headers;
        if (!key.empty()) {
            headers.emplace("X-API-Key", key);
        }
        return client_->Post(
            "/api/customers/" + customer + "/events", headers, body, "application/json");
    }
};

TEST_F(EventsTest, RefusedWhenTheServerHasNoKey) {
    start_server();
    auto res = post_event("c1", R"({"kind":"view","article_id":"0108775015"})");
    EXPECT_EQ(res->status, 403);
    EXPECT_EQ(body_json(res)["error"], "events are disabled: the server has no API key");
    EXPECT_EQ(body_json(res)["hint"],
              "start lookbook serve with --api-key KEY or LOOKBOOK_API_KEY=KEY");
}

TEST_F(EventsTest, MissingOrWrongKeyIs401) {
    ServerOptions options;
    options.api_key = kKey;
    start_server(options);
    auto missing = post_event("c1", R"({"kind":"view","article_id":"0108775015"})", "");
    EXPECT_EQ(missing->status, 401);
    EXPECT_EQ(body_json(missing)["error"], "missing API key");
    auto wrong = post_event("c1", R"({"kind":"view","article_id":"0108775015"})", "test-key-124");
    EXPECT_EQ(wrong->status, 401);
    EXPECT_EQ(body_json(wrong)["error"], "wrong API key");
    EXPECT_EQ(get("/api/customers/c1/events")->status, 401);
    // Bearer works as well as X-API-Key.
    auto bearer = client_->Post("/api/customers/c1/events",
                                {{"Authorization", std::string("Bearer ") + kKey}},
                                R"({"kind":"view","article_id":"0108775015"})",
                                "application/json");
    EXPECT_EQ(bearer->status, 201);
}

TEST_F(EventsTest, BadBodiesAre400AndUnknownIds404) {
    ServerOptions options;
    options.api_key = kKey;
    start_server(options);
    auto not_json = post_event("c1", "{kind: view");
    EXPECT_EQ(not_json->status, 400);
    EXPECT_EQ(body_json(not_json)["error"], "the body is not a JSON object");
    auto kind = post_event("c1", R"({"kind":"like","article_id":"0108775015"})");
    EXPECT_EQ(kind->status, 400);
    EXPECT_EQ(body_json(kind)["error"], "kind is \"like\"");
    EXPECT_EQ(post_event("c1", R"({"kind":"view"})")->status, 400);
    EXPECT_EQ(post_event("c1", R"({"kind":"view","article_id":108775015})")->status, 400);
    auto price = post_event("c1", R"({"kind":"purchase","article_id":"0108775015","price":-1})");
    EXPECT_EQ(price->status, 400);
    EXPECT_EQ(body_json(price)["error"], "price is -1");
    EXPECT_EQ(
        post_event("c1", R"({"kind":"purchase","article_id":"0108775015","price":1e999})")->status,
        400);
    EXPECT_EQ(post_event("nobody", R"({"kind":"view","article_id":"0108775015"})")->status, 404);
    EXPECT_EQ(post_event("c1", R"({"kind":"view","article_id":"108775015"})")->status, 404);
    EXPECT_EQ(body_json(get("/api/health"))["events"]["recorded"], 0);
}

TEST_F(EventsTest, RecordedEventReachesRecommendationsAtOnceAndSurvivesRestart) {
    std::vector<CustomerEvent> seen;
    ServerOptions options;
    options.api_key = kKey;
    options.services_factory = echo_services(&seen);
    start_server(options);
    auto res = post_event("c2", R"({"kind":"view","article_id":"0351484002"})");
    ASSERT_EQ(res->status, 201);
    EXPECT_EQ(body_json(res)["kind"], "view");
    json recs = body_json(get("/api/customers/c2/recommendations"));
    EXPECT_EQ(recs["live_events"], 1);
    ASSERT_EQ(recs["items"].size(), 1u);
    EXPECT_EQ(recs["items"][0]["article_id"], "0351484002");
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].customer_id, "c2");
    EXPECT_EQ(seen[0].kind, EventKind::kView);
    // Other customers do not see it.
    EXPECT_EQ(body_json(get("/api/customers/c1/recommendations"))["live_events"], 0);

    stop_server();
    start_server(options);
    json events = body_json(get("/api/customers/c2/events", {{"X-API-Key", kKey}}));
    ASSERT_EQ(events["unfolded"].size(), 1u);
    EXPECT_EQ(events["unfolded"][0]["article_id"], "0351484002");
}

TEST_F(EventsTest, BuildFoldsPurchasesIntoTransactionsOnce) {
    ServerOptions options;
    options.api_key = kKey;
    start_server(options);
    ASSERT_EQ(
        post_event("c3", R"({"kind":"purchase","article_id":"0706016001","price":0.03})")->status,
        201);
    ASSERT_EQ(post_event("c3", R"({"kind":"view","article_id":"0108775015"})")->status, 201);
    stop_server();

    auto first = run_build(store_, core_build_steps());
    ASSERT_TRUE(first.is_ok()) << first.status().to_string();
    EXPECT_FALSE((*first)[0].skipped);  // events
    auto store = Store::open(store_);
    ASSERT_TRUE(store.is_ok());
    EXPECT_EQ((*store)->transactions().size(), 8u);
    auto log = EventLog::open(event_log_path(store_));
    ASSERT_TRUE(log.is_ok());
    auto counts = (*log)->counts();
    ASSERT_TRUE(counts.is_ok());
    EXPECT_EQ(counts->first, 2);
    EXPECT_EQ(counts->second, 0);

    // The second build finds nothing to do.
    auto second = run_build(store_, core_build_steps());
    ASSERT_TRUE(second.is_ok());
    EXPECT_TRUE((*second)[0].skipped);
    EXPECT_TRUE((*second)[1].skipped);
    EXPECT_EQ(Store::open(store_).value()->transactions().size(), 8u);
}

TEST_F(EventsTest, FoldWithNoEventsWritesNothing) {
    auto generation = Store::open(store_).value()->generation();
    auto report = fold_events(store_);
    ASSERT_TRUE(report.is_ok());
    EXPECT_EQ(report->events, 0u);
    EXPECT_EQ(Store::open(store_).value()->generation(), generation);
}

// Issue 7: customers without unfolded events are answered from memory, not SQLite. The set
// must follow this connection's writes and those of another (a build, another process).
TEST_F(EventsTest, EventLogSeesEventsOfEveryConnectionAndForgetsFoldedOnes) {
    auto server = EventLog::open(event_log_path(store_));
    auto other = EventLog::open(event_log_path(store_));
    ASSERT_TRUE(server.is_ok() && other.is_ok());
    auto events_of = [](EventLog& log, const char* customer) {
        auto events = log.unfolded_for_customer(customer);
        EXPECT_TRUE(events.is_ok()) << events.status().to_string();
        return events.is_ok() ? events->size() : size_t{999};
    };
    EXPECT_EQ(events_of(**server, "c1"), 0u);

    CustomerEvent event;
    event.customer_id = "c1";
    event.article_id = "0108775015";
    ASSERT_TRUE((*server)->record(event).is_ok());
    EXPECT_EQ(events_of(**server, "c1"), 1u);
    EXPECT_EQ(events_of(**server, "c2"), 0u);

    // Recorded through the other connection: seen at once all the same.
    event.customer_id = "c2";
    auto id = (*other)->record(event);
    ASSERT_TRUE(id.is_ok());
    EXPECT_EQ(events_of(**server, "c2"), 1u);

    // Folded by the other connection (what a build does): gone for the server too.
    ASSERT_TRUE((*other)->mark_folded(*id, "gen-000009").is_ok());
    EXPECT_EQ(events_of(**server, "c1"), 0u);
    EXPECT_EQ(events_of(**server, "c2"), 0u);

    // A log opened on a file with pending events knows them from the start.
    event.customer_id = "c3";
    ASSERT_TRUE((*other)->record(event).is_ok());
    auto reopened = EventLog::open(event_log_path(store_));
    ASSERT_TRUE(reopened.is_ok());
    EXPECT_EQ(events_of(**reopened, "c3"), 1u);
}

// The real binary: an answered event survives kill -9 of the server.
TEST_F(EventsTest, AnsweredEventSurvivesKill9) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    std::string port_file = (dir_ / "serve.out").string();
    int port = 0;
    if (pid == 0) {
        freopen(port_file.c_str(), "w", stdout);
        execl(LOOKBOOK_CLI,
              LOOKBOOK_CLI,
              "--log-level",
              "error",
              "serve",
              store_.c_str(),
              "--port",
              "0",
              "--api-key",
              kKey,
              static_cast<char*>(nullptr));
        _exit(127);
    }
    // The URL line gives the port the server picked.
    for (int attempt = 0; attempt < 200 && port == 0; ++attempt) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        std::ifstream in(port_file);
        std::string line;
        std::getline(in, line);
        auto colon = line.rfind(':');
        if (colon != std::string::npos && line.find("serving") != std::string::npos) {
            port = std::atoi(line.c_str() + colon + 1);
        }
    }
    ASSERT_GT(port, 0) << "the server did not print its URL";
    httplib::Client client("127.0.0.1", port);
    auto res = client.Post("/api/customers/c1/events",
                           {{"X-API-Key", kKey}},
                           R"({"kind":"purchase","article_id":"0351484002","price":0.05})",
                           "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 201);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);

    auto log = EventLog::open(event_log_path(store_));
    ASSERT_TRUE(log.is_ok());
    auto events = (*log)->unfolded_for_customer("c1");
    ASSERT_TRUE(events.is_ok());
    ASSERT_EQ(events->size(), 1u);
    EXPECT_EQ((*events)[0].article_id, "0351484002");
    EXPECT_EQ((*events)[0].kind, EventKind::kPurchase);
    EXPECT_DOUBLE_EQ((*events)[0].price, 0.05);
}

}  // namespace
}  // namespace lookbook::web::testing
