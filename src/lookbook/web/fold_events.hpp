#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "lookbook/util/status.hpp"

namespace lookbook::web {

struct FoldReport {
    uint64_t events = 0;     // events marked as folded
    uint64_t purchases = 0;  // of which became transactions (views are not transactions)
    std::string generation;  // the store generation they went into ("" when nothing to fold)
};

// Appends the purchases recorded in STORE/events.sqlite and not yet folded to the store's
// transactions (a new generation, through the ingest append path), then marks every unfolded
// event (views too) as folded into that generation. With no unfolded events nothing is written.
// Fails, leaving the store and the events as they were, when the append fails.
//
// TODO: the store commit and the SQLite update are two steps; a crash between them leaves the
// purchases in the store and still unfolded in the log, so the next build appends them twice.
// Closing this needs the folded event id recorded inside the generation's metadata.
Result<FoldReport> fold_events(const std::filesystem::path& store_dir);

}  // namespace lookbook::web
