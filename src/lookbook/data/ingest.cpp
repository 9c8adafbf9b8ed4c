#include "lookbook/data/ingest.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <limits>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <sys/resource.h>

#include "lookbook/data/column_pool.hpp"
#include "lookbook/data/csv_reader.hpp"
#include "lookbook/data/fields.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/util/date.hpp"
#include "lookbook/util/file.hpp"
#include "lookbook/util/log.hpp"
#include "lookbook/util/progress.hpp"
#include "lookbook/util/string_dictionary.hpp"

namespace lookbook {
namespace fs = std::filesystem;
namespace {

// Quotes at most `limit` bytes of a value, so that a runaway field cannot flood the terminal.
std::string shorten(std::string_view text, size_t limit = 80) {
    return text.size() <= limit ? std::string(text) : std::string(text.substr(0, limit)) + "...";
}

constexpr const char* kSkipHint = " Fix the row, or rerun with --on-bad-row skip to set it aside.";

// Logs the wall and CPU time of each step of an ingest at debug level: on a shared machine the
// CPU time says where one core's time goes, which the wall clock does not.
class StepTimer {
  public:
    StepTimer() : wall_(std::chrono::steady_clock::now()), cpu_(cpu_seconds()) {}

    void lap(const char* step) {
        auto now = std::chrono::steady_clock::now();
        double cpu = cpu_seconds();
        log::debug("ingest: {} took {:.3f}s wall, {:.3f}s CPU; resident {:.0f} MB, peak {:.0f} MB",
                   step,
                   std::chrono::duration<double>(now - wall_).count(),
                   cpu - cpu_,
                   static_cast<double>(current_rss_bytes()) / 1e6,
                   static_cast<double>(peak_rss_bytes()) / 1e6);
        wall_ = now;
        cpu_ = cpu;
    }

  private:
    static double cpu_seconds() {
        struct rusage usage {};
        getrusage(RUSAGE_SELF, &usage);
        return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
               static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    }

    std::chrono::steady_clock::time_point wall_;
    double cpu_;
};

// Strings appended one after another, as a store string column.
struct TextColumn {
    std::string bytes;
    std::vector<uint64_t> offsets{0};

    void push(std::string_view text) {
        bytes.append(text);
        offsets.push_back(bytes.size());
    }
    std::string_view at(size_t i) const {
        return std::string_view(bytes.data() + offsets[i], offsets[i + 1] - offsets[i]);
    }
};

struct CategoricalBuilder {
    StringDictionary dictionary;
    std::vector<uint32_t> codes;

    // Rows often repeat the previous row's value (a column the file lacks is "" on every row,
    // and catalogs come grouped by product): that value's code is reused without hashing it.
    void push(std::string_view value) {
        if (!codes.empty() && value == dictionary.at(codes.back())) {
            codes.push_back(codes.back());
            return;
        }
        codes.push_back(dictionary.intern(value));
    }
    void add_to(ColumnFileWriter& writer, const std::string& name) const {
        writer.add(name, codes);
        writer.add_strings(name + ".dict", dictionary.offsets(), dictionary.arena());
    }
};

// Field indices into table_fields(); kept in step with schema.cpp's tables.
enum ArticleField {
    kArticleId,
    kProductCode,
    kArticleName,
    kFirstAttribute = kProductCode,
    kDescription = 14,
    kImage = 15,
};
enum CustomerField { kCustomerId, kAge, kClubStatus, kNewsFrequency, kPostalCode };
enum TransactionField { kDate, kTxCustomer, kTxArticle, kPrice, kChannel, kOrder };

// Article attributes in ArticleAttribute order, as field indices.
constexpr std::array<int, kArticleAttributeCount> kAttributeFields = {
    1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};

struct ArticleBuilder {
    StringDictionary ids;
    std::vector<uint8_t> has_metadata;
    std::vector<uint64_t> first_line;  // line of the catalog row, 0 for stubs
    TextColumn names;
    TextColumn descriptions;
    TextColumn image_paths;
    std::array<CategoricalBuilder, kArticleAttributeCount> attributes;

    uint32_t add_stub(std::string_view id) {
        uint32_t code = ids.intern(id);
        has_metadata.push_back(0);
        first_line.push_back(0);
        names.push("");
        descriptions.push("");
        image_paths.push("");
        // Without a catalog row the article is its own product, as for a row with no code.
        attributes[0].push(id);
        for (size_t i = 1; i < attributes.size(); ++i) {
            attributes[i].push("");
        }
        return code;
    }
    void write(ColumnFileWriter& writer, const std::string& metadata) const {
        writer.add_strings("id", ids.offsets(), ids.arena());
        writer.add("has_metadata", has_metadata);
        writer.add_strings("name", names.offsets, names.bytes);
        writer.add_strings("description", descriptions.offsets, descriptions.bytes);
        writer.add_strings("image_path", image_paths.offsets, image_paths.bytes);
        for (size_t a = 0; a < kArticleAttributeCount; ++a) {
            attributes[a].add_to(writer, article_attribute_name(static_cast<ArticleAttribute>(a)));
        }
        writer.set_metadata(metadata);
    }
};

struct CustomerBuilder {
    StringDictionary ids;
    std::vector<uint8_t> has_metadata;
    std::vector<float> ages;
    CategoricalBuilder club_status;
    CategoricalBuilder news_frequency;
    CategoricalBuilder postal_code;
    std::vector<uint64_t> first_line;

    uint32_t add_stub(std::string_view id) {
        uint32_t code = ids.intern(id);
        has_metadata.push_back(0);
        ages.push_back(std::numeric_limits<float>::quiet_NaN());
        club_status.push("");
        news_frequency.push("");
        postal_code.push("");
        first_line.push_back(0);
        return code;
    }
    void write(ColumnFileWriter& writer) const {
        writer.add_strings("id", ids.offsets(), ids.arena());
        writer.add("has_metadata", has_metadata);
        writer.add("age", ages);
        club_status.add_to(writer, "club_status");
        news_frequency.add_to(writer, "news_frequency");
        postal_code.add_to(writer, "postal_code");
    }
};

struct TransactionBuilder {
    // First, so that it outlives the columns that borrow from it.
    std::unique_ptr<ColumnPool> pool = std::make_unique<ColumnPool>();
    PooledColumn<uint32_t> customers = column<uint32_t>();
    PooledColumn<uint32_t> articles = column<uint32_t>();
    PooledColumn<int32_t> dates = column<int32_t>();
    PooledColumn<double> prices = column<double>();
    PooledColumn<uint8_t> channels = column<uint8_t>();
    PooledColumn<uint32_t> orders = column<uint32_t>();
    StringDictionary order_ids;
    bool has_orders = false;

    template <typename T>
    PooledColumn<T> column() {
        return PooledColumn<T>(PooledAllocator<T>(pool.get()));
    }
};

// Writes skipped rows, with their file, line and reason, to a CSV file opened on first use.
// Rows go to "<path>.tmp", renamed over <path> only when the ingest succeeds (finish()), so a
// failed ingest leaves the previous rejects file as it was.
class RejectSink {
  public:
    explicit RejectSink(fs::path path) : path_(std::move(path)), tmp_(path_.string() + ".tmp") {}
    ~RejectSink() { discard(); }

    Status add(const std::string& file,
               uint64_t line,
               const std::string& reason,
               std::string_view raw) {
        if (!out_.is_open()) {
            out_.open(tmp_, std::ios::binary | std::ios::trunc);
            if (!out_) {
                return Status::io_error(tmp_.string() + ": cannot create the rejects file");
            }
            out_ << "file,line,reason,row\n";
        }
        out_ << quote(file) << ',' << line << ',' << quote(reason) << ',' << quote(raw) << '\n';
        ++count_;
        return out_ ? Status::ok() : write_failed();
    }
    // Flushes the rows; an error when any write failed (disk full). Call before committing.
    Status flush() {
        if (!out_.is_open()) {
            return Status::ok();
        }
        out_.flush();
        bool good = static_cast<bool>(out_);
        out_.close();
        return good && !out_.fail() ? Status::ok() : write_failed();
    }
    // Moves the flushed rows into place; call once the ingest has committed.
    Status publish() {
        if (count_ == 0) {
            return Status::ok();
        }
        std::error_code ec;
        fs::rename(tmp_, path_, ec);
        if (ec) {
            return Status::io_error(fmt::format(
                "{}: cannot move the rejects file into place: {}", path_.string(), ec.message()));
        }
        return Status::ok();
    }
    void discard() {
        if (out_.is_open()) {
            out_.close();
        }
        std::error_code ec;
        fs::remove(tmp_, ec);
    }
    uint64_t count() const { return count_; }
    const fs::path& path() const { return path_; }

  private:
    static std::string quote(std::string_view text) {
        std::string out = "\"";
        for (char c : text) {
            out += c;
            if (c == '"') {
                out += '"';
            }
        }
        out += '"';
        return out;
    }

    Status write_failed() const {
        return Status::io_error(fmt::format(
            "{}: writing the rejected rows failed (is the disk full?); nothing was ingested.",
            path_.string()));
    }

    fs::path path_;
    fs::path tmp_;
    std::ofstream out_;
    uint64_t count_ = 0;
};

// The file column of each field of a table; -1 when the field is absent from the file.
struct HeaderBinding {
    std::vector<int> columns;
    std::vector<std::string> column_names;  // header as found, for messages
    size_t width = 0;

    std::string_view get(const std::vector<std::string_view>& fields, int field) const {
        int c = columns[static_cast<size_t>(field)];
        return c < 0 ? std::string_view() : trim(fields[static_cast<size_t>(c)]);
    }
    bool has(int field) const { return columns[static_cast<size_t>(field)] >= 0; }
    const std::string& name(int field) const {
        return column_names[static_cast<size_t>(columns[static_cast<size_t>(field)])];
    }
};

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
        return static_cast<char>(std::tolower(c));
    });
    return out;
}

