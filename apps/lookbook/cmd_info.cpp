// `lookbook info`: prints what a store holds.
#include <filesystem>
#include <iostream>
#include <optional>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/store/summary.hpp"
#include "lookbook/util/log.hpp"
#include "lookbook/web/event_log.hpp"

namespace lookbook::cli {
namespace {

struct InfoArgs {
    std::string store;
    bool json = false;
    bool verify = false;
};

std::string percent(uint64_t part, uint64_t whole) {
    return whole == 0 ? "-" : fmt::format("{:.1f}%", 100.0 * part / whole);
}

// Events recorded through the API (`serve`) and how many `build` has not folded in yet;
// nullopt when the store has no events file (nothing is created here) or it cannot be read.
std::optional<std::pair<int64_t, int64_t>> event_counts(const std::string& store_dir) {
    const std::filesystem::path path = web::event_log_path(store_dir);
    std::error_code error;
    if (!std::filesystem::exists(path, error)) {
        return std::nullopt;
    }
    auto opened = web::EventLog::open(path);
    if (!opened.is_ok()) {
        log::warn("{}", opened.status().message());
        return std::nullopt;
    }
    auto counts = (*opened)->counts();
    if (!counts.is_ok()) {
        log::warn("{}", counts.status().message());
        return std::nullopt;
    }
    return *counts;
}

int run_info(const InfoArgs& args) {
    auto store = Store::open(args.store);
    if (!store.is_ok()) {
        std::cerr << "lookbook info: " << store.status().message() << "\n";
        return kExitFailure;
    }
    if (args.verify) {
        Status verified = (*store)->verify();
        if (!verified.is_ok()) {
            std::cerr << "lookbook info: " << verified.message() << "\n";
            return kExitFailure;
        }
    }
    StoreSummary s = summarize_store(**store);
    // Found by a fresh-user trial: events recorded by the server were nowhere to be seen until
    // the next build.
    const auto events = event_counts(args.store);
    if (args.json) {
        nlohmann::json out;
        out["store"] = args.store;
        out["generation"] = s.generation;
        out["size_bytes"] = s.size_bytes;
        out["articles"] = {{"total", s.articles},
                           {"with_metadata", s.catalog_articles},
                           {"with_image", s.articles_with_image}};
        out["customers"] = {{"total", s.customers},
                            {"with_metadata", s.catalog_customers},
                            {"buying", s.buying_customers}};
        out["transactions"] = {
            {"total", s.transactions}, {"first_date", s.first_date}, {"last_date", s.last_date}};
        out["coverage"] = {{"sold_articles", s.sold_articles},
                           {"sold_articles_with_metadata", s.sold_articles_with_metadata},
                           {"sold_articles_with_image", s.sold_articles_with_image},
                           {"rows_with_metadata", s.rows_with_metadata},
                           {"rows_with_image", s.rows_with_image}};
        out["top_product_types"] = nlohmann::json::array();
        for (const auto& [type, rows] : s.top_product_types) {
            out["top_product_types"].push_back({{"product_type", type}, {"transactions", rows}});
        }
        out["extra_files"] = s.extra_files;
        out["events"] =
            events ? nlohmann::json{{"recorded", events->first}, {"not_folded", events->second}}
                   : nlohmann::json{{"recorded", 0}, {"not_folded", 0}};
        out["verified"] = args.verify;
        // Catalog text is the retailer's bytes; invalid UTF-8 is shown as U+FFFD.
        std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        return kExitOk;
    }
    std::cout << fmt::format(
        "store {} ({}, {:.1f} MB{})\n"
        "  articles:     {} ({} from the catalog, {} with a photo)\n"
        "  customers:    {} ({} from the customers file, {} with purchases)\n"
        "  transactions: {} from {} to {}\n"
        "  coverage:     {} of {} sold articles have metadata ({}), {} have a photo ({})\n"
        "                {} of {} transaction rows have article metadata ({}), {} a photo ({})\n",
        args.store,
        s.generation,
        s.size_bytes / 1e6,
        args.verify ? ", checksums verified" : "",
        s.articles,
        s.catalog_articles,
        s.articles_with_image,
        s.customers,
        s.catalog_customers,
        s.buying_customers,
        s.transactions,
        s.first_date.empty() ? "-" : s.first_date,
        s.last_date.empty() ? "-" : s.last_date,
        s.sold_articles_with_metadata,
        s.sold_articles,
        percent(s.sold_articles_with_metadata, s.sold_articles),
        s.sold_articles_with_image,
        percent(s.sold_articles_with_image, s.sold_articles),
        s.rows_with_metadata,
        s.transactions,
        percent(s.rows_with_metadata, s.transactions),
        s.rows_with_image,
        percent(s.rows_with_image, s.transactions));
    std::cout << "  top product types by transactions:\n";
    if (s.top_product_types.empty()) {
        std::cout << "    (none: no sold article has metadata)\n";
    }
    for (const auto& [type, rows] : s.top_product_types) {
        std::cout << fmt::format("    {:<28} {:>8}\n", type, rows);
    }
    if (!s.extra_files.empty()) {
        std::cout << "  also holds: " << fmt::format("{}", fmt::join(s.extra_files, ", ")) << "\n";
    }
    if (events && events->first > 0) {
        std::cout << fmt::format(
            "  events:       {} recorded through the API, {} not yet in the transactions{}\n",
            events->first,
            events->second,
            events->second > 0 ? fmt::format(" (`lookbook build {}` folds them in)", args.store)
                               : "");
    }
    return kExitOk;
}

}  // namespace

void add_info_command(CLI::App& app, CommandRun* selected) {
    auto args = std::make_shared<InfoArgs>();
    CLI::App* cmd = app.add_subcommand("info", "Print counts, dates and coverage of a store");
    cmd->add_option("store", args->store, "Store folder")->required();
    cmd->add_flag("--json", args->json, "Print JSON instead of text");
    cmd->add_flag("--verify", args->verify, "Also check every column's checksum");
    cmd->callback([args, selected] { *selected = [args] { return run_info(*args); }; });
}

}  // namespace lookbook::cli
