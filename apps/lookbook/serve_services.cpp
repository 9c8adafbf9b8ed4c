#include "serve_services.hpp"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "lookbook/index/similar.hpp"
#include "lookbook/recommend/answer_cache.hpp"
#include "lookbook/util/log.hpp"
#include "personal_glue.hpp"
#include "similar_output.hpp"

#if LOOKBOOK_WITH_TORCH
#include "lookbook/index/query_encoder.hpp"
#endif

namespace lookbook::cli {
namespace {

void add_recommend_hook(const web::Snapshot& snapshot,
                        size_t cache_entries,
                        web::Services* services) {
    auto opened = open_recommender(*snapshot.store);
    if (!opened.is_ok()) {
        if (opened.status().code() == StatusCode::kNotFound) {
            log::info("personal recommendations not served: {}", opened.status().message());
        } else {
            // Built but not loadable (written for another catalog): not the same as not built.
            log::warn("personal recommendations not served: {}", opened.status().message());
            services->unavailable["recommend"] = opened.status().message();
        }
        return;
    }
    std::shared_ptr<const Recommender> recommender = std::move(opened).value();
    const Store* store = snapshot.store.get();
    // One cache per snapshot: a new generation starts empty, so no answer outlives its models.
    // TODO: the cache only helps customers asked for again; a cold answer still costs 430-440 us
    // of server CPU on the demo's H&M store (4,079-4,165 requests/s at p99 29-30 ms) and
    // 323-337 us on a store whose blend has no profile similarity (5,238-5,467 at p99 22-23 ms;
    // stop 20, quiet runs), so issue 7's 5,000 requests/s at p99 20 ms is not met on the cold
    // path; README "Known limits" lists what is left.
    auto cache = std::make_shared<AnswerCache>(cache_entries);
    auto scored = [store](const std::vector<Recommendation>& list) {
        std::vector<web::ScoredArticle> out;
        out.reserve(list.size());
        for (const Recommendation& item : list) {
            out.push_back(web::ScoredArticle{
                .article_id = std::string(store->articles().id(item.article)),
                .score = item.score,
                .reason = item.reason,
                .source = item.source,
                .because_of = item.because_of == kNoRow
                                  ? std::string()
                                  : std::string(store->articles().id(item.because_of)),
            });
        }
        return out;
    };
    auto cache_key = [recommender, store](const std::string& customer_id,
                                          const web::RecommendQuery& query,
                                          const std::vector<web::CustomerEvent>& events) {
        auto live = live_interactions(*store, events, recommender->default_today());
        // The filters are part of the answer: group, then the per-type limit.
        std::string filters = query.product_group;
        filters.push_back('\0');
        filters += std::to_string(query.max_per_type);
        return std::make_pair(AnswerCache::key(customer_id, query.k, live, filters),
                              std::move(live));
    };
    // The server asks the cache first and computes only behind its compute gate.
    services->recommend_cached = [cache, scored, cache_key](
                                     const std::string& customer_id,
                                     const web::RecommendQuery& query,
                                     const std::vector<web::CustomerEvent>& events)
        -> std::optional<std::vector<web::ScoredArticle>> {
        std::optional<std::vector<Recommendation>> cached =
            cache->find(cache_key(customer_id, query, events).first);
        if (!cached) {
            return std::nullopt;
        }
        return scored(*cached);
    };
    services->recommend = [recommender, cache, scored, cache_key](
                              const std::string& customer_id,
                              const web::RecommendQuery& query,
                              const std::vector<web::CustomerEvent>& events)
        -> Result<std::vector<web::ScoredArticle>> {
        RecommendOptions options;
        options.k = query.k;
        options.catalog_only = true;  // the site shows a name and photo for each
        if (!query.product_group.empty()) {
            options.product_groups = {query.product_group};
        }
        options.max_per_product_type = query.max_per_type;
        auto [key, live] = cache_key(customer_id, query, events);
        // Another request for the same answer may have filled the cache while this one waited.
        std::optional<std::vector<Recommendation>> cached = cache->find(key);
        if (!cached) {
            LOOKBOOK_ASSIGN_OR_RETURN(cached, recommender->recommend(customer_id, live, options));
            cache->insert(key, *cached);
        }
        return scored(*cached);
    };
}

// One similar-items hit as the server shows it: the reason names the parts that matched.
web::ScoredArticle scored_hit(const Store& store, const SimilarHit& hit, const char* what) {
    web::ScoredArticle out;
    out.article_id = std::string(store.articles().id(hit.article));
    out.score = hit.score;
    if (hit.image_score) {
        out.parts.push_back(fmt::format("image {:.2f}", *hit.image_score));
    }
    if (hit.text_score) {
        out.parts.push_back(fmt::format("text {:.2f}", *hit.text_score));
    }
    const bool image_leads =
        hit.image_score && (!hit.text_score || *hit.image_score >= *hit.text_score);
    out.reason =
        fmt::format("{} {}", what, image_leads ? "(mostly the photo)" : "(mostly the description)");
    if (!hit.image_score && !hit.text_score) {
        out.reason = what;
    }
    out.source = "similar";
    return out;
}

std::vector<web::ScoredArticle> scored_hits(const Store& store,
                                            const std::vector<SimilarHit>& hits,
                                            const char* what) {
    std::vector<web::ScoredArticle> out;
    out.reserve(hits.size());
    for (const SimilarHit& hit : hits) {
        out.push_back(scored_hit(store, hit, what));
    }
    return out;
}

void add_similar_hooks(const web::Snapshot& snapshot,
                       const std::string& model_override,
                       web::Services* services) {
    auto opened = SimilarItems::open(*snapshot.store);
    if (!opened.is_ok()) {
        if (opened.status().code() == StatusCode::kNotFound) {
            log::info("similar items not served: {}", opened.status().message());
        } else {
            log::warn("similar items not served: {}", opened.status().message());
            services->unavailable["similar"] = opened.status().message();
#if LOOKBOOK_WITH_TORCH
            // Search reads the same embeddings: unavailable for the same reason.
            services->unavailable["search_text"] = opened.status().message();
            services->unavailable["search_image"] = opened.status().message();
#endif
        }
        return;
    }
    std::shared_ptr<const SimilarItems> similar = std::move(opened).value();
    const Store* store = snapshot.store.get();
    services->similar =
        [similar, store](
            const std::string& article_id,
            size_t k,
            const web::SimilarFilters& filters) -> Result<std::vector<web::ScoredArticle>> {
        auto article = store->articles().find(article_id);
        if (!article) {
            return Status::not_found("no article " + article_id + " in the catalog");
        }
        SimilarQuery query;
        query.k = k;
        query.exclude_colour_variants = true;
        if (!filters.product_group.empty()) {
            query.product_groups.push_back(filters.product_group);
        }
        if (!filters.colour.empty()) {
            // No colour filter in the index: an allow-list of the articles of that colour.
            std::vector<uint32_t> allow;
            for (uint32_t row = 0; row < store->articles().size(); ++row) {
                if (store->articles().colour(row) == filters.colour) {
                    allow.push_back(row);
                }
            }
            query.allow = std::move(allow);
        }
        LOOKBOOK_ASSIGN_OR_RETURN(auto hits, similar->similar_to_article(*article, query));
        return scored_hits(*store, hits, "looks alike");
    };
#if LOOKBOOK_WITH_TORCH
    const std::string model_dir = model_override.empty() ? similar->model_path() : model_override;
    std::string search_problem;
    if (model_dir.empty()) {
        search_problem =
            "the store's embeddings do not name their model; restart `lookbook serve` with "
            "--model DIR";
        log::warn("text and photo search not served: {}", search_problem);
        services->unavailable["search_text"] = search_problem;
        services->unavailable["search_image"] = search_problem;
        return;
    }
    auto encoder = QueryEncoder::load(model_dir);
    if (!encoder.is_ok()) {
        search_problem = model_override.empty()
                             ? query_model_problem(*store,
                                                   model_dir,
                                                   encoder.status().message(),
                                                   "restart `lookbook serve` with --model DIR")
                             : encoder.status().message() + " (check --model)";
        log::warn("text and photo search not served: {}", search_problem);
        services->unavailable["search_text"] = search_problem;
        services->unavailable["search_image"] = search_problem;
        return;
    }
    std::shared_ptr<QueryEncoder> shared_encoder = std::move(encoder).value();
    services->search_text = [similar, shared_encoder, store](
                                const std::string& text,
                                size_t k) -> Result<std::vector<web::ScoredArticle>> {
        LOOKBOOK_ASSIGN_OR_RETURN(auto vector, shared_encoder->encode_text(text));
        SimilarQuery query;
        query.k = k;
        // "*": the text vector meets photos and descriptions at once (CLIP's shared space).
        LOOKBOOK_ASSIGN_OR_RETURN(auto hits, similar->search_by_vector("*", vector, query));
        return scored_hits(*store, hits, "matches your words");
    };
    services->search_image = [similar, shared_encoder, store](
                                 std::string_view bytes,
                                 size_t k) -> Result<std::vector<web::ScoredArticle>> {
        auto vector = shared_encoder->encode_image_bytes(bytes, "the uploaded photo");
        if (!vector.is_ok()) {
            // A photo that cannot be decoded is the client's mistake, not the server's.
            return Status::invalid_argument(vector.status().message());
        }
        SimilarQuery query;
        query.k = k;
        LOOKBOOK_ASSIGN_OR_RETURN(auto hits, similar->search_by_vector("image", *vector, query));
        return scored_hits(*store, hits, "looks like your photo");
    };
#endif
}

}  // namespace

web::ServicesFactory make_services_factory(size_t recommend_cache_entries,
                                           const std::string& model_dir) {
    return [recommend_cache_entries, model_dir](const web::Snapshot& snapshot) {
        web::Services services;
        add_recommend_hook(snapshot, recommend_cache_entries, &services);
        add_similar_hooks(snapshot, model_dir, &services);
        return services;
    };
}

}  // namespace lookbook::cli
