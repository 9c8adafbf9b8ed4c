#include "lookbook/recommend/sources.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <numeric>
#include <optional>
#include <string>
#include <unordered_map>

#include <Eigen/Dense>
#include <fmt/format.h>

#include "lookbook/store/id_hint.hpp"
#include "lookbook/util/date.hpp"
#include "lookbook/util/dot.hpp"

namespace lookbook {

namespace {

// "a sweater", "an umbrella", "trousers" (a type ending in a single "s" reads as a plural);
// nothing for an empty or "Unknown" type.
std::optional<std::string> product_type_phrase(std::string_view type) {
    std::string lower;
    for (char c : type) {
        lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (lower.empty() || lower == "unknown") {
        return std::nullopt;
    }
    const bool plural = lower.back() == 's' && !lower.ends_with("ss");
    if (plural) {
        return lower;
    }
    const bool vowel = std::string_view("aeiou").find(lower.front()) != std::string_view::npos;
    return (vowel ? "an " : "a ") + lower;
}

}  // namespace

std::optional<std::string> ArticleNamer::operator()(uint32_t article) const {
    if (articles_ == nullptr || article >= articles_->size()) {
        return fmt::format("item {}", article);
    }
    std::string_view name = articles_->name(article);
    if (!name.empty()) {
        return std::string(name);
    }
    return product_type_phrase(articles_->product_type(article));
}

std::string ArticleNamer::name_or(uint32_t article, std::string_view neutral) const {
    return (*this)(article).value_or(std::string(neutral));
}

std::vector<WeightedArticle> weigh_history(const CustomerContext& context,
                                           float half_life_days,
                                           float view_weight) {
    // The events grouped by article (a stable sort keeps each article's in history order, so
    // its weight is summed in the same order as before); a node-based map allocated an entry per
    // article on every recommendation.
    std::vector<uint32_t> order(context.history.size());
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
        return context.history[a].article < context.history[b].article;
    });
    std::vector<WeightedArticle> out;
    double decay = std::log(2.0) / half_life_days;
    for (size_t i = 0; i < order.size(); ++i) {
        const Interaction& event = context.history[order[i]];
        if (i == 0 || context.history[order[i - 1]].article != event.article) {
            out.push_back({event.article, 0.0f, 0.0f, event.day});
        }
        // Age 0 for an event of the day before `today`; later events count as fresh.
        int32_t age = std::max(0, context.today - 1 - event.day);
        float kind_weight = event.kind == Interaction::Kind::kView ? view_weight : 1.0f;
        WeightedArticle& entry = out.back();
        entry.weight += kind_weight * static_cast<float>(std::exp(-decay * age));
        entry.count += kind_weight;
        entry.last_day = std::max(entry.last_day, event.day);
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return a.weight > b.weight || (a.weight == b.weight && a.article < b.article);
    });
    return out;
}

std::vector<uint32_t> history_articles(const CustomerContext& context, bool purchases_only) {
    std::vector<uint32_t> articles;
    for (const Interaction& event : context.history) {
        if (!purchases_only || event.kind == Interaction::Kind::kPurchase) {
            articles.push_back(event.article);
        }
    }
    std::sort(articles.begin(), articles.end());
    articles.erase(std::unique(articles.begin(), articles.end()), articles.end());
    return articles;
}

std::vector<std::pair<uint32_t, float>> top_scores(std::span<const float> scores,
                                                   size_t k,
                                                   std::span<const uint32_t> skip,
                                                   bool positive_only) {
    // A bounded min-heap keeps the k best without sorting the whole catalog.
    auto worse = [](const std::pair<uint32_t, float>& a, const std::pair<uint32_t, float>& b) {
        return a.second > b.second || (a.second == b.second && a.first < b.first);
    };
    std::vector<std::pair<uint32_t, float>> heap;
    if (k == 0) {
        return heap;
    }
    heap.reserve(k + 1);
    size_t skip_pos = 0;
    for (uint32_t article = 0; article < scores.size(); ++article) {
        while (skip_pos < skip.size() && skip[skip_pos] < article) {
            ++skip_pos;
        }
        if ((positive_only && scores[article] <= 0.0f) ||
            (skip_pos < skip.size() && skip[skip_pos] == article)) {
            continue;
        }
        std::pair<uint32_t, float> entry{article, scores[article]};
        if (heap.size() < k) {
            heap.push_back(entry);
            std::push_heap(heap.begin(), heap.end(), worse);
        } else if (worse(entry, heap.front())) {
            std::pop_heap(heap.begin(), heap.end(), worse);
            heap.back() = entry;
            std::push_heap(heap.begin(), heap.end(), worse);
        }
    }
    std::sort_heap(heap.begin(), heap.end(), worse);
    return heap;
}

