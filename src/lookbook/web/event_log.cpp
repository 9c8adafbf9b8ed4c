#include "lookbook/web/event_log.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <sqlite3.h>

namespace lookbook::web {
namespace {

// Finalizes a prepared statement on every path out of a function.
class Statement {
  public:
    Statement(sqlite3* db, const char* sql) {
        rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
    }
    ~Statement() { sqlite3_finalize(stmt_); }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    bool ok() const { return rc_ == SQLITE_OK; }
    sqlite3_stmt* get() const { return stmt_; }

  private:
    sqlite3_stmt* stmt_ = nullptr;
    int rc_ = SQLITE_ERROR;
};

EventKind kind_from_int(int value) { return value == 1 ? EventKind::kPurchase : EventKind::kView; }

}  // namespace

const char* event_kind_name(EventKind kind) {
    return kind == EventKind::kPurchase ? "purchase" : "view";
}

std::filesystem::path event_log_path(const std::filesystem::path& store_dir) {
    return store_dir / "events.sqlite";
}

Result<std::unique_ptr<EventLog>> EventLog::open(const std::filesystem::path& path) {
    std::unique_ptr<EventLog> log(new EventLog());
    log->path_ = path;
    int rc = sqlite3_open_v2(path.c_str(),
                             &log->db_,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) {
        return Status::io_error(
            fmt::format("{}: cannot open the events database: {}. Check that "
                        "the store folder exists and is writable.",
                        path.string(),
                        log->db_ ? sqlite3_errmsg(log->db_) : "out of memory"));
    }
    // Writers of other processes (a build folding events) wait instead of failing at once.
    sqlite3_busy_timeout(log->db_, 5000);
    // WAL lets the server read while a build marks events; FULL syncs the WAL on every commit,
    // which is what makes an answered event survive a power cut, not only a kill -9.
    LOOKBOOK_RETURN_IF_ERROR(log->exec("PRAGMA journal_mode=WAL"));
    LOOKBOOK_RETURN_IF_ERROR(log->exec("PRAGMA synchronous=FULL"));
    LOOKBOOK_RETURN_IF_ERROR(
        log->exec("CREATE TABLE IF NOT EXISTS events ("
                  " id INTEGER PRIMARY KEY AUTOINCREMENT,"
                  " customer_id TEXT NOT NULL,"
                  " article_id TEXT NOT NULL,"
                  " kind INTEGER NOT NULL,"
                  " unix_ms INTEGER NOT NULL,"
                  " price REAL NOT NULL,"
                  " folded_into TEXT)"));
    LOOKBOOK_RETURN_IF_ERROR(log->exec(
        "CREATE INDEX IF NOT EXISTS events_unfolded ON events(customer_id, id) WHERE folded_into "
        "IS NULL"));
    std::lock_guard lock(log->mutex_);
    LOOKBOOK_RETURN_IF_ERROR(log->may_have_unfolded("").status());
    return log;
}

Status EventLog::load_pending() {
    Statement stmt(db_, "SELECT DISTINCT customer_id FROM events WHERE folded_into IS NULL");
    if (!stmt.ok()) {
        return Status::io_error(
            fmt::format("{}: cannot prepare query: {}", path_.string(), sqlite3_errmsg(db_)));
    }
    pending_.clear();
    int rc;
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
        pending_.emplace(reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), 0)));
    }
    if (rc != SQLITE_DONE) {
        return Status::io_error(
            fmt::format("{}: cannot read events: {}", path_.string(), sqlite3_errmsg(db_)));
    }
    return Status::ok();
}

Result<bool> EventLog::may_have_unfolded(std::string_view customer_id) {
    // data_version changes only when another connection committed; this one's own writes keep
    // pending_ current themselves. Asked on every recommendation, so the statement is prepared
    // once (preparing it again each time cost more than running it).
    if (data_version_stmt_ == nullptr &&
        sqlite3_prepare_v2(db_, "PRAGMA data_version", -1, &data_version_stmt_, nullptr) !=
            SQLITE_OK) {
        sqlite3_finalize(data_version_stmt_);
        data_version_stmt_ = nullptr;
        return Status::io_error(fmt::format(
            "{}: cannot read the data version: {}", path_.string(), sqlite3_errmsg(db_)));
    }
    const int rc = sqlite3_step(data_version_stmt_);
    const int64_t version = rc == SQLITE_ROW ? sqlite3_column_int64(data_version_stmt_, 0) : -1;
    sqlite3_reset(data_version_stmt_);
    if (rc != SQLITE_ROW) {
        return Status::io_error(fmt::format(
            "{}: cannot read the data version: {}", path_.string(), sqlite3_errmsg(db_)));
    }
    if (version != data_version_) {
        LOOKBOOK_RETURN_IF_ERROR(load_pending());
        data_version_ = version;
    }
    return pending_.find(customer_id) != pending_.end();
}

EventLog::~EventLog() {
    sqlite3_finalize(data_version_stmt_);
    sqlite3_close_v2(db_);
}

Status EventLog::exec(const char* sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
        std::string message = error ? error : sqlite3_errmsg(db_);
        sqlite3_free(error);
        return Status::io_error(
            fmt::format("{}: events database error: {} (in \"{}\")", path_.string(), message, sql));
    }
    return Status::ok();
}