// The column names that may fill field `f` of `table`, in order of preference: the mapped
// column, or when the mapping does not name the field, its H&M column (if H&M has one) and then
// lookbook's own field name ("colour_group_name", then "colour"). Empty when the mapping maps
// the field to "" (absent).
std::vector<std::string> accepted_columns(TableKind table,
                                          const ColumnMapping& mapping,
                                          const FieldSpec& f) {
    const std::string& wanted = mapping.columns(table).at(f.name);
    std::vector<std::string> names;
    if (!wanted.empty()) {
        names.push_back(wanted);
    }
    if (!mapping.is_mapped(table, f) && lower(wanted) != lower(f.name)) {
        names.emplace_back(f.name);
    }
    return names;
}

// `names` quoted and joined with "or": "t_dat" or "date".
std::string quoted_alternatives(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& name : names) {
        out += fmt::format("{}\"{}\"", out.empty() ? "" : " or ", name);
    }
    return out;
}

// The index of the column called `name` in `header` (ignoring case), or -1. A name found twice
// is an error: taking the first silently could read, say, a net price where the gross one was
// meant.
Result<int> find_column(const std::vector<std::string>& header,
                        const std::string& name,
                        const FieldSpec& f,
                        const std::string& file) {
    int found = -1;
    for (size_t c = 0; c < header.size(); ++c) {
        if (lower(header[c]) != lower(name)) {
            continue;
        }
        if (found >= 0) {
            return Status::invalid_data(fmt::format(
                "{}:1: the header names the column \"{}\" twice (columns {} and {}), so it "
                "is unclear which one holds the {}. Rename or remove one of them, or map the "
                "field {} to another column with --mapping FILE (see README).",
                file,
                name,
                found + 1,
                c + 1,
                f.meaning,
                f.name));
        }
        found = static_cast<int>(c);
    }
    return found;
}

// Reads the header line and finds each field's column (ignoring case and surrounding spaces):
// the mapped column, else for a field the mapping leaves at its H&M name, a column named like
// the lookbook field (see accepted_columns). No column fills two fields. `appending`: the
// order_id field is not looked for under its own name, as --append cannot add order ids.
Result<HeaderBinding> bind_header(CsvReader& reader,
                                  TableKind table,
                                  const ColumnMapping& mapping,
                                  const std::string& option,
                                  bool appending) {
    const auto fields = table_fields(table);
    if (!reader.next()) {
        LOOKBOOK_RETURN_IF_ERROR(reader.status());
        std::vector<std::string> expected;
        for (const auto& f : fields) {
            if (f.required) {
                expected.push_back(quoted_alternatives(accepted_columns(table, mapping, f)));
            }
        }
        std::string row_kind = table_name(table);
        row_kind.pop_back();  // "articles" -> "article"
        return Status::invalid_data(fmt::format(
            "{}: the file is empty; expected a header line naming at least the columns {} and "
            "then one row per {} (passed as {}).",
            reader.name(),
            fmt::join(expected, ", "),
            row_kind,
            option));
    }
    HeaderBinding binding;
    binding.width = reader.fields().size();
    for (auto f : reader.fields()) {
        // A carriage return inside the header means the file ends its lines with CR alone (old
        // Mac exports): the whole file would read as one header line and no rows.
        if (f.find('\r') != std::string_view::npos) {
            return Status::invalid_data(fmt::format(
                "{}:1: the lines end with a lone carriage return (CR), so the file reads as one "
                "line. Convert it to LF or CRLF line ends (for example `tr '\\r' '\\n'`).",
                reader.name()));
        }
        binding.column_names.emplace_back(trim(f));
    }
    const std::string& file = reader.name();
    // A transactions file passed as the articles or customers file binds (it has an article
    // and a customer id column) and then fails on its second row as a "duplicate id": say
    // what it is instead (fresh-user trial).
    if (table != TableKind::kTransactions) {
        std::vector<std::string> sales_columns;
        for (const auto& f : table_fields(TableKind::kTransactions)) {
            if (!f.required) {
                continue;
            }
            for (const auto& name : accepted_columns(TableKind::kTransactions, mapping, f)) {
                auto at =
                    std::find_if(binding.column_names.begin(),
                                 binding.column_names.end(),
                                 [&](const std::string& c) { return lower(c) == lower(name); });
                if (at != binding.column_names.end()) {
                    sales_columns.push_back(fmt::format("\"{}\"", *at));
                    break;
                }
            }
        }
        if (sales_columns.size() == 3) {
            return Status::invalid_data(fmt::format(
                "{}:1: the header has the date, customer and article columns of a transactions "
                "file ({}). Is this the transactions file? Pass it as --transactions and the {} "
                "file as {}.",
                file,
                fmt::join(sales_columns, ", "),
                table_name(table),
                option));
        }
    }

    // The mapped (or H&M) columns first, then lookbook's field names for the fields still
    // without one, so that a field's own name never takes a column another field was given.
    binding.columns.assign(fields.size(), -1);
    std::vector<int> field_of_column(binding.column_names.size(), -1);
    for (size_t i = 0; i < fields.size(); ++i) {
        const std::string& wanted = mapping.columns(table).at(fields[i].name);
        if (wanted.empty()) {
            continue;
        }
        LOOKBOOK_ASSIGN_OR_RETURN(int found,
                                  find_column(binding.column_names, wanted, fields[i], file));
        binding.columns[i] = found;
        if (found >= 0) {
            field_of_column[static_cast<size_t>(found)] = static_cast<int>(i);
        }
    }
    std::vector<std::string> read_by_own_name;
    for (size_t i = 0; i < fields.size(); ++i) {
        const FieldSpec& f = fields[i];
        const auto names = accepted_columns(table, mapping, f);
        if (names.empty() || names.back() != f.name || mapping.is_mapped(table, f)) {
            continue;  // mapped by the user, or named the same in both
        }
        auto own_found = find_column(binding.column_names, f.name, f, file);
        // Beside the H&M column, a column named like the field is only mentioned: being named
        // twice makes nothing unclear then. Without it, an optional field stays empty, as it
        // did before field names were read (break-it review: such files were refused).
        if (!own_found.is_ok() && binding.columns[i] < 0) {
            if (f.required) {
                return own_found.status();
            }
            log::warn(
                "{}; the optional field {} stays empty", own_found.status().message(), f.name);
            continue;
        }
        const int own = own_found.is_ok() ? *own_found : -1;
        if (own < 0) {
            continue;
        }
        const int holder = field_of_column[static_cast<size_t>(own)];
        if (binding.columns[i] >= 0) {
            if (holder < 0) {
                log::info(
                    "{}: the columns \"{}\" and \"{}\" both exist; the field {} is read from "
                    "\"{}\" (the H&M name comes first; map the field with --mapping FILE to read "
                    "\"{}\")",
                    file,
                    binding.name(static_cast<int>(i)),
                    binding.column_names[static_cast<size_t>(own)],
                    f.name,
                    binding.name(static_cast<int>(i)),
                    binding.column_names[static_cast<size_t>(own)]);
            }
            continue;
        }
        if (holder >= 0) {
            log::info("{}: the column \"{}\" is read as the field {}, so not as the field {}",
                      file,
                      binding.column_names[static_cast<size_t>(own)],
                      fields[static_cast<size_t>(holder)].name,
                      f.name);
            continue;
        }
        if (appending && table == TableKind::kTransactions &&
            std::string_view(f.name) == "order_id") {
            log::warn(
                "{}: the column \"{}\" is ignored: --append cannot add order ids yet (run a full "
                "ingest to keep them)",
                file,
                binding.column_names[static_cast<size_t>(own)]);
            continue;
        }
        binding.columns[i] = own;
        field_of_column[static_cast<size_t>(own)] = static_cast<int>(i);
        read_by_own_name.emplace_back(f.name);
    }
    if (!read_by_own_name.empty()) {
        log::info("{}: the H&M columns being absent, read from columns named like the field: {}",
                  file,
                  fmt::join(read_by_own_name, ", "));
    }

    std::string missing;
    std::vector<std::string> absent_optional;
    for (size_t i = 0; i < fields.size(); ++i) {
        const FieldSpec& f = fields[i];
        if (binding.columns[i] >= 0) {
            continue;
        }
        const std::string& wanted = mapping.columns(table).at(f.name);
        const bool mapped_by_user = mapping.is_mapped(table, f);
        if (f.required) {
            missing += fmt::format("{}{} (lookbook field {})",
                                   missing.empty() ? "" : ", ",
                                   quoted_alternatives(accepted_columns(table, mapping, f)),
                                   f.name);
        } else if (mapped_by_user && !wanted.empty()) {
            // The mapping file asked for this column: a typo there must not leave a field
            // empty with only a warning among the optional ones (fresh-user trial).
            std::string header = fmt::format("{}", fmt::join(binding.column_names, ","));
            return Status::invalid_data(fmt::format(
                "{}:1: the mapping maps the field {} ({}) to the column \"{}\", which the "
                "header lacks. The header found is: {}. Correct the column name in the "
                "mapping file, or remove the field from it to leave the field empty.",
                file,
                f.name,
                f.meaning,
                wanted,
                shorten(header, 300)));
        } else if (!wanted.empty()) {
            absent_optional.push_back(fmt::format(
                "{} ({})", f.name, quoted_alternatives(accepted_columns(table, mapping, f))));
        }
    }
    if (!absent_optional.empty()) {
        log::warn(
            "{}: no column for the optional field{} {}; {} empty (map other column names "
            "with --mapping FILE)",
            file,
            absent_optional.size() == 1 ? "" : "s",
            fmt::join(absent_optional, ", "),
            absent_optional.size() == 1 ? "it stays" : "they stay");
    }
    if (!missing.empty()) {
        std::string header = fmt::format("{}", fmt::join(binding.column_names, ","));
        return Status::invalid_data(fmt::format(
            "{}:1: the header lacks the column {}. The header found is: {}. Is this the {} file? "
            "If your columns have other names, map them with --mapping FILE (see README).",
            file,
            missing,
            shorten(header, 300),
            table_name(table)));
    }
    return binding;
}

