#include "lookbook/web/metrics.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace lookbook::web {

Metrics::RouteStats* Metrics::route(const std::string& name) {
    std::lock_guard lock(mutex_);
    auto& stats = routes_[name];
    if (!stats) {
        stats = std::make_unique<RouteStats>();
    }
    return stats.get();
}

void Metrics::observe(RouteStats* route, int status, double seconds) {
    constexpr auto relaxed = std::memory_order_relaxed;
    route->by_status[static_cast<size_t>(std::clamp(status, 0, 599))].fetch_add(1, relaxed);
    route->count.fetch_add(1, relaxed);
    route->sum_ns.fetch_add(static_cast<uint64_t>(std::max(0.0, seconds) * 1e9), relaxed);
    size_t bucket = std::upper_bound(kBuckets.begin(), kBuckets.end(), seconds) - kBuckets.begin();
    // upper_bound gives the first bound above; a value equal to a bound belongs to it.
    if (bucket > 0 && seconds == kBuckets[bucket - 1]) {
        --bucket;
    }
    route->buckets[bucket].fetch_add(1, relaxed);
}

std::string Metrics::prometheus() const {
    std::lock_guard lock(mutex_);
    std::string out =
        "# HELP lookbook_http_requests_total HTTP requests by route and status.\n"
        "# TYPE lookbook_http_requests_total counter\n";
    for (const auto& [name, stats] : routes_) {
        for (size_t status = 0; status < stats->by_status.size(); ++status) {
            if (uint64_t count = stats->by_status[status].load()) {
                out +=
                    fmt::format("lookbook_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n",
                                name,
                                status,
                                count);
            }
        }
    }
    out +=
        "# HELP lookbook_http_request_duration_seconds Time to answer, by route.\n"
        "# TYPE lookbook_http_request_duration_seconds histogram\n";
    for (const auto& [name, stats] : routes_) {
        uint64_t count = stats->count.load();
        if (count == 0) {
            continue;
        }
        // Buckets are stored per interval; Prometheus wants cumulative counts.
        uint64_t cumulative = 0;
        for (size_t bucket_idx = 0; bucket_idx < kBuckets.size(); ++bucket_idx) {
            cumulative += stats->buckets[bucket_idx].load();
            out += fmt::format(
                "lookbook_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n",
                name,
                kBuckets[bucket_idx],
                cumulative);
        }
        out += fmt::format(
            "lookbook_http_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n",
            name,
            count);
        out += fmt::format("lookbook_http_request_duration_seconds_sum{{route=\"{}\"}} {:.6f}\n",
                           name,
                           static_cast<double>(stats->sum_ns.load()) / 1e9);
        out += fmt::format(
            "lookbook_http_request_duration_seconds_count{{route=\"{}\"}} {}\n", name, count);
    }
    return out;
}

}  // namespace lookbook::web
