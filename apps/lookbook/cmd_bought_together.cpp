// `lookbook bought-together`: "complete the look" suggestions for a cart of articles, from the
// rules `lookbook mine STORE` saved.
#include <fstream>
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
    std::string allow_file;
};

int fail(const std::string& message, int code = kExitFailure) {
    std::cerr << "lookbook bought-together: " << message << "\n";
    return code;
}

// Article ids of the allow-list file, one per line; unknown ids are skipped with a count.
Status read_allow_list(const std::string& path,
                       const ArticleTable& articles,
                       std::unordered_set<uint32_t>* allow) {
    std::ifstream in(path);
    if (!in) {
        return Status::not_found(fmt::format(
            "allow-list file \"{}\" cannot be read; give a file with one article id per line.",
            path));
    }
    std::string line;
    size_t unknown = 0;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        if (line.empty()) {
            continue;
        }
        if (auto article = articles.find(line)) {
            allow->insert(*article);
        } else {
            ++unknown;
        }
    }
    if (unknown > 0) {
        std::cerr << fmt::format(
            "lookbook bought-together: {} ids of {} are not in the store's "
            "catalog and were ignored\n",
            unknown,
            path);
    }
    return Status::ok();
}

int run_bought_together(const BoughtTogetherArgs& args) {
    auto store = Store::open(args.store);
    if (!store.is_ok()) {
        return fail(store.status().message());
    }
    const ArticleTable& articles = (*store)->articles();
    std::vector<uint32_t> cart;
    for (const auto& id : args.article_ids) {
        auto article = articles.find(id);
        if (!article) {
            return fail(fmt::format("article \"{}\" is not in the store's catalog; check the id "
                                    "(leading zeros count: 0706016001).",
                                    id),
                        kExitUsage);
        }
        cart.push_back(*article);
    }
    rules::RecommendOptions options;
    options.k = args.k;
    options.other_groups_only = args.other_groups;
    if (!args.allow_file.empty()) {
        Status read = read_allow_list(args.allow_file, articles, &options.allow);
        if (!read.is_ok()) {
            return fail(read.message());
        }
    }
    auto model = rules::load_complete_the_look(**store);
    if (!model.is_ok()) {
        return fail(model.status().message());
    }
    auto suggestions = rules::complete_the_look(*model, cart, options);
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
        std::cout << out.dump(2) << "\n";
        return kExitOk;
    }
    if (suggestions->empty()) {
        std::cout << "No suggestions: the filters (--allow, --other-groups) leave no article.\n";
    }
    for (size_t rank = 0; rank < suggestions->size(); ++rank) {
        const auto& s = (*suggestions)[rank];
        std::cout << fmt::format("{:2}. {} {} ({})\n    {}\n",
                                 rank + 1,
                                 articles.id(s.article),
                                 articles.name(s.article),
                                 articles.product_type(s.article),
                                 s.reason);
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
    cmd->add_option("-k", args->k, "Number of suggestions")->capture_default_str();
    cmd->add_flag("--json", args->json, "Print JSON instead of text");
    cmd->add_flag("--other-groups", args->other_groups, "Only product groups not in the cart");
    cmd->add_option("--allow", args->allow_file, "File of article ids that may be suggested");
    cmd->callback([args, selected] { *selected = [args] { return run_bought_together(*args); }; });
}

}  // namespace lookbook::cli
