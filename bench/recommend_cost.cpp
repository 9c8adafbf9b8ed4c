// CPU cost of one "recommended for you" answer, as the web server computes it, and of each
// candidate source inside it, over many distinct customers of a store (issue 7).
//
//   recommend_cost STORE [--customers N] [--rounds R] [--exact-scan 1] [--every-source 1]
//                  [--weight NAME=W] [--checks 0] [--settle 0]
//                  [--threads T] [--batching 0] [--write-ids FILE] [--approximate 0]
//                  [--ef N] [--graph-m M] [--ef-construction N]
//
// --write-ids writes the id of every customer with purchases to FILE, one a line (the list
// bench/web_bench.sh loads the recommendations API with), and exits.
// Customers are the first N (default 2000) with purchases in the store, each asked R times
// (default 1: every call is "cold"). --exact-scan 1 scores every article in float in the
// ALS, profile and two-tower scans (no half-precision first pass), for comparison.
// --weight NAME=W (repeatable) then sets one source's weight, e.g. profile=0 to time the answer
// without that source. --every-source 1 weighs every source 1 (the tuned blend may weigh some 0,
// and a source weighing 0 is not asked), the most work an answer can take. Figures are CPU time of
// this thread (CLOCK_THREAD_CPUTIME_ID), so other work on a shared machine inflates them less than
// wall time would.
// --threads T (T > 1) then asks for the same answers from T threads at once, as the web
// server's workers do, each thread starting at its own place in the customer list: the
// exact scans of concurrent calls share passes (RowScanBatcher). It prints the process CPU
// time per answer and answers/s of wall time, and checks every answer against the one-thread
// answer of the same customer, bit for bit. --batching 0 makes each call scan alone (the
// path before RowScanBatcher), for comparison.
// On catalogs of 4,096 articles or more the two-tower source searches an HNSW graph (RowSearch)
// and profile similarity the content vectors' main directions (ProjectedRowSearch); ALS scans
// exactly. --approximate 0 times the exact scans instead. --ef N sets the graph searches' candidate
// list, --graph-m and --ef-construction the graphs' links per node and build candidate list. Before
// timing, every source's list (100 candidates) and the blended answer (k 12) of every customer
// are compared between the graph and the exact scan: recall of the exact list and how many
// answers are identical.
// recommend() is timed as the server asks it (k 12, catalog articles only); answers whose
// history's sources settle them (RecommendOptions::settle_from_history) skip the other sources,
// and the checks compare every such answer with the one of every source; --settle 0 asks every
// source always.
// Then every customer's model-source lists are computed ahead (Recommender::precompute, what
// `lookbook serve --precompute` keeps) and recommend() is timed again blending them; the checks
// compare those answers with the ones above, bit for bit.
// --checks 0 skips those comparisons (for profiling the timed part alone). The per-source
// figures time each source's ranked list alone (no reasons); recommend() asks reasons of the
// shown articles only.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <time.h>

#include "lookbook/recommend/recommender.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/util/log.hpp"
#include "lookbook/util/row_graph.hpp"
#include "lookbook/util/row_scan.hpp"

#if LOOKBOOK_WITH_TORCH
#include "lookbook/models/personal.hpp"
#endif

