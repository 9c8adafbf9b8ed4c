// Two-tower benchmark and offline evaluation. One run per process, so peak memory is the run's:
//   two_tower_bench --store STORE [--test-weeks N]     the H&M sample (a copy of its store)
//   two_tower_bench --synthetic 100 [--dir DIR]         an H&M-shaped set 100 times the sample
//                                                       (the first run only generates it)
// Prints: training time, epochs, peak resident memory; MAP@12 and recall@12 of the two-tower
// model alone on the last N weeks (train on the weeks before, one validation week for early
// stopping) against popularity of the week before the test weeks; and the latency p50/p99 of
// one customer's 12 candidates on one core.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>
#include <time.h>
#include <torch/torch.h>

#include "lookbook/data/ingest.hpp"
#include "lookbook/encoders/cpu_threads.hpp"
#include "lookbook/eval/metrics.hpp"
#include "lookbook/models/two_tower.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/util/date.hpp"
#include "lookbook/util/file.hpp"
#include "lookbook/util/log.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace lookbook;

namespace {

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

// Writes an H&M-shaped store `scale` times the sample: 1,364 x scale customers and 31,662 x
// scale purchases over 104 weeks, a 100,000-article catalog (the size of H&M's full one) with
// the six attributes, and customers whose taste (4 of 400 article clusters) depends on their
// age band, with popularity skewed inside each cluster.
Status generate(const fs::path& dir, int scale) {
    fs::create_directories(dir);
    std::mt19937_64 rng(42);
    constexpr int kArticles = 100000;
    constexpr int kClusters = 400;
    const int customers = 1364 * scale;
    const int64_t purchases = 31662LL * scale;
    {
        std::ofstream out(dir / "articles.csv");
        out << "article_id,product_code,prod_name,product_type_name,product_group_name,"
               "colour_group_name,department_name,section_name,garment_group_name\n";
        for (int a = 0; a < kArticles; ++a) {
            // Attributes follow the cluster, with noise, so the article tower has signal.
            const int cluster = a % kClusters;
            out << fmt::format("{:010d},{},Article {},type{},group{},colour{},dept{},sect{},gg{}\n",
                               a + 1,
                               a / 3 + 1,
                               a,
                               (cluster * 7 + rng() % 3) % 130,
                               cluster % 19,
                               rng() % 50,
                               (cluster * 13 + rng() % 5) % 250,
                               cluster % 56,
                               cluster % 21);
        }
    }
    std::vector<int> age(customers);
    {
        std::ofstream out(dir / "customers.csv");
        out << "customer_id,FN,Active,club_member_status,fashion_news_frequency,age,postal_code\n";
        for (int c = 0; c < customers; ++c) {
            age[c] = 18 + static_cast<int>(rng() % 55);
            out << fmt::format("c{},,,{},{},{},p{}\n",
                               c,
                               rng() % 10 == 0 ? "PRE-CREATE" : "ACTIVE",
                               rng() % 3 == 0 ? "Regularly" : "NONE",
                               age[c],
                               rng() % 20000);
        }
    }
    std::ofstream out(dir / "transactions.csv");
    out << "t_dat,customer_id,article_id,price,sales_channel_id\n";
    const int32_t first_day = 18000;  // 2019-04-14
    std::vector<std::string> lines;
    lines.reserve(purchases);
    for (int64_t p = 0; p < purchases; ++p) {
        const int c = static_cast<int>(rng() % customers);
        // Four clusters per age band of 5 years, one chosen per purchase.
        const int band = (age[c] - 18) / 5;
        const int cluster = (band * 37 + static_cast<int>(rng() % 4) * 101 + c % 3) % kClusters;
        // Skewed popularity inside the cluster: low ranks much more often.
        const double u = std::uniform_real_distribution<double>(0, 1)(rng);
        const int rank = static_cast<int>(std::pow(u, 3.0) * (kArticles / kClusters));
        const int article = rank * kClusters + cluster;
        const int32_t day = first_day + static_cast<int32_t>(rng() % (104 * 7));
        lines.push_back(fmt::format(
            "{},c{},{:010d},0.03,{}\n", format_iso_date(day), c, article + 1, 1 + rng() % 2));
    }
    std::sort(lines.begin(), lines.end());
    for (const std::string& line : lines) {
        out << line;
    }
    out.close();
    IngestOptions options;
    options.articles = dir / "articles.csv";
    options.customers = dir / "customers.csv";
    options.transactions = dir / "transactions.csv";
    options.store = dir / "store";
    auto report = ingest(options);
    return report.is_ok() ? Status::ok() : report.status();
}

struct Figures {
    double map = 0;
    double recall = 0;
    size_t customers = 0;
};

// MAP@12 and recall@12 over customers who bought in [test_start, ...), each list from `rank`.
// At most `max_customers` (0: all), the first ones in store order, to keep large runs short.
template <typename Rank>
Figures evaluate(const Store& store, int32_t test_start, size_t max_customers, Rank rank) {
    const TransactionTable& t = store.transactions();
    Figures f;
    for (uint32_t c = 0; c + 1 < t.customer_offsets().size(); ++c) {
        if (max_customers > 0 && f.customers >= max_customers) {
            break;
        }
        std::vector<Interaction> history;
        std::vector<uint32_t> bought;
        for (uint64_t r = t.customer_offsets()[c]; r < t.customer_offsets()[c + 1]; ++r) {
            if (t.date()[r] < test_start) {
                history.push_back({t.article()[r], t.date()[r], Interaction::Kind::kPurchase});
            } else {
                bought.push_back(t.article()[r]);
            }
        }
        if (bought.empty()) {
            continue;
        }
        std::vector<uint32_t> ranked = rank(CustomerContext{c, test_start, history});
        f.map += eval::average_precision_at_k(ranked, bought, 12);
        f.recall += eval::recall_at_k(ranked, bought, 12);
        ++f.customers;
    }
    f.map /= std::max<size_t>(1, f.customers);
    f.recall /= std::max<size_t>(1, f.customers);
    return f;
}

}  // namespace

