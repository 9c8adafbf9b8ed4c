#include "lookbook/encoders/catalog_train.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "input_fixture.hpp"
#include "lookbook/encoders/clip_encode.hpp"
#include "lookbook/encoders/clip_model.hpp"
#include "lookbook/store/store.hpp"

namespace lookbook {
namespace {

namespace fs = std::filesystem;

TEST(LearnClipBpe, MergesTheMostFrequentPairFirstAndEncodesWithTheResult) {
    // By hand: "aaa" twice gives pairs (a,a) 2 and (a,a</w>) 2 — a tie, won by the older
    // symbols (a,a); then (aa,a</w>) 2; then no pair occurs twice ("ab" once).
    auto tokenizer = learn_clip_bpe({"aaa aaa ab"}, 600);
    ASSERT_TRUE(tokenizer.is_ok()) << tokenizer.status().to_string();
    ASSERT_EQ(tokenizer->merges().size(), 2u);
    EXPECT_EQ(tokenizer->merges()[0], std::make_pair(std::string("a"), std::string("a")));
    EXPECT_EQ(tokenizer->merges()[1], std::make_pair(std::string("aa"), std::string("a</w>")));
    // Ids: 512 byte symbols, then "aa" 512, "aaa</w>" 513, start 514, end 515.
    EXPECT_EQ(tokenizer->encode("AAA", 5), (std::vector<int64_t>{514, 513, 515, 0, 0}));

    // Written in CLIP's format, read back by the ordinary loader with the same ids.
    const fs::path dir = fs::temp_directory_path() / "lookbook_bpe_roundtrip";
    fs::remove_all(dir);
    fs::create_directories(dir);
    ASSERT_TRUE(write_clip_tokenizer(*tokenizer, dir).is_ok());
    auto loaded = ClipTokenizer::from_model_dir(dir);
    ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
    EXPECT_EQ(loaded->encode("aaa ab aa", 10), tokenizer->encode("aaa ab aa", 10));
    fs::remove_all(dir);
}

TEST(LearnClipBpe, StopsAtTheVocabularySize) {
    auto tokenizer = learn_clip_bpe({"aaa aaa ab"}, 515);
    ASSERT_TRUE(tokenizer.is_ok());
    EXPECT_EQ(tokenizer->merges().size(), 1u);
    EXPECT_EQ(tokenizer->id_to_token().size(), 515u);
}

TEST(LearnClipBpe, RejectsVocabularyBelowTheByteSymbols) {
    auto tokenizer = learn_clip_bpe({"x"}, 100);
    ASSERT_FALSE(tokenizer.is_ok());
    EXPECT_EQ(tokenizer.status().message(),
              "vocabulary size is 100; a CLIP vocabulary needs at least 514 tokens (512 byte "
              "symbols and 2 special tokens)");
}

// Eight photos, each one flat colour with a bright square in a different corner, and texts
// naming the colour.
std::vector<TrainingExample> tiny_examples() {
    const std::vector<std::pair<std::string, std::array<uint8_t, 3>>> colours = {
        {"red", {220, 20, 20}},
        {"green", {20, 200, 20}},
        {"blue", {20, 20, 220}},
        {"yellow", {230, 230, 30}},
        {"black", {10, 10, 10}},
        {"white", {245, 245, 245}},
        {"purple", {140, 30, 160}},
        {"orange", {250, 140, 0}}};
    std::vector<TrainingExample> out;
    for (size_t i = 0; i < colours.size(); ++i) {
        TrainingExample example;
        example.image.width = example.image.height = 18;
        example.image.channels = 3;
        for (int y = 0; y < 18; ++y) {
            for (int x = 0; x < 18; ++x) {
                const bool mark = (y < 9) == (i % 2 == 0) && (x < 9) == (i % 4 < 2);
                for (int c = 0; c < 3; ++c) {
                    example.image.pixels.push_back(mark ? 128 : colours[i].second[c]);
                }
            }
        }
        example.text = "a " + colours[i].first + " dress";
        out.push_back(std::move(example));
    }
    return out;
}

TrainOptions tiny_options() {
    TrainOptions options;
    options.batch_size = 8;
    options.epochs = 1000;
    options.learning_rate = 3e-3;
    options.vocab_size = 600;
    options.token_dropout = 0;  // the tests that want it turn it on
    options.checkpoint_seconds = 1e9;
    ClipConfig c;
    c.embed_dim = 16;
    c.vision = {.image_size = 16,
                .patch_size = 8,
                .width = 32,
                .layers = 1,
                .heads = 2,
                .mlp_width = 64,
                .activation = ClipActivation::kGelu};
    c.text = {.context_length = 8,
              .vocab_size = 600,
              .width = 32,
              .layers = 1,
              .heads = 2,
              .mlp_width = 64,
              .activation = ClipActivation::kGelu};
    options.model = c;
    options.model_set = true;
    return options;
}

fs::path fresh_dir(const std::string& name) {
    const fs::path dir = fs::temp_directory_path() / ("lookbook_train_" + name);
    fs::remove_all(dir);
    return dir;
}

TEST(TrainClipEncoder, LossDecreasesAndTheFolderLoadsWithTheOrdinaryLoader) {
    const fs::path dir = fresh_dir("loss");
    TrainOptions options = tiny_options();
    options.max_steps = 60;
    auto report = train_clip_encoder(tiny_examples(), dir, options);
    ASSERT_TRUE(report.is_ok()) << report.status().to_string();
    EXPECT_EQ(report->steps, 60);
    EXPECT_LT(report->last_loss, 0.5 * report->first_loss)
        << report->first_loss << " -> " << report->last_loss;

    auto model = ClipModel::load(dir);
    ASSERT_TRUE(model.is_ok()) << model.status().to_string();
    EXPECT_EQ((*model)->config().vision.image_size, 16);
    EXPECT_EQ((*model)->config().text.context_length, 8);
    auto tokenizer = ClipTokenizer::from_model_dir(dir);
    ASSERT_TRUE(tokenizer.is_ok()) << tokenizer.status().to_string();
    auto text = encode_clip_text(**model, *tokenizer, "a red dress");
    ASSERT_TRUE(text.is_ok());
    EXPECT_EQ(text->embedding.size(), 16u);
    EXPECT_GT(std::abs(text->embedding[0]) + std::abs(text->embedding[1]), 0.0f);
    fs::remove_all(dir);
}

TEST(TrainClipEncoder, WideFeaturesAndTokenDropoutLowerLossAndSaveTheFlag) {
    const fs::path dir = fresh_dir("wide");
    TrainOptions options = tiny_options();
    options.model.wide_features = true;
    options.token_dropout = 0.2;
    options.max_steps = 60;
    auto report = train_clip_encoder(tiny_examples(), dir, options);
    ASSERT_TRUE(report.is_ok()) << report.status().to_string();
    EXPECT_LT(report->last_loss, 0.5 * report->first_loss)
        << report->first_loss << " -> " << report->last_loss;

    // The ordinary loader sees the flag and the wide weights.
    auto model = ClipModel::load(dir);
    ASSERT_TRUE(model.is_ok()) << model.status().to_string();
    EXPECT_TRUE((*model)->config().wide_features);
    fs::remove_all(dir);
}

TEST(TrainClipEncoder, RejectsTokenDropoutOfOne) {
    TrainOptions options = tiny_options();
    options.token_dropout = 1.0;
    auto report = train_clip_encoder(tiny_examples(), fresh_dir("dropout"), options);
    ASSERT_FALSE(report.is_ok());
    EXPECT_EQ(report.status().message(),
              "token dropout is 1; expected a probability from 0 to below 1 (--token-dropout)");
}

TEST(TrainClipEncoder, ResumesAtTheCheckpointStep) {
    const fs::path dir = fresh_dir("resume");
    TrainOptions options = tiny_options();
    options.max_steps = 3;
    auto first = train_clip_encoder(tiny_examples(), dir, options);
    ASSERT_TRUE(first.is_ok()) << first.status().to_string();
    EXPECT_EQ(first->steps, 3);
    EXPECT_TRUE(fs::exists(dir / "checkpoint" / "state.json"));

    options.resume = true;
    options.max_steps = 5;
    auto second = train_clip_encoder(tiny_examples(), dir, options);
    ASSERT_TRUE(second.is_ok()) << second.status().to_string();
    EXPECT_EQ(second->start_step, 3);
    EXPECT_EQ(second->steps, 5);
    fs::remove_all(dir);
}

// Trains `options` for 4 steps in one run and for 2 + 2 steps with a resume in between, and
// expects the same saved weights.
// `on_resume` may change the options of the resumed run (settings the run must keep).
void expect_resume_equals_uninterrupted(TrainOptions options,
                                        const std::string& name,
                                        const std::function<void(TrainOptions&)>& on_resume = {}) {
    const fs::path once = fresh_dir(name + "_once");
    const fs::path twice = fresh_dir(name + "_twice");
    options.max_steps = 4;
    auto first = train_clip_encoder(tiny_examples(), once, options);
    ASSERT_TRUE(first.is_ok()) << first.status().to_string();
    options.max_steps = 2;
    ASSERT_TRUE(train_clip_encoder(tiny_examples(), twice, options).is_ok());
    options.resume = true;
    options.max_steps = 4;
    if (on_resume) {
        on_resume(options);
    }
    ASSERT_TRUE(train_clip_encoder(tiny_examples(), twice, options).is_ok());
    auto a = ClipModel::load(once);
    auto b = ClipModel::load(twice);
    ASSERT_TRUE(a.is_ok() && b.is_ok());
    auto wa = (*a)->openai_state_dict();
    auto wb = (*b)->openai_state_dict();
    ASSERT_EQ(wa.size(), wb.size());
    for (size_t i = 0; i < wa.size(); ++i) {
        EXPECT_TRUE(torch::allclose(wa[i].second, wb[i].second, 1e-5, 1e-6)) << wa[i].first;
    }
    fs::remove_all(once);
    fs::remove_all(twice);
}

TEST(TrainClipEncoder, ResumedRunEqualsAnUninterruptedOne) {
    // Same seed, same data: 2 + 2 steps with a resume in between give the weights of 4 steps.
    expect_resume_equals_uninterrupted(tiny_options(), "plain");
}

TEST(TrainClipEncoder, ScaledWideFeaturesSurviveAResume) {
    // 2 + 2 scaled steps equal 4 scaled steps even when the resume's options forget the flag
    // (the checkpoint keeps it), and differ from 4 unscaled steps.
    const fs::path once = fresh_dir("scaled_once");
    const fs::path twice = fresh_dir("scaled_twice");
    const fs::path plain = fresh_dir("scaled_plain");
    TrainOptions options = tiny_options();
    options.model.wide_features = true;
    options.max_steps = 4;
    ASSERT_TRUE(train_clip_encoder(tiny_examples(), plain, options).is_ok());
    options.scale_wide_features = true;
    ASSERT_TRUE(train_clip_encoder(tiny_examples(), once, options).is_ok());
    options.max_steps = 2;
    ASSERT_TRUE(train_clip_encoder(tiny_examples(), twice, options).is_ok());
    options.resume = true;
    options.scale_wide_features = false;
    options.max_steps = 4;
    ASSERT_TRUE(train_clip_encoder(tiny_examples(), twice, options).is_ok());
    auto a = ClipModel::load(once);
    auto b = ClipModel::load(twice);
    auto c = ClipModel::load(plain);
    ASSERT_TRUE(a.is_ok() && b.is_ok() && c.is_ok());
    torch::Tensor pixels = torch::rand({2, 3, 16, 16});
    const torch::Tensor image_a = (*a)->encode_image(pixels);
    EXPECT_TRUE(torch::allclose(image_a, (*b)->encode_image(pixels), 1e-4, 1e-5));
    EXPECT_GT((image_a - (*c)->encode_image(pixels)).abs().max().item<double>(), 1e-4);
    for (const fs::path& dir : {once, twice, plain}) {
        fs::remove_all(dir);
    }
}

TEST(TrainClipEncoder, StartsFromTheGivenLogitScale) {
    // One step moves the stored log scale by at most a learning rate (warm-up: a fraction of
    // it), so the saved scale is the start within a fraction of a percent.
    TrainOptions options = tiny_options();
    options.max_steps = 1;
    for (const double start : {0.0, 40.0}) {
        const fs::path dir = fresh_dir("logit_scale");
        options.initial_logit_scale = start;
        ASSERT_TRUE(train_clip_encoder(tiny_examples(), dir, options).is_ok());
        auto model = ClipModel::load(dir);
        ASSERT_TRUE(model.is_ok()) << model.status().to_string();
        const double expected = start > 0 ? start : 1 / 0.07;
        EXPECT_NEAR((*model)->logit_scale(), expected, 0.005 * expected) << start;
        fs::remove_all(dir);
    }
    options.initial_logit_scale = 101;
    auto refused = train_clip_encoder(tiny_examples(), fresh_dir("logit_scale"), options);
    ASSERT_FALSE(refused.is_ok());
    EXPECT_EQ(refused.status().message(),
              "initial logit scale 101; expected 0 (the default) or above 0 up to 100 "
              "(--logit-scale)");
}

TEST(TrainCatalogEncoder, RefusesBadSizesBeforeReadingTheStore) {
    // The store does not exist: the size error comes first, before any photo is decoded or
    // any file is written.
    CatalogTrainOptions options;
    options.train = tiny_options();
    options.train.model.vision.image_size = 20;  // patches of 8
    const fs::path output = fresh_dir("bad_sizes");
    auto report = train_catalog_encoder(fresh_dir("no_store"), output, options);
    ASSERT_FALSE(report.is_ok());
    EXPECT_EQ(report.status().message(),
              "CLIP config: image size 20 is not a multiple of the patch size 8");
    EXPECT_FALSE(fs::exists(output));
}

TEST(TrainClipEncoder, RefusesToOverwriteACheckpointWithoutResume) {
    const fs::path dir = fresh_dir("overwrite");
    TrainOptions options = tiny_options();
    options.max_steps = 1;
    ASSERT_TRUE(train_clip_encoder(tiny_examples(), dir, options).is_ok());
    auto again = train_clip_encoder(tiny_examples(), dir, options);
    ASSERT_FALSE(again.is_ok());
    EXPECT_EQ(again.status().message(),
              dir.string() +
                  ": holds a training checkpoint; pass --resume to continue it, or choose "
                  "another --output (or delete the folder) to start over");
    fs::remove_all(dir);
}

TEST(TrainClipEncoder, ResumeWithoutCheckpointSaysHowToStart) {
    const fs::path dir = fresh_dir("nothing");
    TrainOptions options = tiny_options();
    options.resume = true;
    auto report = train_clip_encoder(tiny_examples(), dir, options);
    ASSERT_FALSE(report.is_ok());
    EXPECT_EQ(report.status().message(),
              dir.string() + ": no checkpoint to resume; run without --resume to start");
}

TEST(TrainClipEncoder, NeedsTwoExamples) {
    auto report = train_clip_encoder({}, fresh_dir("empty"), tiny_options());
    ASSERT_FALSE(report.is_ok());
    EXPECT_EQ(report.status().message(),
              "0 training pairs; contrastive training needs at least 2 articles with a photo and "
              "a text");
}

TEST(TrainClipEncoder, DecayEndsAtTheTimeBudget) {
    // Far more epochs than fit in 1.2 s: the time budget ends the run, and the learning rate
    // of its last step is near zero (the decay follows the time, not a step count fitted once).
    const fs::path dir = fresh_dir("budget");
    TrainOptions options = tiny_options();
    options.epochs = 1000000;
    options.minutes = 0.02;
    auto report = train_clip_encoder(tiny_examples(), dir, options);
    ASSERT_TRUE(report.is_ok()) << report.status().to_string();
    EXPECT_LT(report->steps, report->planned_steps);
    EXPECT_GT(report->steps, 0);
    EXPECT_LT(report->last_learning_rate, 0.05 * options.learning_rate)
        << report->steps << " steps";
    fs::remove_all(dir);
}

TEST(TrainClipEncoder, ResumedRunCountsTheEarlierTrainingTime) {
    // The budget covers every run of one folder: a resume with a budget the first run already
    // used up trains no further step.
    const fs::path dir = fresh_dir("resume_budget");
    TrainOptions options = tiny_options();
    options.max_steps = 3;
    ASSERT_TRUE(train_clip_encoder(tiny_examples(), dir, options).is_ok());
    options.resume = true;
    options.max_steps = 0;
    options.minutes = 1e-7;
    auto second = train_clip_encoder(tiny_examples(), dir, options);
    ASSERT_TRUE(second.is_ok()) << second.status().to_string();
    EXPECT_EQ(second->start_step, 3);
    EXPECT_EQ(second->steps, 3);
    fs::remove_all(dir);
}

TEST(TrainClipEncoder, GroupedBatchesTrain) {
    const fs::path dir = fresh_dir("grouped");
    std::vector<TrainingExample> examples = tiny_examples();
    for (size_t i = 0; i < examples.size(); ++i) {
        examples[i].product_code = std::to_string(i / 2);
        examples[i].product_type = i < 4 ? "top" : "dress";
    }
    TrainOptions options = tiny_options();
    options.batch_size = 4;  // 2 steps an epoch
    options.group_batches = true;
    options.max_steps = 60;
    auto report = train_clip_encoder(examples, dir, options);
    ASSERT_TRUE(report.is_ok()) << report.status().to_string();
    EXPECT_EQ(report->steps, 60);
    EXPECT_EQ(report->planned_steps, 2 * options.epochs);
    EXPECT_LT(report->last_loss, report->first_loss);
    fs::remove_all(dir);
}

TEST(LearningRateSchedule, WarmsUpThenDecaysToZeroAtTheStepLimit) {
    LearningRateSchedule s{
        .peak = 1.0, .warmup_steps = 10, .planned_steps = 100, .budget_seconds = 1e9};
    // By hand: step 0 is 1/10 of the peak (times cos^2 of nearly 0), step 50 half the peak.
    EXPECT_NEAR(s.rate(0, 0), 0.1, 1e-12);
    EXPECT_NEAR(s.rate(9, 0), 0.5 * (1 + std::cos(M_PI * 0.09)), 1e-12);
    EXPECT_NEAR(s.rate(50, 0), 0.5, 1e-12);
    EXPECT_NEAR(s.rate(100, 0), 0.0, 1e-12);
    EXPECT_NEAR(s.rate(200, 0), 0.0, 1e-12);
    EXPECT_DOUBLE_EQ(s.progress(25, 0), 0.25);
}

TEST(LearningRateSchedule, FollowsTheClockWhenTheMachineSlowsDown) {
    // 1000 steps planned in 100 s. The first 100 steps take 0.05 s each (a rate that would
    // fit all 1000), then the machine slows to 0.5 s a step: the time ends the run near step
    // 290, and the rate has reached zero there, falling all along after the warm-up.
    LearningRateSchedule s{
        .peak = 1.0, .warmup_steps = 10, .planned_steps = 1000, .budget_seconds = 100};
    double seconds = 0;
    double previous = 2.0;
    int64_t step = 0;
    double last = 0;
    for (; seconds < s.budget_seconds; ++step) {
        last = s.rate(step, seconds);
        if (step >= 10) {
            EXPECT_LE(last, previous) << "step " << step;
        }
        previous = last;
        seconds += step < 100 ? 0.05 : 0.5;
    }
    // 100 fast steps (5 s), then 190 slow ones fill the other 95 s; summing 0.05 a hundred
    // times may leave the clock a hair short, allowing one more step.
    EXPECT_GE(step, 290);
    EXPECT_LE(step, 291);
    EXPECT_LT(last, 1e-3);
    // Halfway through the time the rate is half the peak, whatever the step.
    EXPECT_NEAR(s.rate(120, 50.0), 0.5, 1e-12);
    EXPECT_DOUBLE_EQ(s.progress(10, 1000.0), 1.0);
}

std::vector<std::string> product_codes(int products, int variants) {
    std::vector<std::string> out;
    for (int p = 0; p < products; ++p) {
        for (int v = 0; v < variants; ++v) {
            out.push_back("p" + std::to_string(p));
        }
    }
    return out;
}

// Whether every index of [0, n) is in exactly one batch, and the batch sizes.
void expect_each_once(const std::vector<std::vector<int64_t>>& batches, int64_t n, int64_t size) {
    std::vector<int> seen(n, 0);
    for (const std::vector<int64_t>& batch : batches) {
        EXPECT_LE(static_cast<int64_t>(batch.size()), size);
        EXPECT_GE(static_cast<int64_t>(batch.size()), n / static_cast<int64_t>(batches.size()));
        for (int64_t i : batch) {
            ASSERT_GE(i, 0);
            ASSERT_LT(i, n);
            ++seen[i];
        }
    }
    for (int64_t i = 0; i < n; ++i) {
        EXPECT_EQ(seen[i], 1) << "example " << i;
    }
}

TEST(EpochBatches, ShuffledBatchesCoverEveryExampleOnce) {
    // 10 examples in batches of at most 4: 3 batches of 3, 3 and 4 (none left out).
    const std::vector<std::string> codes(10), types(10);
    auto batches = epoch_batches(codes, types, 4, 1, 0, false);
    ASSERT_EQ(batches.size(), 3u);
    expect_each_once(batches, 10, 4);
    EXPECT_EQ(batches, epoch_batches(codes, types, 4, 1, 0, false));
    EXPECT_NE(batches, epoch_batches(codes, types, 4, 1, 1, false));
}

TEST(EpochBatches, GroupedBatchesKeepVariantsAndTypesTogether) {
    // 200 products of 2 colour variants, 20 types of 10 products; batches of at most 32.
    const std::vector<std::string> codes = product_codes(200, 2);
    std::vector<std::string> types;
    for (size_t i = 0; i < codes.size(); ++i) {
        types.push_back("t" + std::to_string((i / 2) % 20));
    }
    auto count = [&](bool grouped, int64_t epoch) {
        auto batches = epoch_batches(codes, types, 32, 7, epoch, grouped);
        EXPECT_EQ(batches.size(), 13u);  // ceil(400 / 32)
        expect_each_once(batches, 400, 32);
        int together = 0;
        size_t most_types = 0;
        double mean_types = 0;
        for (const std::vector<int64_t>& batch : batches) {
            std::set<int64_t> in(batch.begin(), batch.end());
            std::set<std::string> batch_types;
            for (int64_t i : batch) {
                batch_types.insert(types[i]);
                // Count each product once, from its first variant (even index).
                together += i % 2 == 0 && in.count(i + 1) != 0 ? 1 : 0;
            }
            most_types = std::max(most_types, batch_types.size());
            mean_types += static_cast<double>(batch_types.size()) / batches.size();
        }
        return std::make_tuple(together, most_types, mean_types);
    };
    for (int64_t epoch : {0, 1, 2}) {
        // Grouped: blocks of 8 (4 whole products) from the type-ordered list, each within 2
        // types; a batch of 30-31 spans at most 5 blocks, so at most 10 types, and only the 12
        // batch boundaries can part two variants.
        auto [together, most_types, mean_types] = count(true, epoch);
        EXPECT_GE(together, 188) << "epoch " << epoch;
        EXPECT_LE(most_types, 10u);
        // Shuffled: two variants share a batch by chance (about 1 in 13), a batch of 30
        // holds about 16 of the 20 types.
        auto [random_together, random_most, random_mean] = count(false, epoch);
        EXPECT_LT(random_together, 60) << "epoch " << epoch;
        EXPECT_GT(random_mean, 12.0);
        EXPECT_LT(mean_types, random_mean);
    }
    // Examples without a code are products of their own; all still seen once.
    std::vector<std::string> no_codes(50), no_types(50);
    expect_each_once(epoch_batches(no_codes, no_types, 16, 3, 0, true), 50, 16);
}

TEST(TrainOptions, DefaultsDropOneTokenInTen) {
    // Measured on the H&M sample (catalog_train.hpp): 0.1 beat 0 at the default length.
    EXPECT_DOUBLE_EQ(TrainOptions{}.token_dropout, 0.1);
    EXPECT_FALSE(TrainOptions{}.group_batches);
    // The fixed crop: random scales did not beat it (catalog_train.hpp).
    EXPECT_EQ(crop_side_range(36, TrainOptions{}.crop_min, TrainOptions{}.crop_max),
              (std::pair<int64_t, int64_t>{32, 32}));
}

// A 4x4 photo whose red channel is 10 * column + 50 * row (green 0, blue 255), and a config
// whose normalisation is the identity on 0..255 (mean 0, std 1/255).
RgbImage ramp_photo() {
    RgbImage image{4, 4, 3, {}};
    for (int y = 0; y < 4; ++y) {
        for (int x = 0; x < 4; ++x) {
            image.pixels.insert(image.pixels.end(),
                                {static_cast<uint8_t>(10 * x + 50 * y), 0, 255});
        }
    }
    return image;
}

ClipConfig raw_pixels_config() {
    ClipConfig config;
    config.image_mean = {0, 0, 0};
    config.image_std = {1 / 255.0f, 1 / 255.0f, 1 / 255.0f};
    return config;
}

TEST(CropPlanes, CopiesAndMirrorsACropOfTheModelSize) {
    const RgbImage image = ramp_photo();
    const ClipConfig config = raw_pixels_config();
    std::vector<float> out(3 * 2 * 2);
    crop_planes(image, 1, 2, 2, false, 2, config, out.data());
    // Red of columns 1-2, rows 2-3; green 0; blue 255.
    EXPECT_EQ(out, (std::vector<float>{110, 120, 160, 170, 0, 0, 0, 0, 255, 255, 255, 255}));
    crop_planes(image, 1, 2, 2, true, 2, config, out.data());
    EXPECT_EQ(std::vector<float>(out.begin(), out.begin() + 4),
              (std::vector<float>{120, 110, 170, 160}));
}

TEST(CropPlanes, ResizesALargerCropBilinearly) {
    const RgbImage image = ramp_photo();
    const ClipConfig config = raw_pixels_config();
    // The whole 4x4 photo to 2x2: centres at 0.5 and 2.5, so each output is the mean of a 2x2
    // block: red 10 * 0.5 + 50 * 0.5 = 30, then +20 per column and +100 per row.
    std::vector<float> out(3 * 2 * 2);
    crop_planes(image, 0, 0, 4, false, 2, config, out.data());
    const std::vector<float> red(out.begin(), out.begin() + 4);
    const std::vector<float> expected = {30, 50, 130, 150};
    for (size_t i = 0; i < 4; ++i) {
        EXPECT_NEAR(red[i], expected[i], 1e-3) << i;
    }
    EXPECT_NEAR(out[8], 255, 1e-3);  // blue stays: resizing never changes a flat colour
    // 3x3 to 2x2 at (1, 0): centres at 0.25 and 1.75 of the crop, so column 1.25 / 2.75 and
    // row 0.25 / 1.75: red 10 * 1.25 + 50 * 0.25 = 25.
    crop_planes(image, 1, 0, 3, false, 2, config, out.data());
    EXPECT_NEAR(out[0], 25, 1e-3);
    EXPECT_NEAR(out[3], 10 * 2.75 + 50 * 1.75, 1e-3);
}

TEST(CropSideRange, RoundsTheFractionsOfTheSide) {
    EXPECT_EQ(crop_side_range(36, 8.0 / 9, 8.0 / 9), (std::pair<int64_t, int64_t>{32, 32}));
    EXPECT_EQ(crop_side_range(36, 0.75, 1.0), (std::pair<int64_t, int64_t>{27, 36}));
    EXPECT_EQ(crop_side_range(36, 0.001, 0.001), (std::pair<int64_t, int64_t>{1, 1}));
}

TEST(TrainClipEncoder, CropAugmentationIsDeterministicUnderTheSeed) {
    // Two runs with the same seed write the same weights; another seed writes other ones.
    TrainOptions options = tiny_options();
    options.crop_min = 0.6;
    options.crop_max = 1.0;
    options.max_steps = 3;
    auto weights = [&](const std::string& name, uint64_t seed) {
        const fs::path dir = fresh_dir(name);
        TrainOptions o = options;
        o.seed = seed;
        EXPECT_TRUE(train_clip_encoder(tiny_examples(), dir, o).is_ok());
        auto model = ClipModel::load(dir);
        EXPECT_TRUE(model.is_ok());
        std::vector<float> out;
        for (auto& [tensor_name, tensor] : (*model)->openai_state_dict()) {
            torch::Tensor t = tensor.contiguous().to(torch::kFloat32);
            out.insert(out.end(), t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
        }
        fs::remove_all(dir);
        return out;
    };
    const std::vector<float> first = weights("crop_a", 5);
    ASSERT_FALSE(first.empty());
    EXPECT_EQ(first, weights("crop_b", 5));
    EXPECT_NE(first, weights("crop_c", 6));
    // The crop range takes effect: the fixed crop (16 of 18 px) trains other weights.
    options.crop_min = options.crop_max = 16.0 / 18;
    EXPECT_NE(first, weights("crop_d", 5));
}

TEST(TrainClipEncoder, RejectsBadCropFractions) {
    TrainOptions options = tiny_options();
    options.crop_min = 0.9;
    options.crop_max = 0.8;
    auto report = train_clip_encoder(tiny_examples(), fresh_dir("crop_bad"), options);
    ASSERT_FALSE(report.is_ok());
    EXPECT_NE(report.status().message().find("--crop-min"), std::string::npos);
    options.crop_min = 0;
    options.crop_max = 1;
    EXPECT_FALSE(train_clip_encoder(tiny_examples(), fresh_dir("crop_bad"), options).is_ok());
}

TEST(IsHeldOut, HoldsOutAboutTheFractionAndIsStable) {
    int held = 0;
    for (int i = 0; i < 10000; ++i) {
        held += is_held_out(std::to_string(1000000 + i), 0.1) ? 1 : 0;
    }
    EXPECT_GT(held, 900);
    EXPECT_LT(held, 1100);
    EXPECT_EQ(is_held_out("0108775015", 0.1), is_held_out("0108775015", 0.1));
    EXPECT_FALSE(is_held_out("0108775015", 0.0));
    EXPECT_TRUE(is_held_out("0108775015", 1.0));
}

// Codes of 3,000 articles in products of 1 to 6 colour variants (sizes cycling 1..6).
std::vector<std::string> variant_codes() {
    std::vector<std::string> codes;
    for (int product = 0; codes.size() < 3000; ++product) {
        for (int variant = 0; variant <= product % 6 && codes.size() < 3000; ++variant) {
            codes.push_back(std::to_string(100000 + product));
        }
    }
    return codes;
}

// Checks that `held` takes whole products, at least `target` articles, and that dropping its
// largest held product falls below `target` (the last product taken crossed the target).
void expect_whole_products_reaching(const std::vector<std::string>& codes,
                                    const std::vector<uint8_t>& held,
                                    size_t target) {
    ASSERT_EQ(held.size(), codes.size());
    std::map<std::string, std::set<uint8_t>> sides;
    std::map<std::string, size_t> sizes;
    for (size_t i = 0; i < codes.size(); ++i) {
        sides[codes[i]].insert(held[i]);
        ++sizes[codes[i]];
    }
    size_t count = 0, largest_held = 0;
    for (const auto& [code, side] : sides) {
        EXPECT_EQ(side.size(), 1u) << "product " << code << " is on both sides";
        if (side.contains(1)) {
            count += sizes[code];
            largest_held = std::max(largest_held, sizes[code]);
        }
    }
    EXPECT_GE(count, target);
    EXPECT_LT(count - largest_held, target);
}

TEST(HeldOutProducts, HoldsOutWholeProductsUpToTheTargetCount) {
    const std::vector<std::string> codes = variant_codes();
    const std::vector<uint8_t> held = held_out_products(codes, 0.1, 1);
    expect_whole_products_reaching(codes, held, 300);
    // Overshoot is below the largest product (6 articles).
    EXPECT_LE(std::count(held.begin(), held.end(), uint8_t{1}), 305);
}

TEST(HeldOutProducts, IsDeterministicBySeed) {
    const std::vector<std::string> codes = variant_codes();
    const std::vector<uint8_t> first = held_out_products(codes, 0.1, 7);
    EXPECT_EQ(held_out_products(codes, 0.1, 7), first);
    const std::vector<uint8_t> other = held_out_products(codes, 0.1, 8);
    EXPECT_NE(other, first);
    expect_whole_products_reaching(codes, other, 300);
    // Two seeds draw nearly independent sets: about 10% of one seed's products in the other's.
    size_t both = 0;
    for (size_t i = 0; i < codes.size(); ++i) {
        both += (first[i] != 0 && other[i] != 0) ? 1 : 0;
    }
    EXPECT_LT(both, 100u);
}

TEST(HeldOutProducts, NoneAtZeroAndAllAtOne) {
    const std::vector<std::string> codes = {"a", "a", "b", "c", "c", "c"};
    EXPECT_EQ(held_out_products(codes, 0.0, 1), std::vector<uint8_t>(6, 0));
    EXPECT_EQ(held_out_products(codes, 1.0, 1), std::vector<uint8_t>(6, 1));
    // Half of 6 is 3 articles: whatever the order, whole products reaching 3.
    for (uint64_t seed = 1; seed <= 20; ++seed) {
        expect_whole_products_reaching(codes, held_out_products(codes, 0.5, seed), 3);
    }
    EXPECT_TRUE(held_out_products({}, 0.5, 1).empty());
}

TEST(HoldoutSplit, ParsesTheTwoNames) {
    EXPECT_EQ(parse_holdout_split("article"), HoldoutSplit::kArticle);
    EXPECT_EQ(parse_holdout_split("product"), HoldoutSplit::kProduct);
    EXPECT_EQ(parse_holdout_split("products"), std::nullopt);
    EXPECT_EQ(holdout_split_name(HoldoutSplit::kProduct), "product");
}

// Nine articles with a photo in products A (3), B (2), C, D, E, F; G has a photo, its twin
// none; H has no product code.
class HeldOutArticlesTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fresh_dir("holdout_store");
        fs::create_directories(dir_ / "images");
        std::string csv = "article_id,product_code,prod_name\n";
        const std::vector<std::pair<std::string, std::string>> rows = {{"0000000101", "A"},
                                                                       {"0000000102", "A"},
                                                                       {"0000000103", "A"},
                                                                       {"0000000201", "B"},
                                                                       {"0000000202", "B"},
                                                                       {"0000000301", "C"},
                                                                       {"0000000401", "D"},
                                                                       {"0000000501", "E"},
                                                                       {"0000000601", "F"},
                                                                       {"0000000701", "G"},
                                                                       {"0000000702", "G"},
                                                                       {"0000000801", ""}};
        for (const auto& [id, code] : rows) {
            csv += id + "," + code + ",Item " + id + "\n";
            if (id != "0000000702") {
                // Ingest only checks that the file exists; nothing here decodes it.
                std::ofstream(dir_ / "images" / (id + ".jpg")) << "x";
            }
        }
        ASSERT_TRUE(testing::ingest_articles(dir_, csv).is_ok());
        auto store = Store::open(dir_ / "store");
        ASSERT_TRUE(store.is_ok()) << store.status().to_string();
        store_ = std::move(store).value();
    }
    void TearDown() override { fs::remove_all(dir_); }

