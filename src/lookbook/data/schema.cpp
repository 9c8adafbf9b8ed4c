#include "lookbook/data/schema.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lookbook/data/fields.hpp"
#include "lookbook/util/file.hpp"

namespace lookbook {
namespace {

constexpr FieldSpec kArticleFields[] = {
    {"id", "article_id", true, "article id, kept as text (leading zeros matter)"},
    {"product_code", "product_code", false, "product (style) code shared by colour variants"},
    {"name", "prod_name", false, "product name"},
    {"product_type", "product_type_name", false, "product type (Trousers, Sweater)"},
    {"product_group", "product_group_name", false, "product group (Garment Upper body)"},
    {"graphical_appearance", "graphical_appearance_name", false, "pattern (Solid, Stripe)"},
    {"colour", "colour_group_name", false, "colour (Black)"},
    {"perceived_colour", "perceived_colour_value_name", false, "perceived colour value (Dark)"},
    {"perceived_colour_master", "perceived_colour_master_name", false, "colour family"},
    {"department", "department_name", false, "department"},
    {"index", "index_name", false, "index (Ladieswear, Divided)"},
    {"index_group", "index_group_name", false, "index group"},
    {"section", "section_name", false, "section"},
    {"garment_group", "garment_group_name", false, "garment group"},
    {"description", "detail_desc", false, "free-text description"},
    {"image", "", false, "photo path relative to --images (else image_patterns are tried)"},
};

constexpr FieldSpec kCustomerFields[] = {
    {"id", "customer_id", true, "customer id"},
    {"age", "age", false, "age in years (empty when unknown)"},
    {"club_status", "club_member_status", false, "loyalty club status"},
    {"news_frequency", "fashion_news_frequency", false, "newsletter frequency"},
    {"postal_code", "postal_code", false, "postal code (or a hash of it)"},
};

constexpr FieldSpec kTransactionFields[] = {
    {"date", "t_dat", true, "purchase date"},
    {"customer_id", "customer_id", true, "customer id"},
    {"article_id", "article_id", true, "article id"},
    {"price", "price", false, "price paid (a number >= 0)"},
    {"channel", "sales_channel_id", false, "sales channel as a small integer (0-255)"},
    {"order_id", "", false, "order or receipt id, when the data has one"},
};

std::string allowed_fields(TableKind table) {
    std::string out;
    for (const auto& f : table_fields(table)) {
        out += out.empty() ? "" : ", ";
        out += f.name;
    }
    return out;
}

}  // namespace

const char* table_name(TableKind table) {
    switch (table) {
        case TableKind::kArticles:
            return "articles";
        case TableKind::kCustomers:
            return "customers";
        case TableKind::kTransactions:
            return "transactions";
    }
    return "?";
}

std::span<const FieldSpec> table_fields(TableKind table) {
    switch (table) {
        case TableKind::kArticles:
            return kArticleFields;
        case TableKind::kCustomers:
            return kCustomerFields;
        case TableKind::kTransactions:
            return kTransactionFields;
    }
    return {};
}

const std::map<std::string, std::string>& ColumnMapping::columns(TableKind table) const {
    return table == TableKind::kArticles    ? articles
           : table == TableKind::kCustomers ? customers
                                            : transactions;
}

std::map<std::string, std::string>& ColumnMapping::columns(TableKind table) {
    return table == TableKind::kArticles    ? articles
           : table == TableKind::kCustomers ? customers
                                            : transactions;
}

bool ColumnMapping::is_mapped(TableKind table, const FieldSpec& field) const {
    return columns(table).at(field.name) != field.default_column ||
           mapped_fields.count(fmt::format("{}.{}", table_name(table), field.name)) > 0;
}

ColumnMapping default_column_mapping() {
    ColumnMapping mapping;
    for (TableKind table :
         {TableKind::kArticles, TableKind::kCustomers, TableKind::kTransactions}) {
        for (const auto& f : table_fields(table)) {
            mapping.columns(table)[f.name] = f.default_column;
        }
    }
    return mapping;
}

Result<ColumnMapping> load_column_mapping(const std::filesystem::path& path) {
    LOOKBOOK_ASSIGN_OR_RETURN(std::string text, read_file(path));
    ColumnMapping mapping = default_column_mapping();
    nlohmann::json doc;
    try {
        doc = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        return Status::invalid_argument(
            fmt::format("{}: not valid JSON at byte {}: {}", path.string(), e.byte, e.what()));
    }
    if (!doc.is_object()) {
        return Status::invalid_argument(
            fmt::format("{}: expected a JSON object with keys articles, customers, "
                        "transactions, date_format, image_patterns",
                        path.string()));
    }
    for (const auto& [key, value] : doc.items()) {
        TableKind table;
        if (key == "articles") {
            table = TableKind::kArticles;
        } else if (key == "customers") {
            table = TableKind::kCustomers;
        } else if (key == "transactions") {
            table = TableKind::kTransactions;
        } else if (key == "date_format") {
            if (!value.is_string()) {
                return Status::invalid_argument(fmt::format(
                    "{}: \"date_format\" must be a string such as \"%d/%m/%Y\"", path.string()));
            }
            LOOKBOOK_ASSIGN_OR_RETURN(DateFormat format,
                                      DateFormat::parse(value.get<std::string>()));
            mapping.date_format = format.layout();
            continue;
        } else if (key == "image_patterns") {
            if (!value.is_array() || value.empty()) {
                return Status::invalid_argument(fmt::format(
                    "{}: \"image_patterns\" must be a non-empty list of strings such as "
                    "[\"{{id}}.jpg\"]",
                    path.string()));
            }
            mapping.image_patterns.clear();
            for (const auto& p : value) {
                if (!p.is_string() ||
                    expand_image_pattern(p.get<std::string>(), "0", "0").empty()) {
                    return Status::invalid_argument(fmt::format(
                        "{}: image pattern {} is not valid; use {{id}}, {{id:START:LENGTH}} or "
                        "{{product_code}} inside a relative path",
                        path.string(),
                        p.dump()));
                }
                mapping.image_patterns.push_back(p.get<std::string>());
            }
            continue;
        } else {
            return Status::invalid_argument(fmt::format(
                "{}: unknown key \"{}\"; allowed keys are articles, customers, transactions, "
                "date_format, image_patterns",
                path.string(),
                key));
        }
        if (!value.is_object()) {
            return Status::invalid_argument(
                fmt::format("{}: \"{}\" must map lookbook field names to your column names",
                            path.string(),
                            key));
        }
        auto& columns = mapping.columns(table);
        for (const auto& [field, column] : value.items()) {
            if (columns.count(field) == 0) {
                return Status::invalid_argument(
                    fmt::format("{}: \"{}\" has no field \"{}\"; its fields are {}",
                                path.string(),
                                key,
                                field,
                                allowed_fields(table)));
            }
            if (!column.is_string()) {
                return Status::invalid_argument(fmt::format(
                    "{}: {}.{} must be a column name (a string)", path.string(), key, field));
            }
            columns[field] = column.get<std::string>();
            mapping.mapped_fields.insert(fmt::format("{}.{}", key, field));
        }
        for (const auto& f : table_fields(table)) {
            if (f.required && columns[f.name].empty()) {
                return Status::invalid_argument(
                    fmt::format("{}: {}.{} is required and cannot be mapped to \"\"",
                                path.string(),
                                key,
                                f.name));
            }
        }
    }
    return mapping;
}

std::string expand_image_pattern(const std::string& pattern,
                                 std::string_view id,
                                 std::string_view product_code) {
    std::string out;
    size_t i = 0;
    while (i < pattern.size()) {
        if (pattern[i] != '{') {
            out.push_back(pattern[i++]);
            continue;
        }
        size_t close = pattern.find('}', i);
        if (close == std::string::npos) {
            return "";
        }
        std::string token = pattern.substr(i + 1, close - i - 1);
        i = close + 1;
        if (token == "id") {
            out.append(id);
        } else if (token == "product_code") {
            out.append(product_code);
        } else if (token.rfind("id:", 0) == 0) {
            size_t colon = token.find(':', 3);
            if (colon == std::string::npos) {
                return "";
            }
            auto start = parse_int(token.substr(3, colon - 3));
            auto length = parse_int(token.substr(colon + 1));
            if (!start || !length || *start < 0 || *length <= 0) {
                return "";
            }
            if (static_cast<size_t>(*start) < id.size()) {
                out.append(id.substr(static_cast<size_t>(*start), static_cast<size_t>(*length)));
            }
        } else {
            return "";
        }
    }
    return is_contained_relative_path(out) ? out : "";
}

bool is_contained_relative_path(std::string_view path) {
    return !path.empty() && path.front() != '/' && path.find("..") == std::string_view::npos &&
           path.find('\0') == std::string_view::npos;
}

}  // namespace lookbook
