#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lookbook/recommend/als.hpp"
#include "lookbook/recommend/candidates.hpp"
#include "lookbook/recommend/neighbours.hpp"
#include "lookbook/recommend/projected_search.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/util/row_graph.hpp"
#include "lookbook/util/status.hpp"

// The candidate sources trained or computed here: repurchase, trending, item-to-item, ALS and
// profile similarity. Each reads the customer only through CustomerContext::history, so a live
// event changes its answer at once. Models are shared (const) between sources and threads.
namespace lookbook {

// Names articles in the reasons shown to shoppers, never by a bare id (a shopper cannot tell
// what "0841434001" was): the catalog name; for an article without one, its product type as a
// noun phrase ("a sweater", "trousers"); nothing for an article whose type is unknown too (one
// known only from sales), and the reason then uses a neutral wording ("similar to a past
// purchase"). Without a table (MovieLens) "item N".
class ArticleNamer {
  public:
    explicit ArticleNamer(const ArticleTable* articles = nullptr) : articles_(articles) {}
    std::optional<std::string> operator()(uint32_t article) const;
    // The name, or `neutral` when the article has none.
    std::string name_or(uint32_t article, std::string_view neutral) const;

  private:
    const ArticleTable* articles_;
};

// One distinct article of a history with its recency-weighted weight.
struct WeightedArticle {
    uint32_t article = kNoRow;
    float weight = 0;  // sum over its events of 0.5^(age / half_life), views count view_weight
    float count = 0;   // purchases and views (views count view_weight)
    int32_t last_day = 0;
};

// Distinct articles of the context's history, heaviest first. Events dated after `today` (a
// clock skew in live events) count as today.
std::vector<WeightedArticle> weigh_history(const CustomerContext& context,
                                           float half_life_days,
                                           float view_weight = 0.5f);

// The k best entries of a dense score vector (> 0 only unless `positive_only` is false), best
// first, skipping `skip` articles (sorted ascending). Ties go to the lower article number.
std::vector<std::pair<uint32_t, float>> top_scores(std::span<const float> scores,
                                                   size_t k,
                                                   std::span<const uint32_t> skip = {},
                                                   bool positive_only = true);

// Sorted distinct articles of a history (purchases only when `purchases_only`).
std::vector<uint32_t> history_articles(const CustomerContext& context, bool purchases_only = false);

// The customer's own recent articles, recency-weighted (fashion repurchases are frequent:
// basics, the same item in another size).
class RepurchaseSource : public CandidateSource {
  public:
    explicit RepurchaseSource(ArticleNamer namer, float half_life_days = 180.0f)
        : namer_(std::move(namer)), half_life_days_(half_life_days) {}
    std::string_view name() const override { return "repurchase"; }
    std::vector<Candidate> candidates(const CustomerContext& context, size_t k) const override {
        return explain_all(context, ranked(context, k));
    }
    std::vector<Candidate> ranked(const CustomerContext& context, size_t k) const override;
    void explain(const CustomerContext& context, Candidate* candidate) const override;

  private:
    ArticleNamer namer_;
    float half_life_days_;
};

// Time-decayed popularity in the customer's age band (overall when the age is unknown), with
// a little of the overall popularity mixed in so a thin band still ranks sensibly.
class TrendingSource : public CandidateSource {
  public:
    // `customer_bands`: age_band() per customer row. Ranks every band once, here, so a query
    // only copies the head of a list.
    TrendingSource(std::shared_ptr<const TrendingModel> model, std::vector<uint8_t> customer_bands);
    std::string_view name() const override { return "trending"; }
    std::vector<Candidate> candidates(const CustomerContext& context, size_t k) const override {
        return explain_all(context, ranked(context, k));
    }
    std::vector<Candidate> ranked(const CustomerContext& context, size_t k) const override;
    void explain(const CustomerContext& context, Candidate* candidate) const override;

    // The longest list a query can get.
    static constexpr size_t kRankedLength = 1000;

  private:
    // Index in ranked_ of the list a customer gets: the band's, or the overall one (last).
    size_t list_of(const CustomerContext& context) const;