std::vector<Candidate> RepurchaseSource::ranked(const CustomerContext& context, size_t k) const {
    std::vector<Candidate> out;
    for (const WeightedArticle& item : weigh_history(context, half_life_days_)) {
        if (out.size() >= k) {
            break;
        }
        out.push_back({item.article, item.weight, item.article, {}});
    }
    return out;
}

void RepurchaseSource::explain(const CustomerContext& context, Candidate* candidate) const {
    // The last day the article was bought; an article only viewed (a live event) is weighed too
    // (at weigh_history's view weight) but must not be called a purchase.
    int32_t last_bought = 0;
    int32_t last_viewed = 0;
    bool bought = false;
    bool viewed = false;
    for (const Interaction& event : context.history) {
        if (event.article != candidate->article) {
            continue;
        }
        if (event.kind == Interaction::Kind::kPurchase) {
            last_bought = bought ? std::max(last_bought, event.day) : event.day;
            bought = true;
        } else {
            last_viewed = viewed ? std::max(last_viewed, event.day) : event.day;
            viewed = true;
        }
    }
    candidate->because_of = candidate->article;
    // The candidate is the article itself: without a name, "this" is the card it is shown on.
    candidate->reason = bought ? fmt::format("buy again: you bought {} on {}",
                                             namer_.name_or(candidate->article, "this"),
                                             format_iso_date(last_bought))
                               : fmt::format("you looked at {} on {}",
                                             namer_.name_or(candidate->article, "this"),
                                             format_iso_date(last_viewed));
}

TrendingSource::TrendingSource(std::shared_ptr<const TrendingModel> model,
                               std::vector<uint8_t> customer_bands)
    : customer_bands_(std::move(customer_bands)) {
    for (uint8_t band = 0; band < kAgeBandCount; ++band) {
        // Band popularity first; a tenth of the overall popularity breaks ties in thin bands.
        std::vector<float> scores = model->overall;
        const std::vector<float>& in_band = model->by_band[band];
        bool sold = false;
        for (size_t article = 0; article < scores.size(); ++article) {
            sold = sold || in_band[article] > 0.0f;
            scores[article] = in_band[article] + 0.1f * scores[article];
        }
        // A band nobody in it bought from recently falls back to the overall list.
        ranked_.push_back(sold ? top_scores(scores, kRankedLength)
                               : std::vector<std::pair<uint32_t, float>>());
    }
    ranked_.push_back(top_scores(model->overall, kRankedLength));
}

size_t TrendingSource::list_of(const CustomerContext& context) const {
    uint8_t band =
        context.customer < customer_bands_.size() ? customer_bands_[context.customer] : kAgeUnknown;
    return band < kAgeBandCount && !ranked_[band].empty() ? band : ranked_.size() - 1;
}

std::vector<Candidate> TrendingSource::ranked(const CustomerContext& context, size_t k) const {
    const auto& list = ranked_[list_of(context)];
    std::vector<Candidate> out;
    out.reserve(std::min(k, list.size()));
    for (size_t pos = 0; pos < std::min(k, list.size()); ++pos) {
        out.push_back({list[pos].first, list[pos].second, kNoRow, {}});
    }
    return out;
}

void TrendingSource::explain(const CustomerContext& context, Candidate* candidate) const {
    const size_t list = list_of(context);
    candidate->reason = list + 1 == ranked_.size()
                            ? std::string("popular this week")
                            : fmt::format("popular with customers aged {} this week",
                                          age_band_name(static_cast<uint8_t>(list)));
}

namespace {

// Dense per-thread accumulator of item-to-item votes: a score, the strongest single vote and
// its history article per reached article, plus the list of articles touched so only those
// are reset. Replaces a hash map that cost most of the source's time.
struct VoteAccumulator {
    std::vector<float> score;
    std::vector<float> best_vote;
    std::vector<uint32_t> because;
    std::vector<uint32_t> touched;

    void prepare(size_t items) {
        if (score.size() < items) {
            score.resize(items, 0.0f);
            best_vote.resize(items, 0.0f);
            because.resize(items, kNoRow);
        }
    }
    void clear() {
        for (uint32_t article : touched) {
            score[article] = 0.0f;
            best_vote[article] = 0.0f;
            because[article] = kNoRow;
        }
        touched.clear();
    }
};

}  // namespace

