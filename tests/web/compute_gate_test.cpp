// The compute gate of personal recommendations over real sockets: cold answers computed in
// arrival order, cached ones at once, and no request left waiting by a timeout, a hook that
// throws, a stop or a new generation.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "web_fixture.hpp"

namespace lookbook::web::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// A recommend hook that holds every call until the test opens it, recording the calls' k (the
// tests tell requests apart by k) in the order they started, and how many ran at once. k = 5
// throws; k = 6 fails with a status; k = 7 is answered by recommend_cached.
struct ModelProbe {
    std::mutex mutex;
    std::condition_variable changed;
    bool open = false;
    int running = 0;
    int most_running = 0;
    int started = 0;
    std::vector<size_t> order;
    std::atomic<int> retired{0};

    ServicesFactory factory() {
        return [this](const Snapshot&) {
            Services services;
            services.retire = [this] { ++retired; };
            services.recommend_cached =
                [](const std::string&,
                   const RecommendQuery& query,
                   const std::vector<CustomerEvent>&) -> std::optional<std::vector<ScoredArticle>> {
                if (query.k != 7) {
                    return std::nullopt;
                }
                return std::vector<ScoredArticle>{{"0108775015", 0.7, "cached", {}, "cache"}};
            };
            services.recommend =
                [this](const std::string&,
                       const RecommendQuery& query,
                       const std::vector<CustomerEvent>&) -> Result<std::vector<ScoredArticle>> {
                const size_t k = query.k;
                std::unique_lock lock(mutex);
                order.push_back(k);
                ++started;
                most_running = std::max(most_running, ++running);
                changed.notify_all();
                // Bounded, so a broken gate fails the test instead of hanging it.
                changed.wait_for(lock, 20s, [this] { return open; });
                --running;
                if (k == 5) {
                    throw std::runtime_error("model fell over");
                }
                if (k == 6) {
                    return Status::unsupported("model cannot answer");
                }
                return std::vector<ScoredArticle>{{"0706016001", 0.5, "computed", {}, "model"}};
            };
            return services;
        };
    }

    void await_started(int count) {
        std::unique_lock lock(mutex);
        ASSERT_TRUE(changed.wait_for(lock, 10s, [&] { return started >= count; }))
            << "only " << started << " of " << count << " calls reached the model";
    }

    void open_all() {
        std::lock_guard lock(mutex);
        open = true;
        changed.notify_all();
    }
};

class ComputeGateTest : public WebServerTest {
  protected:
    void start(int slots, std::chrono::milliseconds wait = 10s) {
        ServerOptions options;
        options.services_factory = probe_.factory();
        options.compute_slots = slots;
        options.compute_wait = wait;
        start_server(std::move(options));
    }

    // One request on its own connection (so on its own server thread), answered later.
    std::future<httplib::Result> ask(size_t k, const std::string& customer = "c1") {
        return std::async(std::launch::async, [this, k, customer] {
            httplib::Client client("127.0.0.1", port_);
            client.set_read_timeout(30, 0);
            return client.Get(fmt::format("/api/customers/{}/recommendations?k={}", customer, k));
        });
    }

    // A value of the gate's metrics, e.g. "lookbook_compute_waiting".
    uint64_t metric(const std::string& name) {
        httplib::Client client("127.0.0.1", port_);
        auto res = client.Get("/metrics");
        EXPECT_TRUE(res && res->status == 200);
        if (!res) {
            return 0;
        }
        std::istringstream lines(res->body);
        std::string line;
        while (std::getline(lines, line)) {
            if (line.rfind(name + " ", 0) == 0) {
                return std::stoull(line.substr(name.size() + 1));
            }
        }
        ADD_FAILURE() << name << " is not in /metrics";
        return 0;
    }

    void await_waiting(uint64_t count) {
        const auto give_up = std::chrono::steady_clock::now() + 10s;
        while (metric("lookbook_compute_waiting") != count) {
            ASSERT_LT(std::chrono::steady_clock::now(), give_up)
                << "never saw " << count << " requests waiting";
            std::this_thread::sleep_for(2ms);
        }
    }