struct Context {
    const IngestOptions& options;
    RejectSink rejects;
    IngestReport report;
    ArticleBuilder articles;
    CustomerBuilder customers;
    TransactionBuilder transactions;
    DateFormat date_format;
    std::string based_on;  // the generation an append read, to detect concurrent writers
    // The last day a transaction may carry: tomorrow by this machine's clock (one day of slack
    // for time zones). After the braced members, so the initialisation below keeps this value.
    int32_t latest_day = static_cast<int32_t>(std::time(nullptr) / 86'400) + 1;
    // Codes below these all have metadata (catalog rows are coded before any stub), so counting
    // the rows that name unknown ids reads has_metadata only for the few codes above them: a
    // random read per row of a large table costs a cache miss.
    uint32_t articles_described = 0;
    uint32_t customers_described = 0;
    // Under --unknown-ids bad-row, whether a transaction's article (customer) must have a row in
    // an articles (customers) file: one given to this ingest, or, when appending, the one the
    // store was built from. Without such a file there is nothing to check against.
    bool check_articles = false;
    bool check_customers = false;
};

// Applies the bad-row policy to the row at `file`:`line`: under kFail returns the error; under
// kSkip records the row and its reason in the rejects file.
Status bad_row_at(Context& ctx,
                  const std::string& file,
                  uint64_t line,
                  std::string_view raw,
                  TableCounts& counts,
                  const std::string& message) {
    if (ctx.options.bad_rows == BadRowPolicy::kFail) {
        return Status::invalid_data(fmt::format("{}:{}: {}{}", file, line, message, kSkipHint));
    }
    ++counts.rows_rejected;
    return ctx.rejects.add(file, line, message, raw);
}

Status bad_row(Context& ctx, const CsvReader& reader, TableCounts& counts, std::string message) {
    return bad_row_at(ctx, reader.name(), reader.line(), reader.raw_record(), counts, message);
}

// Checks the record's width against the header; a message when it differs.
std::optional<std::string> width_problem(const CsvReader& reader, const HeaderBinding& binding) {
    if (reader.fields().size() == binding.width) {
        return std::nullopt;
    }
    return fmt::format(
        "the row has {} fields; the header has {}. Check for an unquoted comma or a missing "
        "quote.",
        reader.fields().size(),
        binding.width);
}

// Walks a CSV file row by row with progress; `row` returns a Status that aborts the walk.
// `on_header` sees the header's binding before the first row.
// `flush` finishes the rows a caller holds back for batched work: it runs before a row of the
// wrong width is reported (so that errors and rejects keep file order) and at the end.
template <typename RowFn, typename FlushFn, typename HeaderFn>
Status for_each_row(Context& ctx,
                    const fs::path& path,
                    TableKind table,
                    const std::string& option,
                    TableCounts& counts,
                    RowFn&& row,
                    FlushFn&& flush,
                    HeaderFn&& on_header) {
    CsvOptions csv;
    csv.buffer_size = ctx.options.csv_buffer_size;
    auto opened = CsvReader::open(path, csv);
    if (!opened.is_ok()) {
        return opened.status().with_context(option);
    }
    CsvReader& reader = **opened;
    LOOKBOOK_ASSIGN_OR_RETURN(
        HeaderBinding binding,
        bind_header(reader, table, ctx.options.mapping, option, ctx.options.append));
    on_header(binding);
    Progress progress(
        fmt::format("read {}", path.filename().string()), reader.input_size(), "bytes");
    while (reader.next()) {
        ++counts.rows_read;
        if (auto problem = width_problem(reader, binding)) {
            LOOKBOOK_RETURN_IF_ERROR(flush());
            LOOKBOOK_RETURN_IF_ERROR(bad_row(ctx, reader, counts, *problem));
        } else {
            LOOKBOOK_RETURN_IF_ERROR(row(reader, binding));
        }
        if ((counts.rows_read & 0xFFFF) == 0) {
            progress.set_items(counts.rows_read, "rows");
            progress.set(reader.bytes_consumed());
        }
    }
    LOOKBOOK_RETURN_IF_ERROR(flush());
    LOOKBOOK_RETURN_IF_ERROR(reader.status());
    ctx.report.input_bytes += reader.bytes_consumed();
    progress.set_items(counts.rows_read, "rows");
    progress.set(reader.bytes_consumed());
    progress.finish();
    counts.rows_kept = counts.rows_read - counts.rows_rejected;
    if (counts.rows_read == 0) {
        log::warn("{}: has a header but no rows", path.string());
    }
    return Status::ok();
}

std::string value_message(const HeaderBinding& b,
                          int field,
                          std::string_view value,
                          const std::string& expected) {
    return fmt::format(
        "column \"{}\" is \"{}\"; expected {}.", shorten(b.name(field)), shorten(value), expected);
}

// The message for a date in the right layout that names no day (2021-02-30).
std::string impossible_date_message(const HeaderBinding& b,
                                    std::string_view text,
                                    const DateReading& reading,
                                    const DateFormat& format) {
    // A month past 12 more often means day and month are swapped than a typo.
    const bool month_wrong = reading.year >= 1 && (reading.month < 1 || reading.month > 12);
    return fmt::format("column \"{}\" is \"{}\", a day that does not exist: {}{}.",
                       shorten(b.name(kDate)),
                       shorten(text),
                       impossible_date_reason(reading),
                       month_wrong ? fmt::format("; check that the layout \"{}\" is the file's "
                                                 "(--date-format)",
                                                 format.layout())
                                   : "");
}

// The rows a catalog file probably holds, judged from the `rows` kept in the bytes read so
// far, with a tenth more for rows a little shorter; 0 when the size is unknown. Dictionaries
// sized from this are not rebuilt at every doubling as they grow. Bytes, not line ends, so that
// memory stays in proportion to the file even when blank lines or line ends inside quotes make
// lines far more than rows; a low guess only means the tables grow as before.
uint64_t estimated_rows(const CsvReader& reader, uint64_t rows) {
    const uint64_t consumed = reader.bytes_consumed();
    if (reader.input_size() == 0 || consumed == 0) {
        return 0;
    }
    return static_cast<uint64_t>(static_cast<double>(rows) *
                                 static_cast<double>(reader.input_size()) /
                                 static_cast<double>(consumed) * 1.1) +
           1;
}

// What a catalog file's first full batch says of the whole file, for sizing its tables once.
struct RowEstimate {
    uint64_t rows = 0;        // estimated_rows() of the kept rows; 0 until the first batch is full
    uint64_t file_bytes = 0;  // the file's size

    // Room for a field's text in all rows: `mean_length` (the first batch's) a row, but never
    // more than the file holds: a first batch of long values behind many short bad rows asked
    // for tens of gigabytes (break-it review).
    uint64_t text_room(size_t mean_length) const {
        return std::min<uint64_t>(rows * mean_length, file_bytes);
    }
};

// Copies of field texts one after another, each named by its (offset, length): views are made
// only once a batch is complete, when the text no longer moves.
class TextCopies {
  public:
    std::pair<size_t, size_t> append(std::string_view text) {
        size_t offset = bytes_.size();
        bytes_.append(text);
        return {offset, text.size()};
    }
    std::string_view view(std::pair<size_t, size_t> span) const {
        return std::string_view(bytes_.data() + span.first, span.second);
    }
    void clear() { bytes_.clear(); }

  private:
    std::string bytes_;
};

// The message for a catalog id seen before, on line `first_line`.
std::string duplicate_id_message(std::string_view id, uint64_t first_line, const char* noun) {
    return fmt::format("{} id \"{}\" already appeared on line {}; each {} must appear once.",
                       noun,
                       shorten(id),
                       first_line,
                       noun);
}

// Rows of a catalog file (articles or customers) whose fields are valid, waiting for their
// dictionary work. Each new row adds an id, and often a product or postal code, that no row
// before it had: every such insert lands on a random slot of a table of megabytes. Hashing a
// batch of rows first and prefetching their slots lets those cache misses overlap instead of
// being waited for one after the other (they were most of a catalog file's time).
class PendingRows {
  public:
    static constexpr size_t kBatchSize = 128;

    PendingRows(size_t fields, bool keep_raw) : fields_(fields), keep_raw_(keep_raw) {}

    // Copies the row's fields (the reader's views die with its next record).
    void add(uint64_t line, std::string_view raw, std::initializer_list<std::string_view> fields) {
        lines_.push_back(line);
        spans_.push_back(text_.append(keep_raw_ ? raw : std::string_view()));
        for (std::string_view f : fields) {
            spans_.push_back(text_.append(f));
        }
    }
    size_t size() const { return lines_.size(); }
    bool full() const { return size() >= kBatchSize; }
    uint64_t line(size_t row) const { return lines_[row]; }
    // The row as found in the file; empty unless rows are kept for a rejects file.
    std::string_view raw(size_t row) const { return text_.view(spans_[row * (fields_ + 1)]); }
    std::string_view field(size_t row, size_t f) const {
        return text_.view(spans_[row * (fields_ + 1) + 1 + f]);
    }
    // The mean length of field `f` over the batch (0 when empty).
    size_t mean_length(size_t f) const {
        size_t total = 0;
        for (size_t i = 0; i < size(); ++i) {
            total += field(i, f).size();
        }
        return size() == 0 ? 0 : (total + size() - 1) / size();
    }
    void clear() {
        lines_.clear();
        spans_.clear();
        text_.clear();
    }

