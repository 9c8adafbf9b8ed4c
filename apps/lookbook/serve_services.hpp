#pragma once

#include <cstddef>
#include <string>

#include "lookbook/web/snapshot.hpp"

// The server's hooks (web/services.hpp) joined to the recommender libraries: personal
// recommendations (recommend + two-tower), similar items and text/photo search (index).
namespace lookbook::cli {

// A factory the server calls once per store generation. A recommender the store has not built
// yet leaves its hook empty, so its API answers 503 and its page section says "not built yet".
// Personal recommendations keep up to `recommend_cache_entries` whole answers per generation
// (AnswerCache; 0 = compute every request). Text and photo search encode queries with the model
// in `model_dir`, or when empty the one the store's embeddings name; when that model cannot be
// loaded, Services::search_unavailable says why and what to do. The model sources' candidate
// lists of up to `precompute_customers` customers (the latest buyers first) are computed ahead
// in the background for each generation (ListPrecomputer; 0: every answer asks the sources).
web::ServicesFactory make_services_factory(size_t recommend_cache_entries,
                                           const std::string& model_dir = "",
                                           size_t precompute_customers = 0);

}  // namespace lookbook::cli
