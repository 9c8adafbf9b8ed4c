#include "lookbook/recommend/answer_cache.hpp"

#include <algorithm>
#include <functional>

namespace lookbook {

AnswerCache::AnswerCache(size_t capacity, size_t shards) : capacity_(capacity) {
    // Fewer shards than answers, so every shard can hold at least one.
    const size_t count = std::max<size_t>(1, std::min(shards, std::max<size_t>(capacity, 1)));
    // Rounded down, so the shards together never hold more than `capacity` (rounding up held
    // 32 answers for a capacity of 17); count <= capacity keeps every shard at one or more.
    per_shard_ = capacity / count;
    for (size_t i = 0; i < count; ++i) {
        shards_.push_back(std::make_unique<Shard>());
    }
}

std::string AnswerCache::key(std::string_view customer_id,
                             size_t k,
                             std::span<const Interaction> live_events,
                             std::string_view filters) {
    // The id, a separator no id contains, then the numbers as raw bytes: exact and cheap.
    std::string out(customer_id);
    out.push_back('\0');
    auto append = [&out](const auto& value) {
        out.append(reinterpret_cast<const char*>(&value), sizeof(value));
    };
    append(static_cast<uint64_t>(k));
    // The filters' length first, so that no filter bytes can pass for events.
    append(static_cast<uint64_t>(filters.size()));
    out.append(filters);
    for (const Interaction& event : live_events) {
        append(event.article);
        append(event.day);
        append(static_cast<uint8_t>(event.kind));
    }
    return out;
}

AnswerCache::Shard& AnswerCache::shard_of(const std::string& key) {
    return *shards_[std::hash<std::string>{}(key) % shards_.size()];
}

std::optional<std::vector<Recommendation>> AnswerCache::find(const std::string& key) {
    if (per_shard_ == 0) {
        return std::nullopt;
    }
    Shard& shard = shard_of(key);
    std::lock_guard lock(shard.mutex);
    auto it = shard.index.find(key);
    if (it == shard.index.end()) {
        return std::nullopt;
    }
    shard.order.splice(shard.order.begin(), shard.order, it->second);
    return it->second->second;
}

void AnswerCache::insert(const std::string& key, std::vector<Recommendation> answer) {
    if (per_shard_ == 0) {
        return;
    }
    Shard& shard = shard_of(key);
    std::lock_guard lock(shard.mutex);
    auto it = shard.index.find(key);
    if (it != shard.index.end()) {
        // Two requests computed the same answer at once; keep one.
        it->second->second = std::move(answer);
        shard.order.splice(shard.order.begin(), shard.order, it->second);
        return;
    }
    if (shard.order.size() >= per_shard_) {
        shard.index.erase(shard.order.back().first);
        shard.order.pop_back();
    }
    shard.order.emplace_front(key, std::move(answer));
    // The index's key views the string held by the list entry, which never moves.
    shard.index.emplace(shard.order.front().first, shard.order.begin());
}

size_t AnswerCache::size() const {
    size_t total = 0;
    for (const auto& shard : shards_) {
        std::lock_guard lock(shard->mutex);
        total += shard->order.size();
    }
    return total;
}

}  // namespace lookbook
