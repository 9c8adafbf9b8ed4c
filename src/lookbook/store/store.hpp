#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lookbook/store/column_file.hpp"
#include "lookbook/util/status.hpp"
#include "lookbook/util/string_dictionary.hpp"

namespace lookbook {

// A store is a directory of generations. CURRENT names the live one; each generation is a
// directory of column files (articles.lbc, customers.lbc, transactions.lbc, plus files other
// components add, such as rules.lbc):
//
//   STORE/CURRENT            "gen-000003\n"
//   STORE/gen-000003/*.lbc
//
// A change writes a whole new generation into a temporary directory, renames it into place and
// then swaps CURRENT with a rename, so a reader sees the old or the new store, never a mix, and
// a failed or interrupted write leaves the old store as it was. Files a change does not touch
// are hard-linked from the previous generation, so adding rules does not copy transactions.

// How a path the store depends on (a model folder) is written into the store's files: relative
// to the store when it lies inside `store_dir`, so a copied or moved store still finds it;
// absolute (made absolute from the working directory) otherwise.
std::string path_for_store(const std::filesystem::path& store_dir,
                           const std::filesystem::path& path);

// The folder a value written by path_for_store names, for the store opened from `store_dir`: a
// relative value is resolved against the store; an absolute one is kept. Stores written before
// paths were relative hold absolute ones: when such a path no longer exists and its trailing
// part exists inside the store (".../old-store/models/encoder" and STORE/models/encoder after a
// copy), that is returned, with an info log. The result may not exist; callers report it.
std::filesystem::path resolve_store_path(const std::filesystem::path& store_dir,
                                         const std::string& recorded);

// Categorical article attributes, each stored as a dictionary and one code per article.
enum class ArticleAttribute {
    kProductCode,
    kProductType,
    kProductGroup,
    kGraphicalAppearance,
    kColour,
    kPerceivedColour,
    kPerceivedColourMaster,
    kDepartment,
    kIndex,
    kIndexGroup,
    kSection,
    kGarmentGroup,
};
constexpr size_t kArticleAttributeCount = 12;
// The column name of an attribute ("product_type").
const char* article_attribute_name(ArticleAttribute attribute);

// Codes of one categorical column and the dictionary they index.
struct CategoricalColumn {
    std::span<const uint32_t> codes;
    StringColumn values;

    uint32_t code(size_t row) const { return codes[row]; }
    std::string_view value(size_t row) const { return values.at(codes[row]); }
    size_t cardinality() const { return values.size(); }
};

// Looks ids up by text; built on first use (the store opens without hashing every id).
class IdIndex {
  public:
    explicit IdIndex(StringColumn ids) : ids_(ids) {}
    std::optional<uint32_t> find(std::string_view id) const;

  private:
    StringColumn ids_;
    mutable std::once_flag built_;
    mutable StringDictionary dictionary_;
};

// Every article the store knows: the catalog's articles (has_metadata) and articles that only
// appear in transactions (no metadata: name, attributes and description are empty, and their
// categorical codes point at the empty string).
class ArticleTable {
  public:
    static Result<std::unique_ptr<ArticleTable>> load(const ColumnFile& file);

    uint32_t size() const { return static_cast<uint32_t>(ids_.size()); }
    // The id as the retailer wrote it (leading zeros kept).
    std::string_view id(uint32_t article) const { return ids_.at(article); }
    std::optional<uint32_t> find(std::string_view id) const { return index_->find(id); }
    bool has_metadata(uint32_t article) const { return has_metadata_[article] != 0; }
    // has_metadata of every article, 1 or 0, by article row.
    std::span<const uint8_t> metadata_flags() const { return has_metadata_; }
    std::string_view name(uint32_t article) const { return names_.at(article); }
    std::string_view description(uint32_t article) const { return descriptions_.at(article); }
    // Absolute path of the article's photo, or empty when it has none.
    std::string_view image_path(uint32_t article) const { return image_paths_.at(article); }
    const CategoricalColumn& attribute(ArticleAttribute a) const {
        return attributes_[static_cast<size_t>(a)];
    }
    std::string_view product_code(uint32_t article) const {
        return attribute(ArticleAttribute::kProductCode).value(article);
    }
    std::string_view product_type(uint32_t article) const {
        return attribute(ArticleAttribute::kProductType).value(article);
    }
    std::string_view product_group(uint32_t article) const {
        return attribute(ArticleAttribute::kProductGroup).value(article);
    }
    std::string_view colour(uint32_t article) const {
        return attribute(ArticleAttribute::kColour).value(article);
    }

  private:
    StringColumn ids_;
    std::span<const uint8_t> has_metadata_;
    StringColumn names_;
    StringColumn descriptions_;
    StringColumn image_paths_;
    std::vector<CategoricalColumn> attributes_;
    std::unique_ptr<IdIndex> index_;
};

// Customers from the customers file plus customers only seen in transactions (no metadata).
class CustomerTable {
  public:
    static Result<std::unique_ptr<CustomerTable>> load(const ColumnFile& file);

