// `lookbook recommend`: "recommended for you" for one customer, from the models `lookbook
// train` saved, with the events the server recorded for them and those given on the command
// line.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "lookbook/recommend/recommender.hpp"
#include "lookbook/store/id_hint.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/web/event_log.hpp"
#include "personal_glue.hpp"

namespace lookbook::cli {
namespace {

struct RecommendArgs {
    std::string store;
    std::string customer;
    size_t k = 12;
    bool json = false;
    std::vector<std::string> bought;
    std::vector<std::string> viewed;
    std::vector<std::string> groups;
    uint32_t max_per_type = 0;
    bool any_article = false;
};

int fail(const std::string& message, int code = kExitFailure) {
    std::cerr << "lookbook recommend: " << message << "\n";
    return code;
}

int run_recommend(const RecommendArgs& args) {
    auto store = Store::open(args.store);
    if (!store.is_ok()) {
        return fail(store.status().message());
    }
    auto recommender = open_recommender(**store);
    if (!recommender.is_ok()) {
        return fail(recommender.status().message());
    }
    const ArticleTable& articles = (*store)->articles();
    int32_t today = (*recommender)->default_today();

    // Events the server recorded and no build has folded into the transactions yet come
    // first, as the server counts them; the command line's events happen "today" after them,
    // purchases after views so both orders are kept. A store that never served has no events
    // file, and none is created here.
    std::vector<Interaction> live;
    const auto events_path = web::event_log_path((*store)->dir());
    if (std::filesystem::exists(events_path)) {
        auto log = web::EventLog::open(events_path);
        auto recorded = log.is_ok() ? (*log)->unfolded_for_customer(args.customer)
                                    : Result<std::vector<web::CustomerEvent>>(log.status());
        if (!recorded.is_ok()) {
            return fail(recorded.status().message());
        }
        live = live_interactions(**store, *recorded, today);
    }
    for (const auto& [ids, kind] : {std::pair{&args.viewed, Interaction::Kind::kView},
                                    std::pair{&args.bought, Interaction::Kind::kPurchase}}) {
        for (const std::string& id : *ids) {
            auto article = articles.find(id);
            if (!article) {
                return fail(unknown_article_message(articles, id), kExitUsage);
            }
            live.push_back({*article, today, kind});
        }
    }
    if (!(*store)->customers().find(args.customer) && live.empty()) {
        return fail(unknown_customer_message((*store)->customers(), args.customer) +
                    " To serve a new customer, give --bought/--viewed.");
    }
    RecommendOptions options;
    options.k = args.k;
    options.product_groups = args.groups;
    options.max_per_product_type = args.max_per_type;
    options.catalog_only = !args.any_article;
    auto list = (*recommender)->recommend(args.customer, live, options);
    if (!list.is_ok()) {
        bool usage = list.status().code() == StatusCode::kInvalidArgument;
        return fail(list.status().message(), usage ? kExitUsage : kExitFailure);
    }

    if (args.json) {
        nlohmann::json out = nlohmann::json::array();
        for (const Recommendation& r : *list) {
            out.push_back({{"article_id", articles.id(r.article)},
                           {"name", articles.name(r.article)},
                           {"product_type", articles.product_type(r.article)},
                           {"product_group", articles.product_group(r.article)},
                           {"colour", articles.colour(r.article)},
                           {"score", r.score},
                           {"source", r.source},
                           {"reason", r.reason},
                           // The article behind the reason, which never shows a bare id.
                           {"because_of",
                            r.because_of == kNoRow ? nlohmann::json()
                                                   : nlohmann::json(articles.id(r.because_of))}});
        }
        std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        return kExitOk;
    }
    if (list->empty()) {
        std::cout << "no recommendations (every candidate was filtered out)\n";
    } else if (list->size() < args.k) {
        std::cerr << fmt::format(
            "lookbook recommend: {} of the {} asked for: the sources and the trending fill "
            "found no more that pass the filters.\n",
            list->size(),
            args.k);
    }
    for (size_t pos = 0; pos < list->size(); ++pos) {
        const Recommendation& r = (*list)[pos];
        std::cout << fmt::format("{:>2}. {} {:<30} {:.3f} {:<10} {}\n",
                                 pos + 1,
                                 articles.id(r.article),
                                 articles.name(r.article),
                                 r.score,
                                 r.source,
                                 r.reason);
    }
    return kExitOk;
}

}  // namespace

void add_recommend_command(CLI::App& app, CommandRun* selected) {
    auto args = std::make_shared<RecommendArgs>();
    CLI::App* cmd = app.add_subcommand("recommend", "Personal recommendations for one customer");
    cmd->add_option("store", args->store, "Store folder")->required();
    cmd->add_option("customer", args->customer, "Customer id")->required();
    cmd->add_option("-k", args->k, "Number of recommendations")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    cmd->add_flag("--json", args->json, "Print JSON");
    cmd->add_option("--bought", args->bought, "Live purchase not yet in the store (article id)");
    cmd->add_option("--viewed", args->viewed, "Live product view (article id)");
    cmd->add_option("--group", args->groups, "Only this product group (repeatable)");
    cmd->add_option("--max-per-type", args->max_per_type, "At most N per product type (0: any)")
        ->capture_default_str();
    cmd->add_flag("--any-article",
                  args->any_article,
                  "Also articles sold but missing from the catalog file (no name or photo)");
    cmd->callback([args, selected] { *selected = [args] { return run_recommend(*args); }; });
}

}  // namespace lookbook::cli
