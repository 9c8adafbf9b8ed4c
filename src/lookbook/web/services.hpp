#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lookbook/util/status.hpp"

namespace lookbook::web {

// One article a recommender proposes. `reason` is one sentence for shoppers ("same colour and
// type as ..."); `parts` optionally breaks the score down ("image 0.61", "text 0.20").
struct ScoredArticle {
    std::string article_id;
    double score = 0.0;
    std::string reason;
    std::vector<std::string> parts;
    // Which model or fallback produced it ("two-tower", "popular", ...); may be empty.
    std::string source;
    // The id of the history article behind the reason (personal recommendations), empty when
    // none: reasons never show a bare id, so the API gives it here.
    std::string because_of;
};

// Narrows "similar items": empty fields do not filter.
struct SimilarFilters {
    std::string product_group;
    std::string colour;
};

enum class EventKind { kView, kPurchase };

// An event recorded through the API and not necessarily folded into the store yet.
struct CustomerEvent {
    int64_t id = 0;  // increasing with arrival order
    std::string customer_id;
    std::string article_id;
    EventKind kind = EventKind::kView;
    int64_t unix_ms = 0;
    double price = 0.0;  // purchases only
};

const char* event_kind_name(EventKind kind);

// What a request for personal recommendations asks besides the customer.
struct RecommendQuery {
    size_t k = 12;
    // Only articles of this product group, in the catalog's spelling; empty: every group.
    std::string product_group;
    // At most this many articles of one product type; 0: no limit.
    uint32_t max_per_type = 0;
};

// What the branches that own the learned models provide to the server. Every hook may be left
// empty: the API then answers 503 with a hint to run `lookbook build`, and the page shows a
// "not built yet" state. A hook returns kNotFound for an unknown id (404), kInvalidArgument
// for bad input (400) and anything else for a model that cannot answer (503); it must be safe
// to call from many threads at once. Hooks are created per store generation (see
// ServicesFactory), so they may keep references into that generation's files.
struct Services {
    std::function<Result<std::vector<ScoredArticle>>(
        const std::string& article_id, size_t k, const SimilarFilters& filters)>
        similar;
    std::function<Result<std::vector<ScoredArticle>>(const std::string& text, size_t k)>
        search_text;
    std::function<Result<std::vector<ScoredArticle>>(std::string_view image_bytes, size_t k)>
        search_image;
    // Why a hook is empty although its part of the store is built (it cannot be loaded: a
    // query model that was moved, a model written for another catalog), with what to do, by
    // the hook's name in /api/health ("similar", "search_text", "search_image", "recommend").
    // The API's 503 hint, the pages and /api/health show it instead of "not built".
    std::map<std::string, std::string> unavailable;
    // `live_events`: the customer's events recorded since the store was built, oldest first.
    std::function<Result<std::vector<ScoredArticle>>(const std::string& customer_id,
                                                     const RecommendQuery& query,
                                                     const std::vector<CustomerEvent>& live_events)>
        recommend;
    // Optional: the answer `recommend` would give when it is at hand or cheap (a cache of
    // answers; lists computed ahead that only need blending), or nothing. The server asks it
    // first, and only requests it cannot answer queue for a compute slot
    // (ServerOptions::compute_slots) before calling `recommend`.
    std::function<std::optional<std::vector<ScoredArticle>>(
        const std::string& customer_id,
        const RecommendQuery& query,
        const std::vector<CustomerEvent>& live_events)>
        recommend_cached;
    // Optional: how far the personal recommendations' lists computed ahead are (customers
    // ready, customers planned), shown by /api/health.
    std::function<std::pair<size_t, size_t>()> precomputed_progress;
    // Optional: called once when the server has swapped in a newer generation, so background
    // work for this one stops (requests still running on it finish; the snapshot itself is freed
    // only when the last of them lets go, which an idle worker may delay).
    std::function<void()> retire;
};

}  // namespace lookbook::web