  private:
    size_t fields_;
    bool keep_raw_;
    std::vector<uint64_t> lines_;
    std::vector<std::pair<size_t, size_t>> spans_;
    TextCopies text_;
};

// A catalog table's id dictionary and what a repeated id's message needs.
struct CatalogIds {
    StringDictionary& ids;
    const std::vector<uint64_t>& first_line;
    TableCounts& counts;
    size_t id_field;   // of the PendingRows
    const char* noun;  // "article", "customer"
};

// Adds a batch of catalog rows: the slots of each row's id and of one other field that is often
// new (`other`, in the dictionary `other_dictionary`) are prefetched for the whole batch, then
// every row's id is inserted in order. A repeated id is a bad row; `add_row(i, other_hash)`
// adds the rest of every row whose id is new.
template <typename AddRow>
Status add_catalog_batch(Context& ctx,
                         const std::string& file,
                         const PendingRows& pending,
                         const CatalogIds& table,
                         const StringDictionary& other_dictionary,
                         size_t other,
                         AddRow&& add_row) {
    const size_t n = pending.size();
    std::array<uint64_t, PendingRows::kBatchSize> id_hash;
    std::array<uint64_t, PendingRows::kBatchSize> other_hash;
    for (size_t i = 0; i < n; ++i) {
        id_hash[i] = hash_bytes(pending.field(i, table.id_field));
        table.ids.prefetch(id_hash[i]);
        other_hash[i] = hash_bytes(pending.field(i, other));
        other_dictionary.prefetch(other_hash[i]);
    }
    for (size_t i = 0; i < n; ++i) {
        std::string_view id = pending.field(i, table.id_field);
        auto [code, added] = table.ids.insert(id, id_hash[i]);
        if (!added) {
            LOOKBOOK_RETURN_IF_ERROR(
                bad_row_at(ctx,
                           file,
                           pending.line(i),
                           pending.raw(i),
                           table.counts,
                           duplicate_id_message(id, table.first_line[code], table.noun)));
            continue;
        }
        add_row(i, other_hash[i]);
    }
    return Status::ok();
}

// Runs `flush` once the batch is full; at the first full batch, first estimates the file's rows
// into *estimate for the flush to size the tables with, from the rows kept so far (`rows_kept`):
// counting rejected rows too, a file that starts with a million bad rows asked for tables of a
// million entries.
template <typename Flush>
Status flush_if_full(const PendingRows& pending,
                     const CsvReader& reader,
                     uint64_t rows_kept,
                     RowEstimate* estimate,
                     Flush&& flush) {
    if (!pending.full()) {
        return Status::ok();
    }
    if (estimate->rows == 0) {
        estimate->rows = estimated_rows(reader, rows_kept);
        estimate->file_bytes = reader.input_size();
    }
    return flush();
}

// Article fields held in a PendingRows batch, in this order.
enum PendingArticleField {
    kPendingId,
    kPendingName,
    kPendingDescription,
    kPendingImage,
    kPendingFirstAttribute,  // then the attributes in ArticleAttribute order
};

// Adds a batch of valid catalog rows to the article table; a repeated id is a bad row.
Status add_articles(Context& ctx,
                    const std::string& file,
                    PendingRows& pending,
                    const RowEstimate& estimate) {
    auto& a = ctx.articles;
    const size_t n = pending.size();
    const uint64_t most_rows = estimate.rows;
    if (a.ids.size() == 0 && n > 0 && most_rows > 0) {
        a.ids.reserve(most_rows, estimate.text_room(pending.mean_length(kPendingId)));
        a.attributes[0].dictionary.reserve(
            most_rows, estimate.text_room(pending.mean_length(kPendingFirstAttribute)));
        a.has_metadata.reserve(most_rows);
        a.first_line.reserve(most_rows);
        for (auto& attribute : a.attributes) {
            attribute.codes.reserve(most_rows);
        }
    }
    // The id and the product code are new for most rows (the other attributes repeat a few
    // values, whose slots stay in the cache).
    auto& codes = a.attributes[0].dictionary;
    LOOKBOOK_RETURN_IF_ERROR(add_catalog_batch(
        ctx,
        file,
        pending,
        CatalogIds{a.ids, a.first_line, ctx.report.articles, kPendingId, "article"},
        codes,
        kPendingFirstAttribute,
        [&](size_t i, uint64_t code_hash) {
            a.has_metadata.push_back(1);
            a.first_line.push_back(pending.line(i));
            a.names.push(pending.field(i, kPendingName));
            a.descriptions.push(pending.field(i, kPendingDescription));
            a.image_paths.push(pending.field(i, kPendingImage));  // resolved to a file later
            a.attributes[0].codes.push_back(
                codes.intern(pending.field(i, kPendingFirstAttribute), code_hash));
            for (size_t k = 1; k < kArticleAttributeCount; ++k) {
                a.attributes[k].push(pending.field(i, kPendingFirstAttribute + k));
            }
        }));
    pending.clear();
    return Status::ok();
}

Status read_articles(Context& ctx) {
    const fs::path& path = ctx.options.articles;
    const std::string file = path.string();
    PendingRows pending(kPendingFirstAttribute + kArticleAttributeCount,
                        ctx.options.bad_rows == BadRowPolicy::kSkip);
    RowEstimate estimate;  // made once the first batch is full
    auto flush = [&] { return add_articles(ctx, file, pending, estimate); };
    return for_each_row(
        ctx,
        path,
        TableKind::kArticles,
        "--articles",
        ctx.report.articles,
        [&](const CsvReader& reader, const HeaderBinding& b) -> Status {
            const auto& f = reader.fields();
            std::string_view id = b.get(f, kArticleId);
            if (id.empty()) {
                LOOKBOOK_RETURN_IF_ERROR(flush());
                return bad_row(ctx,
                               reader,
                               ctx.report.articles,
                               value_message(b, kArticleId, id, "a non-empty article id"));
            }
            std::array<std::string_view, kArticleAttributeCount> attributes;
            for (size_t i = 0; i < kArticleAttributeCount; ++i) {
                attributes[i] = b.get(f, kAttributeFields[i]);
            }
            // Without a product code every article is its own product.
            if (attributes[0].empty()) {
                attributes[0] = id;
            }
            pending.add(reader.line(),
                        reader.raw_record(),
                        {id,
                         b.get(f, kArticleName),
                         b.get(f, kDescription),
                         b.get(f, kImage),
                         attributes[0],
                         attributes[1],
                         attributes[2],
                         attributes[3],
                         attributes[4],
                         attributes[5],
                         attributes[6],
                         attributes[7],
                         attributes[8],
                         attributes[9],
                         attributes[10],
                         attributes[11]});
            return flush_if_full(pending,
                                 reader,
                                 ctx.report.articles.rows_read - ctx.report.articles.rows_rejected,
                                 &estimate,
                                 flush);
        },
        flush,
        [](const HeaderBinding&) {});
}

// Customer fields held in a PendingRows batch, in this order; the age travels beside it.
enum PendingCustomerField { kPendingCustomerId, kPendingClub, kPendingNews, kPendingPostal };

// Adds a batch of valid customer rows; a repeated id is a bad row.
Status add_customers(Context& ctx,
                     const std::string& file,
                     PendingRows& pending,
                     std::vector<float>& ages,
                     const RowEstimate& estimate) {
    auto& c = ctx.customers;
    const size_t n = pending.size();
    // Postal codes may be far fewer than the customers: their table is not sized for one a
    // row, only their text's room is reserved (pages never written cost no memory), which
    // spares copying the text at every doubling.
    const uint64_t most_rows = estimate.rows;
    if (c.ids.size() == 0 && n > 0 && most_rows > 0) {
        c.postal_code.dictionary.reserve(0,
                                         estimate.text_room(pending.mean_length(kPendingPostal)));
        c.ids.reserve(most_rows, estimate.text_room(pending.mean_length(kPendingCustomerId)));
        c.has_metadata.reserve(most_rows);
        c.first_line.reserve(most_rows);
        c.ages.reserve(most_rows);
        c.club_status.codes.reserve(most_rows);
        c.news_frequency.codes.reserve(most_rows);
        c.postal_code.codes.reserve(most_rows);
    }
    // Ids are new on every row and postal codes on many (the H&M codes are 64-hex hashes too).
    auto& postal = c.postal_code.dictionary;
    LOOKBOOK_RETURN_IF_ERROR(add_catalog_batch(
        ctx,
        file,
        pending,
        CatalogIds{c.ids, c.first_line, ctx.report.customers, kPendingCustomerId, "customer"},
        postal,
        kPendingPostal,
        [&](size_t i, uint64_t postal_hash) {
            c.has_metadata.push_back(1);
            c.first_line.push_back(pending.line(i));
            c.ages.push_back(ages[i]);
            c.club_status.push(pending.field(i, kPendingClub));
            c.news_frequency.push(pending.field(i, kPendingNews));
            c.postal_code.codes.push_back(
                postal.intern(pending.field(i, kPendingPostal), postal_hash));
        }));
    pending.clear();
    ages.clear();
    return Status::ok();
}

Status read_customers(Context& ctx) {
    const std::string file = ctx.options.customers.string();
    PendingRows pending(4, ctx.options.bad_rows == BadRowPolicy::kSkip);
    std::vector<float> ages;
    RowEstimate estimate;  // made once the first batch is full
    auto flush = [&] { return add_customers(ctx, file, pending, ages, estimate); };
    return for_each_row(
        ctx,
        ctx.options.customers,
        TableKind::kCustomers,
        "--customers",
        ctx.report.customers,
        [&](const CsvReader& reader, const HeaderBinding& b) -> Status {
            // Rows waiting for their dictionary work are added first, so that errors and
            // rejects keep file order.
            auto reject = [&](const std::string& message) -> Status {
                LOOKBOOK_RETURN_IF_ERROR(flush());
                return bad_row(ctx, reader, ctx.report.customers, message);
            };
            const auto& f = reader.fields();
            std::string_view id = b.get(f, kCustomerId);
            if (id.empty()) {
                return reject(value_message(b, kCustomerId, id, "a non-empty customer id"));
            }
            float age = std::numeric_limits<float>::quiet_NaN();
            std::string_view age_text = b.get(f, kAge);
            if (!age_text.empty()) {
                auto parsed = parse_double(age_text);
                if (!parsed || !std::isfinite(*parsed)) {
                    return reject(value_message(b,
                                                kAge,
                                                age_text,
                                                "an age in years such as 34, or nothing when "
                                                "unknown"));
                }
                if (*parsed < kMinCustomerAge || *parsed > kMaxCustomerAge) {
                    return reject(value_message(b,
                                                kAge,
                                                age_text,
                                                fmt::format("an age between {} and {} (leave it "
                                                            "empty when unknown)",
                                                            kMinCustomerAge,
                                                            kMaxCustomerAge)));
                }
                age = static_cast<float>(*parsed);
            }
            pending.add(
                reader.line(),
                reader.raw_record(),
                {id, b.get(f, kClubStatus), b.get(f, kNewsFrequency), b.get(f, kPostalCode)});
            ages.push_back(age);
            return flush_if_full(
                pending,
                reader,
                ctx.report.customers.rows_read - ctx.report.customers.rows_rejected,
                &estimate,
                flush);
        },
        flush,
        [](const HeaderBinding&) {});
}

// TODO: ingest reaches 6.0-6.3 million transaction rows/s per core on the shared machine at
// load 3 (target 5 million; one ad-hoc run under heavier contention 4.1; README Known limits).
// What is left is mostly memory: the customer lookups take about 0.12 s of 0.52, half of it
// the read of the stored id that confirms a match, the article lookups 0.07 s, and the first
// touch of about 250 MB of new pages 0.09 s (0.37 ms a MB here).
// Parsing on one thread and encoding on the other would use the second core; not done yet, so
// large files take about twice as long as they could.
// Stop 20 (times after dates, field names as columns, checks per file), ingest_bench CPU time,
// medians of 16 runs alternating with main's binary: a build before the last change 0.861 s
// against 0.843 (load 9; 5.81 against 5.93 M rows/s), the final build 1.006 against 0.996
// (load 7-8 beside a compile; fastest runs 0.907 and 0.909). The 1-2% was not traced to any
// changed line: code placement alone moves more (a build that only shifted the unchanged CSV
// reader by 32 bytes parsed 11-13% slower).
// Transactions whose fields are valid, waiting for their ids to be looked up. Looking ids up
// in batches lets the dictionary lookups overlap their cache misses (prefetch), which is most
// of the cost of ingesting a large file with many articles and customers.
class PendingTransactions {
  public:
    static constexpr size_t kBatchSize = 256;

