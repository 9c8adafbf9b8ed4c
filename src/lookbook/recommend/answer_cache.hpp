#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lookbook/recommend/candidates.hpp"
#include "lookbook/recommend/recommender.hpp"

// Whole answers of Recommender::recommend kept for the web server, which is asked for the same
// customer again and again (a shopper paging through the site). The cold path stays the real
// one; this only saves repeating it while nothing the answer depends on has changed.
namespace lookbook {

// A bounded, thread-safe LRU of answers. The key is everything an answer depends on besides the
// models: the customer id, k and every live event (article, day, kind). A new event for a
// customer therefore makes a new key, and the stale answer simply ages out; nothing has to be
// invalidated. One cache belongs to one Recommender (one store snapshot): a new snapshot must
// get a new cache, which the web server does by building its services per snapshot.
class AnswerCache {
  public:
    // At most `capacity` answers (0 turns the cache off: find() always misses, insert() keeps
    // nothing), spread over `shards` independently locked parts so concurrent requests rarely
    // wait for each other.
    explicit AnswerCache(size_t capacity, size_t shards = 16);

    // The key of an answer (see the class comment).
    // `filters` holds whatever else changes the answer (the request's filters), any bytes.
    static std::string key(std::string_view customer_id,
                           size_t k,
                           std::span<const Interaction> live_events,
                           std::string_view filters = {});

    // The answer stored under `key`, refreshed as most recently used; nullopt when absent.
    std::optional<std::vector<Recommendation>> find(const std::string& key);
    // Stores `answer`, dropping the least recently used answer of its shard when full.
    void insert(const std::string& key, std::vector<Recommendation> answer);

    size_t capacity() const { return capacity_; }
    // Answers held now (all shards).
    size_t size() const;

  private:
    struct Shard {
        using Entry = std::pair<std::string, std::vector<Recommendation>>;
        std::mutex mutex;
        std::list<Entry> order;  // most recently used first
        std::unordered_map<std::string_view, std::list<Entry>::iterator> index;
    };
    Shard& shard_of(const std::string& key);

    size_t capacity_;
    size_t per_shard_;
    std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace lookbook
