// HTTP library A/B for issue 7 ("Debian's cpp-httplib or Boost.Beast: choose by measurement"):
// one program serving the same two routes with either library, driven by
// bench/web_server_ab.sh (wrk, 64 connections).
//   GET /api/bought-together  a ~1 KB JSON answer built per request with nlohmann::json,
//                              like the API's recommendation lists;
//   GET /page                  a ~25 KB HTML page rendered once at start and copied into every
//                              response (both libraries copy it into their response body).
// Anything else answers 404 with a JSON error. Both servers share the answer code, so the
// difference measured is the HTTP layer: parsing, routing, connection handling, writing.
//
// cpp-httplib runs as lookbook's server does (web/server.cpp): a thread pool of THREADS workers,
// each holding one keep-alive connection, TCP_NODELAY, the listen backlog widened to SOMAXCONN.
// Beast runs the usual asynchronous design: one io_context run by THREADS threads, async accept,
// read and write, keep-alive, a strand per connection. `beast-per-thread` gives each thread its
// own io_context instead (no strands; Asio takes no locks with one thread per context).
//
// Usage: web_server_ab httplib|beast|beast-per-thread PORT THREADS
// Listens on 127.0.0.1:PORT until killed; prints the two body sizes on stderr at start.
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <httplib.h>
#include <malloc.h>
#include <nlohmann/json.hpp>
#include <sys/socket.h>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr const char* kJsonPath = "/api/bought-together";
constexpr const char* kPagePath = "/page";
constexpr const char* kHost = "127.0.0.1";
// Sizes chosen for a ~1 KB JSON answer and a ~25 KB page.
constexpr int kItems = 7;
constexpr int kCards = 74;

// What a route answers, independent of the library that sends it.
struct Answer {
    int status = 200;
    std::string body;
    const char* content_type = "application/json";
};

// Seven recommended articles with the fields the API sends (~1 KB). The ids change with a
// per-thread counter so that no answer can be cached anywhere along the way.
std::string bought_together_json() {
    thread_local uint64_t request_count = 0;
    ++request_count;
    nlohmann::json items = nlohmann::json::array();
    for (int item_idx = 0; item_idx < kItems; ++item_idx) {
        items.push_back({
            {"article_id", fmt::format("{:010d}", (request_count * 10 + item_idx) % 1000000000)},
            {"name", "Ribbed jersey top"},
            {"product_type", "Top"},
            {"colour", "Light Beige"},
            {"score", 1.0 / (item_idx + 1)},
            {"photo_url", "/photos/0108775015.jpg"},
        });
    }
    nlohmann::json body = {
        {"article_id", "0108775015"}, {"k", kItems}, {"items", std::move(items)}};
    return body.dump();
}

// A catalog page of 74 article cards (~25 KB), rendered once like a cached page.
std::string catalog_page() {
    std::string html =
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Catalog - "
        "lookbook</title><link rel=\"stylesheet\" "
        "href=\"/static/style.css\"></head>\n<body><header "
        "class=\"site-header\"><a href=\"/\">lookbook</a></header>\n<main><h1>Catalog</h1><ul "
        "class=\"article-grid\">\n";
    for (int card_idx = 0; card_idx < kCards; ++card_idx) {
        html += fmt::format(
            "<li class=\"article-card\"><a href=\"/articles/{0:010d}\"><img src=\"/thumbnails/"
            "{0:010d}.jpg\" alt=\"Ribbed jersey top in light beige\" width=\"256\" height=\"256\" "
            "loading=\"lazy\"><span class=\"article-name\">Ribbed jersey top</span><span "
            "class=\"article-type\">Top · Jersey Basic</span><span class=\"article-colour\">Light "
            "Beige</span></a></li>\n",
            108775001 + card_idx * 1013);
    }
    html +=
        "</ul><nav class=\"pager\"><a href=\"/catalog?page=2\">Next page</a></nav></main>\n"
        "<footer class=\"site-footer\">H&amp;M sample</footer></body></html>\n";
    return html;
}

