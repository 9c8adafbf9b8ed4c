// Speed of the libtorch CLIP towers at ViT-B/32 size (random weights), on 2 threads: images/s
// and texts/s at batch 1 and 16 (override the thread count with LOOKBOOK_BENCH_THREADS).
// The second argument is the thread plan: 0 = torch::set_num_threads(2), as the PyTorch
// reference does (OpenBLAS adds its own 2 threads); 1 = configure_cpu_threads(2), lookbook's
// plan (OpenBLAS 2 threads, torch's other kernels on the calling thread).
// bench/encoders_model_reference.py measures the same architecture in PyTorch eager for comparison.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "lookbook/encoders/clip_model.hpp"
#include "lookbook/encoders/cpu_threads.hpp"

namespace {

using lookbook::ClipConfig;
using lookbook::ClipModel;

// 2 threads, as the issue asks; LOOKBOOK_BENCH_THREADS overrides it for comparisons.
int bench_threads() {
    const char* text = std::getenv("LOOKBOOK_BENCH_THREADS");
    return text != nullptr && std::atoi(text) > 0 ? std::atoi(text) : 2;
}

// ViT-B/32: the defaults of ClipConfig (vision 224/32, width 768, 12 layers, 12 heads; text
// width 512, 12 layers, 8 heads, context 77, vocab 49408; embed 512). Built once.
ClipModel& vit_b32() {
    static std::unique_ptr<ClipModel> model = [] {
        auto built = ClipModel::with_random_weights(ClipConfig{}, 42);
        if (!built.is_ok()) {
            std::fprintf(stderr, "%s\n", built.status().to_string().c_str());
            std::exit(1);
        }
        return std::move(built).value();
    }();
    return *model;
}

// Applies thread plan `plan` (see the top of the file) and labels the result with it.
void apply_thread_plan(benchmark::State& state, int64_t plan) {
    const int threads = bench_threads();
    lookbook::CpuThreadPlan chosen = lookbook::configure_cpu_threads(threads);
    if (plan == 0) {
        torch::set_num_threads(threads);
    }
    state.SetLabel(plan == 0
                       ? "torch threads " + std::to_string(threads)
                       : "configure_cpu_threads: torch " + std::to_string(chosen.torch_threads) +
                             ", OpenBLAS " + std::to_string(chosen.blas_threads));
}

void BM_EncodeImage(benchmark::State& state) {
    apply_thread_plan(state, state.range(1));
    ClipModel& model = vit_b32();
    const int64_t batch = state.range(0);
    torch::Tensor pixels = torch::randn({batch, 3, 224, 224});
    model.encode_image(pixels);  // warm-up: oneDNN and allocator first-call costs
    for (auto _ : state) {
        benchmark::DoNotOptimize(model.encode_image(pixels).data_ptr());
    }
    state.counters["images/s"] = benchmark::Counter(static_cast<double>(batch),
                                                    benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_EncodeImage)
    ->ArgsProduct({{1, 16}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_EncodeText(benchmark::State& state) {
    apply_thread_plan(state, state.range(1));
    ClipModel& model = vit_b32();
    const int64_t batch = state.range(0);
    // Captions of ~12 tokens padded to 77, as the tokenizer emits them.
    torch::Tensor ids = torch::zeros({batch, 77}, torch::kInt64);
    ids.select(1, 0).fill_(49406);
    ids.slice(1, 1, 12).copy_(torch::randint(1, 49000, {batch, 11}, torch::kInt64));
    ids.select(1, 12).fill_(49407);
    model.encode_text(ids);
    for (auto _ : state) {
        benchmark::DoNotOptimize(model.encode_text(ids).data_ptr());
    }
    state.counters["texts/s"] = benchmark::Counter(static_cast<double>(batch),
                                                   benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_EncodeText)
    ->ArgsProduct({{1, 16}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
