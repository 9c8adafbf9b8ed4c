#include "lookbook/web/fold_events.hpp"

#include <fstream>

#include <fmt/format.h>
#include <unistd.h>

#include "lookbook/data/ingest.hpp"
#include "lookbook/util/date.hpp"
#include "lookbook/util/log.hpp"
#include "lookbook/web/event_log.hpp"

namespace lookbook::web {

namespace fs = std::filesystem;

Result<FoldReport> fold_events(const fs::path& store_dir) {
    FoldReport report;
    if (!fs::exists(event_log_path(store_dir))) {
        return report;
    }
    LOOKBOOK_ASSIGN_OR_RETURN(auto log, EventLog::open(event_log_path(store_dir)));
    LOOKBOOK_ASSIGN_OR_RETURN(auto events, log->unfolded());
    if (events.empty()) {
        return report;
    }

    // Purchases go through the same validation as the retailer's files: a CSV appended with the
    // default column names. The folder is per process so concurrent builds do not collide.
    fs::path tmp_dir = fs::temp_directory_path() / fmt::format("lookbook-fold-{}", getpid());
    std::error_code ec;
    fs::create_directories(tmp_dir, ec);
    fs::path csv = tmp_dir / "events.csv";
    {
        std::ofstream out(csv, std::ios::binary);
        out << "t_dat,customer_id,article_id,price,sales_channel_id\n";
        for (const auto& event : events) {
            if (event.kind != EventKind::kPurchase) {
                continue;
            }
            int32_t day = static_cast<int32_t>(event.unix_ms / 86'400'000);
            // Channel 2 (online): events come from the web shop.
            out << format_iso_date(day) << ',' << event.customer_id << ',' << event.article_id
                << ',' << fmt::format("{:.6f}", event.price) << ",2\n";
            ++report.purchases;
        }
        if (!out) {
            fs::remove_all(tmp_dir, ec);
            return Status::io_error(
                fmt::format("{}: cannot write the events to fold", csv.string()));
        }
    }

    std::string generation;
    if (report.purchases > 0) {
        IngestOptions options;
        options.store = store_dir;
        options.transactions = csv;
        options.append = true;
        auto ingested = ingest(options);
        fs::remove_all(tmp_dir, ec);
        if (!ingested.is_ok()) {
            return ingested.status().with_context("folding events into the store failed");
        }
        generation = ingested->generation;
    } else {
        fs::remove_all(tmp_dir, ec);
        generation = "(views only)";
    }
    LOOKBOOK_RETURN_IF_ERROR(log->mark_folded(events.back().id, generation));
    report.events = events.size();
    report.generation = generation;
    log::info(
        "folded {} events ({} purchases) into {}", report.events, report.purchases, generation);
    return report;
}

}  // namespace lookbook::web