    explicit PendingTransactions(bool keep_raw) : keep_raw_(keep_raw) {}

    struct Row {
        uint64_t line;
        int32_t date;
        uint8_t channel;
        double price;
        std::string_view customer_id;
        std::string_view article_id;
        std::string_view order_id;
        std::string_view raw;
    };

    void add(uint64_t line,
             int32_t date,
             double price,
             uint8_t channel,
             std::string_view customer_id,
             std::string_view article_id,
             std::string_view order_id,
             std::string_view raw) {
        // Field views die with the reader's next record, so the text is copied; offsets are
        // turned into views once the batch is complete and the text no longer moves.
        // Members are written one by one into a slot that already exists: a Copy built on the
        // stack and pushed was reloaded 16 bytes at a time over its fresh 1- to 8-byte stores
        // (a store-forwarding stall), and emplace_back() zeroed each new one with `rep stos`;
        // either took about a third of read_transactions' own time.
        Copy& c = copies_[size_++];
        c.line = line;
        c.date = date;
        c.channel = channel;
        c.price = price;
        c.spans[0] = text_.append(customer_id);
        c.spans[1] = text_.append(article_id);
        c.spans[2] = text_.append(order_id);
        // The raw row is only quoted when an id turns out unknown under --unknown-ids bad-row.
        c.spans[3] = keep_raw_ ? text_.append(raw) : std::pair<size_t, size_t>{0, 0};
    }
    bool full() const { return size_ >= kBatchSize; }
    bool empty() const { return size_ == 0; }

    // The batch's rows, valid until clear().
    const std::vector<Row>& rows() {
        rows_.clear();
        for (size_t i = 0; i < size_; ++i) {
            const Copy& c = copies_[i];
            rows_.push_back(Row{c.line,
                                c.date,
                                c.channel,
                                c.price,
                                text_.view(c.spans[0]),
                                text_.view(c.spans[1]),
                                text_.view(c.spans[2]),
                                text_.view(c.spans[3])});
        }
        return rows_;
    }
    void clear() {
        size_ = 0;
        text_.clear();
    }

  private:
    struct Copy {
        uint64_t line;
        int32_t date;
        uint8_t channel;
        double price;
        std::pair<size_t, size_t> spans[4];
    };

    bool keep_raw_;
    TextCopies text_;
    std::vector<Copy> copies_ = std::vector<Copy>(kBatchSize);
    size_t size_ = 0;
    std::vector<Row> rows_;
};

// The customer of the previous transaction and a copy of its id: rows of one basket name the
// same customer, and comparing with this copy spares a dictionary read (a cache miss) per row.
struct LastCustomer {
    std::optional<uint32_t> code;
    std::string id;
};

// Whether two ids hold the same bytes, without a branch on where they first differ: a batch
// compares each row's customer id with the previous row's, and which rows start a new basket
// follows no pattern a branch predictor could learn.
bool same_bytes(std::string_view a, std::string_view b) {
    const size_t n = a.size();
    if (n != b.size()) {
        return false;
    }
    if (n < 8) {
        return n == 0 || std::memcmp(a.data(), b.data(), n) == 0;
    }
    uint64_t x;
    uint64_t y;
    uint64_t differ = 0;
    for (size_t i = 0; i + 8 <= n; i += 8) {
        std::memcpy(&x, a.data() + i, 8);
        std::memcpy(&y, b.data() + i, 8);
        differ |= x ^ y;
    }
    // The last 8 bytes, overlapping words already compared when n is not a multiple of 8.
    std::memcpy(&x, a.data() + n - 8, 8);
    std::memcpy(&y, b.data() + n - 8, 8);
    return (differ | (x ^ y)) == 0;
}

// Looks up (or adds) the ids of a batch of valid transactions and appends them to the table.
Status resolve_transactions(Context& ctx,
                            const std::string& file,
                            PendingTransactions& pending,
                            LastCustomer* last_customer) {
    auto& t = ctx.transactions;
    auto& report = ctx.report;
    const bool check_customers = ctx.check_customers;
    const bool check_articles = ctx.check_articles;
    const bool check_any = check_customers || check_articles;
    const auto& rows = pending.rows();
    constexpr size_t kBatch = PendingTransactions::kBatchSize;
    // Codes are plain integers with kNoCode for "not found" here: std::optional<uint32_t>
    // copied from row to row was stored as a value and a flag and reloaded as one word, a
    // store-forwarding stall that took a quarter of this function's time.
    constexpr uint32_t kNoCode = std::numeric_limits<uint32_t>::max();
    // Rows of one basket are usually adjacent: the batch is cut into runs of rows naming the
    // same customer, and only each run's first row needs a lookup. Runs are counted without
    // branches (`run_of_row`, `run_start`), and the loops below go over runs, not over rows
    // asking "is this a new customer?": the answer follows no pattern, and each wrong guess
    // of the branch predictor cost about as much as a cache miss.
    std::array<uint64_t, kBatch> article_hash;
    std::array<uint32_t, kBatch> run_of_row;
    std::array<uint32_t, kBatch> run_start;
    uint32_t runs = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
        article_hash[i] = hash_bytes(rows[i].article_id);
        ctx.articles.ids.prefetch(article_hash[i]);
        const bool starts = i == 0 || !same_bytes(rows[i].customer_id, rows[i - 1].customer_id);
        run_start[runs] = static_cast<uint32_t>(i);
        runs += starts ? 1 : 0;
        run_of_row[i] = runs - 1;
    }
    std::array<uint64_t, kBatch> customer_hash;
    for (uint32_t r = 0; r < runs; ++r) {
        customer_hash[r] = hash_bytes(rows[run_start[r]].customer_id);
        ctx.customers.ids.prefetch(customer_hash[r]);
    }
    for (uint32_t r = 0; r < runs; ++r) {
        ctx.customers.ids.prefetch_text(rows[run_start[r]].customer_id, customer_hash[r]);
    }
    // Each run's customer as found (kNoCode when unknown); the previous batch's last customer
    // answers for a first run that continues it.
    std::array<uint32_t, kBatch> run_customer;
    for (uint32_t r = 0; r < runs; ++r) {
        const std::string_view id = rows[run_start[r]].customer_id;
        if (r == 0 && last_customer->code && id == last_customer->id) {
            run_customer[r] = *last_customer->code;
        } else {
            run_customer[r] = ctx.customers.ids.find(id, customer_hash[r]).value_or(kNoCode);
        }
    }
    for (size_t i = 0; i < rows.size(); ++i) {
        const auto& row = rows[i];
        const uint32_t run = run_of_row[i];
        uint32_t customer = run_customer[run];
        if (customer == kNoCode && !check_customers) {
            // An earlier run of this batch may have added the same id as a stub since.
            customer =
                ctx.customers.ids.find(row.customer_id, customer_hash[run]).value_or(kNoCode);
        }
        uint32_t article = ctx.articles.ids.find(row.article_id, article_hash[i]).value_or(kNoCode);
        // A code without metadata is a stub an earlier ingest added (--append): not in the file.
        // Behind one test, so that the default (nothing checked) costs a single branch.
        if (check_any) {
            const bool article_unknown =
                check_articles && (article == kNoCode || (article >= ctx.articles_described &&
                                                          !ctx.articles.has_metadata[article]));
            const bool customer_unknown =
                check_customers && (customer == kNoCode || (customer >= ctx.customers_described &&
                                                            !ctx.customers.has_metadata[customer]));
            if (article_unknown || customer_unknown) {
                LOOKBOOK_RETURN_IF_ERROR(bad_row_at(
                    ctx,
                    file,
                    row.line,
                    row.raw,
                    report.transactions,
                    fmt::format("{} \"{}\" is not in the {} file{} (--unknown-ids bad-row).",
                                article_unknown ? "article" : "customer",
                                article_unknown ? row.article_id : row.customer_id,
                                article_unknown ? "articles" : "customers",
                                ctx.options.append ? " the store was built from" : "")));
                continue;
            }
        }
        if (customer == kNoCode) {
            customer = ctx.customers.add_stub(row.customer_id);
            ++report.unknown_customers;
        }
        // The run's other rows take the customer as found or added here.
        run_customer[run] = customer;
        if (customer >= ctx.customers_described && !ctx.customers.has_metadata[customer]) {
            ++report.unknown_customer_rows;
        }
        if (article == kNoCode) {
            article = ctx.articles.add_stub(row.article_id);
            ++report.unknown_articles;
        }
        if (article >= ctx.articles_described && !ctx.articles.has_metadata[article]) {
            ++report.unknown_article_rows;
        }
        if (t.has_orders) {
            t.orders.push_back(t.order_ids.intern(row.order_id));
        }
        t.customers.push_back(customer);
        t.articles.push_back(article);
        t.dates.push_back(row.date);
        t.prices.push_back(row.price);
        t.channels.push_back(row.channel);
    }
    const uint32_t previous_customer = runs > 0 ? run_customer[runs - 1] : kNoCode;
    if (previous_customer != kNoCode && last_customer->code != previous_customer) {
        last_customer->code = previous_customer;
        last_customer->id.assign(rows.back().customer_id);
    }
    pending.clear();
    return Status::ok();
}

