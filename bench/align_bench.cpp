// Speed of the libtorch ALIGN towers at kakaobrain/align-base size (random weights) on 2
// threads, beside CLIP ViT-B/32 measured in the same run and the same way: images/s and
// texts/s. The thread plan is configure_cpu_threads(2) (LOOKBOOK_BENCH_THREADS overrides it).
// Each case runs a fixed, small number of iterations: the machine is shared and one align-base
// image batch takes seconds.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include <ATen/Context.h>
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "lookbook/encoders/align_model.hpp"
#include "lookbook/encoders/clip_model.hpp"
#include "lookbook/encoders/cpu_threads.hpp"

namespace {

using lookbook::AlignConfig;
using lookbook::AlignModel;
using lookbook::ClipConfig;
using lookbook::ClipModel;

constexpr int64_t kTextTokens = 64;  // ALIGN's padded length; CLIP pads to 77 either way

int bench_threads() {
    const char* text = std::getenv("LOOKBOOK_BENCH_THREADS");
    return text != nullptr && std::atoi(text) > 0 ? std::atoi(text) : 2;
}

void configure_once() {
    static bool done = [] {
        lookbook::configure_cpu_threads(bench_threads());
        // Random towers 55 blocks deep can drift into denormals, which would time the CPU's
        // slow path instead of the model.
        at::globalContext().setFlushDenormal(true);
        return true;
    }();
    (void)done;
}

// kakaobrain/align-base as its config.json sets it, written out rather than taken from the
// loader's defaults so the benchmark keeps measuring this size if the defaults change:
// Hugging Face's AlignVisionConfig defaults (EfficientNet-B7: width 2.0, depth 3.1) with
// image_size 289 and hidden_dim 640; BERT-base text tower; projection 640.
AlignConfig align_base() {
    AlignConfig c;
    c.projection_dim = 640;
    c.vision.image_size = 289;
    c.vision.width_coefficient = 2.0;
    c.vision.depth_coefficient = 3.1;
    c.vision.depth_divisor = 8;
    c.vision.kernel_sizes = {3, 3, 5, 3, 5, 5, 3};
    c.vision.in_channels = {32, 16, 24, 40, 80, 112, 192};
    c.vision.out_channels = {16, 24, 40, 80, 112, 192, 320};
    c.vision.strides = {1, 2, 2, 2, 1, 2, 1};
    c.vision.num_block_repeats = {1, 2, 2, 3, 3, 4, 1};
    c.vision.expand_ratios = {1, 6, 6, 6, 6, 6, 6};
    c.vision.depthwise_padding = {};
    c.vision.squeeze_expansion_ratio = 0.25;
    c.vision.hidden_dim = 640;
    c.vision.batch_norm_eps = 1e-3;
    c.text.vocab_size = 30522;
    c.text.hidden_size = 768;
    c.text.layers = 12;
    c.text.heads = 12;
    c.text.intermediate_size = 3072;
    c.text.max_position_embeddings = 512;
    c.preprocess.crop_height = c.preprocess.crop_width = 289;
    return c;
}

AlignModel& align_model() {
    static std::unique_ptr<AlignModel> model = [] {
        auto built = AlignModel::with_random_weights(align_base(), 42);
        if (!built.is_ok()) {
            std::fprintf(stderr, "%s\n", built.status().to_string().c_str());
            std::exit(1);
        }
        return std::move(built).value();
    }();
    return *model;
}

ClipModel& clip_model() {
    static std::unique_ptr<ClipModel> model = [] {
        auto built = ClipModel::with_random_weights(ClipConfig{}, 42);  // ViT-B/32 defaults
        if (!built.is_ok()) {
            std::fprintf(stderr, "%s\n", built.status().to_string().c_str());
            std::exit(1);
        }
        return std::move(built).value();
    }();
    return *model;
}

void set_rate(benchmark::State& state, const char* name, int64_t batch) {
    state.counters[name] = benchmark::Counter(static_cast<double>(batch),
                                              benchmark::Counter::kIsIterationInvariantRate);
}

void BM_AlignEncodeImage(benchmark::State& state) {
    configure_once();
    AlignModel& model = align_model();
    const int64_t batch = state.range(0);
    torch::Tensor pixels = torch::rand({batch, 3, 289, 289}) * 2 - 1;  // [-1, 1] as preprocessed
    model.encode_image(pixels);  // warm-up: allocator and oneDNN first-call costs
    for (auto _ : state) {
        benchmark::DoNotOptimize(model.encode_image(pixels).data_ptr());
    }
    set_rate(state, "images/s", batch);
}
BENCHMARK(BM_AlignEncodeImage)->Arg(4)->Iterations(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_AlignEncodeText(benchmark::State& state) {
    configure_once();
    AlignModel& model = align_model();
    const int64_t batch = state.range(0);
    // 64 real tokens per text: the full padded length, the worst case the processor produces.
    torch::Tensor ids = torch::randint(1000, 30000, {batch, kTextTokens}, torch::kInt64);
    ids.select(1, 0).fill_(101);
    ids.select(1, kTextTokens - 1).fill_(102);
    torch::Tensor mask = torch::ones({batch, kTextTokens}, torch::kInt64);
    model.encode_text(ids, mask);
    for (auto _ : state) {
        benchmark::DoNotOptimize(model.encode_text(ids, mask).data_ptr());
    }
    set_rate(state, "texts/s", batch);
}
BENCHMARK(BM_AlignEncodeText)->Arg(16)->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ClipEncodeImage(benchmark::State& state) {
    configure_once();
    ClipModel& model = clip_model();
    const int64_t batch = state.range(0);
    torch::Tensor pixels = torch::randn({batch, 3, 224, 224});
    model.encode_image(pixels);
    for (auto _ : state) {
        benchmark::DoNotOptimize(model.encode_image(pixels).data_ptr());
    }
    set_rate(state, "images/s", batch);
}
BENCHMARK(BM_ClipEncodeImage)->Arg(4)->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ClipEncodeText(benchmark::State& state) {
    configure_once();
    ClipModel& model = clip_model();
    const int64_t batch = state.range(0);
    // 64 real tokens then end-of-text, padded to CLIP's 77.
    torch::Tensor ids = torch::zeros({batch, 77}, torch::kInt64);
    ids.slice(1, 0, kTextTokens).copy_(torch::randint(1, 49000, {batch, kTextTokens}));
    ids.select(1, 0).fill_(49406);
    ids.select(1, kTextTokens).fill_(49407);
    model.encode_text(ids);
    for (auto _ : state) {
        benchmark::DoNotOptimize(model.encode_text(ids).data_ptr());
    }
    set_rate(state, "texts/s", batch);
}
BENCHMARK(BM_ClipEncodeText)->Arg(16)->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
