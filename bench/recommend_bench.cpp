// Training time and peak memory of each personal-recommendation model, and the latency of one
// customer's recommendations, on the H&M sample and on a synthetic set 100 times larger.
//
//   recommend_bench [--store DIR] [--scale N] [--article-scale M] [--queries Q] [--latency-only]
//
// DIR: a store of the H&M sample (default: the sample is ingested into a temporary folder).
// The synthetic set has N times the sample's customers and transactions and M times its
// articles (defaults 100 and 10: a catalog grows much slower than its customers; the full H&M
// data has 105k articles for 1.4M customers). Each model trains in a child process so its peak
// memory is measured apart (ru_maxrss of the child, which includes the data it inherited; the
// "data only" row shows that part).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lookbook/data/ingest.hpp"
#include "lookbook/recommend/interactions.hpp"
#include "lookbook/recommend/models.hpp"
#include "lookbook/recommend/recommender.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/util/log.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Cost {
    double seconds = 0;
    double peak_mb = 0;
};

// Runs `work` in a child process; returns its wall time and peak resident memory.
Cost in_child(const std::function<void()>& work) {
    int fds[2];
    if (pipe(fds) != 0) {
        std::perror("pipe");
        std::exit(1);
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        auto start = Clock::now();
        work();
        double seconds = std::chrono::duration<double>(Clock::now() - start).count();
        ssize_t written = write(fds[1], &seconds, sizeof(seconds));
        _exit(written == sizeof(seconds) ? 0 : 1);
    }
    close(fds[1]);
    Cost cost;
    ssize_t got = read(fds[0], &cost.seconds, sizeof(cost.seconds));
    close(fds[0]);
    int status = 0;
    struct rusage usage {};
    wait4(pid, &status, 0, &usage);
    if (got != sizeof(cost.seconds) || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::fprintf(stderr, "recommend_bench: a training child failed\n");
        std::exit(1);
    }
    cost.peak_mb = usage.ru_maxrss / 1024.0;  // kilobytes on Linux
    return cost;
}

void train_costs(const char* label, const lookbook::InteractionLog& log, int32_t as_of) {
    lookbook::TrainSettings settings;
    lookbook::SparseMatrix counts = lookbook::customer_article_counts(log);
    std::printf("%s: %u customers, %u articles, %zu transactions\n",
                label,
                log.customer_count,
                log.article_count,
                log.size());
    Cost data = in_child([&] { lookbook::customer_article_counts(log); });
    Cost als = in_child([&] { lookbook::fit_als(counts, settings.als); });
    Cost items = in_child([&] {
        lookbook::fit_item_neighbours(counts, settings.item_neighbours, settings.item_shrink);
    });
    Cost trending =
        in_child([&] { lookbook::fit_trending(log, as_of, settings.trending_half_life_days); });
    std::printf("  %-22s %8s %10s\n", "model", "seconds", "peak MB");
    std::printf("  %-22s %8.2f %10.0f\n", "(data only)", data.seconds, data.peak_mb);
    std::printf("  %-22s %8.2f %10.0f\n", "als (64 f, 15 it)", als.seconds, als.peak_mb);
    std::printf("  %-22s %8.2f %10.0f\n", "item_item (200 nb)", items.seconds, items.peak_mb);
    std::printf("  %-22s %8.2f %10.0f\n", "trending", trending.seconds, trending.peak_mb);
}

struct Latency {
    double p50_ms = 0, p99_ms = 0, max_ms = 0;
};

// CPU time of the calling thread: on a shared, overloaded machine wall-clock percentiles
// mostly measure how long the thread waited for a core.
double thread_cpu_ms() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

Latency percentiles(std::vector<double> ms) {
    std::sort(ms.begin(), ms.end());
    auto at = [&](double q) { return ms[std::min(ms.size() - 1, size_t(q * ms.size()))]; };
    return {at(0.50), at(0.99), ms.back()};
}

// A synthetic log: articles in 1000 style clusters with Zipf popularity; each customer likes
// two clusters and buys 70% from them; a geometric number of purchases per customer; days
// uniform over two years. Enough structure for item-to-item and ALS to have work to do.
lookbook::InteractionLog synthetic_log(uint32_t customers,
                                       uint32_t articles,
                                       size_t transactions,
                                       int32_t first_day) {
    std::mt19937_64 rng(1);
    lookbook::InteractionLog log;
    log.customer_count = customers;
    log.article_count = articles;
    const uint32_t clusters = 1000;
    std::uniform_int_distribution<uint32_t> pick_cluster(0, clusters - 1);
    std::uniform_int_distribution<uint32_t> pick_customer(0, customers - 1);
    std::uniform_int_distribution<int32_t> pick_day(0, 729);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    // Zipf-like rank: floor(n^u) - 1 favours low ranks.
    auto zipf = [&](uint32_t n) {
        return std::min<uint32_t>(n - 1, uint32_t(std::pow(double(n), unit(rng))) - 1);
    };
    std::vector<std::pair<uint32_t, uint32_t>> likes(customers);
    for (auto& like : likes) {
        like = {pick_cluster(rng), pick_cluster(rng)};
    }
    uint32_t per_cluster = std::max<uint32_t>(1, articles / clusters);
    for (size_t row = 0; row < transactions; ++row) {
        uint32_t customer = pick_customer(rng);
        uint32_t article;
        if (unit(rng) < 0.7) {
            uint32_t cluster = unit(rng) < 0.5 ? likes[customer].first : likes[customer].second;
            article = std::min(articles - 1, cluster * per_cluster + zipf(per_cluster));
        } else {
            article = zipf(articles);
        }
        log.customer.push_back(customer);
        log.article.push_back(article);
        log.day.push_back(first_day + pick_day(rng));
    }
    std::uniform_real_distribution<float> age(16.0f, 80.0f);
    for (uint32_t c = 0; c < customers; ++c) {
        log.customer_age_band.push_back(lookbook::age_band(age(rng)));
    }
    return log;
}

}  // namespace