Result<int64_t> EventLog::record(const CustomerEvent& event) {
    std::lock_guard lock(mutex_);
    Statement stmt(db_,
                   "INSERT INTO events(customer_id, article_id, kind, unix_ms, price) "
                   "VALUES (?, ?, ?, ?, ?)");
    if (!stmt.ok()) {
        return Status::io_error(
            fmt::format("{}: cannot prepare insert: {}", path_.string(), sqlite3_errmsg(db_)));
    }
    sqlite3_bind_text(stmt.get(),
                      1,
                      event.customer_id.data(),
                      static_cast<int>(event.customer_id.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt.get(),
                      2,
                      event.article_id.data(),
                      static_cast<int>(event.article_id.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_int(stmt.get(), 3, event.kind == EventKind::kPurchase ? 1 : 0);
    sqlite3_bind_int64(stmt.get(), 4, event.unix_ms);
    sqlite3_bind_double(stmt.get(), 5, event.price);
    if (sqlite3_step(stmt.get()) != SQLITE_DONE) {
        return Status::io_error(
            fmt::format("{}: cannot record the event: {}", path_.string(), sqlite3_errmsg(db_)));
    }
    pending_.insert(event.customer_id);
    return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
}

Result<std::vector<CustomerEvent>> EventLog::query_events(const char* sql,
                                                          std::string_view customer_id,
                                                          int64_t limit) {
    std::lock_guard lock(mutex_);
    Statement stmt(db_, sql);
    if (!stmt.ok()) {
        return Status::io_error(
            fmt::format("{}: cannot prepare query: {}", path_.string(), sqlite3_errmsg(db_)));
    }
    int param = 1;
    if (!customer_id.empty()) {
        sqlite3_bind_text(stmt.get(),
                          param++,
                          customer_id.data(),
                          static_cast<int>(customer_id.size()),
                          SQLITE_TRANSIENT);
    }
    sqlite3_bind_int64(stmt.get(), param, limit);
    std::vector<CustomerEvent> events;
    int rc;
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
        CustomerEvent event;
        event.id = sqlite3_column_int64(stmt.get(), 0);
        event.customer_id = reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), 1));
        event.article_id = reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), 2));
        event.kind = kind_from_int(sqlite3_column_int(stmt.get(), 3));
        event.unix_ms = sqlite3_column_int64(stmt.get(), 4);
        event.price = sqlite3_column_double(stmt.get(), 5);
        events.push_back(std::move(event));
    }
    if (rc != SQLITE_DONE) {
        return Status::io_error(
            fmt::format("{}: cannot read events: {}", path_.string(), sqlite3_errmsg(db_)));
    }
    std::sort(
        events.begin(), events.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return events;
}

Result<std::vector<CustomerEvent>> EventLog::unfolded_for_customer(std::string_view customer_id,
                                                                   size_t limit) {
    if (customer_id.empty()) {
        return std::vector<CustomerEvent>{};
    }
    {
        std::lock_guard lock(mutex_);
        LOOKBOOK_ASSIGN_OR_RETURN(bool pending, may_have_unfolded(customer_id));
        if (!pending) {
            return std::vector<CustomerEvent>{};
        }
    }
    // Newest first so the limit keeps the most recent, then sorted back to oldest first.
    return query_events(
        "SELECT id, customer_id, article_id, kind, unix_ms, price FROM events "
        "WHERE customer_id = ? AND folded_into IS NULL ORDER BY id DESC LIMIT ?",
        customer_id,
        static_cast<int64_t>(limit));
}

Result<std::vector<CustomerEvent>> EventLog::unfolded() {
    return query_events(
        "SELECT id, customer_id, article_id, kind, unix_ms, price FROM events "
        "WHERE folded_into IS NULL ORDER BY id LIMIT ?",
        {},
        -1);
}

Status EventLog::mark_folded(int64_t last_id, const std::string& generation) {
    std::lock_guard lock(mutex_);
    Statement stmt(db_, "UPDATE events SET folded_into = ? WHERE id <= ? AND folded_into IS NULL");
    if (!stmt.ok()) {
        return Status::io_error(
            fmt::format("{}: cannot prepare update: {}", path_.string(), sqlite3_errmsg(db_)));
    }
    sqlite3_bind_text(
        stmt.get(), 1, generation.data(), static_cast<int>(generation.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt.get(), 2, last_id);
    if (sqlite3_step(stmt.get()) != SQLITE_DONE) {
        return Status::io_error(fmt::format(
            "{}: cannot mark events as folded: {}", path_.string(), sqlite3_errmsg(db_)));
    }
    // Folded customers leave the pending set (this connection's writes do not move
    // data_version).
    return load_pending();
}

Result<std::pair<int64_t, int64_t>> EventLog::counts() {
    std::lock_guard lock(mutex_);
    Statement stmt(db_, "SELECT COUNT(*), COUNT(*) - COUNT(folded_into) FROM events");
    if (!stmt.ok() || sqlite3_step(stmt.get()) != SQLITE_ROW) {
        return Status::io_error(
            fmt::format("{}: cannot count events: {}", path_.string(), sqlite3_errmsg(db_)));
    }
    return std::pair<int64_t, int64_t>{sqlite3_column_int64(stmt.get(), 0),
                                       sqlite3_column_int64(stmt.get(), 1)};
}

}  // namespace lookbook::web
