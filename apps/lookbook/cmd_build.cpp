// `lookbook build`: every step that turns an ingested store into a served one, skipping the
// steps whose output is already up to date.
#include <iostream>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "lookbook/index/similar.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/util/file.hpp"
#include "lookbook/util/log.hpp"
#include "lookbook/web/build_steps.hpp"
#include "personal_glue.hpp"

#if LOOKBOOK_WITH_TORCH
#include "lookbook/encoders/catalog_embed.hpp"
#include "lookbook/encoders/catalog_train.hpp"
#include "lookbook/encoders/cpu_threads.hpp"
#endif

namespace lookbook::cli {
namespace {

namespace fs = std::filesystem;

struct BuildArgs {
    std::string store;
    BuildOptions options;
    double encoder_minutes = 12;
    double two_tower_minutes = 3;
};

#if LOOKBOOK_WITH_TORCH
// The default encoder lives next to the generations, so new generations keep using it.
fs::path encoder_dir(const fs::path& store_dir) { return store_dir / "models" / "encoder"; }

bool has_encoder(const fs::path& store_dir) {
    return fs::exists(encoder_dir(store_dir) / "open_clip_model.safetensors");
}

Result<bool> encoder_up_to_date(const fs::path& store_dir) {
    if (has_encoder(store_dir)) {
        return true;
    }
    // Contrastive training needs pairs; a catalog without photos has nothing to learn from.
    LOOKBOOK_ASSIGN_OR_RETURN(auto store, Store::open(store_dir));
    const ArticleTable& articles = store->articles();
    uint32_t with_photo = 0;
    for (uint32_t article = 0; article < articles.size(); ++article) {
        with_photo += articles.has_metadata(article) && !articles.image_path(article).empty();
    }
    if (with_photo < 2) {
        log::warn(
            "encoder: the catalog has {} articles with a photo; skipped (photo search and "
            "similar items need photos)",
            with_photo);
        return true;
    }
    return false;
}

// Embeddings are current when they cover every article and came from the default encoder as it
// is now: a retrained encoder (another model tag) gives vectors of another meaning, often of
// another length, so the articles are embedded again (and then indexed again).
Result<bool> embeddings_up_to_date(const fs::path& store_dir) {
    if (!has_encoder(store_dir)) {
        return true;  // no encoder (a catalog without photos): nothing to embed with
    }
    LOOKBOOK_ASSIGN_OR_RETURN(auto store, Store::open(store_dir));
    if (!store->has_file("embeddings")) {
        return false;
    }
    LOOKBOOK_ASSIGN_OR_RETURN(auto file, store->open_file("embeddings"));
    auto meta = nlohmann::json::parse(file.metadata(), nullptr, false);
    if (meta.is_discarded() || !meta.is_object() ||
        meta.value("articles", uint64_t{0}) != store->articles().size() ||
        fs::absolute(resolve_store_path(store_dir, meta.value("model", std::string())))
                .lexically_normal() != fs::absolute(encoder_dir(store_dir)).lexically_normal()) {
        return false;
    }
    LOOKBOOK_ASSIGN_OR_RETURN(std::string tag, model_tag(encoder_dir(store_dir)));
    if (meta.value("model_tag", std::string()) != tag) {
        log::info("embed: the embeddings were made by another encoder than {} holds now",
                  encoder_dir(store_dir).string());
        return false;
    }
    return true;
}

// Trains the default encoder. An interrupted training (a checkpoint, no model) is resumed, its
// time counting towards the limit, unless `force`. A folder that holds a model (or, with
// `force`, an interrupted training) is retrained from scratch in the sibling ENCODER.tmp and
// swapped in when done: the old model stays usable when training fails or is stopped.
Status train_encoder(const fs::path& store_dir, double minutes, bool force) {
    configure_cpu_threads(2);
    CatalogTrainOptions options;
    options.train.minutes = minutes;
    options.train.model = small_clip_config(options.train.vocab_size);
    options.train.model_set = true;
    const fs::path dir = encoder_dir(store_dir);
    const bool model = has_encoder(store_dir);
    const bool checkpoint = has_training_checkpoint(dir);
    if (!model && checkpoint && !force) {
        log::info("encoder: {} holds an interrupted training; resuming it", dir.string());
        options.train.resume = true;
        return train_catalog_encoder(store_dir, dir, options)
            .status()
            .with_context(fmt::format(
                "resuming the training in {} (delete that folder to start over)", dir.string()));
    }
    if (!model && !checkpoint) {
        return train_catalog_encoder(store_dir, dir, options).status();
    }
    const fs::path fresh = dir.string() + ".tmp";
    std::error_code ec;
    fs::remove_all(fresh, ec);  // what an interrupted earlier retraining left
    log::info("encoder: training a new model in {}; {} is replaced when it is done",
              fresh.string(),
              dir.string());
    LOOKBOOK_RETURN_IF_ERROR(train_catalog_encoder(store_dir, fresh, options).status());
    return replace_directory(fresh, dir);
}

void add_encoder_steps(std::vector<BuildStep>* steps, double minutes, bool force) {
    auto train = [minutes, force](const fs::path& store_dir) -> Status {
        return train_encoder(store_dir, minutes, force);
    };
    auto embed = [](const fs::path& store_dir) -> Status {
        return embed_catalog(store_dir, encoder_dir(store_dir)).status();
    };
    steps->push_back(BuildStep{"encoder",
                               "train the default image/text encoder on the catalog's photos",
                               encoder_up_to_date,
                               train});
    steps->push_back(BuildStep{"embed",
                               "embed every article's photo and text with the default encoder",
                               embeddings_up_to_date,
                               embed});
}
#endif

int run_build_command(const BuildArgs& args) {
    // A missing or damaged store is reported before any step starts.
    if (auto store = Store::open(args.store); !store.is_ok()) {
        std::cerr << "lookbook build: " << store.status().message() << "\n";
        return kExitFailure;
    }
    // Steps run in this order; a step added later (index, personal models) goes after the
    // steps whose output it reads.
    std::vector<BuildStep> steps = core_build_steps();
#if LOOKBOOK_WITH_TORCH
    add_encoder_steps(&steps, args.encoder_minutes, args.options.force);
#endif
    // The similar-items index reads the embeddings.
    steps.push_back(
        BuildStep{"index",
                  "index the combined image and text vectors for similar items and search",
                  [](const fs::path& store_dir) -> Result<bool> {
                      LOOKBOOK_ASSIGN_OR_RETURN(auto store, Store::open(store_dir));
                      return similar_index_up_to_date(*store);
                  },
                  [](const fs::path& store_dir) -> Status {
                      return build_similar_index(store_dir, SimilarOptions{}).status();
                  }});
    // Personal recommendations come last: the profile source and the two-tower model read the
    // embeddings.
    const double two_tower_minutes = args.two_tower_minutes;
    steps.push_back(BuildStep{
        "personal",
        "train the personal recommenders, tune the blend and save its offline evaluation",
        personal_up_to_date,
        [two_tower_minutes](const fs::path& store_dir) -> Status {
            PersonalTrainOptions options;
            options.two_tower_minutes = two_tower_minutes;
            options.weeks_option = "";  // `build` has no option for the weeks
            LOOKBOOK_ASSIGN_OR_RETURN(auto trained, train_personal(store_dir, options));
            if (!trained.two_tower_error.empty()) {
                log::warn("two-tower model not trained ({}); the blend uses the other sources",
                          trained.two_tower_error);
            }
            return save_personal_evaluation(store_dir, kPersonalEvaluationWeeks, two_tower_minutes);
        }});
    auto reports = run_build(args.store, steps, args.options);
    if (!reports.is_ok()) {
        std::cerr << "lookbook build: " << reports.status().message() << "\n";
        return kExitFailure;
    }
    for (const auto& report : *reports) {
        std::cout << fmt::format("{:10} {}\n",
                                 report.name,
                                 report.skipped ? std::string("up to date")
                                                : fmt::format("built in {:.1f} s", report.seconds));
    }
    return kExitOk;
}

}  // namespace

void add_build_command(CLI::App& app, CommandRun* selected) {
    auto args = std::make_shared<BuildArgs>();
    CLI::App* cmd = app.add_subcommand(
        "build", "Build every recommender of a store (skips what is up to date)");
    cmd->add_option("store", args->store, "Store folder")->required();
    cmd->add_flag("--force", args->options.force, "Rebuild every step");
#if LOOKBOOK_WITH_TORCH
    cmd->add_option("--encoder-minutes", args->encoder_minutes, "Training time of the encoder")
        ->capture_default_str()
        ->check(CLI::Range(0.1, 10000.0));
    cmd->add_option("--two-tower-minutes",
                    args->two_tower_minutes,
                    "Training time limit of each two-tower model (four are trained: tuning, "
                    "final, and the evaluation's two)")
        ->capture_default_str()
        ->check(CLI::Range(0.1, 10000.0));
#endif
    cmd->callback([args, selected] { *selected = [args] { return run_build_command(*args); }; });
}

}  // namespace lookbook::cli