namespace {

double clock_us(clockid_t clock) {
    timespec ts{};
    clock_gettime(clock, &ts);
    return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

double thread_cpu_us() { return clock_us(CLOCK_THREAD_CPUTIME_ID); }

bool same_answer(const std::vector<lookbook::Recommendation>& a,
                 const std::vector<lookbook::Recommendation>& b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (size_t i = 0; i < a.size(); ++i) {
        if (a[i].article != b[i].article || a[i].score != b[i].score ||
            a[i].reason != b[i].reason || a[i].source != b[i].source) {
            return false;
        }
    }
    return true;
}

// Percentile of sorted samples.
double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) {
        return 0;
    }
    size_t pos = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1));
    return sorted[pos];
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: recommend_cost STORE [--customers N] [--rounds R]\n");
        return 2;
    }
    size_t wanted = 2000;
    int rounds = 1;
    std::string ids_file;
    bool every_source = false;
    std::vector<std::pair<std::string, float>> set_weights;
    bool checks = true;
    bool exact_scan = false;
    size_t threads = 1;
    bool approximate = true;
    bool settle = true;
    for (int i = 2; i + 1 < argc; i += 2) {
        std::string flag = argv[i];
        if (flag == "--customers") {
            wanted = std::strtoul(argv[i + 1], nullptr, 10);
        } else if (flag == "--rounds") {
            rounds = std::atoi(argv[i + 1]);
        } else if (flag == "--write-ids") {
            ids_file = argv[i + 1];
        } else if (flag == "--batching") {
            lookbook::RowScanBatcher::set_batching(std::string(argv[i + 1]) != "0");
        } else if (flag == "--threads") {
            threads = std::max<size_t>(1, std::strtoul(argv[i + 1], nullptr, 10));
        } else if (flag == "--every-source") {
            every_source = std::string(argv[i + 1]) == "1";
        } else if (flag == "--settle") {
            settle = std::string(argv[i + 1]) != "0";
        } else if (flag == "--checks") {
            checks = std::string(argv[i + 1]) != "0";
        } else if (flag == "--weight") {
            const std::string pair = argv[i + 1];
            const size_t eq = pair.find('=');
            if (eq == std::string::npos) {
                std::fprintf(
                    stderr, "--weight wants NAME=WEIGHT, e.g. profile=0; got %s\n", pair.c_str());
                return 2;
            }
            set_weights.emplace_back(pair.substr(0, eq),
                                     std::strtof(pair.c_str() + eq + 1, nullptr));
        } else if (flag == "--exact-scan") {
            exact_scan = std::string(argv[i + 1]) == "1";
            lookbook::RowScan::set_half_pass(!exact_scan);
        } else if (flag == "--approximate") {
            approximate = std::string(argv[i + 1]) != "0";
        } else if (flag == "--ef" || flag == "--graph-m" || flag == "--ef-construction") {
            lookbook::RowGraphParams params = lookbook::RowSearch::graph_params();
            const size_t value = std::strtoul(argv[i + 1], nullptr, 10);
            (flag == "--ef"        ? params.ef_search
             : flag == "--graph-m" ? params.m
                                   : params.ef_construction) = value;
            lookbook::RowSearch::set_graph_params(params);
        }
    }
    lookbook::log::init_logging(lookbook::log::Level::kWarn);
    auto store = lookbook::Store::open(argv[1]);
    if (!store.is_ok()) {
        std::fprintf(stderr, "%s\n", store.status().message().c_str());
        return 1;
    }
    if (!ids_file.empty()) {
        const auto& offsets = (*store)->transactions().customer_offsets();
        std::FILE* out = std::fopen(ids_file.c_str(), "w");
        if (out == nullptr) {
            std::perror(ids_file.c_str());
            return 1;
        }
        for (uint32_t row = 0; row + 1 < offsets.size(); ++row) {
            if (offsets[row + 1] > offsets[row]) {
                std::string id((*store)->customers().id(row));
                std::fprintf(out, "%s\n", id.c_str());
            }
        }
        return std::fclose(out) == 0 ? 0 : 1;
    }
    // The graphs are built with the sources.
    lookbook::RowSearch::set_approximate(true);
    const double open_start = clock_us(CLOCK_PROCESS_CPUTIME_ID);
#if LOOKBOOK_WITH_TORCH
    auto opened = lookbook::models::open_personal_recommender(**store);
#else
    auto opened = lookbook::Recommender::open(**store);
