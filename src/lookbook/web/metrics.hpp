#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace lookbook::web {

// Request counts per (route, status class) and latency histograms per route, rendered in the
// Prometheus text format. Routes are the registered patterns' names, never raw paths, so the
// number of series stays bounded whatever clients send. Thread-safe.
class Metrics {
  public:
    // Upper bounds of the latency buckets, in seconds.
    static constexpr std::array<double, 12> kBuckets = {
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};

    void observe(const std::string& route, int status, double seconds);
    std::string prometheus() const;

  private:
    struct RouteStats {
        std::map<int, uint64_t> by_status;
        std::array<uint64_t, kBuckets.size()> buckets{};
        uint64_t count = 0;
        double sum = 0.0;
    };
    mutable std::mutex mutex_;
    std::map<std::string, RouteStats> routes_;
};

}  // namespace lookbook::web