    std::vector<uint8_t> customer_bands_;
    // [kAgeBandCount + 1] ranked lists, the last one overall; a band with no sales is empty.
    std::vector<std::vector<std::pair<uint32_t, float>>> ranked_;
};

// Item-to-item similarity: each history article votes for its neighbours with its weight.
class ItemNeighbourSource : public CandidateSource {
  public:
    ItemNeighbourSource(std::shared_ptr<const ItemNeighbours> model,
                        ArticleNamer namer,
                        float half_life_days = 60.0f)
        : model_(std::move(model)), namer_(std::move(namer)), half_life_days_(half_life_days) {}
    std::string_view name() const override { return "item_item"; }
    std::vector<Candidate> candidates(const CustomerContext& context, size_t k) const override {
        return explain_all(context, ranked(context, k));
    }
    std::vector<Candidate> ranked(const CustomerContext& context, size_t k) const override;
    void explain(const CustomerContext& context, Candidate* candidate) const override;

  private:
    std::shared_ptr<const ItemNeighbours> model_;
    ArticleNamer namer_;
    float half_life_days_;
};

// ALS with the customer folded in from the current history (live events included; a customer
// the model never saw works the same way).
class AlsSource : public CandidateSource {
  public:
    explicit AlsSource(std::shared_ptr<const AlsModel> model);
    std::string_view name() const override { return "als"; }
    std::vector<Candidate> candidates(const CustomerContext& context, size_t k) const override {
        return explain_all(context, ranked(context, k));
    }
    std::vector<Candidate> ranked(const CustomerContext& context, size_t k) const override;
    void explain(const CustomerContext& context, Candidate* candidate) const override;

  private:
    std::shared_ptr<const AlsModel> model_;
    // The item factors, scanned for the best dot products (concurrent requests share passes).
    // Never a graph: popular articles have the long factors, so the exact scan stops after
    // few rows, and on the H&M store (24,717 articles, 64 factors) the graph was slower (source
    // 168 against 128 us in recommend_cost) and found 0.83 of the exact 100 at ef_search 200.
    RowSearch items_;
};

// One content vector per article (the mean of its image and text embeddings, L2-normalised).
struct ContentVectors {
    int64_t dim = 0;
    std::vector<float> data;       // [articles * dim], zero rows where absent
    std::vector<uint8_t> present;  // [articles]

    std::span<const float> row(uint32_t article) const {
        return {data.data() + static_cast<size_t>(article) * dim, static_cast<size_t>(dim)};
    }
};

// Reads the store's "embeddings" file (written by `lookbook embed`) without libtorch. kNotFound
// telling the user to run `lookbook embed` when the store has none; kCorruption when the
// columns disagree with the metadata or the article count.
Result<std::shared_ptr<const ContentVectors>> load_content_vectors(const Store& store);

// Profile similarity: the recency-weighted mean of the history's content vectors, compared with
// the articles' through a ProjectedRowSearch (their main directions first on large catalogs,
// else an exact scan).
class ProfileSource : public CandidateSource {
  public:
    ProfileSource(std::shared_ptr<const ContentVectors> vectors,
                  ArticleNamer namer,
                  float half_life_days = 60.0f);
    std::string_view name() const override { return "profile"; }
    std::vector<Candidate> candidates(const CustomerContext& context, size_t k) const override {
        return explain_all(context, ranked(context, k));
    }
    std::vector<Candidate> ranked(const CustomerContext& context, size_t k) const override;
    void explain(const CustomerContext& context, Candidate* candidate) const override;
    // Weighs the history once for all of `candidates`.
    void explain_many(const CustomerContext& context,
                      std::span<Candidate> candidates) const override;

  private:
    std::shared_ptr<const ContentVectors> vectors_;
    ArticleNamer namer_;
    float half_life_days_;
    // The rows that have a vector, packed and named by article: an article without one scores
    // exactly 0 and is never a candidate, so the scan skips those rows (on the H&M store
    // about half of them are articles known only from transactions).
    std::unique_ptr<ProjectedRowSearch> present_;
};

}  // namespace lookbook
