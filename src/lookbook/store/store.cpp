#include "lookbook/store/store.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include "lookbook/util/file.hpp"
#include "lookbook/util/log.hpp"

namespace lookbook {
namespace fs = std::filesystem;
namespace {

constexpr const char* kAttributeNames[kArticleAttributeCount] = {
    "product_code",
    "product_type",
    "product_group",
    "graphical_appearance",
    "colour",
    "perceived_colour",
    "perceived_colour_master",
    "department",
    "index",
    "index_group",
    "section",
    "garment_group",
};

Status check_rows(const ColumnFile& file, const std::string& column, size_t got, size_t want) {
    if (got != want) {
        return Status::corruption(fmt::format(
            "{}: column \"{}\" has {} rows; expected {}", file.path().string(), column, got, want));
    }
    return Status::ok();
}

Result<CategoricalColumn> load_categorical(const ColumnFile& file,
                                           const std::string& name,
                                           size_t rows) {
    CategoricalColumn column;
    LOOKBOOK_ASSIGN_OR_RETURN(column.codes, file.column<uint32_t>(name));
    LOOKBOOK_ASSIGN_OR_RETURN(column.values, file.strings(name + ".dict"));
    LOOKBOOK_RETURN_IF_ERROR(check_rows(file, name, column.codes.size(), rows));
    for (uint32_t code : column.codes) {
        if (code >= column.values.size()) {
            return Status::corruption(
                fmt::format("{}: column \"{}\" has code {} past its dictionary of {} values",
                            file.path().string(),
                            name,
                            code,
                            column.values.size()));
        }
    }
    return column;
}

// Holds an exclusive lock on STORE/LOCK so two writers cannot interleave generations.
class StoreLock {
  public:
    ~StoreLock() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    Status acquire(const fs::path& dir) {
        fs::path path = dir / "LOCK";
        fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd_ < 0) {
            return Status::io_error(fmt::format(
                "{}: cannot create lock file: {}", path.string(), std::strerror(errno)));
        }
        if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            return Status::io_error(fmt::format(
                "{}: another lookbook process is writing this store. Wait for it to finish.",
                dir.string()));
        }
        return Status::ok();
    }

  private:
    int fd_ = -1;
};

// Parses "gen-NNNNNN" (exactly six digits); -1 for any other name.
int generation_number(const std::string& name) {
    if (name.size() != 10 || name.rfind("gen-", 0) != 0) {
        return -1;
    }
    int number = 0;
    for (size_t i = 4; i < name.size(); ++i) {
        if (name[i] < '0' || name[i] > '9') {
            return -1;
        }
        number = number * 10 + (name[i] - '0');
    }
    return number;
}

// Shortens text quoted in a message so that a damaged file cannot flood the terminal.
std::string shorten(const std::string& text) {
    return text.size() <= 60 ? text : text.substr(0, 60) + "...";
}

Result<std::string> read_current(const fs::path& dir) {
    auto text = read_file(dir / "CURRENT");
    if (!text.is_ok()) {
        if (text.status().code() == StatusCode::kNotFound) {
            return Status::not_found(fmt::format(
                "{}: not a lookbook store (no CURRENT file). Create one with `lookbook ingest "
                "--store {}`.",
                dir.string(),
                dir.string()));
        }
        return text.status();
    }
    std::string name = *text;
    while (!name.empty() && (name.back() == '\n' || name.back() == '\r')) {
        name.pop_back();
    }
    if (generation_number(name) < 0) {
        return Status::corruption(
            fmt::format("{}: CURRENT holds \"{}\"; expected a generation name like gen-000001. "
                        "The store is damaged; re-run `lookbook ingest` to rebuild it.",
                        (dir / "CURRENT").string(),
                        shorten(name)));
    }
    return name;
}

