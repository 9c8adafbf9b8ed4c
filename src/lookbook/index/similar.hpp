#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lookbook/index/combined.hpp"
#include "lookbook/index/exact_index.hpp"
#include "lookbook/index/hnsw_index.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/util/status.hpp"

namespace lookbook {

struct SimilarIndexReport {
    uint32_t articles = 0;  // rows of the store
    size_t indexed = 0;     // articles with at least one part
    size_t dim = 0;
    std::string kind;        // "exact" or "hnsw"
    std::string generation;  // the new one, or the live one when nothing changed
    double seconds = 0;
    // "full" (built from scratch), "incremental" (the saved index updated in place) or
    // "unchanged" (the saved index already matched; nothing was written).
    std::string mode;
    std::string rebuild_reason;  // why a saved index could not be updated (when "full")
    size_t added = 0;            // articles indexed now that were not in the saved index
    size_t updated = 0;          // articles whose combined vector changed
    size_t removed = 0;          // articles the saved index held that have no vector now
};

// How SimilarItems combines and indexes the store's embeddings.
struct SimilarOptions {
    // Relative weights of the image and text parts in the combined vector (see combined.hpp).
    CombineWeights weights;
    // Catalogs with at least this many indexed articles are searched with HNSW, smaller ones by
    // an exact scan (45 ms median for 100k 512-d vectors on one core of a busy machine, 4.5 GB/s;
    // see bench/index_bench).
    size_t approximate_threshold = 100000;
    HnswParams hnsw;
    // Use the index saved by `lookbook index` when it matches the embeddings and the weights;
    // otherwise (or when false) the vectors are combined on open, in memory.
    bool use_saved = true;
    // build_similar_index updates the saved index in place when its layout and HNSW parameters
    // match (only changed, added and removed articles are touched); false always rebuilds.
    bool incremental = true;
    // Removed articles stay in an updated HNSW graph as routing-only nodes; above this fraction
    // of the graph they slow searches down, and the index is rebuilt instead.
    double max_removed_fraction = 0.25;
};

// Which articles a query may return. Everything is optional; an empty list means no filter.
struct SimilarQuery {
    size_t k = 10;
    // Leave out articles sharing the query article's product code (its colour variants).
    bool exclude_colour_variants = false;
    std::vector<std::string> index_groups;    // e.g. "Ladieswear" (the store's index_group)
    std::vector<std::string> product_groups;  // e.g. "Garment Upper body"
    // Mean price of the article's transactions; articles never sold fail a price filter.
    std::optional<double> min_price;
    std::optional<double> max_price;
    // Only these articles (store rows), e.g. those in stock.
    std::optional<std::vector<uint32_t>> allow;
    // Maximal marginal relevance: picks, one at a time, the candidate maximising
    //   lambda * score - (1 - lambda) * max(similarity to the articles already picked)
    // among the 4k best matches. 1 (default) is plain ranking; 0.7 visibly mixes product types
    // and colours while keeping close matches first; below 0.5 relevance drops fast.
    float mmr_lambda = 1.0f;
};

// One similar article. `score` (what the ranking used before MMR) is
//   sum over parts p of the query: share_p * cos_p   /   sum over parts p of the query: share_p
// where cos_p is 0 when the article lacks part p: a weighted mean of cosines, in [-1, 1], that
// favours articles matching on every part. image_score and text_score are the cosines of those
// parts alone, absent when the query or the article lacks that part.
struct SimilarHit {
    uint32_t article = 0;
    float score = 0;
    std::optional<float> image_score;
    std::optional<float> text_score;
};

// Similar-item search over a store's embeddings: what `lookbook similar` and `lookbook search`
// and the web server call. Open once per store generation; queries are const and may run on
// many threads. remove_article/update_article change the in-memory index only (call them
// while no query runs); `lookbook index` updates what is saved.
class SimilarItems {
  public:
    // Opens the index saved in the store (file "similar", written by build_similar_index) when
    // it matches the store's embeddings and `options`, else combines the embeddings in memory
    // (and builds HNSW when the catalog is above the threshold). kNotFound (telling the user
    // to run `lookbook embed`) when the store has no embeddings. The store must outlive this.
    static Result<std::unique_ptr<SimilarItems>> open(const Store& store,
                                                      const SimilarOptions& options = {});
    ~SimilarItems();

