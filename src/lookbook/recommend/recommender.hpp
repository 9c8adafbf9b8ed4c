#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "lookbook/recommend/candidates.hpp"
#include "lookbook/recommend/models.hpp"
#include "lookbook/recommend/sources.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/util/status.hpp"

// "Recommended for you": the blend of every candidate source, with its filters. This is what
// `lookbook recommend`, `lookbook evaluate` and the web server call.
namespace lookbook {

class PrecomputedLists;

struct RecommendOptions {
    size_t k = 12;
    // The day recommendations are for; history from the store is cut before it. 0 = the day
    // after the models were trained (the usual live case).
    int32_t today = 0;
    // Category filter: only articles of these product groups ("Garment Upper body"); empty = all.
    std::vector<std::string> product_groups;
    // Stock filter: articles never to show.
    // TODO: the store has no stock column, so callers pass this set; `lookbook recommend` has
    // no option for it yet and shows sold-out articles.
    std::unordered_set<uint32_t> out_of_stock;
    // Diversity: at most this many articles of one product type (0 = no limit).
    uint32_t max_per_product_type = 0;
    // Candidates asked of each source before blending.
    size_t candidates_per_source = 100;
    // When the weighted sources leave the list short of k (a new customer and a blend that
    // weighs trending 0), the rest comes from the "trending" candidates, in their order.
    bool fill_with_trending = true;
    // Only articles of the catalog file (with a name and a photo to show). Sold articles the
    // catalog lacks (a third of the H&M sample's lists otherwise) are left out of what a shop
    // shows, but counted by evaluations, which score what customers really bought.
    bool catalog_only = false;
    // Ask the history's sources (repurchase, and trending for the fill) first and stop there when
    // their list is already the answer: when the k-th article scores more than any article not
    // bought before could reach with every other source's full weight. The answer is the one
    // asking every source gives (tests compare both); false asks every source (for comparisons).
    bool settle_from_history = true;
    // Lists computed ahead (Recommender::precompute): used for a customer of the store that has
    // them, on the default day, with no live events and at most candidates_per_source asked;
    // any other answer asks the sources. Null: always ask. Borrowed.
    const PrecomputedLists* precomputed = nullptr;
};

// Issue 7: the lists of the sources that search the catalog (ALS, profile similarity, two-tower,
// item-to-item; not repurchase and trending, which read the history) for one customer of the
// store, computed ahead by Recommender::precompute(). A model source's list for a customer
// depends only on the customer's stored history, the default day and the models, which are
// fixed for a store generation; so an answer blended from these lists is, bit for bit, the one
// asking the sources gives, and the costly part of a cold answer (the catalog searches, ~80% of
// recommend()'s CPU on the H&M store) is done once per customer and generation instead of per
// request. Live events change the history, so those answers ask the sources again.
struct PrecomputedCandidate {
    uint32_t article = kNoRow;
    float score = 0;
    uint32_t because_of = kNoRow;
};

struct CustomerLists {
    size_t asked = 0;         // candidates asked of each source
    uint64_t sources_id = 0;  // the recommender's sources they were computed with
    // Source `sources[i]` (the recommender's own object) gave items[offsets[i] .. offsets[i+1]).
    std::vector<const CandidateSource*> sources;
    std::vector<uint32_t> offsets;
    std::vector<PrecomputedCandidate> items;

    size_t bytes() const;
};

// CustomerLists by customer row, each set once (by a background thread) and read by any number
// of threads at once without a lock: a customer's lists are visible only once complete.
class PrecomputedLists {
  public:
    explicit PrecomputedLists(size_t customers);
    ~PrecomputedLists();
    PrecomputedLists(const PrecomputedLists&) = delete;
    PrecomputedLists& operator=(const PrecomputedLists&) = delete;

    // Null until set (and for rows outside the table).
    const CustomerLists* find(uint32_t customer) const;
    // Sets a customer's lists; a second call for the same customer is ignored.
    void set(uint32_t customer, std::unique_ptr<CustomerLists> lists);
    size_t customers() const { return customers_; }
    size_t ready() const { return ready_.load(std::memory_order_relaxed); }
    size_t bytes() const { return bytes_.load(std::memory_order_relaxed); }

