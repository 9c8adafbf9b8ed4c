// `lookbook mine`: frequent itemsets and association rules from a basket file (FIMI or
// comma-separated names) written as JSON Lines.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "lookbook/rules/association_rules.hpp"
#include "lookbook/rules/basket.hpp"
#include "lookbook/rules/fp_growth.hpp"
#include "lookbook/rules/json_lines.hpp"
#include "lookbook/rules/store_rules.hpp"
#include "lookbook/store/store.hpp"

namespace lookbook::cli {
namespace {

struct MineArgs {
    std::string store;
    std::string baskets;
    std::string format = "auto";
    std::string min_support;  // empty: 0.01 for a file, 2 baskets for a store
    size_t max_length = 0;
    bool max_length_given = false;
    rules::Count pair_min_support = 1;  // store: pair rules from this many baskets
    std::string basket_key = "customer-day";
    std::string output;
    std::string rules;
    double min_confidence = 0.0;
    double min_lift = 0.0;
    size_t max_basket_size = rules::kDefaultMaxBasketSize;
    uint64_t max_itemsets = rules::kDefaultMaxItemsets;
    unsigned threads = 0;
};

// Output file (or stdout) with a large buffer; reports a failed write with the path.
class JsonLinesWriter {
  public:
    static Result<std::unique_ptr<JsonLinesWriter>> open(const std::string& path) {
        auto writer = std::unique_ptr<JsonLinesWriter>(new JsonLinesWriter());
        writer->path_ = path.empty() ? "standard output" : path;
        writer->file_ = path.empty() ? stdout : std::fopen(path.c_str(), "wb");
        if (writer->file_ == nullptr) {
            return Status::io_error(fmt::format(
                "cannot create \"{}\": {}; check that its folder exists and is writable.",
                path,
                std::strerror(errno)));
        }
        return writer;
    }
    ~JsonLinesWriter() {
        if (file_ != nullptr && file_ != stdout) {
            std::fclose(file_);
        }
    }

    // The line buffer to append to; written out in blocks of about 1 MB.
    std::string* buffer() {
        if (buffer_.size() > (1 << 20)) {
            flush();
        }
        return &buffer_;
    }

    Status close() {
        flush();
        bool ok = !failed_ && std::fflush(file_) == 0;
        if (file_ != stdout) {
            ok = std::fclose(file_) == 0 && ok;
            file_ = nullptr;
        }
        if (!ok) {
            return Status::io_error(
                fmt::format("writing {} failed; check the free disk space.", path_));
        }
        return Status::ok();
    }

  private:
    JsonLinesWriter() = default;
    void flush() {
        if (!buffer_.empty() &&
            std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size()) {
            failed_ = true;
        }
        buffer_.clear();
    }

