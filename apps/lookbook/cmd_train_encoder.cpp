// `lookbook train-encoder`: trains the catalog's own small CLIP from scratch on the store's
// articles with photos, and saves it as a model folder `embed` and `encode` can load.
#include <iostream>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "commands.hpp"
#include "lookbook/encoders/catalog_train.hpp"
#include "lookbook/encoders/cpu_threads.hpp"

namespace lookbook::cli {
namespace {

struct TrainEncoderArgs {
    std::string store;
    std::string output;
    CatalogTrainOptions options;
    // The photo and patch sides; the defaults are small_clip_config's.
    int image_size =
        static_cast<int>(small_clip_config(TrainOptions{}.vocab_size).vision.image_size);
    int patch_size =
        static_cast<int>(small_clip_config(TrainOptions{}.vocab_size).vision.patch_size);
    int context_length =
        static_cast<int>(small_clip_config(TrainOptions{}.vocab_size).text.context_length);
    bool wide_features = true;
    bool linear_path = true;
    std::string holdout_split = "article";  // --holdout-split, checked by CLI11
};

int run_train_encoder(TrainEncoderArgs args) {
    if (args.options.train.fit_linear_first && !args.linear_path) {
        std::cerr << "lookbook train-encoder: --linear-path-first fits the linear path, which "
                     "--no-linear-path turns off; drop one of them\n";
        return kExitUsage;
    }
    configure_cpu_threads(args.options.train.threads);
    // Only the photo and patch sizes are exposed; the others are the defaults of
    // small_clip_config.
    TrainOptions& train = args.options.train;
    train.model = small_clip_config(train.vocab_size);
    train.model.vision.image_size = args.image_size;
    train.model.vision.patch_size = args.patch_size;
    train.model.text.context_length = args.context_length;
    train.model.wide_features = args.wide_features;
    train.model.linear_path = args.linear_path;
    train.model_set = true;
    args.options.holdout.split =
        parse_holdout_split(args.holdout_split).value_or(HoldoutSplit::kArticle);
    auto report = train_catalog_encoder(args.store, args.output, args.options);
    if (!report.is_ok()) {
        std::cerr << "lookbook train-encoder: " << report.status().message() << "\n";
        return kExitFailure;
    }
    std::cout << fmt::format(
        "trained on {} articles: step {} ({} this run; the epochs limit is step {}), loss "
        "{:.3f} -> {:.3f}, last learning rate {:.2g}, {:.0f} images/s, {:.1f} min training "
        "({:.1f} min in all), peak memory {} MB\n"
        "model folder: {}\n",
        report->examples,
        report->steps,
        report->steps - report->start_step,
        report->planned_steps,
        report->first_loss,
        report->last_loss,
        report->last_learning_rate,
        report->images_per_second,
        report->train_seconds / 60,
        report->seconds / 60,
        report->peak_rss_bytes >> 20,
        report->output.string());
    return kExitOk;
}

}  // namespace

void add_train_encoder_command(CLI::App& app, CommandRun* selected) {
    auto args = std::make_shared<TrainEncoderArgs>();
    TrainOptions& train = args->options.train;
    CLI::App* cmd = app.add_subcommand(
        "train-encoder", "Train a small CLIP from scratch on the store's photos and texts");
    cmd->add_option("store", args->store, "Store folder")->required();
    cmd->add_option("--output", args->output, "Model folder to write (and checkpoint into)")
        ->required();
    cmd->add_option("--minutes", train.minutes, "Training time limit")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cmd->add_option("--epochs", train.epochs, "Passes over the photos")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cmd->add_option("--batch", train.batch_size, "Pairs per step")
        ->capture_default_str()
        ->check(CLI::Range(2, 4096));
    cmd->add_option("--learning-rate", train.learning_rate, "Peak AdamW learning rate")
        ->capture_default_str();
    cmd->add_option("--logit-scale",
                    train.initial_logit_scale,
                    "Starting logit scale (1 / temperature); 0: CLIP's 1 / 0.07")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 100.0));
    cmd->add_option("--vocab", train.vocab_size, "BPE vocabulary size learned from the texts")
        ->capture_default_str()
        ->check(CLI::Range(514, 49408));
    cmd->add_option("--holdout",
                    args->options.holdout.fraction,
                    "Fraction of articles kept out of training for evaluation")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 0.9));
    cmd->add_option("--holdout-split",
                    args->holdout_split,
                    "What --holdout keeps out: single articles, or whole products (every colour "
                    "variant of a product code)")
        ->capture_default_str()
        ->check(CLI::IsMember({"article", "product"}));
    cmd->add_option(
           "--image-size", args->image_size, "Photo side in px (a multiple of --patch-size)")
        ->capture_default_str()
        ->check(CLI::Range(16, 224));
    cmd->add_option("--patch-size", args->patch_size, "ViT patch side in px")
        ->capture_default_str()
        ->check(CLI::Range(2, 224));
    cmd->add_option("--context-length",
                    args->context_length,
                    "Text tokens the model reads (longer catalog texts are cut)")
        ->capture_default_str()
        ->check(CLI::Range(8, 256));
    cmd->add_flag("--wide-features,!--no-wide-features",
                  args->wide_features,
                  "Colour-histogram/thumbnail and bag-of-tokens paths in the towers (default on)");
    cmd->add_flag("--linear-path,!--no-linear-path",
                  args->linear_path,
                  "A linear part of the embedding fitted in closed form: TF-IDF of the text "
                  "mapped onto colour histogram and thumbnail (default on)");
    cmd->add_flag("--linear-path-first,!--no-linear-path-first",
                  train.fit_linear_first,
                  "Fit the linear part before training, so the trained part learns what it misses")
        ->capture_default_str();
    cmd->add_option("--token-dropout", train.token_dropout, "Chance of dropping each text token")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 0.9));
    cmd->add_option("--crop-min",
                    train.crop_min,
                    "Smallest training crop, as a fraction of the stored photo's side")
        ->capture_default_str()
        ->check(CLI::Range(0.05, 1.0));
    cmd->add_option("--crop-max", train.crop_max, "Largest training crop, as a fraction")
        ->capture_default_str()
        ->check(CLI::Range(0.05, 1.0));
    cmd->add_flag("--group-batches,!--no-group-batches",
                  train.group_batches,
                  "Batches of look-alikes: colour variants and products of one type together")
        ->capture_default_str();
    cmd->add_flag("--scale-wide-features,!--no-scale-wide-features",
                  train.scale_wide_features,
                  "Train the colour/thumbnail projection on features scaled to a common size")
        ->capture_default_str();
    cmd->add_option("--threads", train.threads, "CPU threads")->capture_default_str();
    cmd->add_option("--seed", train.seed, "Random seed")->capture_default_str();
    cmd->add_flag("--resume", train.resume, "Continue from OUTPUT/checkpoint");
    cmd->callback([args, selected] { *selected = [args] { return run_train_encoder(*args); }; });
}

}  // namespace lookbook::cli