Answer answer_for(std::string_view target, const std::string& page) {
    if (target == kJsonPath) {
        return Answer{200, bought_together_json(), "application/json"};
    }
    if (target == kPagePath) {
        return Answer{200, page, "text/html; charset=utf-8"};
    }
    return Answer{404, R"({"error":"no such route","hint":"try /page"})", "application/json"};
}

// --- cpp-httplib, configured as web/server.cpp configures it -----------------------------------

// Debian's shared cpp-httplib listens with a backlog of 5; web/server.cpp widens it the same way.
class WideBacklogServer : public httplib::Server {
  public:
    void widen_backlog() { ::listen(svr_sock_, SOMAXCONN); }
};

int run_httplib(int port, int threads, const std::string& page) {
    WideBacklogServer server;
    server.new_task_queue = [threads] {
        return new httplib::ThreadPool(static_cast<size_t>(threads));
    };
    server.set_keep_alive_max_count(10000);
    server.set_tcp_nodelay(true);
    server.set_read_timeout(10, 0);
    server.set_write_timeout(10, 0);
    // Routes go through httplib's regex router, as lookbook's do.
    auto send = [&page](const httplib::Request& req, httplib::Response& res) {
        Answer answer = answer_for(req.path, page);
        res.status = answer.status;
        res.set_content(answer.body, answer.content_type);
    };
    server.Get(kJsonPath, send);
    server.Get(kPagePath, send);
    server.set_error_handler(httplib::Server::Handler(send));
    if (!server.bind_to_port(kHost, port)) {
        fmt::print(
            stderr, "cannot listen on {}:{}: the port is taken; choose another\n", kHost, port);
        return 1;
    }
    server.widen_backlog();
    server.listen_after_bind();
    return 0;
}

// --- Boost.Beast: asynchronous, a strand per connection ----------------------------------------

// One keep-alive connection: read a request, answer it, read the next, until the client closes
// or stays silent past the timeout.
class BeastSession : public std::enable_shared_from_this<BeastSession> {
  public:
    BeastSession(tcp::socket socket, const std::string& page)
        : stream_(std::move(socket)), page_(page) {}

    void start() {
        // Run on the connection's strand: its handlers never run on two threads at once.
        asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
    }

  private:
    void read() {
        request_ = {};
        // A deadline for the whole request (headers and body), which also ends idle
        // keep-alive connections and slow senders.
        stream_.expires_after(std::chrono::seconds(10));
        http::async_read(
            stream_, buffer_, request_, [self = shared_from_this()](beast::error_code ec, size_t) {
                self->on_read(ec);
            });
    }

    void on_read(beast::error_code ec) {
        if (ec) {
            // end_of_stream, timeout or a malformed request: close without an answer.
            stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
            return;
        }
        std::string_view target(request_.target().data(), request_.target().size());
        Answer answer = answer_for(request_.method() == http::verb::get ? target : "", page_);
        response_ = {};
        response_.result(static_cast<unsigned>(answer.status));
        response_.version(request_.version());
        response_.set(http::field::content_type, answer.content_type);
        response_.keep_alive(request_.keep_alive());
        response_.body() = std::move(answer.body);
        response_.prepare_payload();
        http::async_write(
            stream_, response_, [self = shared_from_this()](beast::error_code write_ec, size_t) {
                self->on_write(write_ec);
            });
    }

    void on_write(beast::error_code ec) {
        if (ec) {
            return;
        }
        if (!response_.keep_alive()) {
            stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
            return;
        }
        read();
    }

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    http::request<http::string_body> request_;
    http::response<http::string_body> response_;
    const std::string& page_;
};

// Accepts connections forever. With one io_context run by several threads, each connection
// gets a strand of it; with an io_context per thread, connections are dealt out in turn and
// need no strand (each context has a single thread).
class BeastListener : public std::enable_shared_from_this<BeastListener> {
  public:
    BeastListener(std::vector<std::unique_ptr<asio::io_context>>& contexts,
                  bool strand_per_connection,
                  tcp::acceptor acceptor,
                  const std::string& page)
        : contexts_(contexts),
          strand_per_connection_(strand_per_connection),
          acceptor_(std::move(acceptor)),
          page_(page) {}

