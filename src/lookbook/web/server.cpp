// cpp-httplib or Boost.Beast (issue 7: "choose by measurement"). bench/web_server_ab.sh serves
// the same 1 KB JSON route and 25 KB page with each library and drives them with wrk (64
// connections, 10 s); median of 5 runs on the 2 shared cores (load average 12-19, other builds):
//
//   configuration                     JSON req/s  p99    CPU/req   page req/s  p99    CPU/req
//   httplib, 64 workers (this server)  44,300    4.0 ms   34 us      51,300    1.8 ms   24 us
//   Beast, one io_context, 2 threads   26,500     17 ms   26 us      36,700     15 ms   14 us
//   Beast, an io_context per thread    28,800     29 ms   23 us      44,500     13 ms  8.7 us
//
// Kept cpp-httplib. On this loaded machine it answers more requests with a lower p99: 64
// threads get more of the cores than Beast's 2, and a preempted thread stalls one connection,
// not half of them (Beast on 64 threads was slower still: 11,000 JSON req/s, 45 us each). Beast
// needs 11-15 us less CPU per request, small beside a real route (bought-together runs at 12-18k
// requests/s on these cores, over 100 us each). httplib with 2 workers is no choice: it serves
// 2 connections at a time while the other 62 wait (wrk saw timeouts in every run).
// TODO: cpp-httplib's thread per connection and per-read timeout let 80 clients that send a
// header byte every 2 s hold every worker (a request behind them got no answer in 25 s; Beast
// answered in 3 ms); it answers 1-2 of 3 pipelined requests and closes after 5 s; it accepted a
// 200 KB header (Beast stops at 8 KB). Harmless on loopback; on an open port, put a reverse
// proxy in front. Moving to Beast fixes these but means writing a router with path parameters,
// query and multipart parsing (photo upload), the rate-limit hook, the access log and 413/431
// answers: an estimated 500 lines and a rerun of every web test.
#include "lookbook/web/server.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <span>
#include <tuple>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <sys/socket.h>

#include "lookbook/rules/store_rules.hpp"
#include "lookbook/store/id_hint.hpp"
#include "lookbook/util/checksum.hpp"
#include "lookbook/util/date.hpp"
#include "lookbook/util/fifo_gate.hpp"
#include "lookbook/util/file.hpp"
#include "lookbook/util/log.hpp"
#include "lookbook/web/api_json.hpp"
#include "lookbook/web/event_log.hpp"
#include "lookbook/web/html.hpp"
#include "lookbook/web/metrics.hpp"
#include "lookbook/web/rate_limiter.hpp"
#include "lookbook/web/static_files.hpp"
#include "lookbook/web/thumbnail.hpp"

