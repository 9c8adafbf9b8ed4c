// Benchmarks the FP-Growth miner: wall time and peak memory of a whole process (file reading
// included, no output) on the FIMI files, itemset counts checked against an independent
// vertical (Eclat) miner written here, and time against basket count on synthetic data.
//
//   rules_bench                         all cases, each run 5 times in a fresh process
//   rules_bench --runs N                the same with N runs per case
//   rules_bench --case FILE SUPPORT     one run in this process (what the driver spawns)
//   rules_bench --eclat FILE SUPPORT    the independent count only
//   rules_bench --scaling [F...]        the synthetic scaling case only (factors, default 1 4 16)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lookbook/rules/basket.hpp"
#include "lookbook/rules/fp_growth.hpp"
#include "lookbook/util/file.hpp"
#include "lookbook/util/log.hpp"

namespace {

using lookbook::rules::BasketSet;
using lookbook::rules::Count;
using lookbook::rules::ItemId;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// ---- The independent count: Eclat over sorted tid-lists, depth first. It shares nothing with
// the FP-tree code but the file reader.
struct EclatItem {
    std::vector<uint32_t> tids;
};

uint64_t eclat_extend(const std::vector<EclatItem>& members, Count min_count) {
    uint64_t found = 0;
    std::vector<EclatItem> next;
    for (size_t first = 0; first < members.size(); ++first) {
        ++found;
        next.clear();
        for (size_t second = first + 1; second < members.size(); ++second) {
            EclatItem joined;
            std::set_intersection(members[first].tids.begin(),
                                  members[first].tids.end(),
                                  members[second].tids.begin(),
                                  members[second].tids.end(),
                                  std::back_inserter(joined.tids));
            if (joined.tids.size() >= min_count) {
                next.push_back(std::move(joined));
            }
        }
        if (!next.empty()) {
            found += eclat_extend(next, min_count);
        }
    }
    return found;
}

uint64_t eclat_count(const BasketSet& baskets, Count min_count) {
    std::vector<EclatItem> items(baskets.item_count());
    for (size_t basket_idx = 0; basket_idx < baskets.size(); ++basket_idx) {
        for (ItemId item : baskets.basket(basket_idx)) {
            auto& tids = items[item].tids;
            if (tids.empty() || tids.back() != basket_idx) {
                tids.push_back(static_cast<uint32_t>(basket_idx));
            }
        }
    }
    std::vector<EclatItem> frequent;
    for (auto& item : items) {
        if (item.tids.size() >= min_count) {
            frequent.push_back(std::move(item));
        }
    }
    // Rarest first keeps the tid-lists of deep classes short.
    std::sort(frequent.begin(), frequent.end(), [](const EclatItem& a, const EclatItem& b) {
        return a.tids.size() < b.tids.size();
    });
    return eclat_extend(frequent, min_count);
}

// CPU time of the calling thread, in seconds.
double thread_cpu_seconds() {
    timespec now{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

// ---- Synthetic baskets: a catalog of 2,000 items, 300 "outfits" of 2 to 6 items, each basket
// one or two outfits (items kept with probability 0.8) plus a few popular-skewed extras.
BasketSet synthetic_baskets(size_t n_baskets, uint32_t seed) {
    std::mt19937 rng(seed);
    const int kItems = 2000;
    std::vector<std::vector<ItemId>> outfits(300);
    std::uniform_int_distribution<int> item_dist(0, kItems - 1);
    std::uniform_int_distribution<int> outfit_len(2, 6);
    for (auto& outfit : outfits) {
        int length = outfit_len(rng);
        for (int pos = 0; pos < length; ++pos) {
            outfit.push_back(static_cast<ItemId>(item_dist(rng)));
        }
    }
    BasketSet baskets;
    for (int item = 0; item < kItems; ++item) {
        baskets.intern(std::to_string(item));
    }
    std::geometric_distribution<int> outfit_pick(0.02);
    std::geometric_distribution<int> extra_pick(0.005);
    std::bernoulli_distribution keep(0.8);
    std::uniform_int_distribution<int> n_outfits(1, 2);
    std::uniform_int_distribution<int> n_extra(0, 4);
    std::vector<ItemId> basket;
    for (size_t basket_idx = 0; basket_idx < n_baskets; ++basket_idx) {
        basket.clear();
        for (int count = n_outfits(rng); count > 0; --count) {
            for (ItemId item : outfits[static_cast<size_t>(outfit_pick(rng)) % outfits.size()]) {
                if (keep(rng)) {
                    basket.push_back(item);
                }
            }
        }
        for (int count = n_extra(rng); count > 0; --count) {
            basket.push_back(static_cast<ItemId>(extra_pick(rng) % kItems));
        }
        baskets.add_basket(basket);
    }
    return baskets;
}

// One measured run in this process; prints "itemsets seconds peak_bytes cpu_seconds". CPU time
// (user + system, all threads) is reported too because the machine is shared: wall time there
// depends on what else runs.
int run_case(const std::string& file, const std::string& support_text) {
    auto start = Clock::now();
    auto support = lookbook::rules::parse_min_support(support_text);
    auto baskets = lookbook::rules::read_basket_file(file);
    if (!support.is_ok() || !baskets.is_ok()) {
        std::fprintf(stderr, "bad case: %s %s\n", file.c_str(), support_text.c_str());
        return 1;
    }
    lookbook::rules::MiningOptions options;
    options.min_support = *support;
    auto counts = lookbook::rules::count_frequent_itemsets(*baskets, options);
    if (!counts.is_ok()) {
        std::fprintf(stderr, "%s\n", counts.status().to_string().c_str());
        return 1;
    }
    double wall = seconds_since(start);
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    double cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                 static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
    std::printf("%llu %.4f %llu %.4f\n",
                static_cast<unsigned long long>(counts->total),
                wall,
                static_cast<unsigned long long>(lookbook::peak_rss_bytes()),
                cpu);
    return 0;
}

int run_eclat(const std::string& file, const std::string& support_text) {
    auto support = lookbook::rules::parse_min_support(support_text);
    auto baskets = lookbook::rules::read_basket_file(file);
    if (!support.is_ok() || !baskets.is_ok()) {
        return 1;
    }
    auto start = Clock::now();
    uint64_t found = eclat_count(*baskets, support->to_count(baskets->total_weight()));
    std::printf("%llu %.4f\n", static_cast<unsigned long long>(found), seconds_since(start));
    return 0;
}

struct Measurement {
    unsigned long long itemsets = 0;
    double seconds = 0;
    unsigned long long peak = 0;
    double cpu = 0;
};

// Runs this program with `args` in a child process and reads its one-line answer.
bool spawn(const std::vector<std::string>& args, std::string* line) {
    std::string command = "/proc/self/exe";
    char exe[4096];
    ssize_t length = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (length > 0) {
        exe[length] = '\0';
        command = exe;
    }
    for (const auto& arg : args) {
        command += " '" + arg + "'";
    }
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) {
        return false;
    }
    char buffer[256] = {0};
    bool got = std::fgets(buffer, sizeof(buffer), pipe) != nullptr;
    int status = pclose(pipe);
    *line = buffer;
    return got && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

void bench_file(const std::string& label,
                const std::string& file,
                const std::string& support,
                int runs,
                bool check) {
    std::vector<Measurement> measured;
    for (int run = 0; run < runs; ++run) {
        std::string line;
        Measurement m;
        if (!spawn({"--case", file, support}, &line) ||
            std::sscanf(
                line.c_str(), "%llu %lf %llu %lf", &m.itemsets, &m.seconds, &m.peak, &m.cpu) != 4) {
            std::printf("%-28s support %-6s FAILED\n", label.c_str(), support.c_str());
            return;
        }
        measured.push_back(m);
    }
    std::sort(measured.begin(), measured.end(), [](const Measurement& a, const Measurement& b) {
        return a.seconds < b.seconds;
    });
    const Measurement& best = measured.front();
    const Measurement& median = measured[measured.size() / 2];
    std::string independent = "not checked";
    if (check) {
        std::string line;
        unsigned long long eclat_itemsets = 0;
        double eclat_seconds = 0;
        if (spawn({"--eclat", file, support}, &line) &&
            std::sscanf(line.c_str(), "%llu %lf", &eclat_itemsets, &eclat_seconds) == 2) {
            independent = std::to_string(eclat_itemsets) +
                          (eclat_itemsets == best.itemsets ? " (match)" : " (MISMATCH)");
        } else {
            independent = "eclat failed";
        }
    }
    std::vector<double> cpu;
    for (const auto& m : measured) {
        cpu.push_back(m.cpu);
    }
    std::sort(cpu.begin(), cpu.end());
    std::printf(
        "%-15s %-6s itemsets %8llu  eclat %-18s wall best %.3f s median %.3f s  cpu best "
        "%.3f s median %.3f s  peak %.1f MB\n",
        label.c_str(),
        support.c_str(),
        best.itemsets,
        independent.c_str(),
        best.seconds,
        median.seconds,
        cpu.front(),
        cpu[cpu.size() / 2],
        static_cast<double>(best.peak) / 1e6);
    std::fflush(stdout);
}

// Mining time alone (data generated in memory first) at 1x, 4x and 16x baskets.
// One thread, so CPU time is comparable on a shared machine; `factors` empty means 1, 4, 16.
void bench_scaling(std::vector<size_t> factors) {
    std::printf(
        "\nscaling on synthetic baskets (min support 0.5%%, mining time only, one thread):\n");
    if (factors.empty()) {
        factors = {1, 4, 16};
    }
    double base_per_basket = 0;
    for (size_t factor : factors) {
        size_t n_baskets = 50'000 * factor;
        BasketSet baskets = synthetic_baskets(n_baskets, 42);
        lookbook::rules::MiningOptions options;
        options.min_support = lookbook::rules::MinSupport::of_fraction(0.005);
        options.threads = 1;
        double best = 1e30;
        double best_cpu = 1e30;
        uint64_t found = 0;
        lookbook::rules::MiningWork work;
        double best_prepare = 1e30;
        for (int run = 0; run < 3; ++run) {
            auto start = Clock::now();
            double cpu_start = thread_cpu_seconds();
            auto counts = lookbook::rules::count_frequent_itemsets(baskets, options);
            best = std::min(best, seconds_since(start));
            best_cpu = std::min(best_cpu, thread_cpu_seconds() - cpu_start);
            found = counts.is_ok() ? counts->total : 0;
            if (counts.is_ok()) {
                work = counts->work;
                best_prepare = std::min(best_prepare, work.prepare_cpu_seconds);
            }
        }
        // Per-basket CPU time is the figure compared across sizes: wall time on a shared
        // machine also measures the neighbours.
        double per_basket = best_cpu / static_cast<double>(n_baskets);
        if (base_per_basket == 0) {
            base_per_basket = per_basket;
        }
        std::printf(
            "  %2zux %8zu baskets  itemsets %6llu  best of 3: wall %.3f s, cpu %.3f s, "
            "%.2f cpu us/basket (%.2fx the first size's cost per basket)\n",
            factor,
            n_baskets,
            static_cast<unsigned long long>(found),
            best,
            best_cpu,
            per_basket * 1e6,
            per_basket / base_per_basket);
        // The work behind the time: if a larger input yields more or bigger conditional trees,
        // a higher cost per basket is more work, not a slower miner.
        auto per = [&](uint64_t total) {
            return static_cast<double>(total) / static_cast<double>(n_baskets);
        };
        std::printf(
            "      work: %llu frequent items, %llu distinct baskets (%.3f per basket), %.2f "
            "occurrences per basket, %llu conditional trees, %.3f tree nodes and %.3f "
            "prefix-path items per basket; prepare %.3f s cpu, %.1f ns cpu per path item\n",
            static_cast<unsigned long long>(work.frequent_items),
            static_cast<unsigned long long>(work.distinct_baskets),
            per(work.distinct_baskets),
            per(work.occurrences),
            static_cast<unsigned long long>(work.conditional_trees),
            per(work.tree_nodes),
            per(work.path_items),
            best_prepare,
            1e9 * best_cpu / static_cast<double>(std::max<uint64_t>(1, work.path_items)));
        std::fflush(stdout);
    }
}

}  // namespace

int main(int argc, char** argv) {
    lookbook::log::init_logging(lookbook::log::Level::kWarn);
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() == 3 && args[0] == "--case") {
        return run_case(args[1], args[2]);
    }
    if (args.size() == 3 && args[0] == "--eclat") {
        return run_eclat(args[1], args[2]);
    }
    if (!args.empty() && args[0] == "--scaling") {
        std::vector<size_t> factors;
        for (size_t pos = 1; pos < args.size(); ++pos) {
            factors.push_back(static_cast<size_t>(std::max(1, std::atoi(args[pos].c_str()))));
        }
        bench_scaling(factors);
        return 0;
    }
    int runs = 5;
    if (args.size() == 2 && args[0] == "--runs") {
        runs = std::max(1, std::atoi(args[1].c_str()));
    }

    std::string data = std::string(LOOKBOOK_SHARED_DIR) + "/data";
    std::string retail = data + "/fimi_retail/retail.dat";
    std::string t10 = data + "/fimi_t10i4d100k/T10I4D100K.dat";
    std::printf(
        "whole process per run: read the file, mine, count itemsets (no output); %d runs "
        "each\n",
        runs);
    bench_file("retail.dat", retail, "0.05%", runs, true);
    bench_file("retail.dat", retail, "0.02%", runs, true);
    bench_file("retail.dat", retail, "5", runs, true);
    bench_file("T10I4D100K.dat", t10, "1%", runs, true);
    bench_file("T10I4D100K.dat", t10, "0.5%", runs, true);
    bench_file("T10I4D100K.dat", t10, "0.1%", runs, true);
    bench_file("T10I4D100K.dat", t10, "0.05%", runs, true);
    bench_scaling({});
    return 0;
}