// The length of the run of codes with metadata at the start of the table.
uint32_t described_prefix(const std::vector<uint8_t>& has_metadata) {
    auto first_stub = std::find(has_metadata.begin(), has_metadata.end(), uint8_t{0});
    return static_cast<uint32_t>(first_stub - has_metadata.begin());
}

Status read_transactions(Context& ctx) {
    auto& report = ctx.report;
    const std::string date_hint =
        ctx.date_format.layout() == "%Y-%m-%d"
            ? std::string(
                  "a date as YYYY-MM-DD, which a time may follow (2024-01-03 10:22:00, "
                  "2024-01-03T10:22:00Z). If your dates use another layout, declare it, "
                  "for example --date-format \"%d/%m/%Y\"")
        : ctx.date_format.has_time()
            ? fmt::format("a date and time in the declared layout \"{}\"", ctx.date_format.layout())
            : fmt::format(
                  "a date in the declared layout \"{}\", which a time may follow "
                  "(\" 10:22:00\")",
                  ctx.date_format.layout());
    const std::string file = ctx.options.transactions.string();
    // Reserve for the most rows the file can hold (a row takes at least 16 bytes) so that the
    // columns never grow by doubling, which would leave up to half of each unused but resident.
    // Reserved pages that are never written cost address space only, not memory.
    std::error_code size_ec;
    uint64_t file_bytes = fs::file_size(ctx.options.transactions, size_ec);
    if (!size_ec) {
        auto& t = ctx.transactions;
        size_t most_rows = t.customers.size() + static_cast<size_t>(file_bytes / 16) + 1024;
        t.customers.reserve(most_rows);
        t.articles.reserve(most_rows);
        t.dates.reserve(most_rows);
        t.prices.reserve(most_rows);
        t.channels.reserve(most_rows);
    }
    ctx.articles_described = described_prefix(ctx.articles.has_metadata);
    ctx.customers_described = described_prefix(ctx.customers.has_metadata);
    PendingTransactions pending(ctx.options.unknown_ids == UnknownIdPolicy::kBadRow);
    LastCustomer last_customer;
    std::string last_date_text;  // the last valid date text and its day number
    std::optional<int32_t> last_date;
    LOOKBOOK_RETURN_IF_ERROR(for_each_row(
        ctx,
        ctx.options.transactions,
        TableKind::kTransactions,
        "--transactions",
        report.transactions,
        [&](const CsvReader& reader, const HeaderBinding& b) -> Status {
            // Rows waiting for their id lookups come first, so that errors and rejects keep
            // file order.
            auto reject = [&](const std::string& message) -> Status {
                LOOKBOOK_RETURN_IF_ERROR(resolve_transactions(ctx, file, pending, &last_customer));
                return bad_row(ctx, reader, report.transactions, message);
            };
            const auto& f = reader.fields();
            std::string_view date_text = b.get(f, kDate);
            // Rows of one day come together: reuse the last parse while the text repeats.
            std::optional<int32_t> date = last_date;
            if (date_text != last_date_text) {
                DateReading reading = ctx.date_format.read(date_text);
                if (reading.problem == DateProblem::kImpossible) {
                    return reject(impossible_date_message(b, date_text, reading, ctx.date_format));
                }
                date = reading.problem == DateProblem::kNone ? std::optional<int32_t>(reading.days)
                                                             : std::nullopt;
                if (date) {
                    last_date_text.assign(date_text);
                    last_date = date;
                }
            }
            // Also an empty first date, which equals the empty last text before any date.
            if (!date) {
                return reject(value_message(b, kDate, date_text, date_hint));
            }
            // A sale cannot happen after today: a year typed wrong (2202) would otherwise move
            // every "last N weeks" window of training and evaluation years ahead.
            if (*date > ctx.latest_day) {
                return reject(
                    value_message(b,
                                  kDate,
                                  date_text,
                                  fmt::format("a date no later than today ({}); check the year",
                                              format_iso_date(ctx.latest_day - 1))));
            }
            double price = std::numeric_limits<double>::quiet_NaN();
            if (b.has(kPrice)) {
                std::string_view price_text = b.get(f, kPrice);
                auto parsed = parse_double(price_text);
                if (!parsed || !std::isfinite(*parsed) || *parsed < 0) {
                    return reject(value_message(
                        b, kPrice, price_text, "a number >= 0 with \".\" as decimal mark"));
                }
                // "-0" is a zero price; adding +0 stores it as 0, so it never prints as "-0".
                price = *parsed + 0.0;
            }
            uint8_t channel = 0;
            if (b.has(kChannel)) {
                std::string_view channel_text = b.get(f, kChannel);
                if (channel_text.size() == 1 && channel_text[0] >= '0' && channel_text[0] <= '9') {
                    // The usual one digit, without a floating-point parse.
                    channel = static_cast<uint8_t>(channel_text[0] - '0');
                } else {
                    // Exports from pandas often write integer columns as floats ("2.0").
                    auto number = channel_text.empty() ? std::optional<double>(0.0)
                                                       : parse_double(channel_text);
                    if (!number || *number != std::floor(*number) || !(*number >= 0) ||
                        *number > 255) {
                        return reject(value_message(
                            b, kChannel, channel_text, "a sales channel number from 0 to 255"));
                    }
                    channel = static_cast<uint8_t>(*number);
                }
            }
            std::string_view customer_id = b.get(f, kTxCustomer);
            std::string_view article_id = b.get(f, kTxArticle);
            if (customer_id.empty() || article_id.empty()) {
                int field = customer_id.empty() ? kTxCustomer : kTxArticle;
                return reject(value_message(b, field, "", "a non-empty id"));
            }
            pending.add(reader.line(),
                        *date,
                        price,
                        channel,
                        customer_id,
                        article_id,
                        b.has(kOrder) ? b.get(f, kOrder) : std::string_view(),
                        reader.raw_record());
            if (pending.full()) {
                return resolve_transactions(ctx, file, pending, &last_customer);
            }
            return Status::ok();
        },
        [&] { return resolve_transactions(ctx, file, pending, &last_customer); },
        [&](const HeaderBinding& b) { ctx.transactions.has_orders = b.has(kOrder); }));
    report.transactions.rows_kept =
        report.transactions.rows_read - report.transactions.rows_rejected;
    return Status::ok();
}

