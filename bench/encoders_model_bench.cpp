// Speed of the libtorch CLIP towers at ViT-B/32 size (random weights), on 2 threads: images/s
// and texts/s at batch 1 and 16. bench/encoders_model_reference.py measures the same
// architecture in PyTorch eager for comparison.
#include <cstdio>
#include <cstdlib>
#include <memory>

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "lookbook/encoders/clip_model.hpp"

namespace {

using lookbook::ClipConfig;
using lookbook::ClipModel;

constexpr int kThreads = 2;

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

void BM_EncodeImage(benchmark::State& state) {
    torch::set_num_threads(kThreads);
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
BENCHMARK(BM_EncodeImage)->Arg(1)->Arg(16)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_EncodeText(benchmark::State& state) {
    torch::set_num_threads(kThreads);
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
BENCHMARK(BM_EncodeText)->Arg(1)->Arg(16)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
