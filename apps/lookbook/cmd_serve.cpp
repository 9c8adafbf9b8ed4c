// `lookbook serve`: the storefront and JSON API over a store, until Ctrl-C or SIGTERM.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <malloc.h>
#include <semaphore.h>
#include <signal.h>

#include "commands.hpp"
#include "lookbook/util/log.hpp"
#include "lookbook/web/server.hpp"
#include "serve_services.hpp"

namespace lookbook::cli {
namespace {

// Posted by the SIGINT/SIGTERM handler (sem_post is async-signal-safe); run_serve's stop thread
// waits on it.
sem_t g_stop_requested;
volatile sig_atomic_t g_stop_signal = 0;

void on_stop_signal(int signal) {
    g_stop_signal = signal;
    sem_post(&g_stop_requested);
}

// Cold personal recommendations computed at once by default: 4 per hardware thread (8 on 2
// cores). Measured on 2 shared cores (docs/measurements.md, "Compute gate"): 4 and 8 slots gave the
// lowest p99 at about the throughput of no limit; fewer cost throughput, more widen the tail again.
int default_compute_slots() {
    return 4 * static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

struct ServeArgs {
    std::string store;
    web::ServerOptions options = [] {
        web::ServerOptions options;
        options.compute_slots = default_compute_slots();
        return options;
    }();
    // Whole personal-recommendation answers kept per generation (~2 KB each for k = 12).
    size_t recommend_cache = 10000;
    // Customers whose model sources' lists are computed ahead per generation (~1.2 KB per
    // source and customer).
    size_t precompute_customers = 100000;
    // Query model for text and photo search (default: the one the embeddings name).
    std::string model;
};

int run_serve(ServeArgs args) {
    if (args.options.api_key.empty()) {
        if (const char* key = std::getenv("LOOKBOOK_API_KEY")) {
            args.options.api_key = key;
        }
    }
    if (args.options.host != "127.0.0.1" && args.options.host != "localhost" &&
        args.options.host != "::1") {
        log::warn("--host {} is not a loopback address: the service is reachable from the network",
                  args.options.host);
    }
    args.options.services_factory =
        make_services_factory(args.recommend_cache, args.model, args.precompute_customers);

    // One malloc arena per worker thread: glibc's default (8 per core) makes 64 threads on 2
    // cores share 16 arena locks, and a preempted lock holder stalled requests for up to a
    // second (wrk, 64 connections: article page p99 1.15 s before, 6 ms after).
    mallopt(M_ARENA_MAX, args.options.threads + 8);

    // SIGINT and SIGTERM stop the server through a handler that only posts a semaphore, which a
    // thread of ours waits on. A handler rather than sigwait(): OpenBLAS starts its threads when
    // the library loads, before main, with no signal blocked, so the kernel could deliver a
    // signal to one of them, and with the default action that killed the process without a
    // clean stop (break-it review). The threads started from here block both signals, except
    // the one that waits for them.
    sem_init(&g_stop_requested, 0, 0);
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    auto server = web::WebServer::create(args.store, args.options);
    if (!server.is_ok()) {
        std::cerr << "lookbook serve: " << server.status().message() << "\n";
        return kExitFailure;
    }
    auto port = (*server)->bind();
    if (!port.is_ok()) {
        std::cerr << "lookbook serve: " << port.status().message() << "\n";
        return kExitFailure;
    }
    std::atomic<bool> run_ended{false};
    std::thread signal_thread([&run_ended, &server, &signals] {
        // This thread takes the signals: with every other thread of ours blocking them (and no
        // library thread, as in the sanitizer build, which has no OpenBLAS), the handler runs
        // here; sem_wait then returns, at once or after EINTR.
        pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
        while (sem_wait(&g_stop_requested) != 0 && errno == EINTR) {
        }
        if (run_ended.load()) {
            return;
        }
        log::info("signal {}: stopping", static_cast<int>(g_stop_signal));
        (*server)->stop();
    });
    std::cout << fmt::format("lookbook: serving {} at http://{}:{}/ (Ctrl-C to stop){}\n",
                             args.store,
                             args.options.host,
                             *port,
                             args.options.api_key.empty() ? "; events disabled: no API key" : "")
              << std::flush;
    (*server)->run();
    // run() also returns when the server fails; wake the signal thread so it can be joined.
    run_ended.store(true);
    sem_post(&g_stop_requested);
    signal_thread.join();
    return kExitOk;
}

}  // namespace

void add_serve_command(CLI::App& app, CommandRun* selected) {
    auto args = std::make_shared<ServeArgs>();
    CLI::App* cmd = app.add_subcommand("serve", "Serve the storefront and JSON API of a store");
    cmd->add_option("store", args->store, "Store folder")->required();
    cmd->add_option("--host", args->options.host, "Address to listen on")->capture_default_str();
    cmd->add_option("--port", args->options.port, "Port (0 picks a free one)")
        ->capture_default_str()
        ->check(CLI::Range(0, 65535));
    cmd->add_option("--api-key",
                    args->options.api_key,
                    "Key that event writes must send (X-API-Key); default $LOOKBOOK_API_KEY");
    cmd->add_option("--threads", args->options.threads, "Worker threads (one per open connection)")
        ->capture_default_str()
        ->check(CLI::Range(1, 1024));
    cmd->add_option("--compute-slots",
                    args->options.compute_slots,
                    "Personal recommendations computed at once when not cached (default: 4 per "
                    "hardware thread); the other requests wait in arrival order, up to 5 s, then "
                    "get 503 (0: no limit)")
        ->capture_default_str()
        ->check(CLI::Range(0, 1024));
    cmd->add_option("--rate-limit",
                    args->options.rate_limit_per_second,
                    "Requests per second per client address (0: no limit)")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 1e9));
    cmd->add_option("--recommend-cache",
                    args->recommend_cache,
                    "Personal-recommendation answers kept in memory; a live event or a new "
                    "generation makes a customer's answer be computed again (0: no cache)")
        ->capture_default_str()
        ->check(CLI::Range(size_t{0}, size_t{10'000'000}));
    cmd->add_option("--precompute",
                    args->precompute_customers,
                    "Customers (the latest buyers first) whose ALS, profile, two-tower and "
                    "item-to-item lists are computed ahead in the background after each load, "
                    "about 1.2 KB per source and customer; their answers then only blend (0: "
                    "every answer searches the catalog)")
        ->capture_default_str()
        ->check(CLI::Range(size_t{0}, size_t{100'000'000}));
    cmd->add_option("--model",
                    args->model,
                    "Model folder for text and photo search (default: the one the store's "
                    "embeddings were made with)");
    cmd->callback([args, selected] { *selected = [args] { return run_serve(*args); }; });
}

}  // namespace lookbook::cli