// Finds each catalog article's photo: the file the mapped image column names, else (also when
// that file is missing or outside --images) the mapping's patterns.
void resolve_images(Context& ctx) {
    auto& a = ctx.articles;
    TextColumn resolved;
    const fs::path& dir = ctx.options.images;
    fs::path absolute_dir = dir.empty() ? fs::path() : fs::absolute(dir).lexically_normal();
    std::error_code ec;
    uint64_t missing_logged = 0;
    uint64_t unsafe_logged = 0;
    uint64_t named_missing_logged = 0;
    auto patterns_of = [&](uint32_t i) {
        std::vector<std::string> candidates;
        for (const auto& pattern : ctx.options.mapping.image_patterns) {
            candidates.push_back(expand_image_pattern(
                pattern, a.ids.at(i), a.attributes[0].dictionary.at(a.attributes[0].codes[i])));
        }
        return candidates;
    };
    auto exists = [&](const std::string& candidate) {
        return !candidate.empty() && fs::is_regular_file(absolute_dir / candidate, ec);
    };
    for (uint32_t i = 0; i < a.ids.size(); ++i) {
        std::string found;
        if (a.has_metadata[i] && !dir.empty()) {
            std::string_view given = a.image_paths.at(i);
            if (!given.empty()) {
                // The image column names a file inside --images (relative to it, or an absolute
                // path below it); anything else is ignored so that a catalog cannot point the
                // service at arbitrary files.
                std::string relative(given);
                if (given.front() == '/') {
                    relative = fs::path(given).lexically_normal().lexically_relative(absolute_dir);
                }
                if (is_contained_relative_path(relative)) {
                    if (exists(relative)) {
                        found = (absolute_dir / relative).lexically_normal().string();
                    } else if (named_missing_logged++ < 3) {
                        log::warn(
                            "article {}: its image \"{}\" is not under {}; the photo "
                            "patterns are tried instead",
                            a.ids.at(i),
                            shorten(given),
                            dir.string());
                    }
                } else if (unsafe_logged++ < 3) {
                    log::warn(
                        "article {}: image \"{}\" is not a path inside --images ({}); "
                        "ignored, the photo patterns are tried instead",
                        a.ids.at(i),
                        shorten(given),
                        dir.string());
                }
            }
            if (found.empty()) {
                for (const auto& candidate : patterns_of(i)) {
                    if (exists(candidate)) {
                        found = (absolute_dir / candidate).lexically_normal().string();
                        break;
                    }
                }
            }
            if (found.empty()) {
                ++ctx.report.images_missing;
                if (missing_logged++ < 3) {
                    log::debug("no photo for article {} under {}", a.ids.at(i), dir.string());
                }
            } else {
                ++ctx.report.images_found;
            }
        }
        resolved.push(found);
    }
    // Found by a fresh-user trial: with no photo found the summary gave no clue why.
    if (ctx.report.images_found == 0 && ctx.report.images_missing > 0) {
        uint32_t first = 0;
        while (first < a.ids.size() && !a.has_metadata[first]) {
            ++first;
        }
        std::vector<std::string> examples =
            first < a.ids.size() ? patterns_of(first) : std::vector<std::string>();
        for (std::string& example : examples) {
            example = (absolute_dir / example).string();
        }
        log::warn(
            "no photo found under {} for any of the {} catalog articles; for article {} it looked "
            "for {}. Give the folder that holds the photos with --images, name their layout with "
            "\"image_patterns\" in the mapping file, or map an image column.",
            dir.string(),
            ctx.report.images_missing,
            first < a.ids.size() ? a.ids.at(first) : std::string_view(),
            examples.empty() ? std::string("no pattern (the mapping has none)")
                             : fmt::format("{}", fmt::join(examples, ", ")));
    }
    a.image_paths = std::move(resolved);
}

// Customer codes are dense, so a stable counting sort places each customer's rows in linear
// time. Writes each row's destination to `rank` and fills `offsets` (customers + 1 entries) with
// where each customer's rows start. Rows already in date order need nothing more. The cursors are
// 32-bit (the row count is), so that a table of hundreds of thousands stays in the cache.
void counting_ranks(const PooledColumn<uint32_t>& customers,
                    uint32_t customer_count,
                    std::vector<uint64_t>* offsets,
                    PooledColumn<uint32_t>* rank) {
    offsets->assign(size_t{customer_count} + 1, 0);
    for (uint32_t c : customers) {
        ++(*offsets)[c + 1];
    }
    for (size_t c = 1; c < offsets->size(); ++c) {
        (*offsets)[c] += (*offsets)[c - 1];
    }
    rank->resize(customers.size());
    std::vector<uint32_t> next(offsets->begin(), offsets->end() - 1);
    // Row i's customer is read before its rank is written: `rank` may be `customers` itself.
    for (size_t i = 0; i < customers.size(); ++i) {
        (*rank)[i] = next[customers[i]]++;
    }
}

// Orders transactions by (customer, date), keeping file order among equal keys: the counting
// sort groups each customer's rows, then a stable insertion sort puts each customer's few rows
// in date order. Returns for each output row the input row it comes from; fills `offsets`.
std::vector<uint32_t> sort_order(const TransactionBuilder& t,
                                 uint32_t customer_count,
                                 std::vector<uint64_t>* offsets) {
    std::vector<uint32_t> order(t.customers.size());
    {
        PooledColumn<uint32_t> rank(t.customers.get_allocator());
        counting_ranks(t.customers, customer_count, offsets, &rank);
        for (size_t i = 0; i < rank.size(); ++i) {
            order[rank[i]] = static_cast<uint32_t>(i);
        }
    }
    for (uint32_t c = 0; c < customer_count; ++c) {
        auto first = order.begin() + static_cast<ptrdiff_t>((*offsets)[c]);
        auto last = order.begin() + static_cast<ptrdiff_t>((*offsets)[c + 1]);
        auto by_date = [&t](uint32_t x, uint32_t y) { return t.dates[x] < t.dates[y]; };
        if (last - first > 32) {
            // A shared id (a "guest" account) can hold millions of rows.
            std::stable_sort(first, last, by_date);
            continue;
        }
        // Insertion sort: most customers have few rows each, and it is stable.
        for (auto it = first + (first != last ? 1 : 0); it < last; ++it) {
            uint32_t row = *it;
            int32_t date = t.dates[row];
            auto hole = it;
            while (hole > first && t.dates[*(hole - 1)] > date) {
                *hole = *(hole - 1);
                --hole;
            }
            *hole = row;
        }
    }
    return order;
}

// Reorders `values` by `order` and frees the unsorted copy at once, so that only one column
// is ever held twice.
template <typename Column>
void permute(Column& values, const std::vector<uint32_t>& order) {
    Column out(order.size(), values.get_allocator());
    for (size_t i = 0; i < order.size(); ++i) {
        out[i] = values[order[i]];
    }
    values.swap(out);
}

// Moves row i of `values` to rank[i]: reads run in order and the scattered writes retire
// without waiting, where a gather waits on each random read. The new column borrows the buffer
// the previous column left (ColumnPool) and is not zeroed first: every row is written.
template <typename Column>
void scatter(Column& values, const PooledColumn<uint32_t>& rank) {
    Column out(rank.size(), values.get_allocator());
    for (size_t i = 0; i < rank.size(); ++i) {
        out[rank[i]] = values[i];
    }
    values.swap(out);
}

// Calls `fn` on each column of the transaction table, one after the other.
template <typename Fn>
void for_each_column(TransactionBuilder& t, Fn&& fn) {
    fn(t.customers);
    fn(t.articles);
    fn(t.dates);
    fn(t.prices);
    fn(t.channels);
    if (t.has_orders) {
        fn(t.orders);
    }
}

// Seeds the builders from an existing store so that --append keeps every code as it was.
Status load_existing(Context& ctx) {
    LOOKBOOK_ASSIGN_OR_RETURN(auto store, Store::open(ctx.options.store));
    ctx.based_on = store->generation();
    const ArticleTable& articles = store->articles();
    auto& a = ctx.articles;
    for (uint32_t i = 0; i < articles.size(); ++i) {
        a.ids.intern(articles.id(i));
        a.has_metadata.push_back(articles.has_metadata(i) ? 1 : 0);
        a.first_line.push_back(0);
        a.names.push(articles.name(i));
        a.descriptions.push(articles.description(i));
        a.image_paths.push(articles.image_path(i));
        for (size_t k = 0; k < kArticleAttributeCount; ++k) {
            a.attributes[k].push(articles.attribute(static_cast<ArticleAttribute>(k)).value(i));
        }
    }
    const CustomerTable& customers = store->customers();
    auto& c = ctx.customers;
    for (uint32_t i = 0; i < customers.size(); ++i) {
        c.ids.intern(customers.id(i));
        c.has_metadata.push_back(customers.has_metadata(i) ? 1 : 0);
        c.first_line.push_back(0);
        c.ages.push_back(customers.age(i));
        c.club_status.push(customers.club_status().value(i));
        c.news_frequency.push(customers.news_frequency().value(i));
        c.postal_code.push(customers.postal_code().value(i));
    }
    const TransactionTable& tx = store->transactions();
    auto& t = ctx.transactions;
    t.customers.assign(tx.customer().begin(), tx.customer().end());
    t.articles.assign(tx.article().begin(), tx.article().end());
    t.dates.assign(tx.date().begin(), tx.date().end());
    t.prices.assign(tx.price().begin(), tx.price().end());
    t.channels.assign(tx.channel().begin(), tx.channel().end());
    if (!tx.order().empty()) {
        return Status::unsupported(
            "appending to a store with order ids is not supported yet; run a full ingest");
    }
    log::info("append: store {} has {} articles, {} customers, {} transactions",
              ctx.options.store.string(),
              articles.size(),
              customers.size(),
              tx.size());
    return Status::ok();
}

