#include "lookbook/rules/store_rules.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lookbook/store/column_file.hpp"
#include "lookbook/store/id_hint.hpp"
#include "lookbook/util/checksum.hpp"
#include "lookbook/util/file.hpp"
#include "lookbook/util/log.hpp"

namespace lookbook::rules {

Result<BasketKey> parse_basket_key(std::string_view text) {
    if (text == "customer-day") {
        return BasketKey::kCustomerDay;
    }
    if (text == "customer-day-channel") {
        return BasketKey::kCustomerDayChannel;
    }
    if (text == "order") {
        return BasketKey::kOrder;
    }
    return Status::invalid_argument(fmt::format(
        "--basket is \"{}\"; expected customer-day, customer-day-channel or order.", text));
}

CatalogView catalog_from_store(const Store& store) {
    const ArticleTable& articles = store.articles();
    CatalogView catalog;
    auto names_of = [](const CategoricalColumn& column) {
        std::vector<std::string> names;
        for (size_t code = 0; code < column.cardinality(); ++code) {
            names.emplace_back(column.values.at(code));
        }
        return names;
    };
    const CategoricalColumn& codes = articles.attribute(ArticleAttribute::kProductCode);
    const CategoricalColumn& types = articles.attribute(ArticleAttribute::kProductType);
    const CategoricalColumn& groups = articles.attribute(ArticleAttribute::kProductGroup);
    catalog.product_code_names = names_of(codes);
    catalog.product_type_names = names_of(types);
    catalog.product_group_names = names_of(groups);
    std::unordered_map<std::string, uint32_t> code_of_name;
    for (uint32_t code = 0; code < catalog.product_code_names.size(); ++code) {
        code_of_name.emplace(catalog.product_code_names[code], code);
    }
    for (uint32_t article = 0; article < articles.size(); ++article) {
        catalog.article_ids.emplace_back(articles.id(article));
        catalog.article_names.emplace_back(articles.name(article));
        catalog.described.push_back(articles.has_metadata(article) ? 1 : 0);
        catalog.product_type.push_back(types.code(article));
        catalog.product_group.push_back(groups.code(article));
        // Articles known only from transactions have no product code. H&M article ids are the
        // product code followed by a 3-digit colour number, so such an id borrows the code of
        // its first len - 3 characters (an existing code when the catalog has it); without that
        // the variant filter would let colour twins through.
        // TODO: make the id-to-product-code rule part of the column mapping — other retailers
        // number articles differently, and for them the prefix rule may merge unrelated articles.
        if (articles.has_metadata(article)) {
            catalog.product_code.push_back(codes.code(article));
            continue;
        }
        const std::string& id = catalog.article_ids.back();
        std::string prefix = id.size() > 3 ? id.substr(0, id.size() - 3) : id;
        // The catalog writes product codes as numbers ("108775" for article "0108775015").
        prefix.erase(0, std::min(prefix.find_first_not_of('0'), prefix.size() - 1));
        auto [it, added] = code_of_name.emplace(prefix, catalog.product_code_names.size());
        if (added) {
            catalog.product_code_names.push_back(prefix);
        }
        catalog.product_code.push_back(it->second);
    }
    return catalog;
}

Result<std::vector<uint32_t>> cart_from_ids(const Store& store,
                                            const std::vector<std::string>& article_ids) {
    std::vector<uint32_t> cart;
    for (const auto& id : article_ids) {
        auto article = store.articles().find(id);
        if (!article) {
            return Status::not_found(unknown_article_message(store.articles(), id));
        }
        cart.push_back(*article);
    }
    return cart;
}

Result<std::unordered_set<uint32_t>> read_allow_list(const Store& store,
                                                     const std::filesystem::path& path,
                                                     size_t* unknown) {
    auto text = read_file(path);
    if (!text.is_ok()) {
        return Status::not_found(
            fmt::format("allow-list file \"{}\" cannot be read; give a file with one article id "
                        "per line.",
                        path.string()));
    }
    std::unordered_set<uint32_t> allow;
    *unknown = 0;
    std::string_view rest = *text;
    if (rest.starts_with("\xEF\xBB\xBF")) {
        rest.remove_prefix(3);  // the UTF-8 byte order mark spreadsheet exports start with
    }
    auto is_blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
    while (!rest.empty()) {
        size_t eol = rest.find('\n');
        std::string_view line = rest.substr(0, eol);
        rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
        // Spaces, tabs and CR around the id, and the quotes of a one-column CSV, are not part of
        // it.
        while (!line.empty() && is_blank(line.back())) {
            line.remove_suffix(1);
        }
        while (!line.empty() && is_blank(line.front())) {
            line.remove_prefix(1);
        }
        if (line.size() >= 2 && line.front() == '"' && line.back() == '"') {
            line = line.substr(1, line.size() - 2);
        }
        if (line.empty()) {
            continue;
        }
        if (auto article = store.articles().find(line)) {
            allow.insert(*article);
        } else {
            ++*unknown;
        }
    }
    return allow;
}

Result<BasketSet> baskets_from_store(const Store& store, const StoreBasketOptions& options) {
    const TransactionTable& rows = store.transactions();
    if (options.key == BasketKey::kOrder && rows.order().empty()) {
        return Status::invalid_argument(
            "the store's transactions have no order id column, so baskets cannot be orders; use "
            "--basket customer-day or customer-day-channel, or ingest with an order id mapping.");
    }

    // Items: every article (or product code) interned first, so item id == its number.
    CatalogView catalog = catalog_from_store(store);
    BasketSet baskets;
    bool by_code = options.level == ItemLevel::kProductCode;
    for (const auto& name : by_code ? catalog.product_code_names : catalog.article_ids) {
        baskets.intern(name);
    }
    auto item_of = [&](uint64_t row) -> ItemId {
        uint32_t article = rows.article()[row];
        return by_code ? catalog.product_code[article] : article;
    };

    // Rows come sorted by (customer, date): a basket is a run, split further by channel or
    // order when asked.
    std::map<uint32_t, std::vector<ItemId>> groups;
    uint64_t n_rows = rows.size();
    uint64_t run_start = 0;
    while (run_start < n_rows) {
        uint32_t customer = rows.customer()[run_start];
        int32_t day = rows.date()[run_start];
        uint64_t run_end = run_start;
        bool by_customer_only = options.key == BasketKey::kOrder;
        while (run_end < n_rows && rows.customer()[run_end] == customer &&
               (by_customer_only || rows.date()[run_end] == day)) {
            ++run_end;
        }
        groups.clear();
        for (uint64_t row = run_start; row < run_end; ++row) {
            int32_t row_day = rows.date()[row];
            if (row_day < options.first_day || row_day > options.last_day) {
                continue;
            }
            uint32_t group = 0;
            if (options.key == BasketKey::kCustomerDayChannel) {
                group = rows.channel()[row];
            } else if (options.key == BasketKey::kOrder) {
                group = rows.order()[row];
            }
            groups[group].push_back(item_of(row));
        }
        for (const auto& [group, items] : groups) {
            baskets.add_basket(items);
        }
        run_start = run_end;
    }
    log::info("built {} baskets from {} transactions", baskets.size(), n_rows);
    return baskets;
}

namespace {

void add_rule_set(ColumnFileWriter* writer, const std::string& prefix, const RuleSet& set) {
    writer->add(prefix + ".body_offsets", set.body_offsets);
    writer->add(prefix + ".body_items", set.body_items);
    writer->add(prefix + ".heads", set.heads);
    writer->add(prefix + ".supports", set.supports);
    writer->add(prefix + ".body_counts", set.body_counts);
    writer->add(prefix + ".head_counts", set.head_counts);
}

template <typename T>
Status read_column(const ColumnFile& file, const std::string& name, std::vector<T>* out) {
    LOOKBOOK_ASSIGN_OR_RETURN(std::span<const T> values, file.column<T>(name));
    out->assign(values.begin(), values.end());
    return Status::ok();
}

// Items must be below `mined_items` (the catalog the rules were mined from); they are then
// renumbered through `renumber` when it is not empty (product codes after an append), and the
// lookup is built for `item_count` items (the catalog now, which appends may have grown).
Status read_rule_set(const ColumnFile& file,
                     const std::string& prefix,
                     size_t mined_items,
                     std::span<const uint32_t> renumber,
                     size_t item_count,
                     RuleSet* set) {
    LOOKBOOK_RETURN_IF_ERROR(read_column(file, prefix + ".body_offsets", &set->body_offsets));
    LOOKBOOK_RETURN_IF_ERROR(read_column(file, prefix + ".body_items", &set->body_items));
    LOOKBOOK_RETURN_IF_ERROR(read_column(file, prefix + ".heads", &set->heads));
    LOOKBOOK_RETURN_IF_ERROR(read_column(file, prefix + ".supports", &set->supports));
    LOOKBOOK_RETURN_IF_ERROR(read_column(file, prefix + ".body_counts", &set->body_counts));
    LOOKBOOK_RETURN_IF_ERROR(read_column(file, prefix + ".head_counts", &set->head_counts));
    size_t n_rules = set->heads.size();
    bool consistent = set->body_offsets.size() == n_rules + 1 &&
                      set->body_offsets.back() == set->body_items.size() &&
                      set->supports.size() == n_rules && set->body_counts.size() == n_rules &&
                      set->head_counts.size() == n_rules;
    auto for_each_item = [set](const auto& visit) {
        std::for_each(set->body_items.begin(), set->body_items.end(), visit);
        std::for_each(set->heads.begin(), set->heads.end(), visit);
    };
    for_each_item([&](ItemId item) { consistent = consistent && item < mined_items; });
    if (!consistent) {
        return Status::corruption(fmt::format(
            "rules file: the {} columns disagree in length or name items beyond the catalog; "
            "run `lookbook mine STORE` again to rebuild them.",
            prefix));
    }
    if (!renumber.empty()) {
        for_each_item([&](ItemId& item) {
            item = renumber[item];
            consistent = consistent && item < item_count;
        });
        if (!consistent) {
            return Status::corruption(fmt::format(
                "rules file: the {} name a product code without articles; run `lookbook mine "
                "STORE` again to rebuild them.",
                prefix));
        }
    }
    set->index(item_count);
    return Status::ok();
}

// CRC-32C of the first `count` article ids, each followed by a newline: ties the rules file to
// the catalog rows it was mined from.
uint32_t catalog_ids_crc(const CatalogView& catalog, size_t count) {
    uint32_t crc = 0;
    for (size_t article = 0; article < count; ++article) {
        const std::string& id = catalog.article_ids[article];
        crc = crc32c(id.data(), id.size(), crc);
        crc = crc32c("\n", 1, crc);
    }
    return crc;
}

// Lists of lists as offsets + values.
template <typename T>
void flatten(const std::vector<std::vector<T>>& lists,
             std::vector<uint64_t>* offsets,
             std::vector<T>* values) {
    offsets->assign(1, 0);
    for (const auto& list : lists) {
        values->insert(values->end(), list.begin(), list.end());
        offsets->push_back(values->size());
    }
}

}  // namespace

Status save_complete_the_look(const std::filesystem::path& store_dir,
                              const CompleteTheLookModel& model,
                              const std::string& settings_json,
                              const std::string& based_on) {
    ColumnFileWriter writer;
    add_rule_set(&writer, "article_rules", model.article_rules);
    add_rule_set(&writer, "code_rules", model.code_rules);

    std::vector<std::vector<uint32_t>> partner_articles;
    std::vector<std::vector<Count>> partner_counts;
    for (const auto& partners : model.type_partners) {
        partner_articles.emplace_back();
        partner_counts.emplace_back();
        for (const auto& [article, count] : partners) {
            partner_articles.back().push_back(article);
            partner_counts.back().push_back(count);
        }
    }
    std::vector<uint64_t> offsets;
    std::vector<uint32_t> articles;
    flatten(partner_articles, &offsets, &articles);
    writer.add_owned("type_partners.offsets", offsets);
    writer.add_owned("type_partners.articles", articles);
    std::vector<Count> counts;
    flatten(partner_counts, &offsets, &counts);
    writer.add_owned("type_partners.counts", counts);

    std::vector<uint32_t> popular_articles;
    std::vector<Count> popular_counts;
    for (const auto& [article, count] : model.popular) {
        popular_articles.push_back(article);
        popular_counts.push_back(count);
    }
    writer.add_owned("popular.articles", popular_articles);
    writer.add_owned("popular.counts", popular_counts);
    articles.clear();
    flatten(model.code_articles, &offsets, &articles);
    writer.add_owned("code_articles.offsets", offsets);
    writer.add_owned("code_articles.articles", articles);

    nlohmann::json metadata;
    metadata["total_baskets"] = model.total_baskets;
    metadata["catalog_articles"] = model.catalog.size();
    metadata["catalog_ids_crc32c"] = catalog_ids_crc(model.catalog, model.catalog.size());
    metadata["settings"] = nlohmann::json::parse(settings_json, nullptr, false);
    writer.set_metadata(metadata.dump());
    LOOKBOOK_ASSIGN_OR_RETURN(
        std::string generation,
        Store::commit(store_dir, {{kRulesFileName, &writer}}, true, based_on));
    log::info("saved {} article rules and {} product-code rules in {} ({})",
              model.article_rules.size(),
              model.code_rules.size(),
              store_dir.string(),
              generation);
    return Status::ok();
}

Result<CompleteTheLookModel> load_complete_the_look(const Store& store) {
    if (!store.has_file(kRulesFileName)) {
        return Status::not_found(
            fmt::format("the store at \"{}\" has no rules yet; run `lookbook mine {}` first.",
                        store.dir().string(),
                        store.dir().string()));
    }
    LOOKBOOK_ASSIGN_OR_RETURN(ColumnFile file, store.open_file(kRulesFileName));
    CompleteTheLookModel model;
    model.catalog = catalog_from_store(store);
    const size_t catalog_size = model.catalog.size();
    const std::string mine_again =
        fmt::format("run `lookbook mine {}` again", store.dir().string());
    auto metadata = nlohmann::json::parse(file.metadata(), nullptr, false);
    if (metadata.is_discarded() || !metadata.contains("total_baskets") ||
        !metadata.contains("catalog_articles")) {
        return Status::corruption(
            fmt::format("rules file: its metadata is unreadable; {}.", mine_again));
    }
    // `ingest --append` keeps every article's row and adds new articles after them, so rules
    // mined before an append still name the right articles: the newer ones just have none yet.
    const size_t mined = metadata.value("catalog_articles", size_t{0});
    if (mined > catalog_size) {
        return Status::corruption(
            fmt::format("rules file: mined for {} articles but the store has {} (another "
                        "catalog); {}.",
                        mined,
                        catalog_size,
                        mine_again));
    }
    if (metadata.contains("catalog_ids_crc32c") &&
        metadata.value("catalog_ids_crc32c", uint32_t{0}) !=
            catalog_ids_crc(model.catalog, mined)) {
        return Status::corruption(fmt::format(
            "rules file: mined for another catalog (the ids of its {} articles differ); {}.",
            mined,
            mine_again));
    }
    model.total_baskets = metadata["total_baskets"].get<Count>();
    LOOKBOOK_RETURN_IF_ERROR(
        read_rule_set(file, "article_rules", mined, {}, catalog_size, &model.article_rules));

    std::vector<uint64_t> offsets;
    std::vector<uint32_t> articles;
    std::vector<Count> counts;
    LOOKBOOK_RETURN_IF_ERROR(read_column(file, "type_partners.offsets", &offsets));
    LOOKBOOK_RETURN_IF_ERROR(read_column(file, "type_partners.articles", &articles));
    LOOKBOOK_RETURN_IF_ERROR(read_column(file, "type_partners.counts", &counts));
    auto beyond_mined = [mined](uint32_t article) { return article >= mined; };
    if (offsets.empty() || offsets.back() != articles.size() || counts.size() != articles.size() ||
        std::any_of(articles.begin(), articles.end(), beyond_mined)) {
        return Status::corruption(fmt::format(
            "rules file: the product-type partners disagree in length or lie beyond the {} "
            "articles mined; {}.",
            mined,
            mine_again));
    }
    for (size_t type = 0; type + 1 < offsets.size(); ++type) {
        model.type_partners.emplace_back();
        for (uint64_t pos = offsets[type]; pos < offsets[type + 1]; ++pos) {
            model.type_partners.back().emplace_back(articles[pos], counts[pos]);
        }
    }
    LOOKBOOK_RETURN_IF_ERROR(read_column(file, "popular.articles", &articles));
    LOOKBOOK_RETURN_IF_ERROR(read_column(file, "popular.counts", &counts));
    for (size_t pos = 0; pos < articles.size(); ++pos) {
        model.popular.emplace_back(articles[pos], counts[pos]);
    }
    if (counts.size() != articles.size() ||
        std::any_of(articles.begin(), articles.end(), beyond_mined)) {
        return Status::corruption(fmt::format(
            "rules file: a best seller lies beyond the {} articles mined; {}.", mined, mine_again));
    }
    LOOKBOOK_RETURN_IF_ERROR(read_column(file, "code_articles.offsets", &offsets));
    LOOKBOOK_RETURN_IF_ERROR(read_column(file, "code_articles.articles", &articles));
    if (offsets.empty() || offsets.back() != articles.size()) {
        return Status::corruption(fmt::format(
            "rules file: the product codes' article lists disagree in length; {}.", mine_again));
    }
    // Every mined article is listed once, under its product code at mining time. That checks
    // that the store's first `mined` rows are the catalog mined (also for files without the
    // ids' CRC) and gives each mined code its number now: an append adds codes (an article
    // known only from sales is its own product) before the codes made from id prefixes, so
    // those shift. Codes without articles (the store's own codes of those articles, which the
    // catalog replaces by the id prefix) keep no number: no rule can name them.
    const size_t mined_codes = offsets.size() - 1;
    const size_t codes_now = model.catalog.product_code_names.size();
    constexpr uint32_t kUnset = std::numeric_limits<uint32_t>::max();
    std::vector<uint32_t> code_now(mined_codes, kUnset);
    std::vector<uint8_t> taken(codes_now, 0);
    bool codes_match = articles.size() == mined && mined_codes <= codes_now;
    for (size_t code = 0; codes_match && code < mined_codes; ++code) {
        for (uint64_t pos = offsets[code]; codes_match && pos < offsets[code + 1]; ++pos) {
            const uint32_t article = articles[pos];
            codes_match =
                article < mined &&
                (code_now[code] == kUnset || code_now[code] == model.catalog.product_code[article]);
            if (codes_match && code_now[code] == kUnset) {
                code_now[code] = model.catalog.product_code[article];
                codes_match = taken[code_now[code]] == 0;
                taken[code_now[code]] = 1;
            }
        }
    }
    if (!codes_match) {
        return Status::corruption(fmt::format(
            "rules file: its product codes do not match the store's catalog; {}.", mine_again));
    }
    model.code_articles.assign(codes_now, {});
    for (size_t code = 0; code < mined_codes; ++code) {
        if (code_now[code] == kUnset) {
            continue;
        }
        model.code_articles[code_now[code]].assign(
            articles.begin() + static_cast<ptrdiff_t>(offsets[code]),
            articles.begin() + static_cast<ptrdiff_t>(offsets[code + 1]));
    }
    bool renumbered = false;
    for (size_t code = 0; code < mined_codes; ++code) {
        renumbered = renumbered || (code_now[code] != kUnset && code_now[code] != code);
    }
    LOOKBOOK_RETURN_IF_ERROR(read_rule_set(
        file,
        "code_rules",
        mined_codes,
        renumbered ? std::span<const uint32_t>(code_now) : std::span<const uint32_t>(),
        codes_now,
        &model.code_rules));
    if (mined < catalog_size) {
        // Articles added since: listed after the mined ones of their code (no baskets yet).
        for (size_t article = mined; article < catalog_size; ++article) {
            model.code_articles[model.catalog.product_code[article]].push_back(
                static_cast<uint32_t>(article));
        }
        log::info(
            "the bought-together rules are older than the catalog: mined for {} articles, the "
            "store has {} now; the {} added since have no rules until `lookbook mine {}` runs "
            "again",
            mined,
            catalog_size,
            catalog_size - mined,
            store.dir().string());
    }
    return model;
}

}  // namespace lookbook::rules
