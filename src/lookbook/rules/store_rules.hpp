#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <unordered_set>
#include <vector>

#include "lookbook/rules/basket.hpp"
#include "lookbook/rules/complete_the_look.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/util/status.hpp"

namespace lookbook::rules {

// What makes one basket out of a customer's transactions.
enum class BasketKey {
    kCustomerDay,         // everything a customer bought on one day (default)
    kCustomerDayChannel,  // ... split by sales channel (shop and online apart)
    kOrder,               // one order id (only when the transactions had an order column)
};

// Parses "customer-day", "customer-day-channel" or "order" (the --basket option);
// kInvalidArgument for anything else.
Result<BasketKey> parse_basket_key(std::string_view text);

enum class ItemLevel {
    kArticle,      // item id = the store's article number
    kProductCode,  // item id = the product-code code: colour variants merged
};

struct StoreBasketOptions {
    BasketKey key = BasketKey::kCustomerDay;
    ItemLevel level = ItemLevel::kArticle;
    // Only transactions dated in [first_day, last_day] (days since 1970-01-01).
    int32_t first_day = std::numeric_limits<int32_t>::min();
    int32_t last_day = std::numeric_limits<int32_t>::max();
};

// Groups the store's transactions into baskets; an article bought twice in a basket appears
// twice (the miner counts it once). Item names are article ids (or product codes), and every
// catalog article is interned in article order, so item id == article number. kInvalidArgument
// for kOrder on a store without order ids.
Result<BasketSet> baskets_from_store(const Store& store, const StoreBasketOptions& options);

// The per-article facts the recommender uses, copied from the store's article table.
CatalogView catalog_from_store(const Store& store);

// Article numbers of the ids in a cart, in order. kNotFound naming the first id the catalog
// does not have.
Result<std::vector<uint32_t>> cart_from_ids(const Store& store,
                                            const std::vector<std::string>& article_ids);

// The article numbers listed in a text file (one id per line, blank lines skipped; spaces, tabs,
// CR, a UTF-8 byte order mark and surrounding double quotes ignored), for the allow-list filter.
// Ids the catalog does not have are skipped and counted in *unknown. kNotFound when the file cannot
// be read.
Result<std::unordered_set<uint32_t>> read_allow_list(const Store& store,
                                                     const std::filesystem::path& path,
                                                     size_t* unknown);

// The column file holding the model inside a store generation.
constexpr const char* kRulesFileName = "rules";

// Writes `model` as STORE/<generation>/rules.lbc in a new generation (other files hard-linked).
// `settings_json` is kept as metadata (how the rules were mined). `based_on` is the generation
// the model was mined from: the save fails, as Store::commit does, when the store changed since.
Status save_complete_the_look(const std::filesystem::path& store_dir,
                              const CompleteTheLookModel& model,
                              const std::string& settings_json,
                              const std::string& based_on = "");

// Reads the model saved by save_complete_the_look. kNotFound, saying to run `lookbook mine
// STORE`, when the store has no rules; kCorruption when a column is missing or inconsistent.
Result<CompleteTheLookModel> load_complete_the_look(const Store& store);

}  // namespace lookbook::rules
