#include "lookbook/encoders/catalog_train.hpp"

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "lookbook/encoders/clip_encode.hpp"
#include "lookbook/encoders/clip_model.hpp"

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

TEST(TrainClipEncoder, ResumedRunEqualsAnUninterruptedOne) {
    // Same seed, same data: 2 + 2 steps with a resume in between give the weights of 4 steps.
    const fs::path once = fresh_dir("once");
    const fs::path twice = fresh_dir("twice");
    TrainOptions options = tiny_options();
    options.max_steps = 4;
    ASSERT_TRUE(train_clip_encoder(tiny_examples(), once, options).is_ok());
    options.max_steps = 2;
    ASSERT_TRUE(train_clip_encoder(tiny_examples(), twice, options).is_ok());
    options.resume = true;
    options.max_steps = 4;
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

}  // namespace
}  // namespace lookbook
