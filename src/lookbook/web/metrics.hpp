#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace lookbook::web {

// Request counts per (route, status) and latency histograms per route, rendered in the
// Prometheus text format. Routes are the registered patterns' names, never raw paths, so the
// number of series stays bounded whatever clients send. Counting is lock-free: a route's
// counters are found once, when the route is registered, and bumped with relaxed atomics, so
// 64 busy connections do not queue on a mutex per request.
class Metrics {
  public:
    // Upper bounds of the latency buckets, in seconds.
    static constexpr std::array<double, 12> kBuckets = {
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};

    struct RouteStats {
        std::array<std::atomic<uint64_t>, 600> by_status{};  // index: HTTP status 0..599
        std::array<std::atomic<uint64_t>, kBuckets.size() + 1> buckets{};  // last: +Inf only
        std::atomic<uint64_t> count{0};
        std::atomic<uint64_t> sum_ns{0};
    };

    // The counters of `route`, created on first call; the pointer stays valid for the
    // lifetime of the Metrics.
    RouteStats* route(const std::string& name);
    static void observe(RouteStats* route, int status, double seconds);
    std::string prometheus() const;

  private:
    mutable std::mutex mutex_;
    std::map<std::string, std::unique_ptr<RouteStats>> routes_;
};

}  // namespace lookbook::web