    uint32_t size() const { return static_cast<uint32_t>(ids_.size()); }
    std::string_view id(uint32_t customer) const { return ids_.at(customer); }
    std::optional<uint32_t> find(std::string_view id) const { return index_->find(id); }
    bool has_metadata(uint32_t customer) const { return has_metadata_[customer] != 0; }
    // Age in years, NaN when unknown.
    float age(uint32_t customer) const { return ages_[customer]; }
    const CategoricalColumn& club_status() const { return club_status_; }
    const CategoricalColumn& news_frequency() const { return news_frequency_; }
    const CategoricalColumn& postal_code() const { return postal_code_; }

  private:
    StringColumn ids_;
    std::span<const uint8_t> has_metadata_;
    std::span<const float> ages_;
    CategoricalColumn club_status_;
    CategoricalColumn news_frequency_;
    CategoricalColumn postal_code_;
    std::unique_ptr<IdIndex> index_;
};

// Transactions sorted by (customer, date, original file order). Row r belongs to customer
// customer()[r]; customer c's rows are [customer_offsets()[c], customer_offsets()[c + 1]).
class TransactionTable {
  public:
    static Result<std::unique_ptr<TransactionTable>> load(const ColumnFile& file,
                                                          uint32_t customer_count);

    uint64_t size() const { return customers_.size(); }
    std::span<const uint32_t> customer() const { return customers_; }
    std::span<const uint32_t> article() const { return articles_; }
    // Days since 1970-01-01.
    std::span<const int32_t> date() const { return dates_; }
    std::span<const double> price() const { return prices_; }
    std::span<const uint8_t> channel() const { return channels_; }
    // Order codes, when the retailer's file had an order id column; empty otherwise.
    std::span<const uint32_t> order() const { return orders_; }
    std::span<const uint64_t> customer_offsets() const { return customer_offsets_; }

  private:
    std::span<const uint32_t> customers_;
    std::span<const uint32_t> articles_;
    std::span<const int32_t> dates_;
    std::span<const double> prices_;
    std::span<const uint8_t> channels_;
    std::span<const uint32_t> orders_;
    std::span<const uint64_t> customer_offsets_;
};

class Store {
  public:
    // Opens the live generation of the store at `dir` by memory mapping. Checks headers and
    // layout, not data checksums (see verify()). kNotFound when `dir` holds no store.
    static Result<std::unique_ptr<Store>> open(const std::filesystem::path& dir);

    // Writes a new generation of the store at `dir` holding `files` (name without ".lbc" ->
    // writer) and, when `keep_others`, hard links to every other file of the live generation.
    // Creates `dir` when it does not exist; refuses a folder that holds other things than a
    // store. On any failure the live generation is untouched. Returns the new generation's name.
    //
    // `based_on`: the generation the new files were computed from (Store::generation() of the
    // store that was read). When another process committed in between, the commit fails with
    // kAborted-style kInvalidArgument ("the store changed while ...") instead of silently
    // mixing the two (kIOError); pass "" when the new files do not depend on the store's
    // contents. Two full ingests racing each other both succeed: the later one wins.
    static Result<std::string> commit(
        const std::filesystem::path& dir,
        const std::vector<std::pair<std::string, const ColumnFileWriter*>>& files,
        bool keep_others = true,
        const std::string& based_on = "");

    // The checks commit() makes of `dir` before writing (a file, or a folder holding other
    // things than a store, is refused), for callers that want to fail before long work.
    static Status check_target(const std::filesystem::path& dir);

    const std::filesystem::path& dir() const { return dir_; }
    const std::filesystem::path& generation_dir() const { return generation_dir_; }
    const std::string& generation() const { return generation_; }

    const ArticleTable& articles() const { return *articles_; }
    const CustomerTable& customers() const { return *customers_; }
    const TransactionTable& transactions() const { return *transactions_; }
    // Metadata JSON of the core tables (ingest options, counts, source files).
    const std::string& metadata() const { return transactions_file_.metadata(); }

    // Other column files of this generation (rules, embeddings): kNotFound when absent.
    bool has_file(const std::string& name) const;
    Result<ColumnFile> open_file(const std::string& name) const;

    // Recomputes the checksum of every column of every file in the generation.
    Status verify() const;
    // Bytes of all files in the live generation.
    uint64_t size_bytes() const;

  private:
    std::filesystem::path dir_;
    std::filesystem::path generation_dir_;
    std::string generation_;
    ColumnFile articles_file_;
    ColumnFile customers_file_;
    ColumnFile transactions_file_;
    std::unique_ptr<ArticleTable> articles_;
    std::unique_ptr<CustomerTable> customers_;
    std::unique_ptr<TransactionTable> transactions_;
};

}  // namespace lookbook
