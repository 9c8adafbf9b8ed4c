// `lookbook ingest`: reads the retailer's CSV files into a store.
#include <iostream>

#include <fmt/format.h>

#include "commands.hpp"
#include "lookbook/data/ingest.hpp"

namespace lookbook::cli {
namespace {

struct IngestArgs {
    std::string articles;
    std::string customers;
    std::string transactions;
    std::string images;
    std::string store;
    std::string mapping;
    std::string date_format;
    std::string on_bad_row = "fail";
    std::string unknown_ids = "keep";
    std::string rejects;
    bool append = false;
};

int run_ingest(const IngestArgs& args) {
    IngestOptions options;
    options.articles = args.articles;
    options.customers = args.customers;
    options.transactions = args.transactions;
    options.images = args.images;
    options.store = args.store;
    options.rejects = args.rejects;
    options.append = args.append;
    if (!args.mapping.empty()) {
        auto mapping = load_column_mapping(args.mapping);
        if (!mapping.is_ok()) {
            std::cerr << "lookbook ingest: " << mapping.status().message() << "\n";
            return kExitUsage;
        }
        options.mapping = *mapping;
    }
    if (!args.date_format.empty()) {
        options.mapping.date_format = args.date_format;
    }
    options.bad_rows = args.on_bad_row == "skip" ? BadRowPolicy::kSkip : BadRowPolicy::kFail;
    options.unknown_ids =
        args.unknown_ids == "bad-row" ? UnknownIdPolicy::kBadRow : UnknownIdPolicy::kKeep;

    auto report = ingest(options);
    if (!report.is_ok()) {
        std::cerr << "lookbook ingest: " << report.status().message() << "\n";
        std::cerr << "lookbook ingest: nothing was changed in " << args.store << "\n";
        return report.status().code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
    }
    const IngestReport& r = *report;
    std::cout << fmt::format(
        "ingested into {} ({}) in {:.2f}s\n"
        "  articles:     {} rows read, {} kept, {} rejected\n"
        "  customers:    {} rows read, {} kept, {} rejected\n"
        "  transactions: {} rows read, {} kept, {} rejected\n"
        "  unknown ids:  {} articles and {} customers added without metadata; {} and {} "
        "transaction rows name articles and customers without metadata\n"
        "  images:       {}\n",
        args.store,
        r.generation,
        r.seconds,
        r.articles.rows_read,
        r.articles.rows_kept,
        r.articles.rows_rejected,
        r.customers.rows_read,
        r.customers.rows_kept,
        r.customers.rows_rejected,
        r.transactions.rows_read,
        r.transactions.rows_kept,
        r.transactions.rows_rejected,
        r.unknown_articles,
        r.unknown_customers,
        r.unknown_article_rows,
        r.unknown_customer_rows,
        args.images.empty() ? std::string("not looked up (no --images given)")
                            : fmt::format("{} found, {} catalog articles without a photo",
                                          r.images_found,
                                          r.images_missing));
    if (!r.rejects_file.empty()) {
        std::cout << "  rejected rows and reasons: " << r.rejects_file.string() << "\n";
    }
    // Found by a fresh-user trial: nothing said which parts an append leaves out of date.
    if (args.append && r.transactions.rows_kept > 0) {
        std::cout << fmt::format(
            "  next: `lookbook build {}` mines the rules and retrains the personal models on the "
            "new rows{}\n",
            args.store,
            r.unknown_articles > 0
                ? fmt::format("; until then the {} new article id{} ha{} no rules, and similar "
                              "items, search and personal recommendations stay off (their "
                              "models were made for fewer articles)",
                              r.unknown_articles,
                              r.unknown_articles == 1 ? "" : "s",
                              r.unknown_articles == 1 ? "s" : "ve")
                : "");
    }
    return kExitOk;
}

}  // namespace

void add_ingest_command(CLI::App& app, CommandRun* selected) {
    auto args = std::make_shared<IngestArgs>();
    CLI::App* cmd = app.add_subcommand(
        "ingest", "Read articles, customers and transactions CSV files into a store");
    cmd->add_option("--articles", args->articles, "Articles (catalog) CSV file");
    cmd->add_option("--customers", args->customers, "Customers CSV file");
    cmd->add_option("--transactions", args->transactions, "Transactions CSV file");
    cmd->add_option("--images", args->images, "Folder of article photos");
    cmd->add_option("--store", args->store, "Store folder to create or replace")->required();
    cmd->add_option("--mapping", args->mapping, "JSON file mapping your column names");
    cmd->add_option("--date-format",
                    args->date_format,
                    "Date layout of the transactions, e.g. \"%d/%m/%Y\" (default ISO YYYY-MM-DD); "
                    "overrides the mapping file's date_format. A time may follow the date "
                    "(2024-01-03 10:22:00, 2024-01-03T10:22:00.123+02:00) or be declared at the "
                    "end with %H, %M, %S, %z...; it is checked and ignored: the day is the date "
                    "as written, an offset is not applied");
    cmd->add_option("--on-bad-row", args->on_bad_row, "fail (default) or skip")
        ->check(CLI::IsMember({"fail", "skip"}));
    cmd->add_option("--unknown-ids",
                    args->unknown_ids,
                    "Transactions naming articles or customers missing from their files: keep "
                    "(default, added without metadata) or bad-row. Checked only against the files "
                    "there are: without --customers the customers are not checked (nor, with "
                    "--append, when the store was built without a customers file)")
        ->check(CLI::IsMember({"keep", "bad-row"}));
    cmd->add_option(
        "--rejects", args->rejects, "Where skipped rows go (default STORE/rejects.csv)");
    cmd->add_flag("--append",
                  args->append,
                  "Add --transactions to an existing store, keeping its articles and customers");
    cmd->callback([args, selected] { *selected = [args] { return run_ingest(*args); }; });
}

}  // namespace lookbook::cli