// Opens one of the three core tables; a missing or unmappable file means a damaged store.
Result<ColumnFile> open_table(const fs::path& path) {
    auto file = ColumnFile::open(path);
    if (!file.is_ok() && (file.status().code() == StatusCode::kNotFound ||
                          file.status().code() == StatusCode::kIOError)) {
        return Status::corruption(fmt::format(
            "{}. The store is damaged or incomplete; re-run `lookbook ingest` to rebuild it.",
            file.status().message()));
    }
    return file;
}

}  // namespace

const char* article_attribute_name(ArticleAttribute attribute) {
    return kAttributeNames[static_cast<size_t>(attribute)];
}

std::optional<uint32_t> IdIndex::find(std::string_view id) const {
    std::call_once(built_, [this] {
        dictionary_.reserve(ids_.size());
        for (size_t i = 0; i < ids_.size(); ++i) {
            dictionary_.intern(ids_.at(i));
        }
    });
    return dictionary_.find(id);
}

Result<std::unique_ptr<ArticleTable>> ArticleTable::load(const ColumnFile& file) {
    auto table = std::make_unique<ArticleTable>();
    LOOKBOOK_ASSIGN_OR_RETURN(table->ids_, file.strings("id"));
    size_t rows = table->ids_.size();
    LOOKBOOK_ASSIGN_OR_RETURN(table->has_metadata_, file.column<uint8_t>("has_metadata"));
    LOOKBOOK_ASSIGN_OR_RETURN(table->names_, file.strings("name"));
    LOOKBOOK_ASSIGN_OR_RETURN(table->descriptions_, file.strings("description"));
    LOOKBOOK_ASSIGN_OR_RETURN(table->image_paths_, file.strings("image_path"));
    LOOKBOOK_RETURN_IF_ERROR(check_rows(file, "has_metadata", table->has_metadata_.size(), rows));
    LOOKBOOK_RETURN_IF_ERROR(check_rows(file, "name", table->names_.size(), rows));
    LOOKBOOK_RETURN_IF_ERROR(check_rows(file, "description", table->descriptions_.size(), rows));
    LOOKBOOK_RETURN_IF_ERROR(check_rows(file, "image_path", table->image_paths_.size(), rows));
    for (const char* name : kAttributeNames) {
        LOOKBOOK_ASSIGN_OR_RETURN(auto column, load_categorical(file, name, rows));
        table->attributes_.push_back(column);
    }
    table->index_ = std::make_unique<IdIndex>(table->ids_);
    return table;
}

Result<std::unique_ptr<CustomerTable>> CustomerTable::load(const ColumnFile& file) {
    auto table = std::make_unique<CustomerTable>();
    LOOKBOOK_ASSIGN_OR_RETURN(table->ids_, file.strings("id"));
    size_t rows = table->ids_.size();
    LOOKBOOK_ASSIGN_OR_RETURN(table->has_metadata_, file.column<uint8_t>("has_metadata"));
    LOOKBOOK_ASSIGN_OR_RETURN(table->ages_, file.column<float>("age"));
    LOOKBOOK_RETURN_IF_ERROR(check_rows(file, "has_metadata", table->has_metadata_.size(), rows));
    LOOKBOOK_RETURN_IF_ERROR(check_rows(file, "age", table->ages_.size(), rows));
    LOOKBOOK_ASSIGN_OR_RETURN(table->club_status_, load_categorical(file, "club_status", rows));
    LOOKBOOK_ASSIGN_OR_RETURN(table->news_frequency_,
                              load_categorical(file, "news_frequency", rows));
    LOOKBOOK_ASSIGN_OR_RETURN(table->postal_code_, load_categorical(file, "postal_code", rows));
    table->index_ = std::make_unique<IdIndex>(table->ids_);
    return table;
}

