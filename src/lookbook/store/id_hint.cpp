#include "lookbook/store/id_hint.hpp"

#include <algorithm>
#include <cctype>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "lookbook/store/store.hpp"

namespace lookbook {

namespace {

bool all_digits(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) {
        return std::isdigit(c) != 0;
    });
}

std::string_view trimmed(std::string_view text) {
    constexpr std::string_view kJunk = " \t\r\n\"'`";
    const size_t first = text.find_first_not_of(kJunk);
    if (first == std::string_view::npos) {
        return {};
    }
    return text.substr(first, text.find_last_not_of(kJunk) - first + 1);
}

std::string with_case(std::string_view text, int (*convert)(int)) {
    std::string out(text);
    for (char& c : out) {
        c = static_cast<char>(convert(static_cast<unsigned char>(c)));
    }
    return out;
}

// Repairs in the order a user most likely needs them; each builds on the trimmed id.
std::vector<std::string> repairs(std::string_view id, std::string_view example_id) {
    const std::string_view core = trimmed(id);
    std::vector<std::string> out;
    if (core.empty()) {
        return out;
    }
    if (core.size() != id.size()) {
        out.emplace_back(core);
    }
    // Zeros restored up to the example's length, the common width of the store's ids.
    if (all_digits(core) && all_digits(example_id) && core.size() < example_id.size()) {
        out.push_back(std::string(example_id.size() - core.size(), '0') + std::string(core));
    }
    out.push_back(with_case(core, [](int c) { return std::tolower(c); }));
    out.push_back(with_case(core, [](int c) { return std::toupper(c); }));
    return out;
}

}  // namespace

std::optional<std::string> repaired_id(std::string_view id,
                                       const std::function<bool(std::string_view)>& known,
                                       std::string_view example_id) {
    for (std::string& candidate : repairs(id, example_id)) {
        if (candidate != id && known(candidate)) {
            return std::move(candidate);
        }
    }
    return std::nullopt;
}

std::string unknown_id_message(std::string_view kind,
                               std::string_view where,
                               std::string_view id,
                               const std::function<bool(std::string_view)>& known,
                               std::string_view example_id) {
    if (auto candidate = repaired_id(id, known, example_id)) {
        return fmt::format(
            "{} \"{}\" is not in {}; did you mean \"{}\"?", kind, id, where, *candidate);
    }
    if (example_id.empty()) {
        return fmt::format("{} \"{}\" is not in {}, which holds no {}s.", kind, id, where, kind);
    }
    // Zero-padded numbers are the ids users most often shorten, so the reminder is for them.
    return fmt::format(
        "{} \"{}\" is not in {}; check the id ({} ids here look like \"{}\", {} "
        "characters{}).",
        kind,
        id,
        where,
        kind,
        example_id,
        example_id.size(),
        example_id.front() == '0' ? ", leading zeros included" : "");
}

std::string unknown_article_message(const ArticleTable& articles, std::string_view id) {
    return unknown_id_message(
        "article",
        "the store's catalog",
        id,
        [&](std::string_view candidate) { return articles.find(candidate).has_value(); },
        articles.size() > 0 ? articles.id(0) : std::string_view());
}

std::optional<std::string> repaired_article_id(const ArticleTable& articles, std::string_view id) {
    return repaired_id(
        id,
        [&](std::string_view candidate) { return articles.find(candidate).has_value(); },
        articles.size() > 0 ? articles.id(0) : std::string_view());
}

std::string unknown_customer_message(const CustomerTable& customers, std::string_view id) {
    return unknown_id_message(
        "customer",
        "the store",
        id,
        [&](std::string_view candidate) { return customers.find(candidate).has_value(); },
        customers.size() > 0 ? customers.id(0) : std::string_view());
}

std::string no_embeddings_message(const std::string& store_dir) {
    return fmt::format(
        "{0}: the store has no embeddings yet; run `lookbook build {0}` (it trains the catalog's "
        "own encoder and embeds every article), or `lookbook embed {0} --model DIR` with a "
        "pretrained CLIP folder.",
        store_dir);
}

}  // namespace lookbook