    ModelProbe probe_;
};

TEST_F(ComputeGateTest, WithoutSlotsEveryRequestComputesAtOnce) {
    start(0);
    std::vector<std::future<httplib::Result>> answers;
    for (size_t k : {1, 2, 3}) {
        answers.push_back(ask(k));
    }
    probe_.await_started(3);  // all three inside the model together
    probe_.open_all();
    for (auto& answer : answers) {
        EXPECT_EQ(answer.get()->status, 200);
    }
    EXPECT_EQ(probe_.most_running, 3);
    auto res = get("/metrics");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->body.find("lookbook_compute_"), std::string::npos);
}

TEST_F(ComputeGateTest, ColdRequestsAreComputedOneAtATimeInArrivalOrder) {
    start(1);
    EXPECT_EQ(metric("lookbook_compute_slots"), 1u);
    auto first = ask(1);
    probe_.await_started(1);
    std::vector<std::future<httplib::Result>> queued;
    for (size_t k : {2, 3, 4}) {
        queued.push_back(ask(k));
        await_waiting(queued.size());  // each is queued before the next is sent
    }
    probe_.open_all();
    EXPECT_EQ(first.get()->status, 200);
    for (auto& answer : queued) {
        auto res = answer.get();
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 200);
        EXPECT_EQ(body_json(res)["items"][0]["reason"], "computed");
    }
    EXPECT_EQ(probe_.order, (std::vector<size_t>{1, 2, 3, 4}));
    EXPECT_EQ(probe_.most_running, 1);
    EXPECT_EQ(metric("lookbook_compute_entered_total"), 4u);
    EXPECT_EQ(metric("lookbook_compute_waited_total"), 3u);
    EXPECT_EQ(metric("lookbook_compute_running"), 0u);
}

TEST_F(ComputeGateTest, SlotsLetThatManyComputeAtOnce) {
    start(2);
    auto first = ask(1);
    auto second = ask(2);
    probe_.await_started(2);  // both compute while the first is held: two slots
    auto third = ask(3);
    await_waiting(1);
    probe_.open_all();
    for (auto* answer : {&first, &second, &third}) {
        EXPECT_EQ(answer->get()->status, 200);
    }
    EXPECT_EQ(probe_.most_running, 2);
}

TEST_F(ComputeGateTest, CachedAnswersDoNotQueue) {
    start(1);
    auto cold = ask(1);
    probe_.await_started(1);
    // The only slot is held; a cached answer still comes back at once.
    auto res = get("/api/customers/c2/recommendations?k=7");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(body_json(res)["items"][0]["reason"], "cached");
    EXPECT_EQ(metric("lookbook_compute_entered_total"), 1u);
    probe_.open_all();
    EXPECT_EQ(cold.get()->status, 200);
}

TEST_F(ComputeGateTest, TooLongAWaitIs503WithRetryAfter) {
    start(1, 100ms);
    auto held = ask(1);
    probe_.await_started(1);
    auto res = get("/api/customers/c2/recommendations?k=2");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 503);
    EXPECT_EQ(res->get_header_value("Retry-After"), "1");
    json body = body_json(res);
    EXPECT_EQ(body["error"],
              "too busy: waited 100 ms behind 0 other requests (1 computing at once); try again "
              "in a moment");
    EXPECT_EQ(body["hint"], "the server is busy or stopping; retry in a moment");
    EXPECT_EQ(metric("lookbook_compute_timed_out_total"), 1u);
    // The customer page says so in words instead of failing.
    auto page = get("/customers/c2");
    ASSERT_TRUE(page);
    EXPECT_EQ(page->status, 200);
    EXPECT_NE(page->body.find("Recommendations are unavailable right now."), std::string::npos);
    probe_.open_all();
    EXPECT_EQ(held.get()->status, 200);
    EXPECT_EQ(get("/api/customers/c2/recommendations?k=2")->status, 200);  // slot free again
}

