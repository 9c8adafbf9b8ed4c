#include "lookbook/web/rate_limiter.hpp"

#include <algorithm>

namespace lookbook::web {

bool RateLimiter::allow(const std::string& client) {
    if (rate_ <= 0.0) {
        return true;  // disabled
    }
    auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    if (now - last_sweep_ > std::chrono::minutes(1)) {
        std::erase_if(buckets_, [&](const auto& entry) {
            return now - entry.second.last > std::chrono::minutes(1);
        });
        last_sweep_ = now;
    }
    auto [it, added] = buckets_.try_emplace(client, Bucket{burst_, now});
    Bucket& bucket = it->second;
    double elapsed = std::chrono::duration<double>(now - bucket.last).count();
    bucket.tokens = std::min(burst_, bucket.tokens + elapsed * rate_);
    bucket.last = now;
    if (bucket.tokens < 1.0) {
        return false;
    }
    bucket.tokens -= 1.0;
    return true;
}

}  // namespace lookbook::web