  private:
    size_t customers_;
    std::unique_ptr<std::atomic<CustomerLists*>[]> slots_;
    std::atomic<size_t> ready_{0};
    std::atomic<size_t> bytes_{0};
};

struct Recommendation {
    uint32_t article = kNoRow;
    float score = 0;
    std::string source;  // the source with the strongest weighted contribution
    std::string reason;  // that source's reason
    uint32_t because_of = kNoRow;
};

// What the blend needs to filter, precomputed from the catalog (empty spans: no filter data).
struct BlendCatalog {
    std::span<const uint32_t> product_type;   // code per article
    std::span<const uint32_t> product_group;  // code per article
    std::vector<std::string> product_group_names;
    std::span<const uint8_t> has_metadata;  // 1 for catalog articles, by article row
};

// Merges per-source candidate lists: each list's scores divided by its best score (so every
// source spans (0, 1]), times the source's weight, summed per article. Articles in `bought`
// (sorted) keep only their "repurchase" contribution, so they are dropped unless repurchase is
// the reason. The reason of the strongest weighted contribution is kept. Sources missing from
// `weights` weigh 0.
std::vector<Recommendation> blend_candidates(std::span<const std::vector<Candidate>> per_source,
                                             std::span<const std::string> source_names,
                                             const BlendWeights& weights,
                                             std::span<const uint32_t> bought,
                                             const BlendCatalog& catalog,
                                             const RecommendOptions& options);

class Recommender {
  public:
    // Opens the models `lookbook train` saved in the store, plus the store's embeddings when it
    // has them (profile similarity is skipped, with a log line, otherwise). `store` is borrowed
    // and must outlive the recommender. Fails with load_models' errors (kNotFound: run
    // `lookbook train STORE`).
    static Result<std::unique_ptr<Recommender>> open(const Store& store);

    // From models in memory (the evaluation). `vectors` may be null (no profile source).
    Recommender(const Store& store,
                std::shared_ptr<const TrainedModels> models,
                std::shared_ptr<const ContentVectors> vectors);

    // Adds a source (the two-tower model) with its blend weight; replaces one of the same name.
    void add_source(std::shared_ptr<const CandidateSource> source, float weight);
    void set_weight(const std::string& source, float weight) { weights_[source] = weight; }
    const BlendWeights& weights() const { return weights_; }
    std::vector<std::string> source_names() const;
    const CandidateSource* source(std::string_view name) const;
    const TrainedModels& models() const { return *models_; }

    // Recommendations for a customer id with the live events recorded since the store was
    // built (oldest first). An id the store does not know is served as a new customer from
    // `live_events` and trending. Thread-safe.
    Result<std::vector<Recommendation>> recommend(std::string_view customer_id,
                                                  std::span<const Interaction> live_events,
                                                  const RecommendOptions& options) const;
    // The same for a customer row (kNoRow for an unknown customer).
    std::vector<Recommendation> recommend(uint32_t customer,
                                          std::span<const Interaction> live_events,
                                          const RecommendOptions& options) const;

    // The context a source sees: the store's history before `today` plus `live_events`.
    std::vector<Interaction> history(uint32_t customer,
                                     int32_t today,
                                     std::span<const Interaction> live_events) const;
    int32_t default_today() const { return models_->trained_until; }
    const BlendCatalog& catalog() const { return catalog_; }

    // The lists recommend() asks of the sources that search the catalog (those weighing more than
    // 0 now), for a customer row of the store with no live events, on default_today(), with the
    // default candidate count: what RecommendOptions::precomputed holds. Thread-safe.
    std::unique_ptr<CustomerLists> precompute(uint32_t customer) const;
    // Customers of the store with purchases, the latest buyer first (ties: lower row first), at
    // most `limit`: the order in which lists are worth computing ahead.
    std::vector<uint32_t> customers_by_last_purchase(size_t limit) const;
    // Answers so far that used lists computed ahead, for the benchmarks and tests.
    uint64_t answers_from_precomputed() const {
        return answers_from_precomputed_.load(std::memory_order_relaxed);
    }
    // Answers so far that the history's sources settled alone (RecommendOptions::
    // settle_from_history), for the benchmarks.
    uint64_t answers_settled_from_history() const {
        return settled_from_history_.load(std::memory_order_relaxed);
    }

  private:
    const Store& store_;
    std::shared_ptr<const TrainedModels> models_;
    std::vector<std::shared_ptr<const CandidateSource>> sources_;
    BlendWeights weights_;
    BlendCatalog catalog_;
    std::vector<uint32_t> product_type_codes_;
    std::vector<uint32_t> product_group_codes_;
    mutable std::atomic<uint64_t> settled_from_history_{0};
    mutable std::atomic<uint64_t> answers_from_precomputed_{0};
    // Names this recommender's set of sources, process-wide unique; add_source() takes a new
    // one, so lists computed ahead with other sources (or for another recommender) go unused.
    static uint64_t next_sources_id();
    uint64_t sources_id_ = next_sources_id();
};

}  // namespace lookbook
