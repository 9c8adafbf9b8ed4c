#include "lookbook/web/snapshot.hpp"

#include <algorithm>
#include <set>

#include "lookbook/rules/store_rules.hpp"
#include "lookbook/util/log.hpp"

namespace lookbook::web {

Result<std::shared_ptr<const Snapshot>> load_snapshot(const std::filesystem::path& store_dir,
                                                      const ServicesFactory& factory) {
    auto snapshot = std::make_shared<Snapshot>();
    LOOKBOOK_ASSIGN_OR_RETURN(snapshot->store, Store::open(store_dir));
    const Store& store = *snapshot->store;
    auto model = rules::load_complete_the_look(store);
    if (model.is_ok()) {
        snapshot->rules = std::move(model).value();
    } else {
        snapshot->rules_missing = model.status().message();
        log::warn("serving without bought-together rules: {}", model.status().message());
    }

    const ArticleTable& articles = store.articles();
    std::set<std::string_view> groups;
    std::set<std::string_view> types;
    std::set<std::string_view> colours;
    for (uint32_t article = 0; article < articles.size(); ++article) {
        if (articles.has_metadata(article)) {
            snapshot->catalog.push_back(article);
            groups.insert(articles.product_group(article));
            types.insert(articles.product_type(article));
            colours.insert(articles.colour(article));
        }
    }
    for (std::string_view type : types) {
        if (!type.empty()) {
            snapshot->product_types.emplace_back(type);
        }
    }
    for (std::string_view group : groups) {
        if (!group.empty()) {
            snapshot->product_groups.emplace_back(group);
        }
    }
    for (std::string_view colour : colours) {
        if (!colour.empty()) {
            snapshot->colours.emplace_back(colour);
        }
    }
    const auto offsets = store.transactions().customer_offsets();
    auto purchases = [&offsets](uint32_t c) { return offsets[c + 1] - offsets[c]; };
    for (uint32_t c = 0; c + 1 < offsets.size(); ++c) {
        if (purchases(c) > 0) {
            snapshot->customers_by_purchases.push_back(c);
        }
    }
    std::stable_sort(snapshot->customers_by_purchases.begin(),
                     snapshot->customers_by_purchases.end(),
                     [&purchases](uint32_t a, uint32_t b) { return purchases(a) > purchases(b); });
    snapshot->article_fragments = std::make_unique<const ArticleFragments>(articles);
    if (factory) {
        snapshot->services = factory(*snapshot);
    }
    if (!snapshot->rules && store.has_file(rules::kRulesFileName)) {
        // Mined but not loadable: /api/health and the pages say so rather than "not built".
        snapshot->services.unavailable["bought_together"] = snapshot->rules_missing;
    }
    log::info(
        "serving {} ({} catalog articles, {} customers, {} transactions; article fields for the "
        "API's lists: {:.1f} MB)",
        store.generation(),
        snapshot->catalog.size(),
        store.customers().size(),
        store.transactions().size(),
        static_cast<double>(snapshot->article_fragments->bytes()) / 1e6);
    return std::shared_ptr<const Snapshot>(std::move(snapshot));
}

}  // namespace lookbook::web
