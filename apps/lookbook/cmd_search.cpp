// `lookbook search`: articles matching a free text or a photo, encoded with the model the
// store's embeddings were made with.
#include <iostream>
#include <memory>
#include <string>

#include "commands.hpp"
#include "lookbook/index/query_encoder.hpp"
#include "lookbook/index/similar.hpp"
#include "lookbook/store/store.hpp"
#include "similar_output.hpp"

namespace lookbook::cli {
namespace {

struct SearchArgs {
    std::string store;
    std::string text;
    std::string image;
    std::string model;
    SimilarFilterArgs filters;
};

int fail(const std::string& message, int code = kExitFailure) {
    std::cerr << "lookbook search: " << message << "\n";
    return code;
}

int run_search(const SearchArgs& args) {
    if (args.text.empty() == args.image.empty()) {
        return fail("give either a text or --image FILE", kExitUsage);
    }
    auto store = Store::open(args.store);
    if (!store.is_ok()) {
        return fail(store.status().message());
    }
    auto items = open_similar_or_report(**store, args.filters, "search");
    if (!items) {
        return kExitFailure;
    }
    const std::string model_dir = args.model.empty() ? items->model_path() : args.model;
    if (model_dir.empty()) {
        return fail("the store's embeddings do not name their model; pass --model DIR", kExitUsage);
    }
    auto encoder = QueryEncoder::load(model_dir);
    if (!encoder.is_ok()) {
        if (!args.model.empty()) {
            return fail(encoder.status().message() + " (check --model)");
        }
        return fail(query_model_problem(
            **store, model_dir, encoder.status().message(), "pass --model DIR"));
    }
    auto vector = args.image.empty() ? (*encoder)->encode_text(args.text)
                                     : (*encoder)->encode_image(args.image);
    if (!vector.is_ok()) {
        return fail(vector.status().message());
    }
    auto query = similar_query_from(**store, args.filters, "search");
    if (!query.is_ok()) {
        return fail(query.status().message());
    }
    const char* part = args.image.empty() ? "text" : "image";
    return print_similar_result(
        **store, items->search_by_vector(part, *vector, *query), args.filters.json, "search");
}

}  // namespace

void add_search_command(CLI::App& app, CommandRun* selected) {
    auto args = std::make_shared<SearchArgs>();
    CLI::App* cmd = app.add_subcommand(
        "search", "Articles matching a text (text tower) or a photo (image tower)");
    cmd->add_option("store", args->store, "Store folder")->required();
    cmd->add_option("text", args->text, "What to look for, e.g. \"red linen summer dress\"");
    cmd->add_option("--image", args->image, "A photo to find similar articles to")
        ->check(CLI::ExistingFile);
    cmd->add_option("--model", args->model, "Model folder (default: the embeddings' model)");
    add_similar_filter_options(cmd, &args->filters);
    cmd->callback([args, selected] { *selected = [args] { return run_search(*args); }; });
}

}  // namespace lookbook::cli
