#include "lookbook/rules/basket.hpp"

#include <string>
#include <utility>

#include <fmt/format.h>

#include "lookbook/util/file.hpp"
#include "lookbook/util/log.hpp"

namespace lookbook::rules {

ItemId BasketSet::intern(std::string_view name) {
    auto it = ids_.find(name);
    if (it != ids_.end()) {
        return it->second;
    }
    auto id = static_cast<ItemId>(names_.size());
    names_.emplace_back(name);
    ids_.emplace(std::string(name), id);
    return id;
}

bool BasketSet::find(std::string_view name, ItemId* item) const {
    auto it = ids_.find(name);
    if (it == ids_.end()) {
        return false;
    }
    *item = it->second;
    return true;
}

void BasketSet::add_basket(std::span<const ItemId> items, Count weight) {
    items_.insert(items_.end(), items.begin(), items.end());
    offsets_.push_back(items_.size());
    weights_.push_back(weight);
    total_weight_ += weight;
}

void BasketSet::add_named_basket(const std::vector<std::string>& names, Count weight) {
    std::vector<ItemId> ids;
    ids.reserve(names.size());
    for (const auto& name : names) {
        ids.push_back(intern(name));
    }
    add_basket(ids, weight);
}

void BasketSet::reserve(size_t baskets, size_t occurrences) {
    offsets_.reserve(baskets + 1);
    weights_.reserve(baskets);
    items_.reserve(occurrences);
}

Result<BasketFileFormat> parse_basket_file_format(std::string_view text) {
    if (text == "auto") {
        return BasketFileFormat::kAuto;
    }
    if (text == "fimi") {
        return BasketFileFormat::kFimi;
    }
    if (text == "names") {
        return BasketFileFormat::kNames;
    }
    return Status::invalid_argument(
        fmt::format("--format is \"{}\"; expected auto, fimi (numbers separated by spaces) or "
                    "names (names separated by commas).",
                    text));
}

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// Cuts a token at 40 characters so a corrupt file does not flood the terminal.
std::string shorten(std::string_view token) {
    if (token.size() <= 40) {
        return std::string(token);
    }
    return std::string(token.substr(0, 37)) + "...";
}

// FIMI lines: whole numbers separated by blanks. Numbers are mapped through a plain array (the
// FIMI files number their items densely), which is several times faster than hashing names.
Status parse_fimi(std::string_view text, const std::string& source, BasketSet* baskets) {
    std::vector<ItemId> id_of_number;
    std::vector<ItemId> basket;
    const char* p = text.data();
    const char* end = p + text.size();
    size_t line_no = 0;
    while (p < end) {
        ++line_no;
        basket.clear();
        while (p < end && *p != '\n') {
            if (is_blank(*p)) {
                ++p;
                continue;
            }
            const char* start = p;
            uint64_t number = 0;
            while (p < end && *p >= '0' && *p <= '9') {
                number = number * 10 + static_cast<uint64_t>(*p - '0');
                // Past 2^32 the number cannot be an item id; stop before it overflows.
                if (number > 0xFFFFFFFEull) {
                    break;
                }
                ++p;
            }
            if (p == start || (p < end && !is_blank(*p) && *p != '\n')) {
                const char* token_end = start;
                while (token_end < end && !is_blank(*token_end) && *token_end != '\n') {
                    ++token_end;
                }
                return Status::invalid_data(fmt::format(
                    "{}:{}: item \"{}\" is not a whole number from 0 to 4294967294; a FIMI basket "
                    "file holds item "
                    "numbers separated by spaces. Fix the line, or read the file as names "
                    "separated by commas (--format names).",
                    source,
                    line_no,
                    shorten(std::string_view(start, static_cast<size_t>(token_end - start)))));
            }
            // Numbers far apart would make the array huge; those go through the dictionary.
            if (number < (1u << 24)) {
                if (number >= id_of_number.size()) {
                    id_of_number.resize(number + 1, UINT32_MAX);
                }
                ItemId& id = id_of_number[number];
                if (id == UINT32_MAX) {
                    id = baskets->intern(std::to_string(number));
                }
                basket.push_back(id);
            } else {
                basket.push_back(baskets->intern(std::to_string(number)));
            }
        }
        baskets->add_basket(basket);
        ++p;  // the '\n'
    }
    return Status::ok();
}

// Names lines: names separated by commas, blanks around each name trimmed.
Status parse_names(std::string_view text, const std::string& source, BasketSet* baskets) {
    std::vector<ItemId> basket;
    size_t pos = 0;
    size_t line_no = 0;
    while (pos < text.size()) {
        ++line_no;
        size_t eol = text.find('\n', pos);
        if (eol == std::string_view::npos) {
            eol = text.size();
        }
        std::string_view line = text.substr(pos, eol - pos);
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        basket.clear();
        bool blank_line = line.find_first_not_of(" \t") == std::string_view::npos;
        size_t start = 0;
        while (!blank_line) {
            size_t comma = line.find(',', start);
            std::string_view name = line.substr(
                start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
            while (!name.empty() && is_blank(name.front())) {
                name.remove_prefix(1);
            }
            while (!name.empty() && is_blank(name.back())) {
                name.remove_suffix(1);
            }
            if (name.empty()) {
                return Status::invalid_data(fmt::format(
                    "{}:{}: empty item name at column {} (two commas in a row, or a comma at "
                    "the start or end of the line). Remove the extra comma.",
                    source,
                    line_no,
                    start + 1));
            }
            basket.push_back(baskets->intern(name));
            if (comma == std::string_view::npos) {
                break;
            }
            start = comma + 1;
        }
        baskets->add_basket(basket);
        pos = eol + 1;
    }
    return Status::ok();
}

}  // namespace

Result<BasketSet> parse_baskets(std::string_view text,
                                BasketFileFormat format,
                                const std::string& source_name) {
    // A UTF-8 byte order mark (spreadsheets and Windows editors write one) is not part of the
    // first item.
    if (text.starts_with("\xEF\xBB\xBF")) {
        text.remove_prefix(3);
    }
    if (format == BasketFileFormat::kAuto) {
        format = text.find(',') != std::string_view::npos ? BasketFileFormat::kNames
                                                          : BasketFileFormat::kFimi;
    }

    // About 4 bytes per occurrence in FIMI files; reserving avoids most regrowth copies.
    BasketSet baskets;
    baskets.reserve(text.size() / 40 + 16, text.size() / 4 + 16);
    Status status = format == BasketFileFormat::kFimi ? parse_fimi(text, source_name, &baskets)
                                                      : parse_names(text, source_name, &baskets);
    LOOKBOOK_RETURN_IF_ERROR(status);
    return baskets;
}

Result<BasketSet> read_basket_file(const std::filesystem::path& path, BasketFileFormat format) {
    auto mapped = MappedFile::open(path);
    if (!mapped.is_ok()) {
        if (mapped.status().code() == StatusCode::kNotFound) {
            return Status::not_found(
                fmt::format("basket file \"{}\" does not exist; check the path given to --baskets.",
                            path.string()));
        }
        return mapped.status();
    }
    LOOKBOOK_ASSIGN_OR_RETURN(BasketSet baskets,
                              parse_baskets(mapped->view(), format, path.filename().string()));
    log::info("read {} baskets over {} items from {}",
              baskets.size(),
              baskets.item_count(),
              path.string());
    return baskets;
}

}  // namespace lookbook::rules