Result<std::unique_ptr<TransactionTable>> TransactionTable::load(const ColumnFile& file,
                                                                 uint32_t customer_count) {
    auto table = std::make_unique<TransactionTable>();
    LOOKBOOK_ASSIGN_OR_RETURN(table->customers_, file.column<uint32_t>("customer"));
    size_t rows = table->customers_.size();
    LOOKBOOK_ASSIGN_OR_RETURN(table->articles_, file.column<uint32_t>("article"));
    LOOKBOOK_ASSIGN_OR_RETURN(table->dates_, file.column<int32_t>("date"));
    LOOKBOOK_ASSIGN_OR_RETURN(table->prices_, file.column<double>("price"));
    LOOKBOOK_ASSIGN_OR_RETURN(table->channels_, file.column<uint8_t>("channel"));
    LOOKBOOK_ASSIGN_OR_RETURN(table->customer_offsets_, file.column<uint64_t>("customer_offsets"));
    if (file.has("order")) {
        LOOKBOOK_ASSIGN_OR_RETURN(table->orders_, file.column<uint32_t>("order"));
        LOOKBOOK_RETURN_IF_ERROR(check_rows(file, "order", table->orders_.size(), rows));
    }
    LOOKBOOK_RETURN_IF_ERROR(check_rows(file, "article", table->articles_.size(), rows));
    LOOKBOOK_RETURN_IF_ERROR(check_rows(file, "date", table->dates_.size(), rows));
    LOOKBOOK_RETURN_IF_ERROR(check_rows(file, "price", table->prices_.size(), rows));
    LOOKBOOK_RETURN_IF_ERROR(check_rows(file, "channel", table->channels_.size(), rows));
    LOOKBOOK_RETURN_IF_ERROR(check_rows(
        file, "customer_offsets", table->customer_offsets_.size(), size_t{customer_count} + 1));
    for (size_t c = 1; c < table->customer_offsets_.size(); ++c) {
        if (table->customer_offsets_[c] < table->customer_offsets_[c - 1]) {
            return Status::corruption(fmt::format(
                "{}: customer_offsets decrease at customer {}", file.path().string(), c));
        }
    }
    if (table->customer_offsets_.back() != rows) {
        return Status::corruption(fmt::format("{}: customer_offsets ends at {}; expected {}",
                                              file.path().string(),
                                              table->customer_offsets_.back(),
                                              rows));
    }
    return table;
}

std::string path_for_store(const fs::path& store_dir, const fs::path& path) {
    const fs::path store = fs::absolute(store_dir).lexically_normal();
    const fs::path target = fs::absolute(path).lexically_normal();
    const fs::path relative = target.lexically_relative(store);
    const bool inside = !relative.empty() && relative != "." && *relative.begin() != fs::path("..");
    return inside ? relative.string() : target.string();
}

fs::path resolve_store_path(const fs::path& store_dir, const std::string& recorded) {
    const fs::path path(recorded);
    if (recorded.empty()) {
        return path;
    }
    if (path.is_relative()) {
        return store_dir / path;
    }
    std::error_code ec;
    if (fs::exists(path, ec)) {
        return path;
    }
    // Try the longest trailing part first: "models/encoder" before "encoder".
    const fs::path relative = path.relative_path();
    const std::vector<fs::path> parts(relative.begin(), relative.end());
    for (size_t first = 1; first < parts.size(); ++first) {
        fs::path tail;
        for (size_t i = first; i < parts.size(); ++i) {
            tail /= parts[i];
        }
        const fs::path inside = store_dir / tail;
        if (fs::exists(inside, ec)) {
            log::info("{} does not exist (the store was copied or moved); using {} inside it",
                      recorded,
                      inside.string());
            return inside;
        }
    }
    return path;
}