    void accept() {
        asio::io_context& target = *contexts_[next_context_++ % contexts_.size()];
        auto on_accept = [self = shared_from_this()](beast::error_code ec, tcp::socket sock) {
            self->on_accept(ec, std::move(sock));
        };
        if (strand_per_connection_) {
            acceptor_.async_accept(asio::make_strand(target), std::move(on_accept));
        } else {
            acceptor_.async_accept(target.get_executor(), std::move(on_accept));
        }
    }

  private:
    void on_accept(beast::error_code ec, tcp::socket socket) {
        if (!ec) {
            socket.set_option(tcp::no_delay(true), ec);
            std::make_shared<BeastSession>(std::move(socket), page_)->start();
        }
        accept();
    }

    std::vector<std::unique_ptr<asio::io_context>>& contexts_;
    bool strand_per_connection_;
    tcp::acceptor acceptor_;
    const std::string& page_;
    size_t next_context_ = 0;
};

// `shared`: one io_context run by `threads` threads (Beast's examples); otherwise one
// single-threaded io_context per thread, which takes no locks inside Asio.
int run_beast(int port, int threads, bool shared, const std::string& page) {
    std::vector<std::unique_ptr<asio::io_context>> contexts;
    for (int context_idx = 0; context_idx < (shared ? 1 : threads); ++context_idx) {
        contexts.push_back(std::make_unique<asio::io_context>(shared ? threads : 1));
    }
    tcp::acceptor acceptor(*contexts[0]);
    tcp::endpoint endpoint(asio::ip::make_address(kHost), static_cast<unsigned short>(port));
    beast::error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) {
        acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    }
    if (!ec) {
        acceptor.bind(endpoint, ec);
    }
    if (!ec) {
        // Asio's default backlog is SOMAXCONN, the same as the widened httplib one.
        acceptor.listen(asio::socket_base::max_listen_connections, ec);
    }
    if (ec) {
        fmt::print(
            stderr, "cannot listen on {}:{}: {}; choose another port\n", kHost, port, ec.message());
        return 1;
    }
    std::make_shared<BeastListener>(contexts, shared && threads > 1, std::move(acceptor), page)
        ->accept();
    // An io_context with nothing to do returns from run() at once; a context that has not been
    // dealt a connection yet must keep its thread.
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> keep_running;
    for (auto& context : contexts) {
        keep_running.push_back(asio::make_work_guard(*context));
    }
    std::vector<std::thread> workers;
    for (int thread_idx = 1; thread_idx < threads; ++thread_idx) {
        asio::io_context& io = *contexts[shared ? 0 : thread_idx];
        workers.emplace_back([&io] { io.run(); });
    }
    contexts[0]->run();
    for (auto& worker : workers) {
        worker.join();
    }
    return 0;
}

bool parse_int(std::string_view text, int min, int max, int& value) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    return ec == std::errc() && end == text.data() + text.size() && value >= min && value <= max;
}

}  // namespace

int main(int argc, char** argv) {
    int port = 0;
    int threads = 0;
    std::string_view library = argc == 4 ? argv[1] : "";
    if ((library != "httplib" && library != "beast" && library != "beast-per-thread") ||
        !parse_int(argv[2], 1, 65535, port) || !parse_int(argv[3], 1, 1024, threads)) {
        fmt::print(stderr,
                   "usage: web_server_ab httplib|beast|beast-per-thread PORT THREADS\n"
                   "  PORT in 1-65535 on 127.0.0.1, THREADS in 1-1024\n");
        return 2;
    }
    // One malloc arena per thread, as `lookbook serve` sets it (shared arenas stalled its p99).
    mallopt(M_ARENA_MAX, threads + 8);

    std::string page = catalog_page();
    fmt::print(stderr,
               "{} on {}:{} with {} threads; json {} bytes, page {} bytes\n",
               library,
               kHost,
               port,
               threads,
               bought_together_json().size(),
               page.size());
    if (library == "httplib") {
        return run_httplib(port, threads, page);
    }
    return run_beast(port, threads, library == "beast", page);
}
