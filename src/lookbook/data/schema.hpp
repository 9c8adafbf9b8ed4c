#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "lookbook/util/status.hpp"

namespace lookbook {

// The three tables a retailer supplies.
enum class TableKind { kArticles, kCustomers, kTransactions };
const char* table_name(TableKind table);

// One field of lookbook's data model and the H&M column that fills it by default.
struct FieldSpec {
    const char* name;            // lookbook's name, used in mapping files ("product_type")
    const char* default_column;  // the H&M column ("product_type_name"); "" when H&M has none
    bool required;
    const char* meaning;  // for help texts and error messages
};

// The fields of a table, in a fixed order (a field's index is its position here).
std::span<const FieldSpec> table_fields(TableKind table);

// Which column of the retailer's file fills each field, the date layout and where photos are.
// The defaults read the H&M files unchanged; a field the mapping does not name is also read
// from a column named like the field when its H&M column is absent (ingest's bind_header).
// A JSON mapping file overrides any part:
//
//   {
//     "articles":     {"id": "sku", "name": "title", "product_code": "style"},
//     "customers":    {"id": "client"},
//     "transactions": {"date": "day", "customer_id": "client", "article_id": "sku"},
//     "date_format":  "%d/%m/%Y",
//     "image_patterns": ["{id}.jpg", "{id:0:3}/{id}.png"]
//   }
//
// A field mapped to "" is treated as absent (allowed for optional fields only).
struct ColumnMapping {
    std::map<std::string, std::string> articles;
    std::map<std::string, std::string> customers;
    std::map<std::string, std::string> transactions;
    std::string date_format = "%Y-%m-%d";
    // Photo paths relative to the images folder, tried in order. {id} is the article id,
    // {id:START:LENGTH} a slice of it, {product_code} the product code.
    std::vector<std::string> image_patterns = {"{id:0:3}/{id}.jpg", "{id}.jpg", "{id}.png"};

    // The fields a mapping file names, as "table.field" ("transactions.order_id"): their
    // column is the one given, never guessed from lookbook's field name (see ingest).
    std::set<std::string> mapped_fields;

    const std::map<std::string, std::string>& columns(TableKind table) const;
    std::map<std::string, std::string>& columns(TableKind table);
    // Whether the mapping file names the field, or gives it a column other than the H&M one.
    bool is_mapped(TableKind table, const FieldSpec& field) const;
};

// The H&M mapping.
ColumnMapping default_column_mapping();

// Reads a mapping file over the defaults. Errors name the file and the key at fault and list
// the allowed keys.
Result<ColumnMapping> load_column_mapping(const std::filesystem::path& path);

// True for a relative path that stays inside its base folder: not absolute, no "..", no NUL.
bool is_contained_relative_path(std::string_view path);

// Expands an image pattern for one article; empty when the pattern is malformed.
std::string expand_image_pattern(const std::string& pattern,
                                 std::string_view id,
                                 std::string_view product_code);

}  // namespace lookbook