Result<std::unique_ptr<Store>> Store::open(const fs::path& dir) {
    LOOKBOOK_ASSIGN_OR_RETURN(std::string generation, read_current(dir));
    auto store = std::make_unique<Store>();
    store->dir_ = dir;
    store->generation_ = generation;
    store->generation_dir_ = dir / generation;
    LOOKBOOK_ASSIGN_OR_RETURN(store->articles_file_,
                              open_table(store->generation_dir_ / "articles.lbc"));
    LOOKBOOK_ASSIGN_OR_RETURN(store->customers_file_,
                              open_table(store->generation_dir_ / "customers.lbc"));
    LOOKBOOK_ASSIGN_OR_RETURN(store->transactions_file_,
                              open_table(store->generation_dir_ / "transactions.lbc"));
    LOOKBOOK_ASSIGN_OR_RETURN(store->articles_, ArticleTable::load(store->articles_file_));
    LOOKBOOK_ASSIGN_OR_RETURN(store->customers_, CustomerTable::load(store->customers_file_));
    LOOKBOOK_ASSIGN_OR_RETURN(
        store->transactions_,
        TransactionTable::load(store->transactions_file_, store->customers_->size()));
    // Codes index the other tables; a bad code would read out of bounds later, so check now.
    uint32_t articles = store->articles_->size();
    uint32_t customers = store->customers_->size();
    for (uint32_t a : store->transactions_->article()) {
        if (a >= articles) {
            return Status::corruption(
                fmt::format("{}: a transaction names article code {} but the store has {} articles",
                            store->generation_dir_.string(),
                            a,
                            articles));
        }
    }
    for (uint32_t c : store->transactions_->customer()) {
        if (c >= customers) {
            return Status::corruption(fmt::format(
                "{}: a transaction names customer code {} but the store has {} customers",
                store->generation_dir_.string(),
                c,
                customers));
        }
    }
    return store;
}

bool Store::has_file(const std::string& name) const {
    std::error_code ec;
    return fs::exists(generation_dir_ / (name + ".lbc"), ec);
}

Result<ColumnFile> Store::open_file(const std::string& name) const {
    auto file = ColumnFile::open(generation_dir_ / (name + ".lbc"));
    if (!file.is_ok() && file.status().code() == StatusCode::kNotFound) {
        return Status::not_found(
            fmt::format("{}: the store has no \"{}\" data yet", dir_.string(), name));
    }
    return file;
}

Status Store::verify() const {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(generation_dir_, ec)) {
        if (entry.path().extension() != ".lbc") {
            continue;
        }
        LOOKBOOK_ASSIGN_OR_RETURN(ColumnFile file, ColumnFile::open(entry.path()));
        LOOKBOOK_RETURN_IF_ERROR(file.verify());
    }
    if (ec) {
        return Status::io_error(generation_dir_.string() + ": cannot list: " + ec.message());
    }
    return Status::ok();
}

uint64_t Store::size_bytes() const {
    uint64_t total = 0;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(generation_dir_, ec)) {
        if (entry.is_regular_file(ec)) {
            total += entry.file_size(ec);
        }
    }
    return total;
}

Status Store::check_target(const fs::path& dir) {
    std::error_code ec;
    // Never write into a folder that holds anything but a store: cleaning up old generations
    // would otherwise delete the user's files.
    if (fs::exists(dir, ec) && !fs::exists(dir / "CURRENT", ec)) {
        if (!fs::is_directory(dir, ec)) {
            return Status::invalid_argument(
                fmt::format("--store {}: is a file, not a folder. Choose a new or empty folder.",
                            dir.string()));
        }
        for (const auto& entry : fs::directory_iterator(dir, ec)) {
            std::string name = entry.path().filename().string();
            bool ours = name == "LOCK" || name == "rejects.csv" || name == "rejects.csv.tmp" ||
                        name == "CURRENT.tmp" || generation_number(name) >= 0 ||
                        (name.size() == 14 && generation_number(name.substr(0, 10)) >= 0 &&
                         name.substr(10) == ".tmp");
            if (!ours) {
                return Status::invalid_argument(fmt::format(
                    "--store {}: the folder is not empty and is not a lookbook store (it holds "
                    "\"{}\"). Choose a new or empty folder.",
                    dir.string(),
                    shorten(name)));
            }
        }
    }
    return Status::ok();
}

