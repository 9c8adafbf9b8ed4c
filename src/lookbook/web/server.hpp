#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "lookbook/util/status.hpp"
#include "lookbook/web/snapshot.hpp"

namespace httplib {
class Server;
}

namespace lookbook {
class FifoGate;
}

namespace lookbook::web {

class EventLog;
class Metrics;
class RateLimiter;
class ThumbnailCache;

struct ServerOptions {
    std::string host = "127.0.0.1";
    int port = 8080;  // 0 picks a free port (tests)
    // Write endpoints (events) are refused with 403 while this is empty.
    std::string api_key;
    // Bodies above this are refused with 413 before they are read (photo uploads included).
    size_t max_body_bytes = 8 << 20;
    // Uploaded photos with more pixels than this are refused with 413 before decoding.
    uint64_t max_upload_pixels = 40'000'000;
    // Per client address: average requests per second and burst; 0 disables the limit.
    double rate_limit_per_second = 500.0;
    double rate_limit_burst = 1000.0;
    // Worker threads; each keep-alive connection holds one while it is open.
    int threads = 64;
    // Personal recommendations computed at once (a `recommend` call that `recommend_cached` could
    // not answer); the other requests wait for a slot in arrival order, at most `compute_wait`,
    // then get 503 (FifoGate). 0: no limit, every worker computes as its request arrives.
    // `lookbook serve` sets 4 per hardware thread (docs/measurements.md, "Compute gate").
    int compute_slots = 0;
    std::chrono::milliseconds compute_wait{5000};
    // How often the store's CURRENT is checked for a new generation.
    std::chrono::milliseconds reload_interval{1000};
    // Longest side of thumbnails, in pixels.
    int thumbnail_side = 256;
    ServicesFactory services_factory;
};

// The lookbook web service: JSON API, HTML pages, thumbnails, health and metrics, over one
// store. Serves an immutable Snapshot of the store's live generation and swaps in a new one,
// between requests, when the store's CURRENT changes.
//
// Built on Debian's cpp-httplib (a thread per open connection) rather than Boost.Beast: the
// measurement behind that choice (bench/web_server_ab.sh) and what cpp-httplib lacks against
// slow clients are at the top of server.cpp.
class WebServer {
  public:
    // Loads the store at `store_dir` and opens its events database. kNotFound when there is no
    // store there (the message says to run `lookbook ingest`).
    static Result<std::unique_ptr<WebServer>> create(const std::filesystem::path& store_dir,
                                                     ServerOptions options);
    ~WebServer();

    // Binds the listening socket; returns the port (useful with port 0). kIOError naming the
    // address when it is taken or not allowed.
    Result<int> bind();
    // Serves until stop() is called from another thread (or a signal handler's thread).
    void run();
    void stop();

    // Loads the store's live generation when it differs from the served one; returns whether
    // it swapped. Called by the watcher thread; public for tests.
    Result<bool> reload_if_changed();
    std::shared_ptr<const Snapshot> snapshot() const;

  private:
    WebServer() = default;
    void register_routes();
    // The snapshot a request on this thread reads; valid until this thread's next request.
    const Snapshot& request_snapshot() const;
    // Personal recommendations from `snapshot`'s hooks: the answer at hand when there is one,
    // otherwise computed once a compute slot is free (kUnavailable when none came in time).
    Result<std::vector<ScoredArticle>> recommend(const Snapshot& snapshot,
                                                 const std::string& customer_id,
                                                 const RecommendQuery& query,
                                                 const std::vector<CustomerEvent>& live_events);

    std::filesystem::path store_dir_;
    ServerOptions options_;
    // One for every generation, so a snapshot swap adds no slots; closed by stop(). Null without
    // compute_slots. Declared before http_ so that it outlives the worker threads.
    std::unique_ptr<FifoGate> compute_gate_;
    std::unique_ptr<httplib::Server> http_;
    std::unique_ptr<EventLog> events_;
    std::unique_ptr<Metrics> metrics_;
    std::unique_ptr<RateLimiter> limiter_;
    std::unique_ptr<ThumbnailCache> thumbnails_;
    // Swapped whole by the watcher; each request loads its own reference.
    std::atomic<std::shared_ptr<const Snapshot>> snapshot_;
    std::atomic<uint64_t> snapshot_version_{0};
    std::thread watcher_;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> run_started_{false};   // run() was entered
    std::atomic<bool> run_finished_{false};  // run() has returned (or will not listen)
    std::mutex stop_mutex_;
    // One reload at a time: the watcher thread and a direct caller (tests) would otherwise both
    // load the same new generation and swap it in twice.
    std::mutex reload_mutex_;
    std::condition_variable stop_cv_;
    // /api/openapi.json with `servers` naming the bound address (set by bind(); "/" before).
    std::string openapi_json_;
};

}  // namespace lookbook::web