std::vector<Candidate> ItemNeighbourSource::ranked(const CustomerContext& context, size_t k) const {
    std::vector<WeightedArticle> history = weigh_history(context, half_life_days_);
    std::vector<uint32_t> bought = history_articles(context);
    thread_local VoteAccumulator votes;
    votes.prepare(model_->item_count());
    for (const WeightedArticle& source : history) {
        if (source.article >= model_->item_count()) {
            continue;
        }
        auto neighbours = model_->neighbours(source.article);
        auto similarities = model_->neighbour_similarities(source.article);
        for (size_t pos = 0; pos < neighbours.size(); ++pos) {
            const uint32_t article = neighbours[pos];
            const float vote = source.weight * similarities[pos];
            if (votes.because[article] == kNoRow) {
                votes.touched.push_back(article);
                votes.best_vote[article] = vote;
                votes.because[article] = source.article;
            } else if (vote > votes.best_vote[article]) {
                votes.best_vote[article] = vote;
                votes.because[article] = source.article;
            }
            votes.score[article] += vote;
        }
    }
    std::vector<std::pair<uint32_t, float>> ranked;
    ranked.reserve(votes.touched.size());
    for (uint32_t article : votes.touched) {
        if (!std::binary_search(bought.begin(), bought.end(), article)) {
            ranked.emplace_back(article, votes.score[article]);
        }
    }
    size_t keep = std::min(k, ranked.size());
    std::partial_sort(ranked.begin(), ranked.begin() + keep, ranked.end(), [](auto& a, auto& b) {
        return a.second > b.second || (a.second == b.second && a.first < b.first);
    });
    std::vector<Candidate> out;
    out.reserve(keep);
    for (size_t pos = 0; pos < keep; ++pos) {
        out.push_back(
            {ranked[pos].first, ranked[pos].second, votes.because[ranked[pos].first], {}});
    }
    votes.clear();
    return out;
}

void ItemNeighbourSource::explain(const CustomerContext& context, Candidate* candidate) const {
    // ranked() already found the history article that voted most; the reason says whether the
    // customer bought it or only looked at it (a live view).
    const uint32_t source = candidate->because_of;
    const bool bought =
        std::any_of(context.history.begin(), context.history.end(), [source](const Interaction& i) {
            return i.article == source && i.kind == Interaction::Kind::kPurchase;
        });
    const std::optional<std::string> name = namer_(source);
    if (!name) {
        candidate->reason = bought
                                ? "customers who bought one of your past purchases also bought this"
                                : "customers who bought an article you looked at also bought this";
        return;
    }
    candidate->reason =
        bought ? fmt::format("customers who bought {} also bought this", *name)
               : fmt::format("you looked at {}: customers who bought it also bought this", *name);
}

namespace {

std::vector<float> item_factor_rows(const AlsModel& model) {
    const FactorMatrix& factors = model.item_factors;
    return std::vector<float>(factors.data(), factors.data() + factors.size());
}

// The rows of `vectors` that have a vector, packed, and the articles they belong to.
std::pair<std::vector<float>, std::vector<uint32_t>> present_rows(const ContentVectors& vectors) {
    std::vector<uint32_t> present;
    std::vector<float> packed;
    for (uint32_t article = 0; article < vectors.present.size(); ++article) {
        if (vectors.present[article]) {
            present.push_back(article);
            auto row = vectors.row(article);
            packed.insert(packed.end(), row.begin(), row.end());
        }
    }
    return {std::move(packed), std::move(present)};
}

}  // namespace

AlsSource::AlsSource(std::shared_ptr<const AlsModel> model)
    : model_(std::move(model)),
      items_(item_factor_rows(*model_),
             static_cast<size_t>(model_->item_factors.cols()),
             {},
             RowSearch::Graph::kNever) {}

std::vector<Candidate> AlsSource::ranked(const CustomerContext& context, size_t k) const {
    std::vector<uint32_t> items;
    std::vector<float> counts;
    for (const WeightedArticle& item : weigh_history(context, 1e9f)) {
        if (item.article < model_->item_factors.rows()) {
            items.push_back(item.article);
            counts.push_back(item.count);
        }
    }
    if (items.empty()) {
        return {};
    }
    Eigen::VectorXf user = model_->fold_in(items, counts);
    std::sort(items.begin(), items.end());
    std::vector<Candidate> out;
    for (auto [article, score] : items_.top(user.data(), k, items)) {
        out.push_back({article, score, kNoRow, {}});
    }
    return out;
}

void AlsSource::explain(const CustomerContext& context, Candidate* candidate) const {
    (void)context;
    candidate->reason = "customers like you bought this";
}

