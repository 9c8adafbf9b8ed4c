#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace lookbook::web {

// A token bucket per client address: `rate` requests per second on average, bursts of up to
// `burst`. Thread-safe. Buckets of clients idle for a minute are dropped so the table stays
// small.
class RateLimiter {
  public:
    RateLimiter(double rate, double burst) : rate_(rate), burst_(burst) {}

    // True when the client may make one more request now (and takes a token).
    bool allow(const std::string& client);

  private:
    struct Bucket {
        double tokens = 0.0;
        std::chrono::steady_clock::time_point last;
    };
    double rate_;
    double burst_;
    std::mutex mutex_;
    std::unordered_map<std::string, Bucket> buckets_;
    std::chrono::steady_clock::time_point last_sweep_ = std::chrono::steady_clock::now();
};

}  // namespace lookbook::web