Result<std::string> Store::commit(
    const fs::path& dir,
    const std::vector<std::pair<std::string, const ColumnFileWriter*>>& files,
    bool keep_others,
    const std::string& based_on) {
    LOOKBOOK_RETURN_IF_ERROR(check_target(dir));
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
        return Status::io_error(
            fmt::format("{}: cannot create store directory: {}", dir.string(), ec.message()));
    }
    StoreLock lock;
    LOOKBOOK_RETURN_IF_ERROR(lock.acquire(dir));

    // The next generation number follows the highest one present, live or not.
    std::optional<std::string> live;
    if (fs::exists(dir / "CURRENT")) {
        LOOKBOOK_ASSIGN_OR_RETURN(live, read_current(dir));
    }
    if (!based_on.empty() && live.value_or("") != based_on) {
        return Status::io_error(fmt::format(
            "{}: the store changed while this command ran (it read {}, the store is now at {}). "
            "Nothing was written; run the command again.",
            dir.string(),
            based_on,
            live.value_or("empty")));
    }
    int highest = 0;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        std::string name = entry.path().filename().string();
        highest = std::max(highest, generation_number(name.substr(0, 10)));
    }
    if (highest >= 999999) {
        return Status::unsupported(
            fmt::format("{}: the store has used all generation numbers; ingest into a new folder.",
                        dir.string()));
    }
    std::string generation = fmt::format("gen-{:06d}", highest + 1);
    fs::path tmp = dir / (generation + ".tmp");
    fs::remove_all(tmp, ec);
    fs::create_directory(tmp, ec);
    if (ec) {
        return Status::io_error(fmt::format("{}: cannot create: {}", tmp.string(), ec.message()));
    }
    auto abandon = [&](Status status) {
        std::error_code ignored;
        fs::remove_all(tmp, ignored);
        return status;
    };

    for (const auto& [name, writer] : files) {
        Status s = writer->write(tmp / (name + ".lbc"));
        if (!s.is_ok()) {
            return abandon(s);
        }
    }
    if (keep_others && live) {
        for (const auto& entry : fs::directory_iterator(dir / *live, ec)) {
            fs::path target = tmp / entry.path().filename();
            if (fs::exists(target)) {
                continue;
            }
            fs::create_hard_link(entry.path(), target, ec);
            if (ec) {
                // Some file systems refuse hard links; a copy keeps the same content.
                ec.clear();
                fs::copy_file(entry.path(), target, ec);
            }
            if (ec) {
                return abandon(Status::io_error(
                    fmt::format("{}: cannot carry over into the new generation: {}",
                                entry.path().string(),
                                ec.message())));
            }
        }
    }
    Status s = sync_directory(tmp);
    if (!s.is_ok()) {
        return abandon(s);
    }
    fs::rename(tmp, dir / generation, ec);
    if (ec) {
        return abandon(Status::io_error(
            fmt::format("{}: cannot rename into place: {}", tmp.string(), ec.message())));
    }
    // Swap CURRENT atomically: write a temporary file and rename it over the old one.
    s = write_file_synced(dir / "CURRENT.tmp", generation + "\n");
    if (s.is_ok()) {
        fs::rename(dir / "CURRENT.tmp", dir / "CURRENT", ec);
        if (ec) {
            s = Status::io_error(
                fmt::format("{}: cannot update CURRENT: {}", dir.string(), ec.message()));
        }
    }
    if (!s.is_ok()) {
        fs::remove_all(dir / generation, ec);
        return s;
    }
    LOOKBOOK_RETURN_IF_ERROR(sync_directory(dir));

    // Older generations are no longer reachable. Processes that still map their files keep
    // reading them: unlinking does not invalidate a mapping.
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        std::string name = entry.path().filename().string();
        bool old_generation = generation_number(name) >= 0 ||
                              (name.size() == 14 && generation_number(name.substr(0, 10)) >= 0 &&
                               name.substr(10) == ".tmp");
        if (old_generation && name != generation && entry.is_directory(ec)) {
            std::error_code ignored;
            fs::remove_all(entry.path(), ignored);
        }
    }
    log::debug("store {}: committed {}", dir.string(), generation);
    return generation;
}

}  // namespace lookbook