#endif
    if (!opened.is_ok()) {
        std::fprintf(stderr, "%s\n", opened.status().message().c_str());
        return 1;
    }
    const lookbook::RowGraphParams graph_params = lookbook::RowSearch::graph_params();
    std::printf(
        "opening the recommender (graphs included): %.2f s of CPU; graphs M %zu, "
        "ef_construction %zu, ef_search %zu\n",
        (clock_us(CLOCK_PROCESS_CPUTIME_ID) - open_start) / 1e6,
        graph_params.m,
        graph_params.ef_construction,
        graph_params.ef_search);
    lookbook::Recommender& recommender = **opened;
    if (every_source) {
        for (const std::string& name : recommender.source_names()) {
            recommender.set_weight(name, 1.0f);
        }
    }
    for (const auto& [name, weight] : set_weights) {
        recommender.set_weight(name, weight);
    }

    // Customers with purchases: the ones every source has something to say about.
    const auto& offsets = (*store)->transactions().customer_offsets();
    std::vector<uint32_t> customers;
    for (uint32_t row = 0; row + 1 < offsets.size() && customers.size() < wanted; ++row) {
        if (offsets[row + 1] > offsets[row]) {
            customers.push_back(row);
        }
    }

    // The graphs against the exact scans: recall of every source's exact list of 100 in the
    // graph's list, and the blended answers at k 12.
    std::map<std::string, std::pair<double, double>> recall;  // found, exact list lengths
    size_t same_blend = 0;
    double blend_found = 0;
    double blend_total = 0;
    for (uint32_t customer : checks ? customers : std::vector<uint32_t>{}) {
        auto history = recommender.history(customer, recommender.default_today(), {});
        lookbook::CustomerContext context{customer, recommender.default_today(), history};
        for (const std::string& name : recommender.source_names()) {
            const lookbook::CandidateSource* source = recommender.source(name);
            lookbook::RowSearch::set_approximate(false);
            auto exact = source->ranked(context, 100);
            lookbook::RowSearch::set_approximate(true);
            auto graph = source->ranked(context, 100);
            for (const auto& candidate : exact) {
                recall[name].first += std::any_of(graph.begin(), graph.end(), [&](const auto& c) {
                    return c.article == candidate.article;
                });
            }
            recall[name].second += static_cast<double>(exact.size());
        }
        lookbook::RecommendOptions blend_options;
        lookbook::RowSearch::set_approximate(false);
        auto exact = recommender.recommend(customer, {}, blend_options);
        lookbook::RowSearch::set_approximate(true);
        auto graph = recommender.recommend(customer, {}, blend_options);
        same_blend += same_answer(exact, graph) ? 1 : 0;
        for (const auto& item : exact) {
            blend_found += std::any_of(graph.begin(), graph.end(), [&](const auto& r) {
                return r.article == item.article;
            });
        }
        blend_total += static_cast<double>(exact.size());
    }
    for (const auto& [name, counts] : recall) {
        if (counts.second > 0) {
            std::printf("graph recall of the exact 100 candidates, source %-12s %.4f\n",
                        name.c_str(),
                        counts.first / counts.second);
        }
    }
    std::printf(
        "blended answers (k 12): %zu of %zu identical with the graphs, recall of the exact "
        "answer's articles %.4f\n",
        same_blend,
        customers.size(),
        blend_total > 0 ? blend_found / blend_total : 1.0);
    lookbook::RowSearch::set_approximate(false);

    // The half-precision first pass must not change any answer: every source's ranked list,
    // and the blended answer, with it and with float-only scans, compared exactly.
    size_t differing_lists = 0;
    size_t differing_answers = 0;
    size_t differing_settled = 0;
    for (uint32_t customer : checks ? customers : std::vector<uint32_t>{}) {
        auto history = recommender.history(customer, recommender.default_today(), {});
        lookbook::CustomerContext context{customer, recommender.default_today(), history};
        lookbook::RecommendOptions check_options;
        check_options.k = 100;
        for (const std::string& name : recommender.source_names()) {
            const lookbook::CandidateSource* source = recommender.source(name);
            lookbook::RowScan::set_half_pass(true);
            auto with_half = source->ranked(context, 100);
            lookbook::RowScan::set_half_pass(false);
            auto float_only = source->ranked(context, 100);
            bool same = with_half.size() == float_only.size();
            for (size_t i = 0; same && i < with_half.size(); ++i) {
                same = with_half[i].article == float_only[i].article &&
                       with_half[i].score == float_only[i].score;
            }
            if (!same && differing_lists++ < 5) {
                std::printf("customer row %u, source %s: the half pass changed the list\n",
                            customer,
                            name.c_str());
            }
        }
        lookbook::RowScan::set_half_pass(true);
        auto with_half = recommender.recommend(customer, {}, check_options);
        lookbook::RowScan::set_half_pass(false);
        auto float_only = recommender.recommend(customer, {}, check_options);
        bool same = with_half.size() == float_only.size();
        for (size_t i = 0; same && i < with_half.size(); ++i) {
            same = with_half[i].article == float_only[i].article &&
                   with_half[i].score == float_only[i].score;
        }
        differing_answers += same ? 0 : 1;
        // Settled from the history or not, the server's answer is the one of every source.
        lookbook::RecommendOptions served;
        served.catalog_only = true;
        lookbook::RecommendOptions every_source_asked = served;
        every_source_asked.settle_from_history = false;
        const bool same_settled =
            same_answer(recommender.recommend(customer, {}, served),
                        recommender.recommend(customer, {}, every_source_asked));
        differing_settled += same_settled ? 0 : 1;
    }
    lookbook::RowScan::set_half_pass(!exact_scan);
    lookbook::RowSearch::set_approximate(approximate);
    std::printf(
        "exactness: %zu source lists and %zu answers (k 100) of %zu customers differ "
        "between the half pass and float-only scans\n",
        differing_lists,
        differing_answers,
        customers.size());
    std::printf(
        "settling from the history: %zu answers (k 12, catalog only) of %zu customers differ "
        "from asking every source\n",
        differing_settled,
        customers.size());

    // Each source alone, on the same context recommend() builds.
    lookbook::RecommendOptions options;
    const int32_t today = recommender.default_today();
    std::map<std::string, double> per_source;
    for (const std::string& name : recommender.source_names()) {
        const lookbook::CandidateSource* source = recommender.source(name);
        double start = thread_cpu_us();
        size_t returned = 0;
        size_t rescored = 0;
        for (uint32_t customer : customers) {
            auto history = recommender.history(customer, today, {});
            lookbook::CustomerContext context{customer, today, history};
            lookbook::RowScan::reset_rescored();
            returned += source->ranked(context, options.candidates_per_source).size();
            rescored += lookbook::RowScan::last_rescored();
        }
        per_source[name] = (thread_cpu_us() - start) / static_cast<double>(customers.size());
        const auto calls = static_cast<double>(customers.size());
        std::printf("source %-12s %8.1f us/call  (%.1f candidates, %.0f rows scored in float)\n",
                    name.c_str(),
                    per_source[name],
                    static_cast<double>(returned) / calls,
                    static_cast<double>(rescored) / calls);
    }

    std::printf("blend weights:");
    for (const auto& [name, weight] : recommender.weights()) {
        std::printf(" %s %.2f", name.c_str(), weight);
    }
    std::printf(" (a source weighing 0 is not asked)\n");

    // The whole answer, as the server asks for it.
    options.catalog_only = true;
    options.settle_from_history = settle;
    const uint64_t settled_before = recommender.answers_settled_from_history();
    std::vector<double> samples;
    double start = thread_cpu_us();
    for (int round = 0; round < rounds; ++round) {
        for (uint32_t customer : customers) {
            double before = thread_cpu_us();
            auto list = recommender.recommend(customer, {}, options);
            samples.push_back(thread_cpu_us() - before);
            if (list.empty()) {
                std::fprintf(stderr, "customer row %u got no recommendations\n", customer);
            }
        }
    }
    double total = thread_cpu_us() - start;
    std::sort(samples.begin(), samples.end());
    std::printf("recommend() %zu customers x %d: %.1f us/call CPU, p50 %.1f, p99 %.1f us\n",
                customers.size(),
                rounds,
                total / static_cast<double>(samples.size()),
                percentile(samples, 0.5),
                percentile(samples, 0.99));
    std::printf("answers settled from the history alone: %llu of %zu\n",
                static_cast<unsigned long long>(recommender.answers_settled_from_history() -
                                                settled_before),
                samples.size());
    std::printf("=> at most %.0f answers/s per core from recommend() alone\n",
                1e6 * static_cast<double>(samples.size()) / total);

    // The model sources' lists computed ahead (what `lookbook serve --precompute` keeps), then
    // the same answers blended from them: compared with the answers above, and timed.
    lookbook::PrecomputedLists lists((*store)->customers().size());
    const double ahead_start = thread_cpu_us();
    for (uint32_t customer : customers) {
        lists.set(customer, recommender.precompute(customer));
    }
    const double ahead_cost =
        (thread_cpu_us() - ahead_start) / static_cast<double>(customers.size());
    lookbook::RecommendOptions with_lists = options;
    with_lists.precomputed = &lists;
    size_t differing_ahead = 0;
    for (uint32_t customer : checks ? customers : std::vector<uint32_t>{}) {
        differing_ahead += same_answer(recommender.recommend(customer, {}, with_lists),
                                       recommender.recommend(customer, {}, options))
                               ? 0
                               : 1;
    }
    const uint64_t ahead_before = recommender.answers_from_precomputed();
    std::vector<double> ahead_samples;
    const double blend_start = thread_cpu_us();
    for (int round = 0; round < rounds; ++round) {
        for (uint32_t customer : customers) {
            double before = thread_cpu_us();
            auto list = recommender.recommend(customer, {}, with_lists);
            ahead_samples.push_back(thread_cpu_us() - before);
        }
    }
    const double ahead_total = thread_cpu_us() - blend_start;
    std::sort(ahead_samples.begin(), ahead_samples.end());
    std::printf(
        "lists computed ahead: %.1f us of CPU and %.0f bytes a customer; answers from them: "
        "%zu of %zu differ%s\n",
        ahead_cost,
        static_cast<double>(lists.bytes()) / static_cast<double>(customers.size()),
        differing_ahead,
        customers.size(),
        checks ? "" : " (not checked: --checks 0)");
    std::printf(
        "recommend() with the lists: %.1f us/call CPU, p50 %.1f, p99 %.1f us (%llu of %zu "
        "answers used them; the others were settled from the history)\n",
        ahead_total / static_cast<double>(ahead_samples.size()),
        percentile(ahead_samples, 0.5),
        percentile(ahead_samples, 0.99),
        static_cast<unsigned long long>(recommender.answers_from_precomputed() - ahead_before),
        ahead_samples.size());
    if (threads <= 1) {
        return 0;
    }

    // The same answers from many threads at once, checked against one thread's.
    std::vector<std::vector<lookbook::Recommendation>> alone;
    for (uint32_t customer : customers) {
        alone.push_back(recommender.recommend(customer, {}, options));
    }
    std::vector<size_t> differing(threads, 0);
    std::vector<std::thread> pool;
    const double wall_start = clock_us(CLOCK_MONOTONIC);
    const double cpu_start = clock_us(CLOCK_PROCESS_CPUTIME_ID);
    for (size_t t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            const size_t offset = t * customers.size() / threads;
            for (int round = 0; round < rounds; ++round) {
                for (size_t i = 0; i < customers.size(); ++i) {
                    const size_t at = (offset + i) % customers.size();
                    auto list = recommender.recommend(customers[at], {}, options);
                    differing[t] += same_answer(list, alone[at]) ? 0 : 1;
                }
            }
        });
    }
    for (std::thread& thread : pool) {
        thread.join();
    }
    const double cpu = clock_us(CLOCK_PROCESS_CPUTIME_ID) - cpu_start;
    const double wall = clock_us(CLOCK_MONOTONIC) - wall_start;
    const auto calls =
        static_cast<double>(threads * customers.size() * static_cast<size_t>(rounds));
    size_t differing_total = 0;
    for (size_t count : differing) {
        differing_total += count;
    }
    std::printf(
        "recommend() from %zu threads: %.1f us/call of process CPU, %.0f answers/s wall, "
        "%zu answers differ from one thread's\n",
        threads,
        cpu / calls,
        1e6 * calls / wall,
        differing_total);
    return differing_total == 0 ? 0 : 1;
}
