// Throughput of the CLIP input side: texts tokenized per second and 360x540 catalog JPEGs
// decoded and preprocessed (224x224 float tensor) per second, on one thread.
//
// Run: build/bench/encoders_input_bench (reads the tokenizer and images from LOOKBOOK_SHARED_DIR).

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "lookbook/encoders/image.hpp"
#include "lookbook/encoders/tokenizer.hpp"
#include "lookbook/util/file.hpp"

namespace lookbook {
namespace {

namespace fs = std::filesystem;

const fs::path kShared = LOOKBOOK_SHARED_DIR;

const ClipTokenizer& tokenizer() {
    static const ClipTokenizer tok = [] {
        auto r = ClipTokenizer::from_bpe_gz(kShared /
                                            "fixtures/clip/tokenizer/"
                                            "bpe_simple_vocab_16e6.txt.gz");
        if (!r.is_ok()) {
            std::fprintf(stderr, "%s\n", r.status().to_string().c_str());
            std::exit(1);
        }
        return std::move(r).value();
    }();
    return tok;
}

// Catalog-like descriptions; words repeat across texts, so the BPE cache is warm after a pass.
const std::vector<std::string> kTexts = {
    "Semi shiny nylon stockings with a wide, reinforced trim at the top. 20 denier.",
    "Tights with built-in support to lift the bottom. Black in 30 denier.",
    "Jersey top with narrow shoulder straps.",
    "Microfibre T-shirt bra with underwired, moulded, lightly padded cups.",
    "Wide-cut jeans in washed, stretch denim with a high waist &amp; zip fly.",
    "Long-sleeved top in soft organic cotton jersey with a ribbed neckline.",
    "Short dress in a crêpe weave with a V-neck, puff sleeves and a tie belt.",
    "Sneakers in imitation leather with lacing at the front, 3 cm platform soles.",
};

void BM_TokenizeCatalogTexts(benchmark::State& state) {
    const ClipTokenizer& tok = tokenizer();
    size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(tok.encode(kTexts[i++ % kTexts.size()]));
    }
    state.counters["texts/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_TokenizeCatalogTexts);

// Every text is made of fresh random words, so each word misses the BPE cache.
void BM_TokenizeUnseenWords(benchmark::State& state) {
    const ClipTokenizer& tok = tokenizer();
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> letter('a', 'z');
    std::string text;
    for (auto _ : state) {
        state.PauseTiming();
        text.clear();
        for (int word = 0; word < 12; ++word) {
            for (int c = 0; c < 7; ++c) {
                text.push_back(static_cast<char>(letter(rng)));
            }
            text.push_back(' ');
        }
        state.ResumeTiming();
        benchmark::DoNotOptimize(tok.encode(text));
    }
    state.counters["texts/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_TokenizeUnseenWords);

// The first few catalog JPEGs, held in memory so that disk reads are not measured.
const std::vector<std::string>& jpeg_bytes() {
    static const std::vector<std::string> files = [] {
        std::vector<fs::path> paths;
        for (const auto& entry :
             fs::recursive_directory_iterator(kShared / "data/hm_hungle45_pse/images")) {
            if (entry.path().extension() == ".jpg") {
                paths.push_back(entry.path());
            }
        }
        std::sort(paths.begin(), paths.end());
        paths.resize(std::min<size_t>(paths.size(), 16));
        std::vector<std::string> bytes;
        for (const fs::path& p : paths) {
            bytes.push_back(read_file(p).value());
        }
        return bytes;
    }();
    return files;
}

void BM_DecodeJpeg360x540(benchmark::State& state) {
    const auto& files = jpeg_bytes();
    size_t i = 0;
    for (auto _ : state) {
        auto image = decode_image_bytes(files[i++ % files.size()], "bench.jpg");
        benchmark::DoNotOptimize(image.value().pixels.data());
    }
    state.counters["images/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DecodeJpeg360x540);

// Decode + resize (shortest side 224) + centre crop + normalise to a [3, 224, 224] tensor.
void BM_PreprocessJpeg360x540(benchmark::State& state) {
    const auto& files = jpeg_bytes();
    ClipPreprocess options;
    size_t i = 0;
    for (auto _ : state) {
        auto image = decode_image_bytes(files[i++ % files.size()], "bench.jpg");
        auto tensor = preprocess_clip(image.value(), options);
        benchmark::DoNotOptimize(tensor.value().data_ptr<float>());
    }
    state.counters["images/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PreprocessJpeg360x540);

}  // namespace
}  // namespace lookbook

BENCHMARK_MAIN();
