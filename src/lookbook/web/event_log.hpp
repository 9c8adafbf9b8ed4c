#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "lookbook/util/status.hpp"
#include "lookbook/web/services.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace lookbook::web {

// The events file of a store: STORE/events.sqlite (outside the generations, so a rebuilt store
// keeps it).
std::filesystem::path event_log_path(const std::filesystem::path& store_dir);

// Customer events (views, purchases) recorded by the server, kept in SQLite in WAL mode with
// synchronous=FULL: record() returns only once the event is on disk, so it survives a crash or
// kill -9 of the server. Events are later folded into the store's transactions by
// fold_events() (see fold_events.hpp), which marks them with the generation they went into.
// Thread-safe: one connection serialised by a mutex.
class EventLog {
  public:
    // Opens or creates the database at `path`. kIOError naming the file when SQLite cannot.
    static Result<std::unique_ptr<EventLog>> open(const std::filesystem::path& path);
    ~EventLog();
    EventLog(const EventLog&) = delete;
    EventLog& operator=(const EventLog&) = delete;

    // Stores `event` (its id is ignored) durably; returns the new event id.
    Result<int64_t> record(const CustomerEvent& event);
    // The customer's events not yet folded into the store, oldest first (at most `limit`, the
    // newest ones kept). A customer without any (nearly every request) is answered from memory.
    Result<std::vector<CustomerEvent>> unfolded_for_customer(std::string_view customer_id,
                                                             size_t limit = 1000);
    // Every event not yet folded, oldest first.
    Result<std::vector<CustomerEvent>> unfolded();
    // Marks the events with id <= `last_id` not yet folded as folded into `generation`.
    Status mark_folded(int64_t last_id, const std::string& generation);
    // Number of events recorded and of those not folded yet.
    Result<std::pair<int64_t, int64_t>> counts();

  private:
    EventLog() = default;
    Status exec(const char* sql);
    Result<std::vector<CustomerEvent>> query_events(const char* sql,
                                                    std::string_view customer_id,
                                                    int64_t limit);

    // True when `customer_id` may have unfolded events. Call with mutex_ held.
    Result<bool> may_have_unfolded(std::string_view customer_id);
    // Reloads pending_ from the database. Call with mutex_ held.
    Status load_pending();

    std::filesystem::path path_;
    sqlite3* db_ = nullptr;
    std::mutex mutex_;
    // Customers with events not folded yet: a superset, kept in step with record(). Writes of
    // other connections (a build marking events folded, another process recording) change
    // PRAGMA data_version, which reloads it; a stale entry only costs a query.
    std::set<std::string, std::less<>> pending_;
    int64_t data_version_ = -1;
    sqlite3_stmt* data_version_stmt_ = nullptr;  // "PRAGMA data_version", prepared on first use
};

}  // namespace lookbook::web
