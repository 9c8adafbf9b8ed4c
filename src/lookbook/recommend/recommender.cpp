#include "lookbook/recommend/recommender.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "lookbook/util/assert.hpp"
#include "lookbook/util/log.hpp"

namespace lookbook {

std::vector<Recommendation> blend_candidates(std::span<const std::vector<Candidate>> per_source,
                                             std::span<const std::string> source_names,
                                             const BlendWeights& weights,
                                             std::span<const uint32_t> bought,
                                             const BlendCatalog& catalog,
                                             const RecommendOptions& options) {
    struct Entry {
        uint32_t article = kNoRow;
        float score = 0;
        float best = -1;
        size_t source = 0;
        const Candidate* candidate = nullptr;
    };
    // Each article's entry, found through a small open-addressing table: a few hundred
    // candidates go in, and a node-based map allocated each of them, which on the web server's
    // many threads (cold allocator caches) cost about 4% of a cold recommendation's CPU.
    size_t total = 0;
    for (const auto& list : per_source) {
        total += list.size();
    }
    size_t capacity = 16;
    int bits = 4;
    while (capacity < 2 * total) {
        capacity *= 2;
        ++bits;
    }
    std::vector<uint32_t> slots(capacity, kNoRow);  // index into `entries`
    std::vector<Entry> entries;
    entries.reserve(total);
    auto entry_of = [&](uint32_t article) -> Entry& {
        // Fibonacci hashing: the product's top bits.
        size_t slot = static_cast<uint32_t>(article * 2654435769u) >> (32 - bits);
        while (slots[slot] != kNoRow) {
            if (entries[slots[slot]].article == article) {
                return entries[slots[slot]];
            }
            slot = (slot + 1) & (capacity - 1);
        }
        slots[slot] = static_cast<uint32_t>(entries.size());
        entries.push_back({article, 0.0f, -1.0f, 0, nullptr});
        return entries.back();
    };
    for (size_t s = 0; s < per_source.size(); ++s) {
        auto weight_it = weights.find(source_names[s]);
        float weight = weight_it == weights.end() ? 0.0f : weight_it->second;
        if (weight <= 0.0f || per_source[s].empty()) {
            continue;
        }
        bool is_repurchase = source_names[s] == "repurchase";
        // Scores are divided by the source's best. A source whose scores can be negative
        // (dot products: the two-tower model) is first shifted so its worst candidate scores
        // 0; without that a list of negative scores was dropped whole.
        float top = per_source[s].front().score;
        float low = top;
        for (const Candidate& c : per_source[s]) {
            top = std::max(top, c.score);
            low = std::min(low, c.score);
        }
        const float shift = low < 0.0f ? -low : 0.0f;
        const float range = top + shift;
        const bool all_equal_negative = low < 0.0f && range <= 0.0f;
        if (range <= 0.0f && !all_equal_negative) {
            continue;  // nothing positive: the source has no opinion
        }
        for (const Candidate& c : per_source[s]) {
            // Already-bought articles take only the repurchase contribution.
            if (!is_repurchase && std::binary_search(bought.begin(), bought.end(), c.article)) {
                continue;
            }
            const float share = all_equal_negative ? 1.0f : (c.score + shift) / range;
            float contribution = weight * std::max(0.0f, share);
            Entry& entry = entry_of(c.article);
            entry.score += contribution;
            if (contribution > entry.best) {
                entry.best = contribution;
                entry.source = s;
                entry.candidate = &c;
            }
        }
    }

    // Category codes of the allowed product groups.
    std::vector<uint32_t> allowed_groups;
    for (const std::string& group : options.product_groups) {
        for (uint32_t code = 0; code < catalog.product_group_names.size(); ++code) {
            if (catalog.product_group_names[code] == group) {
                allowed_groups.push_back(code);
            }
        }
    }
    // Stock and category filters, shared by the blended list and the fill.
    auto passes_filters = [&](uint32_t article) {
        if (options.out_of_stock.count(article) > 0) {
            return false;
        }
        if (options.catalog_only &&
            (article >= catalog.has_metadata.size() || catalog.has_metadata[article] == 0)) {
            return false;
        }
        return options.product_groups.empty() ||
               (article < catalog.product_group.size() &&
                std::find(allowed_groups.begin(),
                          allowed_groups.end(),
                          catalog.product_group[article]) != allowed_groups.end());
    };
    std::vector<std::pair<uint32_t, const Entry*>> ranked;
    for (const Entry& entry : entries) {
        if (entry.score > 0.0f && passes_filters(entry.article)) {
            ranked.emplace_back(entry.article, &entry);
        }
    }
    // Best first (ties by article number for a stable answer). Only the head is put in order
    // at first: a few times k covers the articles the diversity limit skips; the rest is
    // sorted only if the loop below gets there.
    auto better = [](const auto& a, const auto& b) {
        return a.second->score > b.second->score ||
               (a.second->score == b.second->score && a.first < b.first);
    };
    size_t sorted = std::min(ranked.size(), std::max<size_t>(4 * options.k, 32));
    if (sorted < ranked.size()) {
        std::nth_element(ranked.begin(), ranked.begin() + sorted, ranked.end(), better);
    }
    std::sort(ranked.begin(), ranked.begin() + sorted, better);

    std::vector<Recommendation> out;
    // Shown articles per product type, indexed by the type's code (a few hundred at most).
    std::vector<uint32_t> per_type;
    auto shown_of_type = [&](uint32_t type) -> uint32_t& {
        if (type >= per_type.size()) {
            per_type.resize(static_cast<size_t>(type) + 1, 0);
        }
        return per_type[type];
    };
    for (size_t at = 0; at < ranked.size() && out.size() < options.k; ++at) {
        if (at == sorted) {
            std::sort(ranked.begin() + sorted, ranked.end(), better);
            sorted = ranked.size();
        }
        const auto& [article, entry] = ranked[at];
        // Diversity: skip an article whose product type is already shown often enough.
        if (options.max_per_product_type > 0 && article < catalog.product_type.size() &&
            shown_of_type(catalog.product_type[article])++ >= options.max_per_product_type) {
            continue;
        }
        out.push_back({article,
                       entry->score,
                       source_names[entry->source],
                       entry->candidate->reason,
                       entry->candidate->because_of});
    }
    // Fill: trending candidates not yet shown, through the same filters, below every blended one.
    auto trending = std::find(source_names.begin(), source_names.end(), "trending");
    if (options.fill_with_trending && out.size() < options.k && trending != source_names.end()) {
        const auto& fill = per_source[static_cast<size_t>(trending - source_names.begin())];
        for (const Candidate& c : fill) {
            if (out.size() >= options.k) {
                break;
            }
            bool shown = std::any_of(
                out.begin(), out.end(), [&](const auto& r) { return r.article == c.article; });
            if (shown || !passes_filters(c.article) ||
                std::binary_search(bought.begin(), bought.end(), c.article)) {
                continue;
            }
            // The diversity limit holds for the fill too.
            if (options.max_per_product_type > 0 && c.article < catalog.product_type.size() &&
                shown_of_type(catalog.product_type[c.article])++ >= options.max_per_product_type) {
                continue;
            }
            out.push_back({c.article, 0.0f, "trending", c.reason, c.because_of});
        }
    }
    return out;
}

Result<std::unique_ptr<Recommender>> Recommender::open(const Store& store) {
    LOOKBOOK_ASSIGN_OR_RETURN(TrainedModels models, load_models(store));
    std::shared_ptr<const ContentVectors> vectors;
    auto loaded = load_content_vectors(store);
    if (loaded.is_ok()) {
        vectors = std::move(loaded).value();
    } else {
        log::info("profile similarity is off: {}", loaded.status().message());
    }
    return std::make_unique<Recommender>(
        store, std::make_shared<const TrainedModels>(std::move(models)), vectors);
}

Recommender::Recommender(const Store& store,
                         std::shared_ptr<const TrainedModels> models,
                         std::shared_ptr<const ContentVectors> vectors)
    : store_(store), models_(std::move(models)), weights_(models_->weights) {
    ArticleNamer namer(&store.articles());
    std::vector<uint8_t> bands(store.customers().size());
    for (uint32_t customer = 0; customer < bands.size(); ++customer) {
        bands[customer] = age_band(store.customers().age(customer));
    }
    sources_.push_back(std::make_shared<RepurchaseSource>(namer));
    sources_.push_back(std::make_shared<TrendingSource>(models_->trending, std::move(bands)));
    sources_.push_back(std::make_shared<ItemNeighbourSource>(models_->item_item, namer));
    sources_.push_back(std::make_shared<AlsSource>(models_->als));
    if (vectors) {
        sources_.push_back(std::make_shared<ProfileSource>(vectors, namer));
    }
    const ArticleTable& articles = store.articles();
    const CategoricalColumn& types = articles.attribute(ArticleAttribute::kProductType);
    const CategoricalColumn& groups = articles.attribute(ArticleAttribute::kProductGroup);
    catalog_.product_type = types.codes;
    catalog_.product_group = groups.codes;
    catalog_.has_metadata = articles.metadata_flags();
    for (size_t code = 0; code < groups.cardinality(); ++code) {
        catalog_.product_group_names.emplace_back(groups.values.at(code));
    }
}

void Recommender::add_source(std::shared_ptr<const CandidateSource> source, float weight) {
    std::string name(source->name());
    auto same = std::find_if(
        sources_.begin(), sources_.end(), [&](const auto& s) { return s->name() == name; });
    if (same != sources_.end()) {
        *same = std::move(source);
    } else {
        sources_.push_back(std::move(source));
    }
    weights_[name] = weight;
    // Lists computed ahead for the previous sources no longer describe these (a new source
    // object may even reuse a freed one's address).
    sources_id_ = next_sources_id();
}

std::vector<std::string> Recommender::source_names() const {
    std::vector<std::string> names;
    for (const auto& source : sources_) {
        names.emplace_back(source->name());
    }
    return names;
}

const CandidateSource* Recommender::source(std::string_view name) const {
    for (const auto& source : sources_) {
        if (source->name() == name) {
            return source.get();
        }
    }
    return nullptr;
}

uint64_t Recommender::next_sources_id() {
    static std::atomic<uint64_t> next{1};
    return next.fetch_add(1, std::memory_order_relaxed);
}

namespace {

// The sources that read only the history (and trending, which fills short lists): asked first,
// and never computed ahead.
bool from_history(std::string_view name) { return name == "repurchase" || name == "trending"; }

}  // namespace

size_t CustomerLists::bytes() const {
    return sizeof(*this) + sources.capacity() * sizeof(sources[0]) +
           offsets.capacity() * sizeof(offsets[0]) + items.capacity() * sizeof(items[0]);
}

PrecomputedLists::PrecomputedLists(size_t customers)
    : customers_(customers), slots_(new std::atomic<CustomerLists*>[customers]) {
    for (size_t c = 0; c < customers; ++c) {
        slots_[c].store(nullptr, std::memory_order_relaxed);
    }
}

PrecomputedLists::~PrecomputedLists() {
    for (size_t c = 0; c < customers_; ++c) {
        delete slots_[c].load(std::memory_order_relaxed);
    }
}

const CustomerLists* PrecomputedLists::find(uint32_t customer) const {
    return customer < customers_ ? slots_[customer].load(std::memory_order_acquire) : nullptr;
}

void PrecomputedLists::set(uint32_t customer, std::unique_ptr<CustomerLists> lists) {
    if (customer >= customers_ || !lists) {
        return;
    }
    const size_t bytes = lists->bytes();
    CustomerLists* expected = nullptr;
    if (slots_[customer].compare_exchange_strong(
            expected, lists.get(), std::memory_order_release, std::memory_order_relaxed)) {
        lists.release();
        ready_.fetch_add(1, std::memory_order_relaxed);
        bytes_.fetch_add(bytes, std::memory_order_relaxed);
    }
}

std::unique_ptr<CustomerLists> Recommender::precompute(uint32_t customer) const {
    auto out = std::make_unique<CustomerLists>();
    const int32_t today = default_today();
    std::vector<Interaction> events = history(customer, today, {});
    CustomerContext context{customer, today, events};
    // recommend()'s count with the default options (k is at most that many).
    out->asked = RecommendOptions{}.candidates_per_source;
    out->sources_id = sources_id_;
    out->offsets.push_back(0);
    for (const auto& source : sources_) {
        auto weight = weights_.find(std::string(source->name()));
        if (weight == weights_.end() || weight->second <= 0.0f || from_history(source->name())) {
            continue;
        }
        for (const Candidate& c : source->ranked(context, out->asked)) {
            out->items.push_back({c.article, c.score, c.because_of});
        }
        out->sources.push_back(source.get());
        out->offsets.push_back(static_cast<uint32_t>(out->items.size()));
    }
    out->items.shrink_to_fit();
    return out;
}

std::vector<uint32_t> Recommender::customers_by_last_purchase(size_t limit) const {
    const TransactionTable& rows = store_.transactions();
    const uint32_t customers = store_.customers().size();
    std::vector<std::pair<int32_t, uint32_t>> last;  // (last purchase day, customer)
    for (uint32_t c = 0; c < customers && c + 1 < rows.customer_offsets().size(); ++c) {
        const uint64_t begin = rows.customer_offsets()[c];
        const uint64_t end = rows.customer_offsets()[c + 1];
        if (end > begin) {
            // Rows are sorted by (customer, date): the run's last row is the latest.
            last.emplace_back(rows.date()[end - 1], c);
        }
    }
    std::sort(last.begin(), last.end(), [](const auto& a, const auto& b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
    });
    std::vector<uint32_t> out;
    for (size_t i = 0; i < std::min(limit, last.size()); ++i) {
        out.push_back(last[i].second);
    }
    return out;
}

std::vector<Interaction> Recommender::history(uint32_t customer,
                                              int32_t today,
                                              std::span<const Interaction> live_events) const {
    std::vector<Interaction> events = history_from_store(store_, customer, today);
    events.insert(events.end(), live_events.begin(), live_events.end());
    return events;
}

Result<std::vector<Recommendation>> Recommender::recommend(std::string_view customer_id,
                                                           std::span<const Interaction> live_events,
                                                           const RecommendOptions& options) const {
    for (const std::string& group : options.product_groups) {
        const auto& known = catalog_.product_group_names;
        if (std::find(known.begin(), known.end(), group) == known.end()) {
            std::vector<std::string> names;
            for (const std::string& name : known) {
                if (!name.empty()) {
                    names.push_back(fmt::format("\"{}\"", name));
                }
            }
            std::sort(names.begin(), names.end());
            return Status::invalid_argument(fmt::format(
                "no product group is called \"{}\" (names match exactly, case included); the "
                "catalog's groups are {}.",
                group,
                names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", "))));
        }
    }
    std::optional<uint32_t> row = store_.customers().find(customer_id);
    return recommend(row ? *row : kNoRow, live_events, options);
}