int main(int argc, char** argv) {
    lookbook::log::init_logging(lookbook::log::Level::kInfo);
    fs::path store_dir;
    fs::path dir = "/tmp/two_tower_bench";
    int scale = 0;
    size_t max_eval = 0;
    bool reuse_model = false;
    models::TwoTowerOptions options;
    options.test_weeks = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        const std::string value = argv[i + 1];
        if (flag == "--store") {
            store_dir = value;
        } else if (flag == "--synthetic") {
            scale = std::stoi(value);
        } else if (flag == "--dir") {
            dir = value;
        } else if (flag == "--reuse-model") {
            reuse_model = value == "1";
        } else if (flag == "--max-eval") {
            max_eval = std::stoul(value);
        } else if (flag == "--test-weeks") {
            options.test_weeks = std::stoi(value);
        } else if (flag == "--minutes") {
            options.max_minutes = std::stod(value);
        } else if (flag == "--epochs") {
            options.max_epochs = std::stoi(value);
        } else if (flag == "--id-dim") {
            options.model.id_dim = std::stoi(value);
        } else if (flag == "--content") {
            options.use_content = value == "1";
        } else if (flag == "--seed") {
            options.seed = std::stoull(value);
        } else {
            std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
            return 2;
        }
    }
    if (scale > 0) {
        store_dir = dir / "store";
        if (!fs::exists(store_dir / "CURRENT")) {
            const auto start = Clock::now();
            Status s = generate(dir, scale);
            if (!s.is_ok()) {
                std::fprintf(stderr, "%s\n", s.to_string().c_str());
                return 1;
            }
            // A fresh process trains, so the generator's memory does not count in the figures.
            std::printf("generated the %dx synthetic store in %.1f s; run again to train\n",
                        scale,
                        seconds_since(start));
            return 0;
        }
    }
    if (store_dir.empty()) {
        std::fprintf(stderr, "usage: two_tower_bench --store STORE | --synthetic SCALE\n");
        return 2;
    }

    // Train (and save next to the bench's data, never into the store).
    options.output = dir / "model";
    Result<models::TwoTowerReport> report = models::TwoTowerReport{};
    if (reuse_model) {
        // Only the latency (and the evaluation) of the model a previous run saved.
        options.test_weeks = 0;
    } else {
        report = models::train_two_tower(store_dir, options);
    }
    if (!report.is_ok()) {
        std::fprintf(stderr, "%s\n", report.status().to_string().c_str());
        return 1;
    }
    auto store = Store::open(store_dir);
    auto source = models::TwoTowerSource::open(**store, options.output);
    if (!source.is_ok()) {
        std::fprintf(stderr, "%s\n", source.status().to_string().c_str());
        return 1;
    }
    std::printf("store %s: %u articles, %u customers, %llu transactions\n",
                store_dir.c_str(),
                (*store)->articles().size(),
                (*store)->customers().size(),
                static_cast<unsigned long long>((*store)->transactions().size()));
    if (!reuse_model) {
        std::printf(
            "training: %lld purchases, %d epochs (kept %d, validation recall@12 %.4f), "
            "%.1f s training, %.1f s total, peak RSS %.0f MB, content vectors %s\n",
            static_cast<long long>(report->examples),
            report->epochs,
            report->best_epoch,
            report->best_validation_recall,
            report->train_seconds,
            report->seconds,
            report->peak_rss_bytes / 1e6,
            report->has_content ? "yes" : "no");
    }

    // The two-tower alone against popularity of the week before the test weeks.
    int32_t test_start = report->test_start_day;
    if (reuse_model) {
        const auto dates = (*store)->transactions().date();
        test_start = dates.empty() ? 0 : *std::max_element(dates.begin(), dates.end()) + 1;
    }
    if (options.test_weeks > 0) {
        Figures tower =
            evaluate(**store, test_start, max_eval, [&](const CustomerContext& context) {
                std::vector<uint32_t> out;
                for (const Candidate& c : (*source)->candidates(context, 12)) {
                    out.push_back(c.article);
                }
                return out;
            });
        const TransactionTable& t = (*store)->transactions();
        std::unordered_map<uint32_t, int> counts;
        for (uint64_t r = 0; r < t.size(); ++r) {
            if (t.date()[r] >= test_start - 7 && t.date()[r] < test_start) {
                ++counts[t.article()[r]];
            }
        }
        std::vector<std::pair<int, uint32_t>> popular;
        for (const auto& [article, count] : counts) {
            popular.emplace_back(-count, article);
        }
        std::sort(popular.begin(), popular.end());
        std::vector<uint32_t> top;
        for (size_t i = 0; i < std::min<size_t>(12, popular.size()); ++i) {
            top.push_back(popular[i].second);
        }
        Figures pop =
            evaluate(**store, test_start, max_eval, [&](const CustomerContext&) { return top; });
        std::printf("last %d weeks, %zu customers:\n", options.test_weeks, tower.customers);
        std::printf(
            "  two-tower             MAP@12 %.4f  recall@12 %.4f\n", tower.map, tower.recall);
        std::printf("  popularity last week  MAP@12 %.4f  recall@12 %.4f\n", pop.map, pop.recall);
    }

    // Latency of one customer's 12 candidates on one core: the customer with the longest
    // history (the most work), 1000 queries after 20 warm-up ones.
    configure_cpu_threads(1);
    const TransactionTable& t = (*store)->transactions();
    uint32_t busiest = 0;
    for (uint32_t c = 0; c + 1 < t.customer_offsets().size(); ++c) {
        if (t.customer_offsets()[c + 1] - t.customer_offsets()[c] >
            t.customer_offsets()[busiest + 1] - t.customer_offsets()[busiest]) {
            busiest = c;
        }
    }
    std::vector<Interaction> history;
    for (uint64_t r = t.customer_offsets()[busiest]; r < t.customer_offsets()[busiest + 1]; ++r) {
        history.push_back({t.article()[r], t.date()[r], Interaction::Kind::kPurchase});
    }
    CustomerContext context{busiest, test_start, history};
    // Wall time, and this thread's CPU time, which the other jobs on a shared machine do not
    // inflate.
    std::vector<double> micros, cpu_micros;
    for (int i = 0; i < 1020; ++i) {
        const auto start = Clock::now();
        const double cpu_start = thread_cpu_seconds();
        auto list = (*source)->candidates(context, 12);
        if (i >= 20) {
            micros.push_back(seconds_since(start) * 1e6);
            cpu_micros.push_back((thread_cpu_seconds() - cpu_start) * 1e6);
        }
    }
    std::sort(micros.begin(), micros.end());
    std::sort(cpu_micros.begin(), cpu_micros.end());
    std::printf(
        "query latency (12 candidates, %zu-purchase history, %u articles, 1 core): "
        "wall p50 %.0f us, p99 %.0f us; CPU p50 %.0f us, p99 %.0f us\n",
        history.size(),
        (*store)->articles().size(),
        micros[micros.size() / 2],
        micros[micros.size() * 99 / 100],
        cpu_micros[cpu_micros.size() / 2],
        cpu_micros[cpu_micros.size() * 99 / 100]);
    std::printf("peak RSS of the whole run: %.0f MB\n", peak_rss_bytes() / 1e6);
    return 0;
}
