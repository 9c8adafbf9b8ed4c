// Incremental update of the saved similar-items index against a full rebuild, on a synthetic
// store (clustered image and text embeddings):
//
//   nice build/bench/index_update_bench --store /tmp/me/update --articles 100000
//
// Builds the index from scratch, changes --changed percent of the articles (half get new
// vectors, a quarter lose theirs, a quarter gain one), then times `lookbook index`'s
// incremental path and a rebuild of the same store (wall and CPU seconds).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "index_data.hpp"
#include "lookbook/data/ingest.hpp"
#include "lookbook/index/similar.hpp"
#include "lookbook/util/log.hpp"

namespace {

using lookbook::bench::clustered;
using lookbook::bench::cpu_seconds;

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Embeddings {
    std::vector<float> image;
    std::vector<float> text;
    std::vector<uint8_t> has_image;
    std::vector<uint8_t> has_text;
};

void commit(const fs::path& store, const Embeddings& e, size_t dim) {
    lookbook::ColumnFileWriter writer;
    writer.add("image", e.image);
    writer.add("text", e.text);
    writer.add("has_image", e.has_image);
    writer.add("has_text", e.has_text);
    writer.set_metadata(fmt::format(R"({{"model": "synthetic", "dim": {}}})", dim));
    auto done = lookbook::Store::commit(store, {{"embeddings", &writer}});
    if (!done.is_ok()) {
        std::fprintf(stderr, "%s\n", done.status().message().c_str());
        std::exit(1);
    }
}

// Runs one index build and prints what it did and what it cost.
void timed_build(const fs::path& store, const lookbook::SimilarOptions& options) {
    const auto wall = Clock::now();
    const double cpu = cpu_seconds();
    auto report = lookbook::build_similar_index(store, options);
    if (!report.is_ok()) {
        std::fprintf(stderr, "%s\n", report.status().message().c_str());
        std::exit(1);
    }
    std::printf(
        "%-11s %zu of %u articles, %zu added, %zu changed, %zu removed: %.1f s wall, "
        "%.1f s CPU\n",
        report->mode.c_str(),
        report->indexed,
        report->articles,
        report->added,
        report->updated,
        report->removed,
        std::chrono::duration<double>(Clock::now() - wall).count(),
        cpu_seconds() - cpu);
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app("similar-items index: incremental update against full rebuild");
    std::string store_text;
    uint32_t articles = 100000;
    size_t dim = 256;
    double changed = 1.0;
    lookbook::SimilarOptions options;
    options.approximate_threshold = 0;
    app.add_option("--store", store_text, "Folder for the synthetic store (replaced)")->required();
    app.add_option("--articles", articles)->capture_default_str();
    app.add_option("--dim", dim, "Dimensions of each part (image, text)")->capture_default_str();
    app.add_option("--changed", changed, "Percent of articles changed")->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    lookbook::log::init_logging(lookbook::log::Level::kInfo);
    const fs::path store(store_text);
    fs::remove_all(store);
    fs::create_directories(store.parent_path());

    // A catalog only: the index needs articles and embeddings, no sales.
    const fs::path csv = store.string() + "-articles.csv";
    {
        std::ofstream out(csv);
        out << "article_id,product_code,prod_name\n";
        for (uint32_t a = 0; a < articles; ++a) {
            out << fmt::format("{:010d},{:07d},Item {}\n", a + 1, a, a);
        }
    }
    lookbook::IngestOptions ingest;
    ingest.articles = csv;
    ingest.store = store;
    if (auto done = lookbook::ingest(ingest); !done.is_ok()) {
        std::fprintf(stderr, "%s\n", done.status().message().c_str());
        return 1;
    }
    Embeddings e{clustered(articles, dim, 200, 1),
                 clustered(articles, dim, 200, 2),
                 std::vector<uint8_t>(articles, 1),
                 std::vector<uint8_t>(articles, 1)};
    // Every 8th article starts without vectors so some can be added later.
    for (uint32_t a = 0; a < articles; a += 8) {
        e.has_image[a] = e.has_text[a] = 0;
    }
    commit(store, e, dim);
    std::printf("%u articles, %zu + %zu dimensions, HNSW M=%zu ef_construction=%zu\n",
                articles,
                dim,
                dim,
                options.hnsw.m,
                options.hnsw.ef_construction);
    timed_build(store, options);

    // Changed articles: spread over the catalog, in the proportions the header states.
    const auto step = static_cast<uint32_t>(std::max(1.0, 100.0 / changed));
    const std::vector<float> fresh = clustered(articles, dim, 200, 3);
    for (uint32_t a = 1, n = 0; a < articles; a += step, ++n) {
        const uint32_t target = n % 4 == 3 ? (a / 8) * 8 : a;  // a quarter: a vector-less one
        if (n % 4 == 2) {
            e.has_image[target] = e.has_text[target] = 0;
        } else {
            e.has_image[target] = e.has_text[target] = 1;
            std::copy_n(fresh.begin() + target * dim, dim, e.image.begin() + target * dim);
        }
    }
    commit(store, e, dim);
    timed_build(store, options);
    options.incremental = false;
    timed_build(store, options);
    fs::remove_all(store);
    fs::remove(csv);
    return 0;
}
