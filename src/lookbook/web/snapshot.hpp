#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lookbook/rules/complete_the_look.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/util/status.hpp"
#include "lookbook/web/api_json.hpp"
#include "lookbook/web/services.hpp"

namespace lookbook::web {

// Everything a request reads from one store generation. Immutable once loaded: the server
// swaps a whole new snapshot in when CURRENT changes, and requests that started on the old
// one finish on it (their shared_ptr keeps its files mapped).
struct Snapshot {
    std::unique_ptr<Store> store;
    // Bought-together rules; empty with `rules_missing` saying why when the store has none.
    std::optional<rules::CompleteTheLookModel> rules;
    std::string rules_missing;
    Services services;
    // Catalog articles (those with metadata) in store order, and their product groups sorted.
    std::vector<uint32_t> catalog;
    std::vector<std::string> product_groups;
    std::vector<std::string> product_types;  // of catalog articles, sorted
    std::vector<std::string> colours;        // of catalog articles, sorted
    // Customers with at least one purchase, most purchases first (ties in store order): the
    // customer list of the site and of /api/customers.
    std::vector<uint32_t> customers_by_purchases;
    // The articles' fields of the API's lists of scored articles, written once (api_json.hpp).
    std::unique_ptr<const ArticleFragments> article_fragments;
};

// Builds the hooks of the other recommenders for one snapshot (store and rules are loaded when
// it is called). An empty factory leaves every hook empty.
using ServicesFactory = std::function<Services(const Snapshot& snapshot)>;

// Opens the live generation of the store at `store_dir` with its rules. kNotFound when there is
// no store; a store without rules loads (bought-together then answers 503).
Result<std::shared_ptr<const Snapshot>> load_snapshot(const std::filesystem::path& store_dir,
                                                      const ServicesFactory& factory);

}  // namespace lookbook::web