    std::string path_;
    FILE* file_ = nullptr;
    std::string buffer_;
    bool failed_ = false;
};

Status write_itemsets(const rules::FrequentItemsets& mined,
                      const std::vector<std::string>& quoted_names,
                      const std::string& path) {
    LOOKBOOK_ASSIGN_OR_RETURN(auto writer, JsonLinesWriter::open(path));
    const rules::ItemsetTable& table = mined.itemsets;
    for (size_t idx = 0; idx < table.size(); ++idx) {
        rules::append_itemset_line(
            table.items(idx), table.support(idx), quoted_names, writer->buffer());
    }
    return writer->close();
}

Status write_rules(const std::vector<rules::AssociationRule>& found,
                   const std::vector<std::string>& quoted_names,
                   const std::string& path) {
    LOOKBOOK_ASSIGN_OR_RETURN(auto writer, JsonLinesWriter::open(path));
    for (const auto& rule : found) {
        rules::append_rule_line(rule, quoted_names, writer->buffer());
    }
    return writer->close();
}

int fail(const Status& status) {
    std::cerr << "lookbook mine: " << status.message() << "\n";
    return status.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
}

int run_mine_file(const MineArgs& args) {
    auto format = rules::parse_basket_file_format(args.format);
    if (!format.is_ok()) {
        return fail(format.status());
    }
    auto support = rules::parse_min_support(args.min_support.empty() ? "0.01" : args.min_support);
    if (!support.is_ok()) {
        return fail(support.status());
    }
    auto baskets = rules::read_basket_file(args.baskets, *format);
    if (!baskets.is_ok()) {
        return fail(baskets.status());
    }

    rules::MiningOptions options;
    options.min_support = *support;
    options.max_length = args.max_length;
    options.max_basket_size = args.max_basket_size;
    options.max_itemsets = args.max_itemsets;
    options.threads = args.threads;
    auto mined = rules::mine_frequent_itemsets(*baskets, options);
    if (!mined.is_ok()) {
        return fail(mined.status());
    }

    std::vector<std::string> quoted_names = rules::quoted_item_names(*baskets);
    Status written = write_itemsets(*mined, quoted_names, args.output);
    if (!written.is_ok()) {
        return fail(written);
    }
    if (!args.rules.empty()) {
        auto found =
            rules::derive_rules(*mined, rules::RuleOptions{args.min_confidence, args.min_lift});
        if (!found.is_ok()) {
            return fail(found.status());
        }
        written = write_rules(*found, quoted_names, args.rules);
        if (!written.is_ok()) {
            return fail(written);
        }
    }
    return kExitOk;
}

int run_mine_store(const MineArgs& args) {
    if (!args.output.empty() || !args.rules.empty()) {
        std::cerr << "lookbook mine: -o/--output and --rules write the itemsets and rules of a "
                     "basket file (--baskets FILE); mining a store saves its rules in the store.\n";
        return kExitUsage;
    }
    auto key = rules::parse_basket_key(args.basket_key);
    if (!key.is_ok()) {
        return fail(key.status());
    }
    rules::StoreBasketOptions basket_options;
    basket_options.key = *key;
    rules::TrainOptions options = rules::default_train_options();
    if (!args.min_support.empty()) {
        auto support = rules::parse_min_support(args.min_support);
        if (!support.is_ok()) {
            return fail(support.status());
        }
        options.mining.min_support = *support;
    }
    if (args.max_length_given) {
        options.mining.max_length = args.max_length;
    }
    options.mining.max_basket_size = args.max_basket_size;
    options.mining.max_itemsets = args.max_itemsets;
    options.mining.threads = args.threads;
    options.rules = rules::RuleOptions{args.min_confidence, args.min_lift};
    options.pair_min_support = args.pair_min_support;

    auto store = Store::open(args.store);
    if (!store.is_ok()) {
        return fail(store.status());
    }
    auto baskets = rules::baskets_from_store(**store, basket_options);
    if (!baskets.is_ok()) {
        return fail(baskets.status());
    }
    auto model =
        rules::train_complete_the_look(*baskets, rules::catalog_from_store(**store), options);
    if (!model.is_ok()) {
        return fail(model.status());
    }
    nlohmann::json settings = {
        {"basket", args.basket_key},
        {"min_support", options.mining.min_support.describe(baskets->total_weight())},
        {"min_support_count", options.mining.min_support.to_count(baskets->total_weight())},
        {"max_length", options.mining.max_length},
        {"pair_min_support", options.pair_min_support},
        {"min_confidence", options.rules.min_confidence},
        {"min_lift", options.rules.min_lift},
        // What `build` compares to decide whether these rules are still up to date.
        {"transactions", (*store)->transactions().size()}};
    Status saved =
        rules::save_complete_the_look(args.store, *model, settings.dump(), (*store)->generation());
    if (!saved.is_ok()) {
        return fail(saved);
    }
    std::cout << fmt::format(
        "mined {} baskets (min support {}): {} article rules, {} product-code rules; saved "
        "in {}\n",
        baskets->size(),
        options.mining.min_support.describe(baskets->total_weight()),
        model->article_rules.size(),
        model->code_rules.size(),
        args.store);
    return kExitOk;
}

int run_mine(const MineArgs& args) {
    if (args.baskets.empty() == args.store.empty()) {
        return fail(Status::invalid_argument(
            "give either a STORE folder or --baskets FILE (a FIMI or comma-separated basket "
            "file), not both and not neither."));
    }
    if (!args.baskets.empty()) {
        return run_mine_file(args);
    }
    return run_mine_store(args);
}

}  // namespace

void add_mine_command(CLI::App& app, CommandRun* selected) {
    auto args = std::make_shared<MineArgs>();
    CLI::App* cmd = app.add_subcommand(
        "mine", "Mine frequent itemsets and association rules from a store or a basket file");
    cmd->add_option("store", args->store, "Store folder (or use --baskets)");
    cmd->add_option("--baskets", args->baskets, "Basket file: one basket per line");
    cmd->add_option("--format", args->format, "Basket file format: auto, fimi or names")
        ->capture_default_str();
    cmd->add_option("--min-support",
                    args->min_support,
                    "Fraction (0.001 or 0.1%) or number of baskets (5); a fraction f means "
                    "ceil(f * baskets). Default: 0.01 for a file, 2 baskets for a store");
    CLI::Option* max_length = cmd->add_option(
        "--max-length", args->max_length, "Longest itemset, 0 for no limit (store: 3)");
    cmd->add_option("--pair-min-support",
                    args->pair_min_support,
                    "Store: keep pair rules (one-article body) from this many baskets when below "
                    "--min-support; 0 mines pairs at --min-support")
        ->capture_default_str();
    cmd->add_option("--basket",
                    args->basket_key,
                    "Store baskets: customer-day, customer-day-channel or order")
        ->capture_default_str();
    cmd->add_option("-o,--output", args->output, "Itemsets as JSON Lines (default: stdout)");
    cmd->add_option("--rules", args->rules, "Also write association rules to this file");
    cmd->add_option(
           "--min-confidence", args->min_confidence, "Minimum rule confidence, kept if equal")
        ->capture_default_str();
    cmd->add_option("--min-lift", args->min_lift, "Minimum rule lift, kept if equal")
        ->capture_default_str();
    cmd->add_option("--max-basket-size",
                    args->max_basket_size,
                    "Cut larger baskets to their most frequent items (0: no cap)")
        ->capture_default_str();
    cmd->add_option("--max-itemsets", args->max_itemsets, "Fail beyond this many itemsets")
        ->capture_default_str();
    cmd->add_option("--threads", args->threads, "Mining threads, 0 for every core")
        ->capture_default_str();
    cmd->callback([args, selected, max_length] {
        args->max_length_given = max_length->count() > 0;
        *selected = [args] { return run_mine(*args); };
    });
}

}  // namespace lookbook::cli
