// `lookbook similar`: articles that look and read like one article, from the store's
// embeddings (combined image and text vectors, see src/lookbook/index/similar.hpp).
#include <iostream>
#include <memory>
#include <string>

#include "commands.hpp"
#include "lookbook/index/similar.hpp"
#include "lookbook/store/id_hint.hpp"
#include "lookbook/store/store.hpp"
#include "similar_output.hpp"

namespace lookbook::cli {
namespace {

struct SimilarArgs {
    std::string store;
    std::string article_id;
    bool keep_variants = false;
    SimilarFilterArgs filters;
};

int fail(const std::string& message, int code = kExitFailure) {
    std::cerr << "lookbook similar: " << message << "\n";
    return code;
}

int run_similar(const SimilarArgs& args) {
    auto store = Store::open(args.store);
    if (!store.is_ok()) {
        return fail(store.status().message());
    }
    const auto article = (*store)->articles().find(args.article_id);
    if (!article) {
        return fail(unknown_article_message((*store)->articles(), args.article_id), kExitUsage);
    }
    auto items = open_similar_or_report(**store, args.filters, "similar");
    if (!items) {
        return kExitFailure;
    }
    auto query = similar_query_from(**store, args.filters, "similar");
    if (!query.is_ok()) {
        return fail(query.status().message());
    }
    query->exclude_colour_variants = !args.keep_variants;
    return print_similar_result(
        **store, items->similar_to_article(*article, *query), args.filters.json, "similar");
}

}  // namespace

void add_similar_command(CLI::App& app, CommandRun* selected) {
    auto args = std::make_shared<SimilarArgs>();
    CLI::App* cmd =
        app.add_subcommand("similar", "Articles similar in look and description to one article");
    cmd->add_option("store", args->store, "Store folder")->required();
    cmd->add_option("article_id", args->article_id, "Article id")->required();
    cmd->add_flag(
        "--keep-variants", args->keep_variants, "Also return colour variants (same product code)");
    add_similar_filter_options(cmd, &args->filters);
    cmd->callback([args, selected] { *selected = [args] { return run_similar(*args); }; });
}

}  // namespace lookbook::cli