std::vector<Recommendation> Recommender::recommend(uint32_t customer,
                                                   std::span<const Interaction> live_events,
                                                   const RecommendOptions& options) const {
    int32_t today = options.today != 0 ? options.today : default_today();
    std::vector<Interaction> events = history(customer, today, live_events);
    CustomerContext context{customer, today, events};
    const size_t n = sources_.size();
    std::vector<std::vector<Candidate>> per_source(n);
    std::vector<std::string> names;
    std::vector<bool> used(n);
    // A list longer than the usual candidate count asks each source for as many.
    const size_t asked = std::max(options.candidates_per_source, options.k);
    // The most an article not bought before can score: every weighted source but repurchase at
    // its full weight (blend_candidates divides a list by its best score, so a contribution is
    // at most the weight), summed in float in the blend's order so no rounding can exceed it.
    float unbought_bound = 0.0f;
    float repurchase_weight = 0.0f;
    size_t repurchase_at = n;
    bool later_sources = false;
    for (size_t s = 0; s < n; ++s) {
        names.emplace_back(sources_[s]->name());
        auto weight = weights_.find(names.back());
        const bool weighted = weight != weights_.end() && weight->second > 0.0f;
        // Trending is always asked: it fills short lists.
        used[s] = weighted || (options.fill_with_trending && names.back() == "trending");
        if (weighted && names.back() != "repurchase") {
            unbought_bound += weight->second;
        } else if (weighted) {
            repurchase_weight = weight->second;
            repurchase_at = s;
        }
        if (used[s] && from_history(names.back())) {
            per_source[s] = sources_[s]->ranked(context, asked);
        } else if (used[s]) {
            later_sources = true;
        }
    }
    std::vector<uint32_t> bought = history_articles(context, true);
    std::vector<Recommendation> out;
    bool settled = !later_sources;
    // Worth a try only with k repurchase candidates that could each outscore the bound, and
    // only when every repurchase candidate was bought: an article only viewed is one too, but
    // the other sources still add to it (break-it review: a live view changed answers).
    const bool may_settle =
        options.settle_from_history && repurchase_at < n && repurchase_weight > unbought_bound &&
        per_source[repurchase_at].size() >= options.k &&
        std::all_of(per_source[repurchase_at].begin(),
                    per_source[repurchase_at].end(),
                    [&](const Candidate& c) {
                        return std::binary_search(bought.begin(), bought.end(), c.article);
                    });
    if (may_settle || settled) {
        out = blend_candidates(per_source, names, weights_, bought, catalog_, options);
        // Settled when the k-th article (so every one before it, and every article skipped on
        // the way for the diversity limit) scores above the bound. Those are all bought
        // articles (anything else, trending's included, scores at most the bound), whose scores
        // the other sources do not change: asking them adds only articles ranked below, and
        // the same k are shown.
        // A fill from trending scores 0, so a list that needed one is never settled here.
        settled = settled ||
                  (out.size() == options.k && !out.empty() && out.back().score > unbought_bound);
        if (settled && later_sources) {
            settled_from_history_.fetch_add(1, std::memory_order_relaxed);
        }
    }
    if (!settled) {
        // Lists computed ahead hold exactly what ranked() gives for this context.
        const CustomerLists* ahead = nullptr;
        if (options.precomputed != nullptr && live_events.empty() && today == default_today()) {
            ahead = options.precomputed->find(customer);
            if (ahead != nullptr && (ahead->asked != asked || ahead->sources_id != sources_id_)) {
                ahead = nullptr;
            }
        }
        bool used_ahead = false;
        for (size_t s = 0; s < n; ++s) {
            if (!used[s] || from_history(names[s])) {
                continue;
            }
            size_t i = 0;
            while (ahead != nullptr && i < ahead->sources.size() &&
                   ahead->sources[i] != sources_[s].get()) {
                ++i;
            }
            if (ahead == nullptr || i == ahead->sources.size()) {
                per_source[s] = sources_[s]->ranked(context, asked);
                continue;
            }
            per_source[s].clear();
            per_source[s].reserve(ahead->offsets[i + 1] - ahead->offsets[i]);
            for (uint32_t pos = ahead->offsets[i]; pos < ahead->offsets[i + 1]; ++pos) {
                const PrecomputedCandidate& c = ahead->items[pos];
                per_source[s].push_back({c.article, c.score, c.because_of, {}});
            }
            used_ahead = true;
        }
        if (used_ahead) {
            answers_from_precomputed_.fetch_add(1, std::memory_order_relaxed);
        }
        out = blend_candidates(per_source, names, weights_, bought, catalog_, options);
    }
    // Reasons only for the k shown: the same text candidates() would have given every one,
    // asked of each source once for all of its items.
    for (const Recommendation& item : out) {
        LOOKBOOK_ASSERT(!item.reason.empty() ||
                            std::find(names.begin(), names.end(), item.source) != names.end(),
                        "a blended article comes from a known source");
    }
    std::vector<Candidate> pending;
    std::vector<size_t> pending_at;
    for (size_t s = 0; s < sources_.size(); ++s) {
        pending.clear();
        pending_at.clear();
        for (size_t pos = 0; pos < out.size(); ++pos) {
            if (out[pos].reason.empty() && out[pos].source == names[s]) {
                pending.push_back({out[pos].article, out[pos].score, out[pos].because_of, {}});
                pending_at.push_back(pos);
            }
        }
        if (pending.empty()) {
            continue;
        }
        sources_[s]->explain_many(context, pending);
        for (size_t i = 0; i < pending.size(); ++i) {
            out[pending_at[i]].reason = std::move(pending[i].reason);
            out[pending_at[i]].because_of = pending[i].because_of;
        }
    }
    return out;
}

}  // namespace lookbook