TEST_F(ComputeGateTest, FailingOrThrowingModelGivesItsSlotBack) {
    start(1, 2s);
    probe_.open_all();
    auto thrown = get("/api/customers/c1/recommendations?k=5");
    ASSERT_TRUE(thrown);
    EXPECT_EQ(thrown->status, 500);
    auto failed = get("/api/customers/c1/recommendations?k=6");
    ASSERT_TRUE(failed);
    EXPECT_EQ(failed->status, 503);
    EXPECT_EQ(body_json(failed)["error"], "model cannot answer");
    EXPECT_TRUE(failed->get_header_value("Retry-After").empty());  // not a busy answer
    // With a slot lost, this would wait 2 s and answer 503.
    auto next = get("/api/customers/c1/recommendations?k=1");
    ASSERT_TRUE(next);
    EXPECT_EQ(next->status, 200);
    EXPECT_EQ(metric("lookbook_compute_running"), 0u);
    EXPECT_EQ(metric("lookbook_compute_timed_out_total"), 0u);
}

TEST_F(ComputeGateTest, StopAnswersQueuedRequestsAtOnce) {
    start(1, 60s);
    auto held = ask(1);
    probe_.await_started(1);
    auto queued_a = ask(2);
    await_waiting(1);
    auto queued_b = ask(3);
    await_waiting(2);
    auto stopped = std::async(std::launch::async, [this] { server_->stop(); });
    // The queued requests are answered while the computing one still holds the only slot.
    for (auto* answer : {&queued_a, &queued_b}) {
        ASSERT_EQ(answer->wait_for(10s), std::future_status::ready);
        auto res = answer->get();
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 503);
        EXPECT_EQ(body_json(res)["error"], "the server is stopping");
    }
    EXPECT_EQ(probe_.started, 1);
    probe_.open_all();
    ASSERT_EQ(stopped.wait_for(10s), std::future_status::ready);
    held.get();  // answered or cut off by the stop; either way it returns
    thread_.join();
    server_.reset();
}

TEST_F(ComputeGateTest, NewGenerationSharesTheSlots) {
    start(1);
    auto old_generation = server_->snapshot()->store->generation();
    auto held = ask(1);
    probe_.await_started(1);
    auto queued = ask(2);
    await_waiting(1);
    mine();  // a new generation while one request computes and one waits
    auto swapped = server_->reload_if_changed();
    ASSERT_TRUE(swapped.is_ok()) << swapped.status().to_string();
    ASSERT_NE(server_->snapshot()->store->generation(), old_generation);
    // A request on the new generation queues behind them instead of getting a slot of its own.
    auto fresh = ask(3, "c2");
    await_waiting(2);
    EXPECT_EQ(probe_.started, 1);
    probe_.open_all();
    for (auto* answer : {&held, &queued, &fresh}) {
        auto res = answer->get();
        ASSERT_TRUE(res);
        EXPECT_EQ(res->status, 200);
    }
    EXPECT_EQ(probe_.order, (std::vector<size_t>{1, 2, 3}));
    EXPECT_EQ(probe_.most_running, 1);
}

// The old generation's background work (lists computed ahead) is told to stop as soon as the
// new one is served, while a request still runs on the old one (break-it review: it went on).
TEST_F(ComputeGateTest, ANewGenerationRetiresTheOldOne) {
    start(1);
    auto held = ask(1);
    probe_.await_started(1);
    EXPECT_EQ(probe_.retired, 0);
    auto unchanged = server_->reload_if_changed();
    ASSERT_TRUE(unchanged.is_ok());
    EXPECT_FALSE(*unchanged);
    EXPECT_EQ(probe_.retired, 0);
    mine();
    auto swapped = server_->reload_if_changed();
    ASSERT_TRUE(swapped.is_ok()) << swapped.status().to_string();
    // The fixture's watcher thread checks every 50 ms and may swap first (it did once, on a
    // machine loaded by a CI build, in the sanitizer build); either way one swap, one retire.
    EXPECT_EQ(server_->snapshot()->store->generation(), Store::open(store_).value()->generation());
    EXPECT_EQ(probe_.retired, 1);
    probe_.open_all();
    auto res = held.get();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(probe_.retired, 1);
}

}  // namespace
}  // namespace lookbook::web::testing
