#include "serve_services.hpp"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "lookbook/index/similar.hpp"
#include "lookbook/recommend/answer_cache.hpp"
#include "lookbook/recommend/precompute.hpp"
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
                        size_t precompute_customers,
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
    // The lists computed ahead belong to the snapshot too: its hooks own the precomputer, which
    // stops when a newer generation is served (Services::retire) and is joined when the
    // snapshot is freed.
    std::shared_ptr<ListPrecomputer> ahead;
    if (precompute_customers > 0) {
        ahead = std::make_shared<ListPrecomputer>(
            recommender,
            recommender->customers_by_last_purchase(precompute_customers),
            store->customers().size());
    }
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
    if (ahead) {
        services->precomputed_progress = [ahead] {
            return std::make_pair(ahead->lists().ready(), ahead->planned());
        };
        // A newer generation is served: its own lists are being computed.
        services->retire = [ahead] { ahead->stop(); };
    }
    auto options_for = [ahead](const web::RecommendQuery& query) {
        RecommendOptions options;
        options.k = query.k;
        options.catalog_only = true;  // the site shows a name and photo for each
        if (!query.product_group.empty()) {
            options.product_groups = {query.product_group};
        }
        options.max_per_product_type = query.max_per_type;
        options.precomputed = ahead ? &ahead->lists() : nullptr;
        return options;
    };
    // The server asks this first and computes only behind its compute gate: a cached answer, or
    // one that only blends lists computed ahead (a customer of the store with no live events; a
    // blend costs about a fifth of searching, too little to queue for: measured behind the gate,
    // such answers waited up to 64-108 ms at p99 where they needed 13 ms without it).
    services->recommend_cached = [recommender, ahead, store, cache, scored, cache_key, options_for](
                                     const std::string& customer_id,
                                     const web::RecommendQuery& query,
                                     const std::vector<web::CustomerEvent>& events)
        -> std::optional<std::vector<web::ScoredArticle>> {
        // Without the answer cache (--recommend-cache 0) no key is built; a customer without
        // live events (nearly every request) needs no conversion of them either.
        std::string key;
        std::vector<Interaction> live;
        if (cache->capacity() > 0) {
            std::tie(key, live) = cache_key(customer_id, query, events);
            if (std::optional<std::vector<Recommendation>> cached = cache->find(key)) {
                return scored(*cached);
            }
        } else if (!events.empty()) {
            live = live_interactions(*store, events, recommender->default_today());
        }
        const RecommendOptions options = options_for(query);
        if (!ahead || !live.empty() || query.k > options.candidates_per_source) {
            return std::nullopt;
        }
        std::optional<uint32_t> row = store->customers().find(customer_id);
        if (!row || ahead->lists().find(*row) == nullptr) {
            return std::nullopt;
        }
        std::vector<Recommendation> answer;
        if (options.product_groups.empty()) {
            // The customer's row is known: no second lookup of the id.
            answer = recommender->recommend(*row, live, options);
        } else {
            // Through the id, which checks the group names and says which exist.
            auto checked = recommender->recommend(customer_id, live, options);
            if (!checked.is_ok()) {
                return std::nullopt;  // `recommend` gives the same error, with its status
            }
            answer = std::move(checked).value();
        }
        if (cache->capacity() > 0) {
            cache->insert(key, answer);
        }
        return scored(answer);
    };
    services->recommend = [recommender, cache, scored, cache_key, options_for](
                              const std::string& customer_id,
                              const web::RecommendQuery& query,
                              const std::vector<web::CustomerEvent>& events)
        -> Result<std::vector<web::ScoredArticle>> {
        const RecommendOptions options = options_for(query);
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
                                           const std::string& model_dir,
                                           size_t precompute_customers) {
    return
        [recommend_cache_entries, model_dir, precompute_customers](const web::Snapshot& snapshot) {
            web::Services services;
            add_recommend_hook(snapshot, recommend_cache_entries, precompute_customers, &services);
            add_similar_hooks(snapshot, model_dir, &services);
            return services;
        };
}

}  // namespace lookbook::cli