Result<std::shared_ptr<const ContentVectors>> load_content_vectors(const Store& store) {
    if (!store.has_file("embeddings")) {
        return Status::not_found(no_embeddings_message(store.dir().string()));
    }
    LOOKBOOK_ASSIGN_OR_RETURN(ColumnFile file, store.open_file("embeddings"));
    LOOKBOOK_ASSIGN_OR_RETURN(auto image, file.column<float>("image"));
    LOOKBOOK_ASSIGN_OR_RETURN(auto text, file.column<float>("text"));
    LOOKBOOK_ASSIGN_OR_RETURN(auto has_image, file.column<uint8_t>("has_image"));
    LOOKBOOK_ASSIGN_OR_RETURN(auto has_text, file.column<uint8_t>("has_text"));
    size_t n = store.articles().size();
    size_t dim = has_image.size() == 0 ? 0 : image.size() / has_image.size();
    if (has_image.size() != n || has_text.size() != n || image.size() != n * dim ||
        text.size() != n * dim || dim == 0) {
        return Status::corruption(fmt::format(
            "{}: the embedding columns hold {} rows of dimension {} but the store has {} "
            "articles; run `lookbook embed` again.",
            file.path().string(),
            has_image.size(),
            dim,
            n));
    }
    auto vectors = std::make_shared<ContentVectors>();
    vectors->dim = static_cast<int64_t>(dim);
    vectors->data.assign(n * dim, 0.0f);
    vectors->present.assign(n, 0);
    for (size_t article = 0; article < n; ++article) {
        float* row = vectors->data.data() + article * dim;
        for (size_t d = 0; d < dim; ++d) {
            row[d] = (has_image[article] ? image[article * dim + d] : 0.0f) +
                     (has_text[article] ? text[article * dim + d] : 0.0f);
        }
        Eigen::Map<Eigen::VectorXf> v(row, static_cast<Eigen::Index>(dim));
        float norm = v.norm();
        if (norm > 0) {
            v /= norm;
            vectors->present[article] = 1;
        }
    }
    return std::shared_ptr<const ContentVectors>(std::move(vectors));
}

ProfileSource::ProfileSource(std::shared_ptr<const ContentVectors> vectors,
                             ArticleNamer namer,
                             float half_life_days)
    : vectors_(std::move(vectors)), namer_(std::move(namer)), half_life_days_(half_life_days) {
    auto [rows, articles] = present_rows(*vectors_);
    present_ = std::make_unique<ProjectedRowSearch>(
        std::move(rows), static_cast<size_t>(vectors_->dim), std::move(articles));
}

std::vector<Candidate> ProfileSource::ranked(const CustomerContext& context, size_t k) const {
    const ContentVectors& vectors = *vectors_;
    Eigen::VectorXf profile = Eigen::VectorXf::Zero(vectors.dim);
    std::vector<WeightedArticle> history = weigh_history(context, half_life_days_);
    for (const WeightedArticle& item : history) {
        if (item.article < vectors.present.size() && vectors.present[item.article]) {
            auto row = vectors.row(item.article);
            profile += item.weight * Eigen::Map<const Eigen::VectorXf>(row.data(), vectors.dim);
        }
    }
    if (profile.squaredNorm() == 0.0f) {
        return {};
    }
    // Cosine up to the profile's norm, over the articles that have a vector.
    Eigen::VectorXf unit = profile / profile.norm();
    std::vector<uint32_t> bought = history_articles(context);
    std::vector<Candidate> out;
    for (auto [article, score] : present_->top(unit.data(), k, bought)) {
        out.push_back({article, score, kNoRow, {}});
    }
    return out;
}

void ProfileSource::explain(const CustomerContext& context, Candidate* candidate) const {
    explain_many(context, std::span<Candidate>(candidate, 1));
}

void ProfileSource::explain_many(const CustomerContext& context,
                                 std::span<Candidate> candidates) const {
    if (candidates.empty()) {
        return;
    }
    // The reason names the history article closest to the suggestion; ties go to the heavier
    // history article, so the history is walked in weigh_history() order.
    const ContentVectors& vectors = *vectors_;
    const std::vector<WeightedArticle> history = weigh_history(context, half_life_days_);
    for (Candidate& candidate : candidates) {
        uint32_t because = kNoRow;
        float best = -2.0f;
        auto b = vectors.row(candidate.article);
        for (const WeightedArticle& item : history) {
            if (item.article < vectors.present.size() && vectors.present[item.article]) {
                auto a = vectors.row(item.article);
                float cosine = Eigen::Map<const Eigen::VectorXf>(a.data(), vectors.dim)
                                   .dot(Eigen::Map<const Eigen::VectorXf>(b.data(), vectors.dim));
                if (cosine > best) {
                    best = cosine;
                    because = item.article;
                }
            }
        }
        candidate.because_of = because;
        const std::optional<std::string> name = namer_(because);
        candidate.reason = name ? fmt::format("similar to {} you bought", *name)
                                : std::string("similar to a past purchase");
    }
}

}  // namespace lookbook
