#include "lookbook/web/metrics.hpp"

#include <fmt/format.h>

namespace lookbook::web {

void Metrics::observe(const std::string& route, int status, double seconds) {
    std::lock_guard lock(mutex_);
    RouteStats& stats = routes_[route];
    ++stats.by_status[status];
    ++stats.count;
    stats.sum += seconds;
    for (size_t bucket_idx = 0; bucket_idx < kBuckets.size(); ++bucket_idx) {
        if (seconds <= kBuckets[bucket_idx]) {
            ++stats.buckets[bucket_idx];
            break;
        }
    }
}

std::string Metrics::prometheus() const {
    std::lock_guard lock(mutex_);
    std::string out =
        "# HELP lookbook_http_requests_total HTTP requests by route and status.\n"
        "# TYPE lookbook_http_requests_total counter\n";
    for (const auto& [route, stats] : routes_) {
        for (const auto& [status, count] : stats.by_status) {
            out += fmt::format("lookbook_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n",
                               route,
                               status,
                               count);
        }
    }
    out +=
        "# HELP lookbook_http_request_duration_seconds Time to answer, by route.\n"
        "# TYPE lookbook_http_request_duration_seconds histogram\n";
    for (const auto& [route, stats] : routes_) {
        // Buckets are stored per interval; Prometheus wants cumulative counts.
        uint64_t cumulative = 0;
        for (size_t bucket_idx = 0; bucket_idx < kBuckets.size(); ++bucket_idx) {
            cumulative += stats.buckets[bucket_idx];
            out += fmt::format(
                "lookbook_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n",
                route,
                kBuckets[bucket_idx],
                cumulative);
        }
        out += fmt::format(
            "lookbook_http_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n",
            route,
            stats.count);
        out += fmt::format("lookbook_http_request_duration_seconds_sum{{route=\"{}\"}} {:.6f}\n",
                           route,
                           stats.sum);
        out += fmt::format("lookbook_http_request_duration_seconds_count{{route=\"{}\"}} {}\n",
                           route,
                           stats.count);
    }
    return out;
}

}  // namespace lookbook::web