    const ArticleTable& articles() const { return store_->articles(); }
    uint32_t index(std::string_view id) const { return *articles().find(id); }

    fs::path dir_;
    std::unique_ptr<Store> store_;
};

TEST_F(HeldOutArticlesTest, ProductSplitTakesWholeProductsAmongArticlesWithAPhoto) {
    const uint32_t no_photo = index("0000000702");
    // 11 candidates (702 has no photo), half of them: 6 articles in whole products.
    for (uint64_t seed = 1; seed <= 20; ++seed) {
        const std::vector<uint8_t> held = held_out_articles(
            articles(), Holdout{.fraction = 0.5, .split = HoldoutSplit::kProduct, .seed = seed});
        ASSERT_EQ(held.size(), articles().size());
        EXPECT_EQ(held[no_photo], 0);
        std::vector<std::string> codes;
        std::vector<uint8_t> candidate_held;
        for (uint32_t a = 0; a < articles().size(); ++a) {
            if (a != no_photo) {
                codes.emplace_back(articles().product_code(a).empty()
                                       ? std::string(articles().id(a))
                                       : std::string(articles().product_code(a)));
                candidate_held.push_back(held[a]);
            }
        }
        expect_whole_products_reaching(codes, candidate_held, 6);
    }
    const std::vector<uint8_t> all =
        held_out_articles(articles(), Holdout{.fraction = 1.0, .split = HoldoutSplit::kProduct});
    EXPECT_EQ(std::count(all.begin(), all.end(), uint8_t{1}), 11);
    EXPECT_EQ(all[no_photo], 0);
}

TEST_F(HeldOutArticlesTest, ArticleSplitIsIsHeldOutOfEachId) {
    const std::vector<uint8_t> held =
        held_out_articles(articles(), Holdout{.fraction = 0.5, .split = HoldoutSplit::kArticle});
    for (uint32_t a = 0; a < articles().size(); ++a) {
        const bool expected =
            articles().id(a) != "0000000702" && is_held_out(articles().id(a), 0.5);
        EXPECT_EQ(held[a] != 0, expected) << articles().id(a);
    }
}

TEST(TrainClipEncoder, FitsTheLinearPathAfterTrainingAndSavesIt) {
    const fs::path dir = fresh_dir("linear_after");
    TrainOptions options = tiny_options();
    options.model.linear_path = true;
    options.max_steps = 20;
    auto report = train_clip_encoder(tiny_examples(), dir, options);
    ASSERT_TRUE(report.is_ok()) << report.status().to_string();
    auto model = ClipModel::load(dir);
    ASSERT_TRUE(model.is_ok()) << model.status().to_string();
    EXPECT_TRUE((*model)->config().linear_path);
    EXPECT_EQ((*model)->embedding_dim(), 16 + 192);
    auto tokenizer = ClipTokenizer::from_model_dir(dir);
    ASSERT_TRUE(tokenizer.is_ok());
    // The text: the trained part as a unit vector, then the linear part (unit or zero).
    auto text = encode_clip_text(**model, *tokenizer, "a red dress");
    ASSERT_TRUE(text.is_ok());
    ASSERT_EQ(text->embedding.size(), 16u + 192u);
    double trained = 0, linear = 0;
    for (size_t i = 0; i < text->embedding.size(); ++i) {
        (i < 16 ? trained : linear) += text->embedding[i] * text->embedding[i];
    }
    EXPECT_NEAR(trained, 1.0, 1e-5);
    EXPECT_LE(linear, 1.0 + 1e-5);
    // A photo's linear part is its standardised features as a unit vector: fitted, not zero.
    torch::Tensor image = (*model)->encode_image(torch::randn({2, 3, 16, 16}));
    EXPECT_LT((image.slice(1, 16).norm(2, 1) - 1).abs().max().item<double>(), 1e-5);
    fs::remove_all(dir);
}

TEST(TrainClipEncoder, LinearPathFittedFirstSurvivesAResume) {
    // Fitted before training, the linear part shapes the loss; a resumed run fits it again
    // from the same data, so 2 + 2 steps equal 4.
    TrainOptions options = tiny_options();
    options.model.linear_path = true;
    options.fit_linear_first = true;
    expect_resume_equals_uninterrupted(options, "linear_first");
    // A resume that forgets the flag (or turns the path off) keeps what the run started with.
    expect_resume_equals_uninterrupted(options, "linear_first_forgotten", [](TrainOptions& o) {
        o.fit_linear_first = false;
        o.model.linear_path = false;
        o.model.text.context_length = 4;
    });
}

}  // namespace
}  // namespace lookbook
