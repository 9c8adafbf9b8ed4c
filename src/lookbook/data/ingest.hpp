#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "lookbook/data/schema.hpp"
#include "lookbook/util/status.hpp"

namespace lookbook {

// What to do with a row that fails validation.
enum class BadRowPolicy {
    kFail,  // stop at the first bad row, name it, and leave the store untouched (default)
    kSkip,  // drop the row, count it, and write it with its reason to the rejects file
};

// What to do with a transaction whose article or customer is not in the supplied files.
enum class UnknownIdPolicy {
    kKeep,    // keep it; the article or customer is added without metadata (default: the H&M
              // sample references many articles its catalog file lacks)
    kBadRow,  // treat the row as bad (then --on-bad-row decides); checked only against the files
              // there are: the customers only when a customers file is given (appending: when
              // the store was built with one), and a stub an earlier ingest added counts as
              // missing
};

// Ages outside this range are bad values (a typo such as 420, or a birth year in the age column).
constexpr float kMinCustomerAge = 10.0f;
constexpr float kMaxCustomerAge = 120.0f;

struct IngestOptions {
    std::filesystem::path articles;      // required unless appending
    std::filesystem::path customers;     // optional
    std::filesystem::path transactions;  // optional (required when appending)
    std::filesystem::path images;        // optional folder of article photos
    std::filesystem::path store;         // required
    ColumnMapping mapping = default_column_mapping();
    BadRowPolicy bad_rows = BadRowPolicy::kFail;
    UnknownIdPolicy unknown_ids = UnknownIdPolicy::kKeep;
    // Where skipped rows go; default <store>/rejects.csv.
    std::filesystem::path rejects;
    // Adds the transactions to the store's, keeping its articles and customers.
    bool append = false;
    size_t csv_buffer_size = 1 << 20;
};

struct TableCounts {
    uint64_t rows_read = 0;  // data rows in the file
    uint64_t rows_kept = 0;
    uint64_t rows_rejected = 0;
};

struct IngestReport {
    TableCounts articles;
    TableCounts customers;
    TableCounts transactions;
    uint64_t unknown_articles = 0;      // distinct articles added without metadata
    uint64_t unknown_article_rows = 0;  // transaction rows naming them
    uint64_t unknown_customers = 0;
    uint64_t unknown_customer_rows = 0;
    uint64_t images_found = 0;
    uint64_t images_missing = 0;             // catalog articles without a photo file
    uint64_t appended_before_last_date = 0;  // appended rows dated on/before the old last date
    std::filesystem::path rejects_file;      // empty when nothing was rejected
    std::string generation;
    double seconds = 0;
    uint64_t input_bytes = 0;
};

// Reads the retailer's files, validates every row, and writes a new store generation.
// On failure (a bad row under kFail, an unreadable file, a wrong header) returns the error and
// leaves any existing store exactly as it was.
Result<IngestReport> ingest(const IngestOptions& options);

}  // namespace lookbook