Status check_options(const IngestOptions& o) {
    if (o.store.empty()) {
        return Status::invalid_argument("--store is required: the folder to write the store to");
    }
    if (o.append) {
        if (o.transactions.empty()) {
            return Status::invalid_argument("--append needs --transactions FILE");
        }
        if (!o.articles.empty() || !o.customers.empty() || !o.images.empty()) {
            return Status::invalid_argument(
                "--append adds transactions only; to change articles, customers or photos run a "
                "full ingest without --append");
        }
    } else if (o.articles.empty()) {
        return Status::invalid_argument("--articles FILE is required (the product catalog)");
    }
    // Skipped rows must never overwrite the data being read.
    if (o.bad_rows == BadRowPolicy::kSkip) {
        fs::path rejects = o.rejects.empty() ? o.store / "rejects.csv" : o.rejects;
        // The rows are written beside the target and renamed over it, which must never
        // replace a device or a folder.
        std::error_code kind_ec;
        auto kind = fs::status(rejects, kind_ec).type();
        if (kind != fs::file_type::not_found && kind != fs::file_type::regular) {
            return Status::invalid_argument(
                fmt::format("--rejects {}: is not a regular file; name a new or existing CSV file.",
                            rejects.string()));
        }
        // Nor may it replace a store's own files (CURRENT, LOCK, column files), here or in
        // another store: that would make the store unreadable.
        const std::string name = rejects.filename().string();
        const fs::path folder =
            rejects.parent_path().empty() ? fs::path(".") : rejects.parent_path();
        std::error_code store_ec;
        const bool other_store =
            fs::exists(folder / "CURRENT", store_ec) && !fs::equivalent(folder, o.store, store_ec);
        if (name == "CURRENT" || name == "LOCK" || rejects.extension() == ".lbc" || other_store) {
            return Status::invalid_argument(fmt::format(
                "--rejects {}: is inside a lookbook store or names one of its files; write the "
                "rejected rows elsewhere (default: STORE/rejects.csv).",
                rejects.string()));
        }
        for (const fs::path* input : {&o.articles, &o.customers, &o.transactions}) {
            std::error_code ec;
            if (!input->empty() && fs::equivalent(*input, rejects, ec)) {
                return Status::invalid_argument(fmt::format(
                    "--rejects {} is also an input file; choose another file for the rejected "
                    "rows.",
                    rejects.string()));
            }
        }
    } else if (!o.rejects.empty()) {
        log::warn("--rejects is used only with --on-bad-row skip; ignored");
    }
    if (o.append) {
        if (!o.mapping.transactions.at("order_id").empty()) {
            return Status::unsupported(
                "--append cannot add order ids yet; run a full ingest with order_id mapped");
        }
        return Status::ok();
    }
    if (!o.images.empty() && !fs::is_directory(o.images)) {
        return Status::not_found(fmt::format(
            "--images {}: no such folder. Pass the folder holding the article photos, or omit "
            "--images.",
            o.images.string()));
    }
    return Status::ok();
}

}  // namespace

Result<IngestReport> ingest(const IngestOptions& options) {
    LOOKBOOK_RETURN_IF_ERROR(check_options(options));
    // A --store that is a file or someone else's folder is refused before the inputs are read.
    LOOKBOOK_RETURN_IF_ERROR(Store::check_target(options.store));
    auto start = std::chrono::steady_clock::now();
    StepTimer timer;
    fs::path rejects = options.rejects.empty() ? options.store / "rejects.csv" : options.rejects;
    Context ctx{options, RejectSink(rejects), {}, {}, {}, {}, {}, {}};
    LOOKBOOK_ASSIGN_OR_RETURN(ctx.date_format, DateFormat::parse(options.mapping.date_format));
    if (options.bad_rows == BadRowPolicy::kSkip) {
        std::error_code ec;
        fs::create_directories(
            rejects.parent_path().empty() ? fs::path(".") : rejects.parent_path(), ec);
    }
    // ctx.transactions.has_orders is set once the transactions header is read.

    int32_t old_last_date = std::numeric_limits<int32_t>::min();
    if (options.append) {
        LOOKBOOK_RETURN_IF_ERROR(load_existing(ctx));
        for (int32_t d : ctx.transactions.dates) {
            old_last_date = std::max(old_last_date, d);
        }
    } else {
        LOOKBOOK_RETURN_IF_ERROR(read_articles(ctx));
        timer.lap("reading articles");
        if (ctx.report.articles.rows_kept == 0) {
            return Status::invalid_data(fmt::format(
                "{}: no usable article rows; lookbook needs a catalog to recommend from.",
                options.articles.string()));
        }
        if (!options.customers.empty()) {
            LOOKBOOK_RETURN_IF_ERROR(read_customers(ctx));
            timer.lap("reading customers");
        }
    }
    size_t old_rows = ctx.transactions.dates.size();
    if (options.unknown_ids == UnknownIdPolicy::kBadRow) {
        // Appending, the store's rows with metadata are the files it was built from.
        ctx.check_articles = options.append ? described_prefix(ctx.articles.has_metadata) > 0
                                            : !options.articles.empty();
        ctx.check_customers = options.append ? described_prefix(ctx.customers.has_metadata) > 0
                                             : !options.customers.empty();
        for (auto [checked, noun] : {std::pair{ctx.check_articles, "articles"},
                                     std::pair{ctx.check_customers, "customers"}}) {
            if (!checked && !options.transactions.empty()) {
                log::info(
                    "--unknown-ids bad-row: {}, so the transactions' {} are not checked; those "
                    "they name are added without metadata",
                    options.append ? fmt::format("the store was built without a {} file", noun)
                                   : fmt::format("no --{} file was given", noun),
                    noun);
            }
        }
    }
    if (!options.transactions.empty()) {
        LOOKBOOK_RETURN_IF_ERROR(read_transactions(ctx));
        timer.lap("reading transactions");
    }
    if (options.append) {
        for (size_t i = old_rows; i < ctx.transactions.dates.size(); ++i) {
            if (ctx.transactions.dates[i] <= old_last_date) {
                ++ctx.report.appended_before_last_date;
            }
        }
        if (ctx.report.appended_before_last_date > 0) {
            log::warn(
                "append: {} of the new transactions are dated on or before the store's last "
                "date {}; if this file was ingested before, they are now counted twice",
                ctx.report.appended_before_last_date,
                format_iso_date(old_last_date));
        }
    } else {
        resolve_images(ctx);
    }

    // Sort transactions by (customer, date) and index each customer's rows.
    auto& t = ctx.transactions;
    std::vector<uint64_t> offsets;
    // Retailers export transactions in date order (the H&M file is): the stable counting sort
    // alone then gives (customer, date) order, and the per-customer date sort, whose reads jump
    // around memory, is skipped after one sequential check.
    // The sorted customer column is each customer's code repeated over its rows: it is written
    // in place from the offsets, in order, rather than moved row by row like the others.
    auto other_columns = [&t](auto&& move_rows) {
        return [&t, move_rows](auto& column) {
            if (static_cast<const void*>(&column) != static_cast<const void*>(&t.customers)) {
                move_rows(column);
            }
        };
    };
    if (std::is_sorted(t.dates.begin(), t.dates.end())) {
        // The customer column becomes the ranks (it is rewritten from the offsets below),
        // which spares 4 bytes a row of new memory.
        counting_ranks(t.customers, ctx.customers.ids.size(), &offsets, &t.customers);
        const PooledColumn<uint32_t>& rank = t.customers;
        for_each_column(t, other_columns([&rank](auto& column) { scatter(column, rank); }));
    } else {
        std::vector<uint32_t> order = sort_order(t, ctx.customers.ids.size(), &offsets);
        for_each_column(t, other_columns([&order](auto& column) { permute(column, order); }));
    }
    for (uint32_t c = 0; c + 1 < offsets.size(); ++c) {
        std::fill(t.customers.begin() + static_cast<ptrdiff_t>(offsets[c]),
                  t.customers.begin() + static_cast<ptrdiff_t>(offsets[c + 1]),
                  c);
    }
    t.pool->release();

    timer.lap("sorting transactions");
    nlohmann::json meta;
    meta["format"] = "lookbook store 1";
    meta["articles_file"] = options.articles.string();
    meta["customers_file"] = options.customers.string();
    meta["transactions_file"] = options.transactions.string();
    meta["images_dir"] = options.images.empty() ? "" : fs::absolute(options.images).string();
    meta["date_format"] = options.mapping.date_format;
    meta["bad_rows"] = options.bad_rows == BadRowPolicy::kFail ? "fail" : "skip";
    meta["rows_rejected"] = ctx.rejects.count();
    meta["images_found"] = ctx.report.images_found;
    meta["images_missing"] = ctx.report.images_missing;
    if (options.append) {
        // Keep the first ingest's description of the catalog, note the append.
        auto old = Store::open(options.store);
        if (old.is_ok()) {
            auto previous = nlohmann::json::parse((*old)->metadata(), nullptr, false);
            if (previous.is_object()) {
                previous["appended_files"].push_back(options.transactions.string());
                meta = previous;
            }
        }
    }

    ColumnFileWriter article_writer;
    // Paths and values are the user's bytes; invalid UTF-8 is replaced rather than refused.
    std::string meta_text = meta.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    ctx.articles.write(article_writer, meta_text);
    ColumnFileWriter customer_writer;
    ctx.customers.write(customer_writer);
    ColumnFileWriter tx_writer;
    tx_writer.add("customer", std::span<const uint32_t>(t.customers));
    tx_writer.add("article", std::span<const uint32_t>(t.articles));
    tx_writer.add("date", std::span<const int32_t>(t.dates));
    tx_writer.add("price", std::span<const double>(t.prices));
    tx_writer.add("channel", std::span<const uint8_t>(t.channels));
    tx_writer.add("customer_offsets", offsets);
    if (t.has_orders) {
        tx_writer.add("order", std::span<const uint32_t>(t.orders));
    }
    tx_writer.set_metadata(meta_text);
    LOOKBOOK_RETURN_IF_ERROR(ctx.rejects.flush());
    LOOKBOOK_ASSIGN_OR_RETURN(ctx.report.generation,
                              Store::commit(options.store,
                                            {{"articles", &article_writer},
                                             {"customers", &customer_writer},
                                             {"transactions", &tx_writer}},
                                            /*keep_others=*/options.append,
                                            ctx.based_on));
    LOOKBOOK_RETURN_IF_ERROR(ctx.rejects.publish());
    timer.lap("writing the store");
    if (ctx.rejects.count() > 0) {
        ctx.report.rejects_file = ctx.rejects.path();
        log::warn("{} bad rows were skipped; each is in {} with its reason",
                  ctx.rejects.count(),
                  ctx.rejects.path().string());
    }
    ctx.report.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    log::info("ingest: store {} {} written: {} articles, {} customers, {} transactions in {:.2f}s",
              options.store.string(),
              ctx.report.generation,
              ctx.articles.ids.size(),
              ctx.customers.ids.size(),
              t.customers.size(),
              ctx.report.seconds);
    return ctx.report;
}

}  // namespace lookbook