int main(int argc, char** argv) {
    lookbook::log::init_logging(lookbook::log::Level::kWarn);
    std::string store_dir;
    uint32_t scale = 100, article_scale = 10;
    size_t queries = 2000;
    bool latency_only = false;
    for (int a = 1; a < argc; ++a) {
        std::string arg = argv[a];
        if (arg == "--store" && a + 1 < argc) {
            store_dir = argv[++a];
        } else if (arg == "--scale" && a + 1 < argc) {
            scale = static_cast<uint32_t>(std::atoi(argv[++a]));
        } else if (arg == "--article-scale" && a + 1 < argc) {
            article_scale = static_cast<uint32_t>(std::atoi(argv[++a]));
        } else if (arg == "--latency-only") {
            latency_only = true;
        } else if (arg == "--queries" && a + 1 < argc) {
            queries = static_cast<size_t>(std::atol(argv[++a]));
        } else {
            std::fprintf(stderr, "recommend_bench: unknown argument %s\n", arg.c_str());
            return 2;
        }
    }
    fs::path temp;
    if (store_dir.empty()) {
        temp = fs::temp_directory_path() / ("lookbook_recommend_bench_" + std::to_string(getpid()));
        std::string sample = std::string(LOOKBOOK_SHARED_DIR) + "/data/hm_hungle45_pse";
        lookbook::IngestOptions options;
        options.articles = sample + "/articles_train_sample.csv";
        options.customers = sample + "/customers_sample.csv";
        options.transactions = sample + "/transactions_train_sample.csv";
        options.store = temp / "store";
        auto report = lookbook::ingest(options);
        if (!report.is_ok()) {
            std::fprintf(stderr, "recommend_bench: %s\n", report.status().to_string().c_str());
            return 1;
        }
        store_dir = options.store.string();
    }
    auto store = lookbook::Store::open(store_dir);
    if (!store.is_ok()) {
        std::fprintf(stderr, "recommend_bench: %s\n", store.status().to_string().c_str());
        return 1;
    }

    // Training cost on the sample and on the synthetic set.
    lookbook::InteractionLog log = lookbook::interaction_log_from_store(**store);
    int32_t as_of = log.last_day() + 1;
    if (!latency_only) {
        train_costs("H&M sample", log, as_of);
        lookbook::InteractionLog big = synthetic_log(log.customer_count * scale,
                                                     log.article_count * article_scale,
                                                     log.size() * scale,
                                                     as_of - 730);
        std::printf("\n");
        train_costs("synthetic", big, as_of);
    }

    // Latency of the whole recommend() call (history from the store, every source, blend) for
    // random customers of the sample, one thread.
    auto models = std::make_shared<lookbook::TrainedModels>(
        lookbook::train_models(log, as_of, lookbook::TrainSettings()));
    std::shared_ptr<const lookbook::ContentVectors> vectors;
    if (auto loaded = lookbook::load_content_vectors(**store); loaded.is_ok()) {
        vectors = std::move(loaded).value();
    }
    lookbook::Recommender recommender(**store, models, vectors);
    std::mt19937 rng(3);
    std::uniform_int_distribution<uint32_t> pick(0, (*store)->customers().size() - 1);
    std::vector<double> ms, cpu_ms;
    lookbook::RecommendOptions options;
    size_t items = 0;
    for (size_t q = 0; q < queries; ++q) {
        uint32_t customer = pick(rng);
        double cpu_start = thread_cpu_ms();
        auto start = Clock::now();
        items += recommender.recommend(customer, {}, options).size();
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
        cpu_ms.push_back(thread_cpu_ms() - cpu_start);
    }
    Latency l = percentiles(ms);
    Latency cpu = percentiles(cpu_ms);
    std::printf(
        "\nrecommend() latency, H&M sample, %zu random customers, k 12, profile %s:\n"
        "  wall: p50 %.3f ms, p99 %.3f ms, max %.3f ms (%.1f items per list)\n"
        "  thread CPU time (without waits for the core): p50 %.3f ms, p99 %.3f ms\n",
        queries,
        vectors ? "on" : "off (no embeddings)",
        l.p50_ms,
        l.p99_ms,
        l.max_ms,
        double(items) / queries,
        cpu.p50_ms,
        cpu.p99_ms);

    // Where the time goes: each source alone on the same customers (median and p99).
    std::printf("  per source, thread CPU time of candidates(context, 100):\n");
    for (const std::string& name : recommender.source_names()) {
        std::vector<double> source_ms;
        std::mt19937 again(3);
        for (size_t q = 0; q < std::min<size_t>(queries, 500); ++q) {
            uint32_t customer = pick(again);
            std::vector<lookbook::Interaction> history =
                recommender.history(customer, recommender.default_today(), {});
            lookbook::CustomerContext context{customer, recommender.default_today(), history};
            double start = thread_cpu_ms();
            recommender.source(name)->candidates(context, options.candidates_per_source);
            source_ms.push_back(thread_cpu_ms() - start);
        }
        Latency s = percentiles(source_ms);
        std::printf("    %-12s p50 %.3f ms, p99 %.3f ms\n", name.c_str(), s.p50_ms, s.p99_ms);
    }
    if (!temp.empty()) {
        fs::remove_all(temp);
    }
    return 0;
}
