// `lookbook embed`: embeds every article's photo and text with a CLIP or ALIGN model folder and
// stores the vectors in the store (column file "embeddings").
#include <iostream>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "commands.hpp"
#include "lookbook/encoders/catalog_embed.hpp"

namespace lookbook::cli {
namespace {

struct EmbedArgs {
    std::string store;
    std::string model;
    std::string cache;
    int batch = 32;
};

int run_embed(const EmbedArgs& args) {
    CatalogEmbedOptions options;
    options.batch_size = args.batch;
    options.cache_dir = args.cache;
    auto report = embed_catalog(args.store, args.model, options);
    if (!report.is_ok()) {
        std::cerr << "lookbook embed: " << report.status().message() << "\n";
        return kExitFailure;
    }
    std::cout << fmt::format(
        "embedded {} articles into {} (dim {}): {} texts; {} photos ({} encoded, {} from the "
        "cache, {} unreadable) in {:.1f} s\nimage cache: {}\n",
        report->articles,
        report->generation,
        report->dim,
        report->texts,
        report->images,
        report->images_encoded,
        report->images_cached,
        report->image_errors,
        report->seconds,
        report->cache_file.string());
    if (report->text_errors > 0) {
        std::cout << fmt::format("{} texts refused by the tokenizer (see the log)\n",
                                 report->text_errors);
    }
    return kExitOk;
}

}  // namespace

void add_embed_command(CLI::App& app, CommandRun* selected) {
    auto args = std::make_shared<EmbedArgs>();
    CLI::App* cmd = app.add_subcommand(
        "embed", "Embed every article's photo and text and store the vectors in the store");
    cmd->add_option("store", args->store, "Store folder")->required();
    cmd->add_option("--model",
                    args->model,
                    "Model folder (CLIP: Hugging Face or OpenCLIP layout; ALIGN: Hugging Face)")
        ->required();
    cmd->add_option("--batch", args->batch, "Images or texts per forward pass")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    cmd->add_option("--cache", args->cache, "Image embedding cache folder")
        ->default_str("STORE/cache/image-embeddings");
    cmd->callback([args, selected] { *selected = [args] { return run_embed(*args); }; });
}

}  // namespace lookbook::cli
