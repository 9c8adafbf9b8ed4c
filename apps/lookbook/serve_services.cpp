#include "serve_services.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "lookbook/util/log.hpp"
#include "personal_glue.hpp"

namespace lookbook::cli {
namespace {

// Live events carry wall-clock times; the store's data may end years earlier (the H&M sample
// ends in 2020). An event is placed on the recommender's "today" at the latest, so it counts
// as the newest thing the customer did rather than as something in the far future.
std::vector<Interaction> live_interactions(const Store& store,
                                           const std::vector<web::CustomerEvent>& events,
                                           int32_t today) {
    std::vector<Interaction> out;
    out.reserve(events.size());
    for (const web::CustomerEvent& event : events) {
        auto article = store.articles().find(event.article_id);
        if (!article) {
            continue;  // the server only records events for known articles
        }
        const auto day = static_cast<int32_t>(event.unix_ms / 86'400'000);
        out.push_back(Interaction{
            .article = *article,
            .day = std::min(day, today),
            .kind = event.kind == web::EventKind::kPurchase ? Interaction::Kind::kPurchase
                                                            : Interaction::Kind::kView,
        });
    }
    return out;
}

void add_recommend_hook(const web::Snapshot& snapshot, web::Services* services) {
    auto opened = open_recommender(*snapshot.store);
    if (!opened.is_ok()) {
        log::info("personal recommendations not served: {}", opened.status().message());
        return;
    }
    std::shared_ptr<const Recommender> recommender = std::move(opened).value();
    const Store* store = snapshot.store.get();
    services->recommend = [recommender, store](const std::string& customer_id,
                                               size_t k,
                                               const std::vector<web::CustomerEvent>& events)
        -> Result<std::vector<web::ScoredArticle>> {
        RecommendOptions options;
        options.k = k;
        auto live = live_interactions(*store, events, recommender->default_today());
        LOOKBOOK_ASSIGN_OR_RETURN(auto list, recommender->recommend(customer_id, live, options));
        std::vector<web::ScoredArticle> out;
        out.reserve(list.size());
        for (const Recommendation& item : list) {
            out.push_back(web::ScoredArticle{
                .article_id = std::string(store->articles().id(item.article)),
                .score = item.score,
                .reason = item.reason,
                .source = item.source,
            });
        }
        return out;
    };
}

}  // namespace

web::ServicesFactory make_services_factory() {
    return [](const web::Snapshot& snapshot) {
        web::Services services;
        add_recommend_hook(snapshot, &services);
        return services;
    };
}

}  // namespace lookbook::cli