    // Articles most similar to `article` (a store row), never the article itself. kNotFound
    // when the article has no embedding (no photo and no text); kInvalidArgument for a row
    // outside the store or bad filters.
    Result<std::vector<SimilarHit>> similar_to_article(uint32_t article,
                                                       const SimilarQuery& query) const;

    // Articles whose part `part` ("image" or "text", or a prefixed name with several models)
    // is closest to `vector` (e.g. an encoded text or photo; it is L2-normalised here). "*"
    // puts the vector into every part of its dimension: a CLIP text query then matches photos
    // and texts at once, weighted like the combined score.
    // kInvalidArgument for an unknown part, a wrong dimension or a zero vector.
    Result<std::vector<SimilarHit>> search_by_vector(std::string_view part,
                                                     std::span<const float> vector,
                                                     const SimilarQuery& query) const;

    // TODO: changes made here are not written back to the store — the saved file is immutable
    // per generation; `lookbook index` after `embed` updates it (incrementally), so a server
    // that removes sold-out articles must repeat that after a restart (or pass an allow-list).
    // Removes an article from the results (e.g. sold out). kNotFound when it was not indexed.
    Status remove_article(uint32_t article);
    // Adds or replaces an article's vectors: one span per part (empty when absent), in parts()
    // order, each parts()[p].dim long.
    Status update_article(uint32_t article, const std::vector<std::span<const float>>& parts);

    const std::vector<PartSlice>& parts() const { return parts_; }
    size_t dim() const { return exact_.dim(); }
    // Articles searchable.
    size_t size() const { return exact_.size(); }
    // "exact" or "hnsw": which index answers queries.
    std::string index_kind() const;
    // Whether the saved index was used (false: combined on open).
    bool from_saved() const { return from_saved_; }
    // The model folder the embeddings were made with (from their metadata, resolved against the
    // store as resolve_store_path does), for query encoders; empty when they name none. It may
    // no longer exist: QueryEncoder::load then says so.
    const std::string& model_path() const { return model_path_; }
    // Mean transaction price of an article, NaN when it was never sold.
    double mean_price(uint32_t article) const { return mean_price_[article]; }

  private:
    friend Result<SimilarIndexReport> build_similar_index(const std::filesystem::path&,
                                                          const SimilarOptions&,
                                                          const std::function<Status()>&);
    explicit SimilarItems(const Store& store) : store_(store), exact_(0) {}
    Result<std::vector<SimilarHit>> run(std::span<const float> query,
                                        uint8_t query_parts,
                                        std::optional<uint32_t> self,
                                        const SimilarQuery& options) const;

    const Store& store_;
    std::vector<PartSlice> parts_;
    std::vector<ColumnFile> files_;       // mapped files the index borrows from
    CombinedVectors combined_;            // when combined on open
    std::vector<uint8_t> parts_present_;  // [articles], bit p: part p present
    ExactIndex exact_;
    std::unique_ptr<HnswIndex> hnsw_;
    std::vector<double> mean_price_;
    std::string model_path_;
    bool from_saved_ = false;
};

// True when the store's saved index (file "similar") was built from its current embeddings with
// these options' weights, or when there are no embeddings to index; cheap (reads metadata and
// the embeddings' layout, builds nothing). What `lookbook build` checks before its index step.
Result<bool> similar_index_up_to_date(const Store& store, const SimilarOptions& options = {});

// Combines the store's embeddings with `options`, builds HNSW when the catalog reaches
// options.approximate_threshold (0: always), and commits them as the column file "similar" of a new
// generation (other files kept):
//   vectors f32 [articles * dim]; parts_present u8 [articles]; hnsw bytes (when built)
//   metadata {"parts": [{name, kind, offset, dim, share}], "dim", "articles", "source", ...}
// When the store already holds a saved index of the same layout (dimensions, parts, weights,
// index kind and HNSW m / ef_construction / seed) and options.incremental, only the articles
// whose combined vector differs from the saved one are removed from or added to the saved
// graph; anything else rebuilds (report.rebuild_reason says why). Nothing is written when the
// saved index already matches. `before_commit` (tests simulate a crash with it) runs after the
// new index is computed; its error aborts with the store untouched.
// Fails like SimilarItems::open, and with the store's errors when the commit fails.
Result<SimilarIndexReport> build_similar_index(const std::filesystem::path& store_dir,
                                               const SimilarOptions& options,
                                               const std::function<Status()>& before_commit = {});

}  // namespace lookbook
