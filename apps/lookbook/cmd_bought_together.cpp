// `lookbook bought-together`: "complete the look" suggestions for a cart of articles, from the
// rules `lookbook mine STORE` saved.
#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "lookbook/rules/complete_the_look.hpp"
#include "lookbook/rules/store_rules.hpp"
#include "lookbook/store/store.hpp"

namespace lookbook::cli {
namespace {

struct BoughtTogetherArgs {
    std::string store;
    std::vector<std::string> article_ids;
    size_t k = 10;
    bool json = false;
    bool other_groups = false;
    bool any_article = false;
    std::string allow_file;
};

int fail(const std::string& message, int code = kExitFailure) {
    std::cerr << "lookbook bought-together: " << message << "\n";
    return code;
}

// Why a cart got no suggestion (a fresh-user trial was told "the filters" when no rule fired,
// and when the catalog had no product groups for --other-groups to tell apart).
std::string no_suggestion_message(const ArticleTable& articles,
                                  const rules::CompleteTheLookModel& model,
                                  const std::vector<uint32_t>& cart,
                                  const rules::RecommendOptions& options) {
    rules::RecommendOptions unfiltered;
    unfiltered.k = options.k;
    auto any = rules::complete_the_look(model, cart, unfiltered);
    if (any.is_ok() && any->empty()) {
        return "No suggestions: even without filters nothing comes up but the cart's own articles "
               "and their colour variants.";
    }
    std::vector<std::string> filters;
    if (options.other_groups_only) {
        const bool grouped = std::any_of(cart.begin(), cart.end(), [&](uint32_t article) {
            return !articles.attribute(ArticleAttribute::kProductGroup).value(article).empty();
        });
        filters.push_back(grouped ? "--other-groups (only product groups the cart does not hold)"
                                  : "--other-groups, and the cart's articles have no product "
                                    "group in the catalog (map a product_group column at ingest)");
    }
    if (options.catalog_only) {
        filters.push_back("catalog articles only (--any-article shows the others)");
    }
    if (options.allow) {
        filters.push_back("--allow");
    }
    return fmt::format(
        "No suggestions: without filters there would be {} article{}, but the filters "
        "leave none: {}.",
        any.is_ok() ? any->size() : 0,
        any.is_ok() && any->size() == 1 ? "" : "s",
        fmt::join(filters, "; "));
}

int run_bought_together(const BoughtTogetherArgs& args) {
    auto store = Store::open(args.store);
    if (!store.is_ok()) {
        return fail(store.status().message());
    }
    const ArticleTable& articles = (*store)->articles();
    auto cart = rules::cart_from_ids(**store, args.article_ids);
    if (!cart.is_ok()) {
        return fail(cart.status().message(), kExitUsage);
    }
    rules::RecommendOptions options;
    options.k = args.k;
    options.other_groups_only = args.other_groups;
    options.catalog_only = !args.any_article;
    if (!args.allow_file.empty()) {
        size_t unknown = 0;
        auto allow = rules::read_allow_list(**store, args.allow_file, &unknown);
        if (!allow.is_ok()) {
            return fail(allow.status().message());
        }
        if (unknown > 0) {
            std::cerr << fmt::format(
                "lookbook bought-together: {} ids of {} are not in the store's catalog and were "
                "ignored\n",
                unknown,
                args.allow_file);
        }
        options.allow = std::move(allow).value();
    }
    auto model = rules::load_complete_the_look(**store);
    if (!model.is_ok()) {
        return fail(model.status().message());
    }
    auto suggestions = rules::complete_the_look(*model, *cart, options);
    if (!suggestions.is_ok()) {
        return fail(suggestions.status().message(), kExitUsage);
    }

    if (args.json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& s : *suggestions) {
            out.push_back({{"article_id", articles.id(s.article)},
                           {"name", articles.name(s.article)},
                           {"product_type", articles.product_type(s.article)},
                           {"source", rules::suggestion_source_name(s.source)},
                           {"score", s.score},
                           {"lift", s.lift},
                           {"support", s.support},
                           {"reason", s.reason}});
        }
        std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        return kExitOk;
    }
    if (suggestions->empty()) {
        std::cout << no_suggestion_message(articles, *model, *cart, options) << "\n";
    }
    for (size_t rank = 0; rank < suggestions->size(); ++rank) {
        const auto& s = (*suggestions)[rank];
        std::string label =
            articles.has_metadata(s.article)
                ? fmt::format("{} ({})", articles.name(s.article), articles.product_type(s.article))
                : std::string("(not in the articles file: no name or type)");
        std::cout << fmt::format(
            "{:2}. {} {}\n    {}\n", rank + 1, articles.id(s.article), label, s.reason);
    }
    return kExitOk;
}

}  // namespace

void add_bought_together_command(CLI::App& app, CommandRun* selected) {
    auto args = std::make_shared<BoughtTogetherArgs>();
    CLI::App* cmd = app.add_subcommand(
        "bought-together", "Suggest articles that complete a cart, from the mined rules");
    cmd->add_option("store", args->store, "Store folder")->required();
    cmd->add_option("article_ids", args->article_ids, "Article ids in the cart")->required();
    cmd->add_option("-k", args->k, "Number of suggestions (1 to 1000)")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000));
    cmd->add_flag("--json", args->json, "Print JSON instead of text");
    cmd->add_flag("--other-groups", args->other_groups, "Only product groups not in the cart");
    cmd->add_option("--allow", args->allow_file, "File of article ids that may be suggested");
    cmd->add_flag("--any-article",
                  args->any_article,
                  "Also suggest articles sold but missing from the articles file (no name, type "
                  "or photo); by default only catalog articles");
    cmd->callback([args, selected] { *selected = [args] { return run_bought_together(*args); }; });
}

}  // namespace lookbook::cli
