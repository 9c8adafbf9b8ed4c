// Vector index benchmark: synthetic catalogs of clustered unit vectors (uniform random vectors
// are nearly orthogonal, so their "nearest neighbours" would say nothing about recall).
//
//   build/bench/index_bench                               # 100k x 512
//   nice build/bench/index_bench --sizes 100000,1000000   # the 1M build takes minutes
//
// Per size: the exact scan (queries/s on one core, p50/p99 for k=10, GB/s of rows scanned),
// hnswlib HNSW and, when libfaiss-dev was found, faiss IndexFlatIP, IndexHNSWFlat (same M and
// ef_construction), IndexIVFFlat and IndexIVFPQ: build wall and CPU time with --build-threads,
// memory, then per ef_search or nprobe recall@10 against the exact answers, queries/s and
// p50/p99 with one search thread.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <sys/resource.h>
#if LOOKBOOK_BENCH_FAISS
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <omp.h>
#endif

#include "index_data.hpp"
#include "lookbook/index/dot.hpp"
#include "lookbook/index/exact_index.hpp"
#include "lookbook/index/hnsw_index.hpp"
#include "lookbook/util/file.hpp"

namespace {

using lookbook::bench::clustered;
using lookbook::bench::cpu_seconds;

using Clock = std::chrono::steady_clock;
using lookbook::Hit;

// Neighbours asked for per query, as the recall@10.
constexpr size_t kK = 10;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Timing {
    double qps = 0;
    double p50_ms = 0;
    double p99_ms = 0;
    double total_s = 0;
};

// The top 10 of one query, from whichever library answers it.
using SearchOne = std::function<std::vector<Hit>(const float* query)>;

// Runs every query once on this thread; returns throughput and latency percentiles.
Timing time_queries(const SearchOne& search,
                    const std::vector<float>& queries,
                    size_t dim,
                    std::vector<std::vector<Hit>>* answers) {
    const size_t count = queries.size() / dim;
    std::vector<double> latency(count);
    answers->assign(count, {});
    const auto start = Clock::now();
    for (size_t q = 0; q < count; ++q) {
        const auto t = Clock::now();
        (*answers)[q] = search(queries.data() + q * dim);
        latency[q] = seconds_since(t) * 1e3;
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

SearchOne ours(const lookbook::VectorIndex& index, size_t dim) {
    return [&index, dim](const float* query) { return index.search({query, dim}, kK).value(); };
}

// The knobs every library is run with, so the comparison uses the same graph sizes.
struct BenchConfig {
    size_t dim = 512;
    size_t build_threads = 1;
    std::vector<size_t> ef_search;
    lookbook::HnswParams params;
    std::vector<size_t> nprobe;
    size_t nlist = 0;  // 0: 4 * sqrt(size)
    size_t pq_m = 64;
    std::string faiss_indexes = "flat,hnsw,ivfflat,ivfpq";  // which faiss indexes to run
    bool hnswlib = true;
};

// Wall and CPU seconds of one build step (CPU counts every thread, so it shows the sharing).
struct Stopwatch {
    Clock::time_point wall = Clock::now();
    double cpu = cpu_seconds();
    std::string text() const {
        char buffer[64];
        std::snprintf(buffer,
                      sizeof buffer,
                      "%.1f s wall, %.1f s CPU",
                      seconds_since(wall),
                      cpu_seconds() - cpu);
        return buffer;
    }
};

void print_row(const char* name, const std::string& setting, double rec, const Timing& t) {
    std::printf("%-16s %-14s recall@10 %.4f, %6.0f queries/s, p50 %.3f ms, p99 %.3f ms\n",
                name,
                setting.c_str(),
                rec,
                t.qps,
                t.p50_ms,
                t.p99_ms);
    std::fflush(stdout);
}

// hnswlib through our HnswIndex: what `lookbook index` builds today.
void run_hnswlib(const std::vector<float>& rows,
                 const std::vector<float>& queries,
                 const std::vector<std::vector<Hit>>& truth,
                 const BenchConfig& config) {
    const size_t size = rows.size() / config.dim;
    const uint64_t rss_before = lookbook::current_rss_bytes();
    const Stopwatch build;
    lookbook::HnswIndex hnsw(config.dim, config.params, size);
    std::vector<uint32_t> ids(size);
    for (size_t i = 0; i < size; ++i) {
        ids[i] = static_cast<uint32_t>(i);
    }
    if (!hnsw.add_batch(ids, rows, config.build_threads).is_ok()) {
        std::fprintf(stderr, "HNSW build failed\n");
        std::exit(1);
    }
    std::printf(
        "hnswlib HNSW M=%zu ef_construction=%zu: built in %s with %zu threads, %.0f MB "
        "(graph and vector copies; RSS +%.0f MB)\n",
        config.params.m,
        config.params.ef_construction,
        build.text().c_str(),
        config.build_threads,
        hnsw.memory_bytes() / 1e6,
        (static_cast<double>(lookbook::current_rss_bytes()) - static_cast<double>(rss_before)) /
            1e6);
    for (size_t ef : config.ef_search) {
        hnsw.set_ef_search(ef);
        std::vector<std::vector<Hit>> got;
        const Timing t = time_queries(ours(hnsw, config.dim), queries, config.dim, &got);
        print_row("hnswlib HNSW", "ef=" + std::to_string(ef), recall(got, truth), t);
    }
}

#if LOOKBOOK_BENCH_FAISS
// faiss 1.7 keeps its id type inside Index (later versions moved it to the namespace).
using FaissId = faiss::Index::idx_t;

// One faiss query (n = 1, k = 10) converted to our hits; faiss returns -1 for missing slots.
std::vector<Hit> faiss_search(const faiss::Index& index, const float* query) {
    float scores[kK];
    FaissId labels[kK];
    index.search(1, query, kK, scores, labels);
    std::vector<Hit> out;
    for (size_t i = 0; i < kK; ++i) {
        if (labels[i] >= 0) {
            out.push_back({static_cast<uint32_t>(labels[i]), scores[i]});
        }
    }
    return out;
}

// Bytes faiss writes for the index: what a store file would hold.
size_t faiss_bytes(const faiss::Index& index) {
    faiss::VectorIOWriter writer;
    faiss::write_index(&index, &writer);
    return writer.data.size();
}

void print_faiss_build(const char* name,
                       const faiss::Index& index,
                       const Stopwatch& build,
                       uint64_t rss_before,
                       const BenchConfig& config) {
    std::printf(
        "%s: built in %s with %zu threads, %.0f MB serialized (RSS +%.0f MB)\n",
        name,
        build.text().c_str(),
        config.build_threads,
        faiss_bytes(index) / 1e6,
        (static_cast<double>(lookbook::current_rss_bytes()) - static_cast<double>(rss_before)) /
            1e6);
}

// faiss with the same data, k and one search thread: flat scan, HNSW with hnswlib's M and
// ef_construction, IVF-Flat and IVF-PQ over an nprobe sweep.
void run_faiss(const std::vector<float>& rows,
               const std::vector<float>& queries,
               const std::vector<std::vector<Hit>>& truth,
               const BenchConfig& config) {
    const size_t dim = config.dim;
    const auto size = static_cast<FaissId>(rows.size() / dim);
    const auto wanted = [&config](const std::string& name) {
        return ("," + config.faiss_indexes + ",").find("," + name + ",") != std::string::npos;
    };
    std::vector<std::vector<Hit>> got;
    if (wanted("flat")) {
        faiss::IndexFlatIP flat(dim);
        flat.add(size, rows.data());
        omp_set_num_threads(1);
        const auto search = [&flat](const float* q) { return faiss_search(flat, q); };
        const Timing t = time_queries(search, queries, dim, &got);
        print_row("faiss FlatIP", "-", recall(got, truth), t);
    }
    if (wanted("hnsw")) {
        uint64_t rss_before = lookbook::current_rss_bytes();
        omp_set_num_threads(static_cast<int>(config.build_threads));
        const Stopwatch build;
        faiss::IndexHNSWFlat hnsw(
            dim, static_cast<int>(config.params.m), faiss::METRIC_INNER_PRODUCT);
        hnsw.hnsw.efConstruction = static_cast<int>(config.params.ef_construction);
        hnsw.add(size, rows.data());
        print_faiss_build("faiss HNSWFlat", hnsw, build, rss_before, config);
        omp_set_num_threads(1);
        for (size_t ef : config.ef_search) {
            hnsw.hnsw.efSearch = static_cast<int>(ef);
            const auto search = [&hnsw](const float* q) { return faiss_search(hnsw, q); };
            const Timing t = time_queries(search, queries, dim, &got);
            print_row("faiss HNSWFlat", "ef=" + std::to_string(ef), recall(got, truth), t);
        }
    }
    const size_t nlist =
        config.nlist != 0 ? config.nlist : static_cast<size_t>(4 * std::sqrt(double(size)));
    for (const bool pq : {false, true}) {
        if (!wanted(pq ? "ivfpq" : "ivfflat")) {
            continue;
        }
        const char* name = pq ? "faiss IVFPQ" : "faiss IVFFlat";
        uint64_t rss_before = lookbook::current_rss_bytes();
        omp_set_num_threads(static_cast<int>(config.build_threads));
        const Stopwatch build;
        faiss::IndexFlatIP quantizer(dim);
        std::unique_ptr<faiss::IndexIVF> ivf;
        if (pq) {
            ivf = std::make_unique<faiss::IndexIVFPQ>(
                &quantizer, dim, nlist, config.pq_m, 8, faiss::METRIC_INNER_PRODUCT);
        } else {
            ivf = std::make_unique<faiss::IndexIVFFlat>(
                &quantizer, dim, nlist, faiss::METRIC_INNER_PRODUCT);
        }
        // faiss trains on at most 256 vectors per list anyway; a sample keeps 1M affordable.
        const auto train = std::min<FaissId>(size, static_cast<FaissId>(nlist) * 64);
        ivf->train(train, rows.data());
        ivf->add(size, rows.data());
        const std::string label = fmt::format(
            "{} nlist={}{}", name, nlist, pq ? fmt::format(" m={}x8bit", config.pq_m) : "");
        print_faiss_build(label.c_str(), *ivf, build, rss_before, config);
        omp_set_num_threads(1);
        for (size_t nprobe : config.nprobe) {
            ivf->nprobe = nprobe;
            const auto search = [&ivf](const float* q) { return faiss_search(*ivf, q); };
            const Timing t = time_queries(search, queries, dim, &got);
            print_row(name, "nprobe=" + std::to_string(nprobe), recall(got, truth), t);
        }
    }
}
#endif

}  // namespace

int main(int argc, char** argv) {
    CLI::App app("lookbook vector index benchmark");
    std::string sizes_text = "100000";
    size_t queries_count = 200;
    size_t clusters = 1000;
    std::string ef_text = "32,64,128,256";
    std::string nprobe_text = "8,16,32,64,128";
    BenchConfig config;
    bool exact_only = false;
    bool with_faiss = true;
    app.add_option("--sizes", sizes_text, "Catalog sizes, comma separated")->capture_default_str();
    app.add_option("--dim", config.dim)->capture_default_str();
    app.add_option("--queries", queries_count)->capture_default_str();
    app.add_option("--clusters", clusters)->capture_default_str();
    app.add_option("--build-threads", config.build_threads, "Threads for the graph/IVF builds")
        ->capture_default_str();
    app.add_option("--ef", ef_text, "ef_search values, comma separated")->capture_default_str();
    app.add_option("--m", config.params.m)->capture_default_str();
    app.add_option("--ef-construction", config.params.ef_construction)->capture_default_str();
    app.add_option("--nprobe", nprobe_text, "IVF lists probed, comma separated")
        ->capture_default_str();
    app.add_option("--nlist", config.nlist, "IVF lists (0: 4 * sqrt(size))")->capture_default_str();
    app.add_option("--pq-m", config.pq_m, "IVF-PQ sub-quantizers (8 bits each)")
        ->capture_default_str();
    app.add_flag("--exact-only", exact_only, "Skip the HNSW build (minutes at 1M)");
    app.add_flag("!--no-faiss", with_faiss, "Skip the faiss indexes");
    app.add_option("--faiss-indexes", config.faiss_indexes, "faiss indexes to run, comma separated")
        ->capture_default_str();
    app.add_flag("!--no-hnswlib", config.hnswlib, "Skip the hnswlib build");
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
    config.ef_search = split(ef_text);
    config.nprobe = split(nprobe_text);
    const size_t dim = config.dim;
    std::printf("dim %zu, %zu queries, %zu clusters, AVX2 kernel: %s\n",
                dim,
                queries_count,
                clusters,
                lookbook::vector_kernels::dot_uses_avx2() ? "yes" : "no");
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
        const Timing exact_time = time_queries(ours(exact, dim), queries, dim, &truth);
        const double gb_per_s = size * dim * 4.0 * queries_count / exact_time.total_s / 1e9;
        print_row("lookbook exact", "AVX2 scan", 1.0, exact_time);
        std::printf("(exact scan: %.1f GB/s)\n", gb_per_s);
        if (exact_only) {
            continue;
        }
        if (config.hnswlib) {
            run_hnswlib(rows, queries, truth, config);
        }
#if LOOKBOOK_BENCH_FAISS
        if (with_faiss) {
            run_faiss(rows, queries, truth, config);
        }
#else
        if (with_faiss) {
            std::printf("faiss: not built (libfaiss-dev was not found at configure time)\n");
        }
#endif
    }
    return 0;
}
