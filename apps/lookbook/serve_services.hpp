#pragma once

#include "lookbook/web/snapshot.hpp"

// The server's hooks (web/services.hpp) joined to the recommender libraries: personal
// recommendations (recommend + two-tower), similar items and text/photo search (index).
namespace lookbook::cli {

// A factory the server calls once per store generation. A recommender the store has not built
// yet leaves its hook empty, so its API answers 503 and its page section says "not built yet".
web::ServicesFactory make_services_factory();

}  // namespace lookbook::cli