namespace lookbook::web {

namespace fs = std::filesystem;
using nlohmann::json;
using Request = httplib::Request;
using Response = httplib::Response;

namespace {

// Debian's cpp-httplib (a shared library) listens with a backlog of 5: with 64 clients
// connecting at once the kernel drops SYNs and a client retries after a second, which showed
// as 0.7-1 s p99 latencies under wrk. Listening again on the bound socket widens the queue
// (Linux updates the backlog of a listening socket).
class ListeningServer : public httplib::Server {
  public:
    void widen_backlog() { ::listen(svr_sock_, SOMAXCONN); }
};

// The route a request matched and when it started, for the metrics written once the response
// is sent. httplib runs the pre-routing handler, the route and the logger on one thread.
thread_local Metrics::RouteStats* t_route = nullptr;
thread_local std::chrono::steady_clock::time_point t_start;

constexpr size_t kMaxK = 100;
constexpr size_t kDefaultK = 12;
constexpr size_t kMaxPerPage = 100;
constexpr size_t kMaxQueryLength = 200;
constexpr const char* kBuildHint = "run `lookbook build STORE` and the server picks it up";

bool is_api_path(const std::string& path) {
    return path.rfind("/api/", 0) == 0 || path == "/metrics";
}

void send_json(Response& res, const json& body, int status = 200) {
    res.status = status;
    // nlohmann writes NaN and infinities as null, so no invalid JSON number can leave.
    res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void send_error(Response& res, int status, const std::string& error, const std::string& hint) {
    send_json(res, json{{"error", error}, {"hint", hint}, {"status", status}}, status);
}

// The OpenAPI document with `servers` naming where this server listens: "http://HOST:PORT", or
// the relative "/" for a wildcard address (0.0.0.0, ::), which no client can connect to and
// whose reachable name the server does not know.
std::string openapi_for(const std::string& host, int port) {
    json doc = json::parse(kOpenApiJson);
    std::string url = "/";
    if (!host.empty() && host != "0.0.0.0" && host != "::" && port > 0) {
        const bool ipv6 = host.find(':') != std::string::npos;
        url = ipv6 ? fmt::format("http://[{}]:{}", host, port)
                   : fmt::format("http://{}:{}", host, port);
    }
    doc["servers"] = json::array({{{"url", url}}});
    return doc.dump(1);
}

// Why the hook `name` (its name in /api/health) is empty although built; empty when not built.
std::string unavailable_reason(const Snapshot& s, const std::string& name) {
    auto it = s.services.unavailable.find(name);
    return it == s.services.unavailable.end() ? std::string() : it->second;
}

// 503 for a hook left empty: "`what_is` not built" ("text search is"), or, when its part is
// built but cannot be loaded, "`what_is` unavailable" with the reason as the hint.
void send_missing(Response& res,
                  const Snapshot& s,
                  const std::string& name,
                  const std::string& what_is) {
    const std::string reason = unavailable_reason(s, name);
    if (reason.empty()) {
        send_error(res, 503, what_is + " not built", kBuildHint);
    } else {
        send_error(res, 503, what_is + " unavailable", reason);
    }
}

// Parses an optional whole-number query parameter in [min, max]; on a bad value answers 400 and
// returns nothing.
// Bytes of the character at text[i]: its well-formed UTF-8 sequence, or 1 for a byte that
// starts none (a stray continuation byte, an overlong or cut-short sequence).
size_t utf8_step(std::string_view text, size_t i) {
    return std::max<size_t>(1, utf8_sequence(text, i));
}

// Characters of UTF-8 text, the unit of the length limits people read in the hints. Every
// byte that starts no valid sequence counts as one, so invalid bytes cannot slip past a limit.
size_t utf8_characters(std::string_view text) {
    size_t count = 0;
    for (size_t i = 0; i < text.size(); ++count) {
        i += utf8_step(text, i);
    }
    return count;
}

// The first `max_chars` characters of `text`, never cutting one in two, with "…" when cut.
std::string utf8_prefix(std::string_view text, size_t max_chars) {
    size_t i = 0;
    for (size_t chars = 0; i < text.size() && chars < max_chars; ++chars) {
        i += utf8_step(text, i);
    }
    return i < text.size() ? std::string(text.substr(0, i)) + "…" : std::string(text);
}

std::optional<size_t> size_param(
    const Request& req, Response& res, const char* name, size_t fallback, size_t min, size_t max) {
    if (!req.has_param(name)) {
        return fallback;
    }
    std::string text = req.get_param_value(name);
    size_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
        send_error(res,
                   400,
                   fmt::format("query parameter {} is \"{}\"", name, text.substr(0, 40)),
                   fmt::format("expected a whole number from {} to {}", min, max));
        return std::nullopt;
    }
    return value;
}

// A yes/no query parameter: true/1/yes or false/0/no (any case); `fallback` when absent.
std::optional<bool> flag_param(const Request& req, Response& res, const char* name, bool fallback) {
    if (!req.has_param(name)) {
        return fallback;
    }
    std::string text = req.get_param_value(name);
    std::string folded = text;
    std::transform(folded.begin(), folded.end(), folded.begin(), [](unsigned char c) {
        return static_cast<char>(std::tolower(c));
    });
    if (folded == "true" || folded == "1" || folded == "yes") {
        return true;
    }
    if (folded == "false" || folded == "0" || folded == "no") {
        return false;
    }
    send_error(res,
               400,
               fmt::format("query parameter {} is \"{}\"", name, text.substr(0, 40)),
               "expected true or false");
    return std::nullopt;
}

std::optional<uint32_t> find_article(const Snapshot& snapshot,
                                     const std::string& id,
                                     Response& res,
                                     bool api = true) {
    auto article = snapshot.store->articles().find(id);
    if (!article && api) {
        // A shortened or quoted id that matches a stored one gets that id as the hint.
        const auto meant = repaired_article_id(snapshot.store->articles(), id);
        send_error(res,
                   404,
                   fmt::format("unknown article \"{}\"", utf8_prefix(id, 64)),
                   meant ? fmt::format("did you mean \"{}\"?", *meant)
                         : "article ids are the catalog's, with their leading zeros "
                           "(\"0108775015\"); list them at /api/articles");
    }
    return article;
}

// "Did you mean <link>?" for a page of an unknown id, empty without a likely id.
std::string did_you_mean(std::string_view path, const std::optional<std::string>& meant) {
    if (!meant) {
        return "";
    }
    return fmt::format("Did you mean <a href=\"{}{}\">{}</a>? ",
                       path,
                       html_escape(url_encode(*meant)),
                       html_escape(*meant));
}

ArticleCard card_for(const ArticleTable& articles, uint32_t article) {
    ArticleCard card;
    card.article_id = articles.id(article);
    card.name = articles.name(article);
    card.product_type = articles.product_type(article);
    card.colour = articles.colour(article);
    card.has_photo = !articles.image_path(article).empty();
    return card;
}

// HTTP status for a hook's failure: the hook's own 404/400, anything else means the model
// cannot answer right now.
int hook_status(const Status& status) {
    switch (status.code()) {
        case StatusCode::kNotFound:
            return 404;
        case StatusCode::kInvalidArgument:
            return 400;
        case StatusCode::kResourceExhausted:
            return 413;
        default:
            return 503;
    }
}

// The compute gate's state in the Prometheus text format, after the routes' metrics.
std::string compute_gate_metrics(const FifoGate& gate) {
    const FifoGate::Counts counts = gate.counts();
    std::string out;
    auto add = [&out](const char* name, const char* type, const char* help, uint64_t value) {
        out += fmt::format("# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help, type, value);
    };
    add("lookbook_compute_slots",
        "gauge",
        "Personal recommendations computed at once.",
        gate.slots());
    add("lookbook_compute_running", "gauge", "Recommendations computing now.", counts.running);
    add("lookbook_compute_waiting",
        "gauge",
        "Requests queued for a compute slot now.",
        counts.waiting);
    add("lookbook_compute_entered_total",
        "counter",
        "Requests given a compute slot.",
        counts.entered);
    add("lookbook_compute_waited_total",
        "counter",
        "Requests that queued before getting a compute slot.",
        counts.waited);
    add("lookbook_compute_timed_out_total",
        "counter",
        "Requests answered 503 after waiting too long for a compute slot.",
        counts.timed_out);
    add("lookbook_compute_refused_total",
        "counter",
        "Requests answered 503 because the server was stopping.",
        counts.refused);
    return out;
}

// Answers with a hook's items as {"items": [...]} plus the fields of `extra`, or with the hook's
// failure under the status it maps to. The items are written straight into the body (see
// api_json.hpp), with the keys in the order nlohmann gives an object's.
void send_scored(Response& res,
                 const Snapshot& snapshot,
                 const Result<std::vector<ScoredArticle>>& items,
                 const json& extra,
                 const char* hint) {
    if (!items.is_ok()) {
        if (items.status().code() == StatusCode::kUnavailable) {
            res.set_header("Retry-After", "1");
            hint = "the server is busy or stopping; retry in a moment";
        }
        send_error(res, hook_status(items.status()), items.status().message(), hint);
        return;
    }
    std::string body;
    body.reserve(512 + 1024 * items->size());
    body.push_back('{');
    bool items_written = false;
    auto write_items = [&] {
        body.append("\"items\":");
        append_scored_items(&body, *snapshot.article_fragments, *items);
        body.push_back(',');
        items_written = true;
    };
    for (const auto& [key, value] : extra.items()) {
        if (!items_written && key > "items") {
            write_items();
        }
        append_json_string(&body, key);
        body.push_back(':');
        body.append(value.dump(-1, ' ', false, json::error_handler_t::replace));
        body.push_back(',');
    }
    if (!items_written) {
        write_items();
    }
    body.back() = '}';
    res.status = 200;
    res.body = std::move(body);
    res.set_header("Content-Type", "application/json");
}

std::vector<ArticleCard> scored_cards(const Snapshot& snapshot,
                                      const std::vector<ScoredArticle>& items) {
    const ArticleTable& articles = snapshot.store->articles();
    std::vector<ArticleCard> cards;
    for (const auto& item : items) {
        auto article = articles.find(item.article_id);
        if (!article) {
            continue;  // a model trained on an older catalog; nothing to show
        }
        ArticleCard card = card_for(articles, *article);
        card.reason = item.reason;
        card.parts = item.parts;
        cards.push_back(std::move(card));
    }
    return cards;
}

// other_groups: only articles of product groups the cart does not hold ("complete the look":
// a top gets trousers and shoes rather than other tops).
// `any_article` lets in articles sold but missing from the catalog file (no name or photo).
Result<std::vector<rules::Suggestion>> bought_together(const Snapshot& snapshot,
                                                       const std::vector<uint32_t>& cart,
                                                       size_t k,
                                                       bool other_groups,
                                                       bool any_article) {
    rules::RecommendOptions options;
    options.k = k;
    options.other_groups_only = other_groups;
    options.catalog_only = !any_article;
    return rules::complete_the_look(*snapshot.rules, cart, options);
}

json suggestions_json(const Snapshot& snapshot, const std::vector<rules::Suggestion>& suggestions) {
    const ArticleTable& articles = snapshot.store->articles();
    json out = json::array();
    for (const auto& s : suggestions) {
        json entry = article_json(articles, s.article);
        entry["source"] = rules::suggestion_source_name(s.source);
        entry["score"] = s.score;
        entry["lift"] = s.lift;
        entry["support"] = s.support;
        entry["reason"] = s.reason;
        out.push_back(std::move(entry));
    }
    return out;
}

// Lower-case ASCII copy, for case-insensitive name search.
std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(
        out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

// The catalog's spelling of a filter value (`known`, compared without regard to ASCII case).
// Answers 400 naming the parameter and some of the known values when there is none.
std::optional<std::string> catalog_value(Response& res,
                                         const char* name,
                                         const std::string& value,
                                         const std::vector<std::string>& known) {
    std::string folded = lower(value);
    for (const std::string& candidate : known) {
        if (lower(candidate) == folded) {
            return candidate;
        }
    }
    std::string examples;
    for (size_t i = 0; i < known.size() && i < 8; ++i) {
        examples += (i > 0 ? ", " : "") + known[i];
    }
    send_error(
        res,
        400,
        fmt::format("no catalog article has {} \"{}\"", name, value.substr(0, 60)),
        known.empty()
            ? fmt::format("the catalog has no {} values", name)
            : fmt::format("the catalog's {} values are {}{}",
                          name,
                          examples,
                          known.size() > 8 ? fmt::format(" and {} more", known.size() - 8) : ""));
    return std::nullopt;
}

// Gives each non-empty filter value (name, value, the catalog's values) the catalog's spelling
// whatever its case. False, with a 400 naming the known values sent, for an unknown value,
// which would otherwise filter everything out.
using FilterValue = std::tuple<const char*, std::string*, const std::vector<std::string>*>;
bool canonical_filter_values(Response& res, std::initializer_list<FilterValue> filters) {
    for (auto [name, value, known] : filters) {
        if (value->empty()) {
            continue;
        }
        auto found = catalog_value(res, name, *value, *known);
        if (!found) {
            return false;
        }
        *value = std::move(*found);
    }
    return true;
}

// The sentence an HTML page shows for a JSON error already in `body`: what was wrong and what
// to do ("query parameter per_page is "abc": expected a whole number from 1 to 100").
std::string page_error_text(const std::string& body) {
    json error = json::parse(body, nullptr, false);
    if (!error.is_object()) {
        return "bad request";
    }
    return error.value("error", std::string("bad request")) + ": " +
           error.value("hint", std::string());
}

// What a shopper reads under a bought-together card; the rule's figures (support, confidence,
// lift, ids), written for analysts, go to the card's hover text and to the API.
std::string shopper_reason(const rules::Suggestion& suggestion,
                           const ArticleTable& articles,
                           uint32_t shown) {
    const auto baskets = [](rules::Count n) {
        return fmt::format("{} basket{}", n, n == 1 ? "" : "s");
    };
    switch (suggestion.source) {
        case rules::SuggestionSource::kArticleRule:
            return "bought together with this in " + baskets(suggestion.support);
        case rules::SuggestionSource::kProductCodeRule:
            return "bought with this style, in any colour, in " + baskets(suggestion.support);
        case rules::SuggestionSource::kProductType: {
            std::string type = lower(articles.product_type(shown));
            return type.empty() ? "often bought with pieces like this"
                                : "often bought with a " + type;
        }
        case rules::SuggestionSource::kPopular:
            return "popular in the shop";
    }
    return suggestion.reason;
}

struct CatalogQuery {
    std::string q;
    std::string product_group;
    std::string product_type;
    std::string colour;
    size_t page = 1;
    size_t per_page = 24;
};

// Catalog articles matching every non-empty filter, in store order.
std::vector<uint32_t> filter_catalog(const Snapshot& snapshot, const CatalogQuery& query) {
    const ArticleTable& articles = snapshot.store->articles();
    std::string needle = lower(query.q);
    std::vector<uint32_t> out;
    for (uint32_t article : snapshot.catalog) {
        if ((!query.product_group.empty() &&
             articles.product_group(article) != query.product_group) ||
            (!query.product_type.empty() && articles.product_type(article) != query.product_type) ||
            (!query.colour.empty() && articles.colour(article) != query.colour)) {
            continue;
        }
        if (!needle.empty() && lower(articles.name(article)).find(needle) == std::string::npos &&
            articles.id(article) != query.q) {
            continue;
        }
        out.push_back(article);
    }
    return out;
}

std::optional<CatalogQuery> catalog_query(const Snapshot& snapshot,
                                          const Request& req,
                                          Response& res) {
    CatalogQuery query;
    query.q = req.get_param_value("q");
    query.product_group = req.get_param_value("product_group");
    query.product_type = req.get_param_value("product_type");
    query.colour = req.get_param_value("colour");
    for (const std::string* text :
         {&query.q, &query.product_group, &query.product_type, &query.colour}) {
        if (utf8_characters(*text) > kMaxQueryLength) {
            send_error(
                res,
                400,
                fmt::format("a filter is {} characters long", utf8_characters(*text)),
                fmt::format("filters and searches are at most {} characters", kMaxQueryLength));
            return std::nullopt;
        }
    }
    if (!canonical_filter_values(res,
                                 {{"product_group", &query.product_group, &snapshot.product_groups},
                                  {"product_type", &query.product_type, &snapshot.product_types},
                                  {"colour", &query.colour, &snapshot.colours}})) {
        return std::nullopt;
    }
    auto page = size_param(req, res, "page", 1, 1, 1'000'000);
    auto per_page = page ? size_param(req, res, "per_page", 24, 1, kMaxPerPage) : std::nullopt;
    if (!per_page) {
        return std::nullopt;
    }
    query.page = *page;
    query.per_page = *per_page;
    return query;
}

// One page of the customer list (Snapshot::customers_by_purchases) as JSON entries.
struct CustomerListPage {
    size_t page = 1;
    size_t per_page = 24;
    size_t total = 0;
    size_t pages = 1;
    std::span<const uint32_t> customers;
};

std::optional<CustomerListPage> customer_list_page(const Snapshot& snapshot,
                                                   const Request& req,
                                                   Response& res) {
    auto page = size_param(req, res, "page", 1, 1, 1'000'000);
    auto per_page = page ? size_param(req, res, "per_page", 24, 1, kMaxPerPage) : std::nullopt;
    if (!per_page) {
        return std::nullopt;
    }
    const auto& all = snapshot.customers_by_purchases;
    CustomerListPage out;
    out.page = *page;
    out.per_page = *per_page;
    out.total = all.size();
    out.pages = std::max<size_t>(1, (all.size() + out.per_page - 1) / out.per_page);
    size_t first = std::min(all.size(), (out.page - 1) * out.per_page);
    size_t last = std::min(all.size(), first + out.per_page);
    out.customers = std::span<const uint32_t>(all).subspan(first, last - first);
    return out;
}

json customer_summary_json(const Store& store, uint32_t customer) {
    const CustomerTable& customers = store.customers();
    const TransactionTable& tx = store.transactions();
    uint64_t begin = tx.customer_offsets()[customer];
    uint64_t end = tx.customer_offsets()[customer + 1];
    float age = customers.age(customer);
    return {
        {"customer_id", customers.id(customer)},
        {"age", std::isfinite(age) ? json(age) : json(nullptr)},
        {"purchase_count", end - begin},
        {"last_purchase", end > begin ? json(format_iso_date(tx.date()[end - 1])) : json(nullptr)}};
}

bool constant_time_equal(const std::string& a, const std::string& b) {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (size_t i = 0; i < a.size(); ++i) {
        diff |= static_cast<unsigned char>(a[i] ^ b[i % std::max<size_t>(b.size(), 1)]);
    }
    return diff == 0 && !b.empty();
}

// Only ids made of these characters name cache files as they are; others are hashed.
std::string cache_key(std::string_view id) {
    bool plain = !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    });
    return plain ? std::string(id) : fmt::format("h{:08x}", crc32c(id.data(), id.size()));
}

void send_page(Response& res, const Page& page, int status = 200) {
    res.status = status;
    res.set_content(render_layout(page), "text/html; charset=utf-8");
}

// An error for a request refused before its route ran: JSON under /api, a page elsewhere.
void send_refusal(const Request& req,
                  Response& res,
                  int status,
                  const std::string& error,
                  const std::string& hint) {
    if (is_api_path(req.path)) {
        send_error(res, status, error, hint);
        return;
    }
    send_page(
        res,
        Page{"Sorry", "", fmt::format("<p class=\"empty-state\">{}.</p>", html_escape(error))},
        status);
}

std::string describe_age(float age) {
    return std::isfinite(age) ? fmt::format("{:.0f}", age) : std::string("unknown");
}

}  // namespace

WebServer::~WebServer() {
    stop();
    if (watcher_.joinable()) {
        watcher_.join();
    }
}

Result<std::unique_ptr<WebServer>> WebServer::create(const fs::path& store_dir,
                                                     ServerOptions options) {
    std::unique_ptr<WebServer> server(new WebServer());
    server->store_dir_ = store_dir;
    server->options_ = std::move(options);
    auto snapshot = load_snapshot(store_dir, server->options_.services_factory);
    if (!snapshot.is_ok()) {
        return snapshot.status().with_context("cannot serve " + store_dir.string());
    }
    server->snapshot_ = std::move(snapshot).value();
    LOOKBOOK_ASSIGN_OR_RETURN(server->events_, EventLog::open(event_log_path(store_dir)));
    server->metrics_ = std::make_unique<Metrics>();
    server->limiter_ = std::make_unique<RateLimiter>(server->options_.rate_limit_per_second,
                                                     server->options_.rate_limit_burst);
    server->thumbnails_ = std::make_unique<ThumbnailCache>(store_dir / "cache" / "thumbnails");
    if (const int slots = server->options_.compute_slots; slots > 0) {
        server->compute_gate_ = std::make_unique<FifoGate>(static_cast<size_t>(slots));
        log::info(
            "personal recommendations: {} computed at once, the others wait in arrival "
            "order (at most {} ms)",
            slots,
            server->options_.compute_wait.count());
    }
    server->http_ = std::make_unique<ListeningServer>();
    server->openapi_json_ = openapi_for("", 0);
    server->register_routes();
    return server;
}

std::shared_ptr<const Snapshot> WebServer::snapshot() const { return snapshot_.load(); }

const Snapshot& WebServer::request_snapshot() const {
    // Each worker thread keeps its own reference and refreshes it only when the version moved,
    // so requests share no lock or reference count: with 64 threads on 2 cores, a lock holder
    // that gets preempted stalled every other request (p99 near a second).
    thread_local const WebServer* owner = nullptr;
    thread_local uint64_t version = 0;
    thread_local std::shared_ptr<const Snapshot> cached;
    uint64_t latest = snapshot_version_.load(std::memory_order_acquire);
    if (owner != this || version != latest || !cached) {
        cached = snapshot_.load();
        version = latest;
        owner = this;
    }
    return *cached;
}

Result<std::vector<ScoredArticle>> WebServer::recommend(
    const Snapshot& snapshot,
    const std::string& customer_id,
    const RecommendQuery& query,
    const std::vector<CustomerEvent>& live_events) {
    if (snapshot.services.recommend_cached) {
        if (auto answer = snapshot.services.recommend_cached(customer_id, query, live_events)) {
            return std::move(*answer);
        }
    }
    if (!compute_gate_) {
        return snapshot.services.recommend(customer_id, query, live_events);
    }
    // The pass is held until the answer is computed, and given back however the hook ends.
    LOOKBOOK_ASSIGN_OR_RETURN(FifoGate::Pass pass, compute_gate_->enter(options_.compute_wait));
    return snapshot.services.recommend(customer_id, query, live_events);
}

Result<bool> WebServer::reload_if_changed() {
    std::lock_guard reload(reload_mutex_);
    // Reading CURRENT (a dozen bytes) is the cheap check; the store is opened only on change.
    auto current = read_file(store_dir_ / "CURRENT");
    if (!current.is_ok()) {
        return current.status();
    }
    std::string generation = *current;
    while (!generation.empty() && (generation.back() == '\n' || generation.back() == '\r')) {
        generation.pop_back();
    }
    if (generation == snapshot()->store->generation()) {
        return false;
    }
    LOOKBOOK_ASSIGN_OR_RETURN(auto fresh, load_snapshot(store_dir_, options_.services_factory));
    std::shared_ptr<const Snapshot> retired = snapshot_.exchange(std::move(fresh));
    snapshot_version_.fetch_add(1, std::memory_order_release);
    // Worker threads keep the old snapshot until their next request (request_snapshot), so its
    // background work is told to stop now rather than when it is freed (break-it review: the
    // old generation's lists went on being computed after the swap).
    if (retired && retired->services.retire) {
        retired->services.retire();
    }
    return true;
}

Result<int> WebServer::bind() {
    int threads = std::max(1, options_.threads);
    http_->new_task_queue = [threads] {
        return new httplib::ThreadPool(static_cast<size_t>(threads));
    };
    http_->set_payload_max_length(options_.max_body_bytes);
    http_->set_keep_alive_max_count(10000);
    // Headers and body leave in separate writes; without this, Nagle and delayed ACKs add 40 ms.
    http_->set_tcp_nodelay(true);
    http_->set_read_timeout(10, 0);
    http_->set_write_timeout(10, 0);
    // cpp-httplib's default sets SO_REUSEPORT, which lets a second server bind the same port
    // and silently take half the connections (seen: two `lookbook serve` on one port, each
    // answering from its own store). SO_REUSEADDR alone still allows a quick restart.
    http_->set_socket_options([](socket_t sock) {
        int yes = 1;
        setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    int port = options_.port == 0
                   ? http_->bind_to_any_port(options_.host)
                   : (http_->bind_to_port(options_.host, options_.port) ? options_.port : -1);
    if (port < 0) {
        return Status::io_error(fmt::format(
            "cannot listen on {}:{}: the port is taken or the address is not local; choose "
            "another --port",
            options_.host,
            options_.port));
    }
    static_cast<ListeningServer&>(*http_).widen_backlog();
    openapi_json_ = openapi_for(options_.host, port);
    return port;
}

void WebServer::run() {
    run_started_ = true;
    if (stopping_) {
        run_finished_ = true;
        return;
    }
    watcher_ = std::thread([this] {
        std::unique_lock lock(stop_mutex_);
        while (!stopping_) {
            stop_cv_.wait_for(lock, options_.reload_interval);
            if (stopping_) {
                break;
            }
            lock.unlock();
            auto swapped = reload_if_changed();
            if (!swapped.is_ok()) {
                log::warn("store changed but cannot be loaded, still serving the old one: {}",
                          swapped.status().message());
            }
            lock.lock();
        }
    });
    http_->listen_after_bind();
    run_finished_ = true;
}

void WebServer::stop() {
    {
        std::lock_guard lock(stop_mutex_);
        stopping_ = true;
    }
    stop_cv_.notify_all();
    // Requests queued for a compute slot are answered 503 at once rather than computed.
    if (compute_gate_) {
        compute_gate_->close();
    }
    if (!http_) {
        return;
    }
    http_->stop();
    // cpp-httplib ignores a stop() that arrives before its accept loop is running (a Ctrl-C
    // right after start, or a test that stops at once), and the loop would then run forever:
    // repeat until run() has returned.
    while (run_started_ && !run_finished_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        http_->stop();
    }
}

void WebServer::register_routes() {
    httplib::Server& http = *http_;
    using Handler = std::function<void(const Snapshot&, const Request&, Response&)>;
    // Every route runs on a snapshot taken at its start and never lets an exception reach
    // httplib (which would answer 500 with the exception text in a header).
    auto wrap = [this](const char* route, Handler handler) {
        Metrics::RouteStats* stats = metrics_->route(route);
        return [this, route, stats, handler](const Request& req, Response& res) {
            t_route = stats;
            const Snapshot& snap = request_snapshot();
            try {
                handler(snap, req, res);
            } catch (const std::exception& e) {
                log::error("{} {}: {}", req.method, route, e.what());
                res.body.clear();
                send_error(
                    res, 500, "internal error", "this is a bug in lookbook; the log has details");
            }
        };
    };

    Metrics::RouteStats* unmatched = metrics_->route("unmatched");
    Metrics::RouteStats* rate_limited = metrics_->route("rate_limited");
    http.set_pre_routing_handler(
        [this, unmatched, rate_limited](const Request& req, Response& res) {
            t_start = std::chrono::steady_clock::now();
            t_route = unmatched;
            if (!limiter_->allow(req.remote_addr)) {
                t_route = rate_limited;
                res.set_header("Retry-After", "1");
                send_error(res, 429, "too many requests", "slow down: wait a second and retry");
                return httplib::Server::HandlerResponse::Handled;
            }
            // A body announced over the limit is refused before any of it is read: cpp-httplib
            // would read and drop the whole announced length first, so a client announcing 2 GB
            // got its 413 only after the 10-second read timeout (break-it review of stop 22). A
            // length that is not a byte count is a 400.
            if (req.has_header("Content-Length")) {
                const std::string declared = req.get_header_value("Content-Length");
                uint64_t length = 0;
                const char* end = declared.data() + declared.size();
                const auto [stop, error] = std::from_chars(declared.data(), end, length);
                const bool digits = !declared.empty() && stop == end;
                if (error == std::errc::result_out_of_range ||
                    (digits && error == std::errc() && length > options_.max_body_bytes)) {
                    send_refusal(req,
                                 res,
                                 413,
                                 "the request is too large",
                                 fmt::format("bodies (photos included) must be at most {} bytes",
                                             options_.max_body_bytes));
                    return httplib::Server::HandlerResponse::Handled;
                }
                if (!digits || error != std::errc()) {
                    send_refusal(req,
                                 res,
                                 400,
                                 "the Content-Length header is not a byte count",
                                 "send the body's length in bytes, or no Content-Length");
                    return httplib::Server::HandlerResponse::Handled;
                }
            }
            return httplib::Server::HandlerResponse::Unhandled;
        });
    http.set_logger([unmatched](const Request& req, const Response& res) {
        auto now = std::chrono::steady_clock::now();
        double seconds = std::chrono::duration<double>(now - t_start).count();
        // Requests httplib refuses before routing (a bad request line) count as unmatched.
        Metrics::observe(t_route ? t_route : unmatched, res.status, seconds);
        t_route = nullptr;
        t_start = now;
        log::debug("{} {} {} {:.1f} ms", req.method, req.path, res.status, seconds * 1e3);
    });
    // Errors httplib raises itself (unknown route 404, oversized body 413) get the same JSON or
    // page as the handlers' own.
    http.set_error_handler(httplib::Server::HandlerWithResponse([](const Request& req,
                                                                   Response& res) {
        if (!res.body.empty()) {
            return httplib::Server::HandlerResponse::Unhandled;
        }
        std::string error = res.status == 413 ? "the request is too large"
                            : res.status == 404
                                ? "no such page"
                                : fmt::format("the request failed with status {}", res.status);
        std::string hint = res.status == 413 ? "photos must be at most the server's upload limit"
                                             : "see /api/openapi.json for the routes";
        send_refusal(req, res, res.status, error, hint);
        return httplib::Server::HandlerResponse::Handled;
    }));

    // ---- service routes
    http.Get(
        "/api/health", wrap("health", [this](const Snapshot& s, const Request&, Response& res) {
            auto counts = events_->counts();
            json events = counts.is_ok()
                              ? json{{"recorded", counts->first}, {"unfolded", counts->second}}
                              : json{{"error", counts.status().message()}};
            // Each recommender: "ok", "not built", or "unavailable: why" for a part that
            // is built but cannot be loaded, which makes the status "degraded".
            const std::vector<std::pair<std::string, bool>> served = {
                {"bought_together", s.rules.has_value()},
                {"similar", static_cast<bool>(s.services.similar)},
                {"search_text", static_cast<bool>(s.services.search_text)},
                {"search_image", static_cast<bool>(s.services.search_image)},
                {"recommend", static_cast<bool>(s.services.recommend)}};
            json built = json::object();
            json states = json::object();
            bool degraded = false;
            for (const auto& [name, ok] : served) {
                built[name] = ok;
                const std::string reason = ok ? "" : unavailable_reason(s, name);
                degraded = degraded || !reason.empty();
                states[name] = ok ? "ok" : reason.empty() ? "not built" : "unavailable: " + reason;
            }
            json health = {{"status", degraded ? "degraded" : "ok"},
                           {"recommender_states", states},
                           {"generation", s.store->generation()},
                           {"articles", s.catalog.size()},
                           {"customers", s.store->customers().size()},
                           {"transactions", s.store->transactions().size()},
                           {"recommenders", built},
                           {"events", events}};
            if (s.services.precomputed_progress) {
                const auto [ready, planned] = s.services.precomputed_progress();
                health["recommend_lists_ahead"] = {{"ready", ready}, {"customers", planned}};
            }
            send_json(res, health);
        }));
    http.Get("/metrics", wrap("metrics", [this](const Snapshot&, const Request&, Response& res) {
                 std::string text = metrics_->prometheus();
                 if (compute_gate_) {
                     text += compute_gate_metrics(*compute_gate_);
                 }
                 res.set_content(text, "text/plain; version=0.0.4");
             }));
    http.Get("/api/openapi.json",
             wrap("openapi", [this](const Snapshot&, const Request&, Response& res) {
                 res.set_content(openapi_json_, "application/json");
             }));
    http.Get("/static/style.css",
             wrap("static", [](const Snapshot&, const Request&, Response& res) {
                 res.set_header("Cache-Control", "public, max-age=3600");
                 res.set_content(kStyleCss, "text/css; charset=utf-8");
             }));

    // ---- articles
    http.Get("/api/articles",
             wrap("api_articles", [](const Snapshot& s, const Request& req, Response& res) {
                 auto query = catalog_query(s, req, res);
                 if (!query) {
                     return;
                 }
                 std::vector<uint32_t> matches = filter_catalog(s, *query);
                 size_t first = std::min(matches.size(), (query->page - 1) * query->per_page);
                 size_t last = std::min(matches.size(), first + query->per_page);
                 json items = json::array();
                 for (size_t i = first; i < last; ++i) {
                     items.push_back(article_json(s.store->articles(), matches[i]));
                 }
                 send_json(res,
                           {{"items", items},
                            {"page", query->page},
                            {"per_page", query->per_page},
                            {"total", matches.size()},
                            {"pages", (matches.size() + query->per_page - 1) / query->per_page}});
             }));
    http.Get(R"(/api/articles/([^/]+))",
             wrap("api_article", [](const Snapshot& s, const Request& req, Response& res) {
                 if (auto article = find_article(s, req.matches[1].str(), res)) {
                     send_json(res, article_json(s.store->articles(), *article));
                 }
             }));
    http.Get(R"(/api/articles/([^/]+)/bought-together)",
             wrap("api_bought_together", [](const Snapshot& s, const Request& req, Response& res) {
                 auto article = find_article(s, req.matches[1].str(), res);
                 auto k = article ? size_param(req, res, "k", kDefaultK, 1, kMaxK) : std::nullopt;
                 auto other_groups = k ? flag_param(req, res, "other_groups", false) : std::nullopt;
                 auto any_article =
                     other_groups ? flag_param(req, res, "any_article", false) : std::nullopt;
                 if (!any_article) {
                     return;
                 }
                 if (!s.rules) {
                     send_missing(res, s, "bought_together", "bought-together rules are");
                     return;
                 }
                 auto suggestions = bought_together(s, {*article}, *k, *other_groups, *any_article);
                 if (!suggestions.is_ok()) {
                     send_error(res, 400, suggestions.status().message(), "check the article ids");
                     return;
                 }
                 send_json(res,
                           {{"article_id", req.matches[1].str()},
                            {"items", suggestions_json(s, *suggestions)}});
             }));
    http.Get(
        "/api/bought-together",
        wrap("api_cart_bought_together", [](const Snapshot& s, const Request& req, Response& res) {
            std::string list = req.get_param_value("articles");
            std::vector<std::string> ids;
            for (size_t start = 0; start <= list.size();) {
                size_t comma = std::min(list.find(',', start), list.size());
                if (comma > start) {
                    ids.push_back(list.substr(start, comma - start));
                }
                start = comma + 1;
            }
            if (ids.empty() || ids.size() > 50) {
                send_error(res,
                           400,
                           fmt::format("the cart has {} articles", ids.size()),
                           "pass 1 to 50 article ids as ?articles=ID,ID");
                return;
            }
            auto k = size_param(req, res, "k", kDefaultK, 1, kMaxK);
            auto other_groups = k ? flag_param(req, res, "other_groups", false) : std::nullopt;
            auto any_article =
                other_groups ? flag_param(req, res, "any_article", false) : std::nullopt;
            if (!any_article) {
                return;
            }
            auto cart = rules::cart_from_ids(*s.store, ids);
            if (!cart.is_ok()) {
                send_error(
                    res, 404, cart.status().message(), "article ids keep their leading zeros");
                return;
            }
            if (!s.rules) {
                send_missing(res, s, "bought_together", "bought-together rules are");
                return;
            }
            auto suggestions = bought_together(s, *cart, *k, *other_groups, *any_article);
            if (!suggestions.is_ok()) {
                send_error(res, 400, suggestions.status().message(), "check the article ids");
                return;
            }
            send_json(res, {{"cart", ids}, {"items", suggestions_json(s, *suggestions)}});
        }));
    http.Get(R"(/api/articles/([^/]+)/similar)",
             wrap("api_similar", [](const Snapshot& s, const Request& req, Response& res) {
                 auto article = find_article(s, req.matches[1].str(), res);
                 auto k = article ? size_param(req, res, "k", kDefaultK, 1, kMaxK) : std::nullopt;
                 if (!k) {
                     return;
                 }
                 SimilarFilters filters{req.get_param_value("product_group"),
                                        req.get_param_value("colour")};
                 if (!canonical_filter_values(
                         res,
                         {{"product_group", &filters.product_group, &s.product_groups},
                          {"colour", &filters.colour, &s.colours}})) {
                     return;
                 }
                 if (!s.services.similar) {
                     send_missing(res, s, "similar", "the similar-items index is");
                     return;
                 }
                 auto items = s.services.similar(req.matches[1].str(), *k, filters);
                 send_scored(res, s, items, {{"article_id", req.matches[1].str()}}, kBuildHint);
             }));

    // ---- search
    http.Get(
        "/api/search", wrap("api_search", [](const Snapshot& s, const Request& req, Response& res) {
            std::string text = req.get_param_value("q");
            if (text.empty() || utf8_characters(text) > kMaxQueryLength) {
                send_error(res,
                           400,
                           fmt::format("the search text has {} characters", utf8_characters(text)),
                           fmt::format("pass ?q= with 1 to {} characters", kMaxQueryLength));
                return;
            }
            auto k = size_param(req, res, "k", kDefaultK, 1, kMaxK);
            if (!k) {
                return;
            }
            if (!s.services.search_text) {
                send_missing(res, s, "search_text", "text search is");
                return;
            }
            auto items = s.services.search_text(text, *k);
            send_scored(res, s, items, {{"query", text}}, kBuildHint);
        }));
    http.Post(
        "/api/search/image",
        wrap("api_search_image", [this](const Snapshot& s, const Request& req, Response& res) {
            if (!req.has_file("image")) {
                send_error(res,
                           400,
                           "no photo in the request",
                           "send a multipart/form-data POST with the photo in the field \"image\"");
                return;
            }
            auto k = size_param(req, res, "k", kDefaultK, 1, kMaxK);
            if (!k) {
                return;
            }
            const std::string& bytes = req.get_file_value("image").content;
            auto size = probe_image(bytes);
            if (!size.is_ok()) {
                send_error(res, 415, size.status().message(), "upload a JPEG or PNG photo");
                return;
            }
            if (uint64_t{size->width} * size->height > options_.max_upload_pixels ||
                size->width == 0 || size->height == 0) {
                send_error(
                    res,
                    413,
                    fmt::format("the photo is {}x{} pixels", size->width, size->height),
                    fmt::format("upload a photo of at most {} pixels", options_.max_upload_pixels));
                return;
            }
            if (!s.services.search_image) {
                send_missing(res, s, "search_image", "photo search is");
                return;
            }
            auto items = s.services.search_image(bytes, *k);
            send_scored(res, s, items, json::object(), "upload another photo");
        }));

    // ---- customers and events
    auto find_customer = [](const Snapshot& s, const std::string& id, Response& res) {
        auto customer = s.store->customers().find(id);
        if (!customer) {
            send_error(res,
                       404,
                       fmt::format("unknown customer \"{}\"", utf8_prefix(id, 80)),
                       "customer ids are the ones in the store's customers and transactions");
        }
        return customer;
    };
    http.Get("/api/customers",
             wrap("api_customers", [](const Snapshot& s, const Request& req, Response& res) {
                 auto list = customer_list_page(s, req, res);
                 if (!list) {
                     return;
                 }
                 json items = json::array();
                 for (uint32_t customer : list->customers) {
                     items.push_back(customer_summary_json(*s.store, customer));
                 }
                 send_json(res,
                           {{"items", items},
                            {"page", list->page},
                            {"per_page", list->per_page},
                            {"total", list->total},
                            // as /api/articles: 0 for an empty list
                            {"pages", (list->total + list->per_page - 1) / list->per_page}});
             }));
    http.Get(R"(/api/customers/([^/]+))",
             wrap("api_customer",
                  [this, find_customer](const Snapshot& s, const Request& req, Response& res) {
                      auto customer = find_customer(s, req.matches[1].str(), res);
                      if (!customer) {
                          return;
                      }
                      const CustomerTable& customers = s.store->customers();
                      const TransactionTable& tx = s.store->transactions();
                      uint64_t begin = tx.customer_offsets()[*customer];
                      uint64_t end = tx.customer_offsets()[*customer + 1];
                      json purchases = json::array();
                      for (uint64_t row = end; row > begin && purchases.size() < 50; --row) {
                          json entry = article_json(s.store->articles(), tx.article()[row - 1]);
                          entry["date"] = format_iso_date(tx.date()[row - 1]);
                          entry["price"] = tx.price()[row - 1];
                          purchases.push_back(std::move(entry));
                      }
                      float age = customers.age(*customer);
                      send_json(
                          res,
                          {{"customer_id", req.matches[1].str()},
                           {"has_metadata", customers.has_metadata(*customer)},
                           {"age", std::isfinite(age) ? json(age) : json(nullptr)},
                           {"club_member_status", customers.club_status().value(*customer)},
                           {"fashion_news_frequency", customers.news_frequency().value(*customer)},
                           {"purchase_count", end - begin},
                           {"recent_purchases", purchases}});
                  }));
    http.Get(
        R"(/api/customers/([^/]+)/recommendations)",
        wrap("api_recommendations",
             [this, find_customer](const Snapshot& s, const Request& req, Response& res) {
                 const std::string customer_id = req.matches[1].str();
                 auto customer = find_customer(s, customer_id, res);
                 auto k = customer ? size_param(req, res, "k", kDefaultK, 1, kMaxK) : std::nullopt;
                 // The filters of `lookbook recommend --group/--max-per-type` (a fresh-user
                 // trial found the API without them).
                 auto per_type =
                     k ? size_param(req, res, "max_per_type", 0, 0, kMaxK) : std::nullopt;
                 if (!per_type) {
                     return;
                 }
                 RecommendQuery query{
                     *k, req.get_param_value("product_group"), static_cast<uint32_t>(*per_type)};
                 if (!canonical_filter_values(
                         res, {{"product_group", &query.product_group, &s.product_groups}})) {
                     return;
                 }
                 if (!s.services.recommend) {
                     send_missing(res, s, "recommend", "personal recommendations are");
                     return;
                 }
                 auto live = events_->unfolded_for_customer(customer_id);
                 if (!live.is_ok()) {
                     send_error(
                         res, 503, live.status().message(), "check the store's events.sqlite");
                     return;
                 }
                 auto items = recommend(s, customer_id, query, *live);
                 send_scored(res,
                             s,
                             items,
                             {{"customer_id", customer_id}, {"live_events", live->size()}},
                             kBuildHint);
             }));
    // Writes and reads of events need the API key.
    auto authorized = [this](const Request& req, Response& res) {
        if (options_.api_key.empty()) {
            send_error(res,
                       403,
                       "events are disabled: the server has no API key",
                       "start lookbook serve with --api-key KEY or LOOKBOOK_API_KEY=KEY");
            return false;
        }
        std::string given = req.get_header_value("X-API-Key");
        std::string bearer = req.get_header_value("Authorization");
        if (given.empty() && bearer.rfind("Bearer ", 0) == 0) {
            given = bearer.substr(7);
        }
        if (!constant_time_equal(given, options_.api_key)) {
            send_error(res,
                       401,
                       given.empty() ? "missing API key" : "wrong API key",
                       "send the key given to lookbook serve in the X-API-Key header");
            return false;
        }
        return true;
    };
    http.Post(
        R"(/api/customers/([^/]+)/events)",
        wrap(
            "api_record_event",
            [this, find_customer, authorized](
                const Snapshot& s, const Request& req, Response& res) {
                if (!authorized(req, res) || !find_customer(s, req.matches[1].str(), res)) {
                    return;
                }
                json body = json::parse(req.body, nullptr, false);
                const char* shape_hint =
                    "send JSON like {\"kind\": \"purchase\", \"article_id\": \"0108775015\", "
                    "\"price\": 0.0254}; kind is purchase or view, price is optional";
                if (body.is_discarded() || !body.is_object()) {
                    send_error(res, 400, "the body is not a JSON object", shape_hint);
                    return;
                }
                CustomerEvent event;
                event.customer_id = req.matches[1].str();
                json kind = body.value("kind", json());
                if (kind == "purchase") {
                    event.kind = EventKind::kPurchase;
                } else if (kind != "view") {
                    send_error(
                        res, 400, fmt::format("kind is {}", kind.dump().substr(0, 40)), shape_hint);
                    return;
                }
                json article_id = body.value("article_id", json());
                if (!article_id.is_string()) {
                    send_error(res, 400, "article_id is missing or not a string", shape_hint);
                    return;
                }
                event.article_id = article_id.get<std::string>();
                if (!find_article(s, event.article_id, res)) {
                    return;
                }
                if (body.contains("price")) {
                    const json& price = body["price"];
                    if (!price.is_number() || !std::isfinite(price.get<double>()) ||
                        price.get<double>() < 0 || price.get<double>() > 1e6) {
                        send_error(res,
                                   400,
                                   fmt::format("price is {}", price.dump().substr(0, 40)),
                                   "price is a number from 0 to 1000000");
                        return;
                    }
                    event.price = price.get<double>();
                }
                event.unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
                auto id = events_->record(event);
                if (!id.is_ok()) {
                    log::error("cannot record an event: {}", id.status().message());
                    send_error(res,
                               503,
                               "the event could not be stored",
                               "retry; the server log has details");
                    return;
                }
                send_json(res,
                          {{"event_id", *id},
                           {"customer_id", event.customer_id},
                           {"article_id", event.article_id},
                           {"kind", event_kind_name(event.kind)},
                           {"price", event.price},
                           {"unix_ms", event.unix_ms}},
                          201);
            }));
    http.Get(R"(/api/customers/([^/]+)/events)",
             wrap("api_events",
                  [this, find_customer, authorized](
                      const Snapshot& s, const Request& req, Response& res) {
                      if (!authorized(req, res) || !find_customer(s, req.matches[1].str(), res)) {
                          return;
                      }
                      auto live = events_->unfolded_for_customer(req.matches[1].str());
                      if (!live.is_ok()) {
                          send_error(
                              res, 503, live.status().message(), "check the store's events.sqlite");
                          return;
                      }
                      json items = json::array();
                      for (const auto& e : *live) {
                          items.push_back(json{{"event_id", e.id},
                                               {"article_id", e.article_id},
                                               {"kind", event_kind_name(e.kind)},
                                               {"price", e.price},
                                               {"unix_ms", e.unix_ms}});
                      }
                      send_json(res, {{"customer_id", req.matches[1].str()}, {"unfolded", items}});
                  }));

    // ---- photos: only by article id, from the path the store recorded at ingest
    auto photo_path = [](const Snapshot& s, const std::string& id) -> std::optional<uint32_t> {
        auto article = s.store->articles().find(id);
        if (!article || s.store->articles().image_path(*article).empty()) {
            return std::nullopt;
        }
        return article;
    };
    auto send_image = [](const Request& req, Response& res, const std::string& bytes) {
        auto size = probe_image(bytes);
        std::string etag =
            fmt::format("\"{:08x}-{}\"", crc32c(bytes.data(), bytes.size()), bytes.size());
        res.set_header("Cache-Control", "public, max-age=86400");
        res.set_header("ETag", etag);
        if (req.get_header_value("If-None-Match") == etag) {
            res.status = 304;
            return;
        }
        res.set_content(bytes, size.is_ok() ? size->mime : "application/octet-stream");
    };
    http.Get(
        R"(/thumbnails/([^/]+)\.jpg)",
        wrap("thumbnail",
             [this, photo_path, send_image](const Snapshot& s, const Request& req, Response& res) {
                 auto article = photo_path(s, req.matches[1].str());
                 if (!article) {
                     send_error(
                         res, 404, "no photo for this article", "photos are served by article id");
                     return;
                 }
                 auto bytes =
                     thumbnails_->get(cache_key(req.matches[1].str()),
                                      std::string(s.store->articles().image_path(*article)),
                                      options_.thumbnail_side);
                 if (!bytes.is_ok()) {
                     log::warn("thumbnail of article {}: {}",
                               std::string(req.matches[1].str()),
                               bytes.status().message());
                     send_error(res,
                                404,
                                "the photo cannot be read",
                                "the photo file may have moved since ingest");
                     return;
                 }
                 send_image(req, res, *bytes);
             }));
    http.Get(
        R"(/photos/([^/]+))",
        wrap("photo",
             [photo_path, send_image](const Snapshot& s, const Request& req, Response& res) {
                 auto article = photo_path(s, req.matches[1].str());
                 auto bytes = article
                                  ? read_file(std::string(s.store->articles().image_path(*article)))
                                  : Result<std::string>(Status::not_found("no photo"));
                 if (!bytes.is_ok()) {
                     send_error(
                         res, 404, "no photo for this article", "photos are served by article id");
                     return;
                 }
                 send_image(req, res, *bytes);
             }));

    // ---- pages
    auto catalog_page = [](const Snapshot& s, const Request& req, Response& res) {
        auto query = catalog_query(s, req, res);
        if (!query) {
            std::string error = page_error_text(res.body);
            send_page(
                res,
                Page{"Catalog", "", "<p class=\"empty-state\">" + html_escape(error) + "</p>"},
                400);
            return;
        }
        std::vector<uint32_t> matches = filter_catalog(s, *query);
        size_t pages =
            std::max<size_t>(1, (matches.size() + query->per_page - 1) / query->per_page);
        size_t first = std::min(matches.size(), (query->page - 1) * query->per_page);
        size_t last = std::min(matches.size(), first + query->per_page);
        std::vector<ArticleCard> cards;
        for (size_t i = first; i < last; ++i) {
            cards.push_back(card_for(s.store->articles(), matches[i]));
        }
        std::string options = "<option value=\"\">All groups</option>";
        for (const auto& group : s.product_groups) {
            options += fmt::format("<option value=\"{0}\"{1}>{0}</option>",
                                   html_escape(group),
                                   group == query->product_group ? " selected" : "");
        }
        std::string content = fmt::format(
            "<form class=\"filters\" method=\"get\" action=\"/catalog\" role=\"search\">"
            "<label>Name <input type=\"search\" name=\"q\" value=\"{}\"></label>"
            "<label>Group <select name=\"product_group\">{}</select></label>"
            "<button type=\"submit\">Filter</button></form>\n<p class=\"count\">{} articles</p>\n",
            html_escape(query->q),
            options,
            matches.size());
        std::string base = fmt::format("/catalog?q={}&product_group={}&per_page={}&page=",
                                       url_encode(query->q),
                                       url_encode(query->product_group),
                                       query->per_page);
        if (cards.empty() && !matches.empty()) {
            // Found by the fresh-user trial: past the last page it said "No articles match
            // these filters" with no filter set.
            content += fmt::format(
                "<section id=\"catalog\"><p class=\"empty-state\">Page {} is past the last page. "
                "<a href=\"{}{}\">Go to page {}</a>.</p></section>\n",
                query->page,
                base,
                pages,
                pages);
        } else {
            content +=
                render_card_section("Articles",
                                    "catalog",
                                    cards,
                                    "No articles match these filters: clear a filter to see more.");
        }
        content += "<nav class=\"pagination\" aria-label=\"Pages\">";
        if (query->page > 1 && query->page <= pages) {
            content +=
                fmt::format("<a rel=\"prev\" href=\"{}{}\">Previous</a> ", base, query->page - 1);
        }
        content += fmt::format("<span>Page {} of {}</span>", query->page, pages);
        if (query->page < pages) {
            content +=
                fmt::format(" <a rel=\"next\" href=\"{}{}\">Next</a>", base, query->page + 1);
        }
        content += "</nav>\n";
        send_page(res, Page{"Catalog", "", content});
    };
    http.Get("/", wrap("page_catalog", catalog_page));
    http.Get("/catalog", wrap("page_catalog", catalog_page));

    http.Get(
        R"(/articles/([^/]+))",
        wrap("page_article", [](const Snapshot& s, const Request& req, Response& res) {
            const ArticleTable& articles = s.store->articles();
            auto article = find_article(s, req.matches[1].str(), res, false);
            if (!article) {
                // Found by a fresh-user trial: the API and the CLI suggested the id with its
                // leading zero back, the page did not.
                const auto meant = repaired_article_id(articles, req.matches[1].str());
                send_page(res,
                          Page{"Article not found",
                               "",
                               "<p class=\"empty-state\">This article is not in the catalog. " +
                                   did_you_mean("/articles/", meant) +
                                   "<a href=\"/catalog\">Back to the catalog</a>.</p>"},
                          404);
                return;
            }
            std::string id = req.matches[1].str();
            std::string name =
                articles.name(*article).empty() ? id : std::string(articles.name(*article));
            std::string photo = articles.image_path(*article).empty()
                                    ? "<div class=\"no-photo large\">no photo</div>"
                                    : fmt::format(
                                          "<img class=\"article-photo\" src=\"/thumbnails/{}.jpg\" "
                                          "alt=\"{}\" width=\"256\" height=\"384\">",
                                          url_encode(id),
                                          html_escape(name));
            std::string details;
            for (auto [label, value] :
                 {std::pair<const char*, std::string_view>{"Article", articles.id(*article)},
                  {"Type", articles.product_type(*article)},
                  {"Group", articles.product_group(*article)},
                  {"Colour", articles.colour(*article)},
                  {"Section", articles.attribute(ArticleAttribute::kSection).value(*article)}}) {
                if (!value.empty()) {
                    details += fmt::format("<dt>{}</dt><dd>{}</dd>", label, html_escape(value));
                }
            }
            std::string content = fmt::format(
                "<article class=\"article-detail\">{}<div><dl class=\"facts\">{}</dl><p "
                "class=\"description\">{}</p></div></article>\n",
                photo,
                details,
                html_escape(articles.description(*article)));
            // Two answers of the rules: what is bought with this article whatever its group
            // (often other colours of the same kind), and the look around it (other groups).
            for (bool other_groups : {false, true}) {
                const char* title =
                    other_groups ? "Complete the look" : "Frequently bought together";
                const char* anchor =
                    other_groups ? "complete-the-look" : "frequently-bought-together";
                if (!s.rules) {
                    content += render_unavailable_section(title,
                                                          anchor,
                                                          "Bought-together rules are",
                                                          unavailable_reason(s, "bought_together"));
                    continue;
                }
                // Catalog articles only: those known only from sales (many in the H&M sample)
                // have no name or photo to show.
                auto suggestions = bought_together(s, {*article}, 8, other_groups, false);
                std::vector<ArticleCard> cards;
                if (suggestions.is_ok()) {
                    for (const auto& suggestion : *suggestions) {
                        ArticleCard card = card_for(articles, suggestion.article);
                        card.reason = shopper_reason(suggestion, articles, *article);
                        card.reason_detail = suggestion.reason;
                        cards.push_back(std::move(card));
                    }
                }
                // Found by a fresh-user trial: a catalog without product groups always showed
                // the look empty, for another reason than the one given.
                const char* empty_text =
                    !other_groups
                        ? "No suggestions yet: nobody has bought this article with others."
                    : articles.attribute(ArticleAttribute::kProductGroup).value(*article).empty()
                        ? "No suggestions: this article has no product group in the catalog, so "
                          "no article can be told to belong to another one."
                        : "No suggestions yet: no article of another product group goes with "
                          "this one.";
                content += render_card_section(title, anchor, cards, empty_text);
            }
            if (!s.services.similar) {
                content += render_unavailable_section("Similar items",
                                                      "similar",
                                                      "The similar-items index is",
                                                      unavailable_reason(s, "similar"));
            } else {
                auto items = s.services.similar(id, 8, {});
                content += render_card_section(
                    "Similar items",
                    "similar",
                    items.is_ok() ? scored_cards(s, *items) : std::vector<ArticleCard>{},
                    items.is_ok() ? "No similar items found."
                                  : "Similar items are unavailable right now.");
            }
            send_page(res, Page{name, "", content});
        }));

    http.Get(
        "/customers",
        wrap("page_customers", [](const Snapshot& s, const Request& req, Response& res) {
            // The "go to a customer" box: an exact id opens that customer's page.
            if (req.has_param("id")) {
                std::string id = req.get_param_value("id");
                if (s.store->customers().find(id)) {
                    res.set_redirect("/customers/" + url_encode(id), 303);
                    return;
                }
                send_page(
                    res,
                    Page{"Customers",
                         "",
                         fmt::format("<p class=\"empty-state\">No customer has the id "
                                     "\"{}\". <a href=\"/customers\">Back to the list</a>.</p>",
                                     html_escape(utf8_prefix(id, 80)))},
                    404);
                return;
            }
            auto list = customer_list_page(s, req, res);
            if (!list) {
                std::string error = page_error_text(res.body);
                send_page(
                    res,
                    Page{
                        "Customers", "", "<p class=\"empty-state\">" + html_escape(error) + "</p>"},
                    400);
                return;
            }
            std::string content =
                "<form class=\"filters\" method=\"get\" action=\"/customers\" role=\"search\">"
                "<label>Customer id <input type=\"search\" name=\"id\" required></label>"
                "<button type=\"submit\">Open</button></form>\n";
            content += fmt::format(
                "<p class=\"count\">{} customers with purchases, most purchases first</p>\n",
                list->total);
            if (list->total == 0) {
                content +=
                    "<section id=\"customers\"><p class=\"empty-state\">No customer has a purchase "
                    "yet.</p></section>\n";
            } else if (list->customers.empty()) {
                content += fmt::format(
                    "<section id=\"customers\"><p class=\"empty-state\">Page {} is past the last "
                    "page. <a href=\"/customers?per_page={}&page={}\">Go to page {}</a>.</p>"
                    "</section>\n",
                    list->page,
                    list->per_page,
                    list->pages,
                    list->pages);
            } else {
                content +=
                    "<section id=\"customers\"><table class=\"customer-list\"><thead><tr><th "
                    "scope=\"col\">Customer</th><th scope=\"col\">Age</th><th "
                    "scope=\"col\">Purchases</th><th scope=\"col\">Last purchase</th></tr></thead>"
                    "<tbody>";
                for (uint32_t customer : list->customers) {
                    json row = customer_summary_json(*s.store, customer);
                    std::string id = row["customer_id"].get<std::string>();
                    content += fmt::format(
                        "<tr><td><a href=\"/customers/{}\">{}</a></td><td>{}</td><td>{}</td>"
                        "<td>{}</td></tr>",
                        url_encode(id),
                        html_escape(utf8_prefix(id, 16)),
                        describe_age(s.store->customers().age(customer)),
                        row["purchase_count"].get<uint64_t>(),
                        row["last_purchase"].is_null() ? ""
                                                       : row["last_purchase"].get<std::string>());
                }
                content += "</tbody></table></section>\n";
            }
            content += "<nav class=\"pagination\" aria-label=\"Pages\">";
            if (list->page > 1 && list->page <= list->pages) {
                content += fmt::format(
                    "<a rel=\"prev\" href=\"/customers?per_page={}&page={}\">Previous</a> ",
                    list->per_page,
                    list->page - 1);
            }
            content += fmt::format("<span>Page {} of {}</span>", list->page, list->pages);
            if (list->page < list->pages) {
                content +=
                    fmt::format(" <a rel=\"next\" href=\"/customers?per_page={}&page={}\">Next</a>",
                                list->per_page,
                                list->page + 1);
            }
            content += "</nav>\n";
            send_page(res, Page{"Customers", "", content});
        }));
    http.Get(
        R"(/customers/([^/]+))",
        wrap("page_customer", [this](const Snapshot& s, const Request& req, Response& res) {
            const CustomerTable& customers = s.store->customers();
            std::string id = req.matches[1].str();
            auto customer = customers.find(id);
            if (!customer) {
                const auto meant = repaired_id(
                    id,
                    [&](std::string_view candidate) {
                        return customers.find(candidate).has_value();
                    },
                    customers.size() > 0 ? customers.id(0) : std::string_view());
                send_page(res,
                          Page{"Customer not found",
                               "",
                               "<p class=\"empty-state\">No customer has this id. " +
                                   did_you_mean("/customers/", meant) + "</p>"},
                          404);
                return;
            }
            std::string content = fmt::format(
                "<dl class=\"facts\"><dt>Customer</dt><dd "
                "title=\"{}\">{}</dd><dt>Age</dt><dd>{}</dd>"
                "<dt>Club status</dt><dd>{}</dd><dt>Fashion news</dt><dd>{}</dd></dl>\n",
                html_escape(id),
                html_escape(utf8_prefix(id, 16)),
                describe_age(customers.age(*customer)),
                html_escape(customers.club_status().value(*customer)),
                html_escape(customers.news_frequency().value(*customer)));
            auto live = events_->unfolded_for_customer(id);
            std::vector<CustomerEvent> events = live.is_ok() ? *live : std::vector<CustomerEvent>{};
            if (!s.services.recommend) {
                content += render_unavailable_section("Recommended for you",
                                                      "recommended",
                                                      "Personal recommendations are",
                                                      unavailable_reason(s, "recommend"));
            } else {
                auto items = recommend(s, id, RecommendQuery{}, events);
                content += render_card_section(
                    "Recommended for you",
                    "recommended",
                    items.is_ok() ? scored_cards(s, *items) : std::vector<ArticleCard>{},
                    items.is_ok() ? "No recommendations yet: browse a few articles first."
                                  : "Recommendations are unavailable right now.");
            }
            // Recent activity: events not folded yet first (newest first), then store purchases.
            std::vector<ArticleCard> history;
            for (auto it = events.rbegin(); it != events.rend() && history.size() < 24; ++it) {
                if (auto article = s.store->articles().find(it->article_id)) {
                    ArticleCard card = card_for(s.store->articles(), *article);
                    card.reason =
                        it->kind == EventKind::kPurchase ? "bought just now" : "viewed just now";
                    history.push_back(std::move(card));
                }
            }
            const TransactionTable& tx = s.store->transactions();
            uint64_t begin = tx.customer_offsets()[*customer];
            for (uint64_t row = tx.customer_offsets()[*customer + 1];
                 row > begin && history.size() < 24;
                 --row) {
                ArticleCard card = card_for(s.store->articles(), tx.article()[row - 1]);
                card.reason = "bought on " + format_iso_date(tx.date()[row - 1]);
                history.push_back(std::move(card));
            }
            content +=
                render_card_section("Purchase history", "history", history, "No purchases yet.");
            send_page(res, Page{"Customer", "", content});
        }));

    auto search_page = [this](const Snapshot& s, const Request& req, Response& res) {
        std::string text = req.get_param_value("q");
        std::string content = fmt::format(
            "<form class=\"search\" method=\"get\" action=\"/search\" role=\"search\">"
            "<label>Describe what you look for <input type=\"search\" name=\"q\" maxlength=\"{}\" "
            "value=\"{}\"></label>"
            "<button type=\"submit\">Search</button></form>\n"
            "<form class=\"search\" method=\"post\" action=\"/search\" "
            "enctype=\"multipart/form-data\">"
            "<label>Or upload a photo <input type=\"file\" name=\"image\" "
            "accept=\"image/jpeg,image/png\"></label>"
            "<button type=\"submit\">Find similar</button></form>\n",
            kMaxQueryLength,
            html_escape(text.substr(0, kMaxQueryLength)));
        int status = 200;
        std::string flash;
        bool photo = req.method == "POST";
        if (photo || !text.empty()) {
            auto& hook = photo ? s.services.search_image : s.services.search_text;
            Result<std::vector<ScoredArticle>> items = std::vector<ScoredArticle>{};
            if (photo) {
                const std::string bytes =
                    req.has_file("image") ? req.get_file_value("image").content : "";
                auto size = probe_image(bytes);
                if (!size.is_ok()) {
                    items = Status::invalid_argument("That file is not a JPEG or PNG photo.");
                } else if (uint64_t{size->width} * size->height > options_.max_upload_pixels) {
                    items = Status::resource_exhausted(
                        "That photo is too large; upload a smaller one.");
                } else if (hook) {
                    items = hook(bytes, kDefaultK);
                }
            } else if (utf8_characters(text) > kMaxQueryLength) {
                items = Status::invalid_argument("That search is too long.");
            } else if (hook) {
                items = s.services.search_text(text, kDefaultK);
            }
            if (!items.is_ok()) {
                status = hook_status(items.status()) == 503 ? 200 : hook_status(items.status());
                flash = items.status().code() == StatusCode::kInvalidArgument ||
                                items.status().code() == StatusCode::kResourceExhausted
                            ? items.status().message()
                            : "Search is unavailable right now.";
                content += render_card_section("Results", "results", {}, "No results.");
            } else if (!hook) {
                content += render_unavailable_section(
                    "Results",
                    "results",
                    photo ? "Photo search is" : "Text search is",
                    unavailable_reason(s, photo ? "search_image" : "search_text"));
            } else {
                content += render_card_section("Results",
                                               "results",
                                               scored_cards(s, *items),
                                               "Nothing matches: try other words.");
            }
        }
        send_page(res, Page{"Search", flash, content}, status);
    };
    http.Get("/search", wrap("page_search", search_page));
    http.Post("/search", wrap("page_search", search_page));
}

}  // namespace lookbook::web
