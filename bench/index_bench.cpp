// Vector index benchmark: synthetic catalogs of clustered unit vectors (uniform random vectors
// are nearly orthogonal, so their "nearest neighbours" would say nothing about recall).
//
//   build/bench/index_bench                               # 100k x 512
//   nice build/bench/index_bench --sizes 100000,1000000   # the 1M build takes minutes
//
// Per size: the exact scan (queries/s on one core, p50/p99 for k=10, GB/s of rows scanned) and
// HNSW (build time with --build-threads, memory, then for each ef_search: recall@10 against the
// exact answers, queries/s and p50/p99 on one core).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "lookbook/index/dot.hpp"
#include "lookbook/index/exact_index.hpp"
#include "lookbook/index/hnsw_index.hpp"
#include "lookbook/util/file.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using lookbook::Hit;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// Unit vectors around `clusters` centres; the spread makes neighbours inside a cluster close
// but not trivially separated.
std::vector<float> clustered(size_t count, size_t dim, size_t clusters, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    std::vector<float> centres(clusters * dim);
    std::mt19937 centre_rng(12345);  // the same centres for the catalog and the queries
    for (float& v : centres) {
        v = normal(centre_rng);
    }
    std::uniform_int_distribution<size_t> pick(0, clusters - 1);
    std::vector<float> out(count * dim);
    for (size_t row = 0; row < count; ++row) {
        const float* centre = centres.data() + pick(rng) * dim;
        float* dst = out.data() + row * dim;
        double norm = 0;
        for (size_t i = 0; i < dim; ++i) {
            dst[i] = centre[i] + 0.8f * normal(rng);
            norm += static_cast<double>(dst[i]) * dst[i];
        }
        const float scale = static_cast<float>(1.0 / std::sqrt(norm));
        for (size_t i = 0; i < dim; ++i) {
            dst[i] *= scale;
        }
    }
    return out;
}

struct Timing {
    double qps = 0;
    double p50_ms = 0;
    double p99_ms = 0;
    double total_s = 0;
};

// Runs every query once on this thread; returns throughput and latency percentiles.
Timing time_queries(const lookbook::VectorIndex& index,
                    const std::vector<float>& queries,
                    size_t dim,
                    std::vector<std::vector<Hit>>* answers) {
    const size_t count = queries.size() / dim;
    std::vector<double> latency(count);
    answers->assign(count, {});
    const auto start = Clock::now();
    for (size_t q = 0; q < count; ++q) {
        const auto t = Clock::now();
        auto hits = index.search({queries.data() + q * dim, dim}, 10);
        latency[q] = seconds_since(t) * 1e3;
        (*answers)[q] = std::move(hits).value();
    }
    Timing out;
    out.total_s = seconds_since(start);
    out.qps = count / out.total_s;
    std::sort(latency.begin(), latency.end());
    out.p50_ms = latency[count / 2];
    out.p99_ms = latency[std::min(count - 1, count * 99 / 100)];
    return out;
}

double recall(const std::vector<std::vector<Hit>>& got,
              const std::vector<std::vector<Hit>>& truth) {
    size_t found = 0;
    size_t total = 0;
    for (size_t q = 0; q < got.size(); ++q) {
        std::set<uint32_t> ids;
        for (const Hit& hit : got[q]) {
            ids.insert(hit.id);
        }
        for (const Hit& hit : truth[q]) {
            found += ids.count(hit.id);
            ++total;
        }
    }
    return static_cast<double>(found) / total;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app("lookbook vector index benchmark");
    std::string sizes_text = "100000";
    size_t dim = 512;
    size_t queries_count = 200;
    size_t clusters = 1000;
    size_t build_threads = 1;
    std::string ef_text = "32,64,128,256";
    lookbook::HnswParams params;
    bool exact_only = false;
    app.add_option("--sizes", sizes_text, "Catalog sizes, comma separated")->capture_default_str();
    app.add_option("--dim", dim)->capture_default_str();
    app.add_option("--queries", queries_count)->capture_default_str();
    app.add_option("--clusters", clusters)->capture_default_str();
    app.add_option("--build-threads", build_threads, "Threads for the HNSW build")
        ->capture_default_str();
    app.add_option("--ef", ef_text, "ef_search values, comma separated")->capture_default_str();
    app.add_option("--m", params.m)->capture_default_str();
    app.add_option("--ef-construction", params.ef_construction)->capture_default_str();
    app.add_flag("--exact-only", exact_only, "Skip the HNSW build (minutes at 1M)");
    CLI11_PARSE(app, argc, argv);

    const auto split = [](const std::string& text) {
        std::vector<size_t> out;
        std::stringstream stream(text);
        std::string item;
        while (std::getline(stream, item, ',')) {
            out.push_back(std::stoul(item));
        }
        return out;
    };
    std::printf("dim %zu, %zu queries, %zu clusters, AVX2 kernel: %s\n",
                dim,
                queries_count,
                clusters,
                lookbook::dot_uses_avx2() ? "yes" : "no");
    const std::vector<float> queries = clustered(queries_count, dim, clusters, 999);

    for (size_t size : split(sizes_text)) {
        std::printf(
            "\n== %zu vectors (%.0f MB of float32 rows) ==\n", size, size * dim * 4.0 / 1e6);
        auto start = Clock::now();
        const std::vector<float> rows = clustered(size, dim, clusters, 1);
        std::printf("generated in %.1f s\n", seconds_since(start));
        std::vector<uint8_t> present(size, 1);

        // Exact: borrowing the rows is the whole build, as when mapped from the store.
        const auto exact = lookbook::ExactIndex::borrowed(dim, rows, present);
        std::vector<std::vector<Hit>> truth;
        const Timing exact_time = time_queries(exact, queries, dim, &truth);
        const double gb_per_s = size * dim * 4.0 * queries_count / exact_time.total_s / 1e9;
        std::printf("exact: %.1f queries/s, p50 %.2f ms, p99 %.2f ms, %.1f GB/s scanned\n",
                    exact_time.qps,
                    exact_time.p50_ms,
                    exact_time.p99_ms,
                    gb_per_s);
        std::fflush(stdout);
        if (exact_only) {
            continue;
        }

        const uint64_t rss_before = lookbook::current_rss_bytes();
        start = Clock::now();
        lookbook::HnswIndex hnsw(dim, params, size);
        std::vector<uint32_t> ids(size);
        for (size_t i = 0; i < size; ++i) {
            ids[i] = static_cast<uint32_t>(i);
        }
        if (!hnsw.add_batch(ids, rows, build_threads).is_ok()) {
            std::fprintf(stderr, "HNSW build failed\n");
            return 1;
        }
        const double build_s = seconds_since(start);
        std::printf(
            "hnsw M=%zu ef_construction=%zu: built in %.1f s with %zu threads (%.0f vectors/s), "
            "%.0f MB (graph and vector copies; RSS +%.0f MB)\n",
            params.m,
            params.ef_construction,
            build_s,
            build_threads,
            size / build_s,
            hnsw.memory_bytes() / 1e6,
            (lookbook::current_rss_bytes() - rss_before) / 1e6);
        for (size_t ef : split(ef_text)) {
            hnsw.set_ef_search(ef);
            std::vector<std::vector<Hit>> got;
            const Timing t = time_queries(hnsw, queries, dim, &got);
            std::printf(
                "hnsw ef_search=%zu: recall@10 %.4f, %.0f queries/s, p50 %.3f ms, p99 "
                "%.3f ms\n",
                ef,
                recall(got, truth),
                t.qps,
                t.p50_ms,
                t.p99_ms);
        }
        std::fflush(stdout);
    }
    return 0;
}
