#include "lookbook/index/similar.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lookbook/index/dot.hpp"
#include "lookbook/store/id_hint.hpp"
#include "lookbook/util/checksum.hpp"
#include "lookbook/util/log.hpp"

namespace lookbook {
namespace {

constexpr const char* kEmbeddingsFile = "embeddings";
constexpr const char* kSimilarFile = "similar";
// MMR re-ranks this many times k of the best matches.
constexpr size_t kMmrPool = 4;
// Largest k a query may ask for; more is a client bug, not a catalog page.
constexpr size_t kMaxK = 10000;

const char* part_kind_name(PartKind kind) { return kind == PartKind::kImage ? "image" : "text"; }

// Identifies the embeddings a saved index was built from: their metadata and file size change
// with every `lookbook embed`.
std::string embeddings_fingerprint(const ColumnFile& file) {
    const std::string& meta = file.metadata();
    const uint32_t crc = crc32c(meta.data(), meta.size());
    return fmt::format("{:08x}-{}", crc, file.size_bytes());
}

nlohmann::json parts_json(const std::vector<PartSlice>& parts) {
    nlohmann::json out = nlohmann::json::array();
    for (const PartSlice& part : parts) {
        out.push_back({{"name", part.name},
                       {"kind", part_kind_name(part.kind)},
                       {"offset", part.offset},
                       {"dim", part.dim},
                       {"share", part.share}});
    }
    return out;
}

// Mean transaction price per article (NaN when never sold), for price filters.
std::vector<double> mean_prices(const Store& store) {
    const uint32_t articles = store.articles().size();
    std::vector<double> sum(articles, 0.0);
    std::vector<uint32_t> count(articles, 0);
    const auto article = store.transactions().article();
    const auto price = store.transactions().price();
    for (size_t row = 0; row < article.size(); ++row) {
        sum[article[row]] += price[row];
        ++count[article[row]];
    }
    for (uint32_t a = 0; a < articles; ++a) {
        sum[a] = count[a] == 0 ? std::numeric_limits<double>::quiet_NaN() : sum[a] / count[a];
    }
    return sum;
}

// Marks the codes of `values` in `column`'s dictionary. kInvalidArgument names an unknown value
// and a few known ones, so a typo in a filter does not silently return nothing.
Result<std::vector<uint8_t>> codes_of(const CategoricalColumn& column,
                                      const std::vector<std::string>& values,
                                      const char* what) {
    std::vector<uint8_t> wanted(column.cardinality(), 0);
    for (const std::string& value : values) {
        bool found = false;
        for (size_t code = 0; code < column.cardinality(); ++code) {
            if (column.values.at(code) == value) {
                wanted[code] = 1;
                found = true;
            }
        }
        if (!found) {
            std::vector<std::string> known;
            for (size_t code = 0; code < column.cardinality() && known.size() < 8; ++code) {
                if (!column.values.at(code).empty()) {
                    known.push_back(fmt::format("\"{}\"", column.values.at(code)));
                }
            }
            return Status::invalid_argument(
                fmt::format("{} \"{}\" is not in the catalog; known "
                            "values include {}",
                            what,
                            value,
                            fmt::join(known, ", ")));
        }
    }
    return wanted;
}

Result<std::unique_ptr<HnswIndex>> build_hnsw(const ExactIndex& exact,
                                              uint32_t articles,
                                              const HnswParams& params) {
    std::vector<uint32_t> ids;
    std::vector<float> rows;
    ids.reserve(exact.size());
    rows.reserve(exact.size() * exact.dim());
    for (uint32_t article = 0; article < articles; ++article) {
        const auto row = exact.vector(article);
        if (!row.empty()) {
            ids.push_back(article);
            rows.insert(rows.end(), row.begin(), row.end());
        }
    }
    auto hnsw = std::make_unique<HnswIndex>(exact.dim(), params, ids.size());
    const size_t threads = std::max(1u, std::thread::hardware_concurrency());
    LOOKBOOK_RETURN_IF_ERROR(hnsw->add_batch(ids, rows, threads));
    return hnsw;
}

}  // namespace

SimilarItems::~SimilarItems() = default;

Result<bool> similar_index_up_to_date(const Store& store, const SimilarOptions& options) {
    if (!store.has_file(kEmbeddingsFile)) {
        return true;  // nothing to index until `embed` has run
    }
    if (!store.has_file(kSimilarFile)) {
        return false;
    }
    const uint32_t articles = store.articles().size();
    LOOKBOOK_ASSIGN_OR_RETURN(ColumnFile embeddings, store.open_file(kEmbeddingsFile));
    LOOKBOOK_ASSIGN_OR_RETURN(std::vector<EmbeddingPart> parts,
                              catalog_embedding_parts(embeddings, articles, options.weights));
    LOOKBOOK_ASSIGN_OR_RETURN(std::vector<PartSlice> slices, layout_parts(parts));
    LOOKBOOK_ASSIGN_OR_RETURN(ColumnFile saved, store.open_file(kSimilarFile));
    const auto meta = nlohmann::json::parse(saved.metadata(), nullptr, false);
    return meta.is_object() && meta.value("source", "") == embeddings_fingerprint(embeddings) &&
           meta.value("articles", -1) == static_cast<int64_t>(articles) && meta.contains("parts") &&
           meta["parts"] == parts_json(slices);
}

Result<std::unique_ptr<SimilarItems>> SimilarItems::open(const Store& store,
                                                         const SimilarOptions& options) {
    if (!store.has_file(kEmbeddingsFile)) {
        return Status::not_found(no_embeddings_message(store.dir().string()));
    }
    std::unique_ptr<SimilarItems> out(new SimilarItems(store));
    const uint32_t articles = store.articles().size();
    LOOKBOOK_ASSIGN_OR_RETURN(ColumnFile embeddings, store.open_file(kEmbeddingsFile));
    const auto embed_meta = nlohmann::json::parse(embeddings.metadata(), nullptr, false);
    if (embed_meta.is_object() && embed_meta.contains("model") && embed_meta["model"].is_string()) {
        out->model_path_ =
            resolve_store_path(store.dir(), embed_meta["model"].get<std::string>()).string();
    }
    const std::string fingerprint = embeddings_fingerprint(embeddings);
    // TODO: only the store's one "embeddings" file is combined — combine_parts takes any number
    // of models' parts, but `embed` writes a single file today; a second model (FashionCLIP,
    // ALIGN) needs its own file name and a prefix here.
    LOOKBOOK_ASSIGN_OR_RETURN(std::vector<EmbeddingPart> parts,
                              catalog_embedding_parts(embeddings, articles, options.weights));
    LOOKBOOK_ASSIGN_OR_RETURN(out->parts_, layout_parts(parts));

    // The saved index counts only when it was built from these embeddings with these weights.
    if (options.use_saved && store.has_file(kSimilarFile)) {
        LOOKBOOK_ASSIGN_OR_RETURN(ColumnFile saved, store.open_file(kSimilarFile));
        const auto meta = nlohmann::json::parse(saved.metadata(), nullptr, false);
        const bool matches = meta.is_object() && meta.value("source", "") == fingerprint &&
                             meta.value("articles", -1) == static_cast<int64_t>(articles) &&
                             meta.contains("parts") && meta["parts"] == parts_json(out->parts_);
        if (matches) {
            const size_t dim = meta.value("dim", size_t{0});
            LOOKBOOK_ASSIGN_OR_RETURN(auto vectors, saved.column<float>("vectors"));
            LOOKBOOK_ASSIGN_OR_RETURN(auto present, saved.column<uint8_t>("parts_present"));
            if (present.size() != articles || vectors.size() != articles * dim) {
                return Status::corruption(saved.path().string() +
                                          ": columns do not match the metadata; run `lookbook "
                                          "index` again");
            }
            out->exact_ = ExactIndex::borrowed(dim, vectors, present);
            out->parts_present_.assign(present.begin(), present.end());
            if (saved.has("hnsw") && out->exact_.size() >= options.approximate_threshold) {
                LOOKBOOK_ASSIGN_OR_RETURN(auto bytes, saved.column<char>("hnsw"));
                LOOKBOOK_ASSIGN_OR_RETURN(out->hnsw_,
                                          HnswIndex::deserialize(bytes, dim, options.hnsw));
            }
            out->files_.push_back(std::move(saved));
            out->from_saved_ = true;
        } else {
            log::info(
                "the saved similar-items index was built from other embeddings or weights; "
                "combining in memory (run `lookbook index` to save it)");
        }
    }
    if (!out->from_saved_) {
        LOOKBOOK_ASSIGN_OR_RETURN(out->combined_, combine_parts(parts));
        out->exact_ = ExactIndex::borrowed(
            out->combined_.dim, out->combined_.rows, out->combined_.parts_present);
        out->parts_present_ = out->combined_.parts_present;
    }
    if (!out->hnsw_ && out->exact_.size() >= options.approximate_threshold) {
        LOOKBOOK_ASSIGN_OR_RETURN(out->hnsw_, build_hnsw(out->exact_, articles, options.hnsw));
    }
    out->files_.push_back(std::move(embeddings));
    out->mean_price_ = mean_prices(store);
    log::debug("similar items: {} of {} articles indexed, {} dimensions, {} index",
               out->exact_.size(),
               articles,
               out->exact_.dim(),
               out->index_kind());
    return out;
}

std::string SimilarItems::index_kind() const { return hnsw_ ? hnsw_->kind() : exact_.kind(); }

Result<std::vector<SimilarHit>> SimilarItems::similar_to_article(uint32_t article,
                                                                 const SimilarQuery& query) const {
    if (article >= store_.articles().size()) {
        return Status::invalid_argument("article row " + std::to_string(article) +
                                        " is outside the store's " +
                                        std::to_string(store_.articles().size()) + " articles");
    }
    const auto row = exact_.vector(article);
    if (row.empty()) {
        return Status::not_found("article " + std::string(store_.articles().id(article)) +
                                 " has no embedding (no photo and no text, or it was removed), "
                                 "so nothing can be compared with it");
    }
    const std::vector<float> vector(row.begin(), row.end());
    return run(vector, parts_present_[article], article, query);
}

Result<std::vector<SimilarHit>> SimilarItems::search_by_vector(std::string_view part,
                                                               std::span<const float> vector,
                                                               const SimilarQuery& query) const {
    // The slices the query goes into: one named part, or with "*" every part of its dimension.
    std::vector<size_t> targets;
    for (size_t p = 0; p < parts_.size(); ++p) {
        const bool named = part == "*" ? parts_[p].dim == vector.size() : parts_[p].name == part;
        if (named) {
            targets.push_back(p);
        }
    }
    if (targets.empty()) {
        std::vector<std::string> names;
        for (const PartSlice& p : parts_) {
            names.push_back(p.name);
        }
        return Status::invalid_argument(
            fmt::format("no part \"{}\" in the index; parts are {}", part, fmt::join(names, ", ")));
    }
    const PartSlice& first = parts_[targets.front()];
    LOOKBOOK_RETURN_IF_ERROR(check_vector(vector, first.dim, "the " + first.name + " query"));
    // The query lives in the parts' slices only, scaled like the stored rows: its inner product
    // with a row is share * cosine, so one part ranks by its own cosine.
    double norm_sq = 0;
    for (float v : vector) {
        norm_sq += static_cast<double>(v) * v;
    }
    std::vector<float> full(exact_.dim(), 0.0f);
    uint8_t bits = 0;
    for (size_t p : targets) {
        const PartSlice& slice = parts_[p];
        if (slice.share == 0) {
            continue;
        }
        const double factor = std::sqrt(static_cast<double>(slice.share) / norm_sq);
        for (size_t i = 0; i < slice.dim; ++i) {
            full[slice.offset + i] = static_cast<float>(vector[i] * factor);
        }
        bits |= static_cast<uint8_t>(1u << p);
    }
    if (bits == 0) {
        return Status::invalid_argument("part \"" + first.name +
                                        "\" has weight 0, so it is not indexed; give it a "
                                        "positive weight to search it");
    }
    return run(full, bits, std::nullopt, query);
}

Result<std::vector<SimilarHit>> SimilarItems::run(std::span<const float> query,
                                                  uint8_t query_parts,
                                                  std::optional<uint32_t> self,
                                                  const SimilarQuery& options) const {
    if (options.k > kMaxK) {
        return Status::invalid_argument(
            fmt::format("k is {}; ask for at most {} similar articles", options.k, kMaxK));
    }
    if (!(options.mmr_lambda >= 0.0f && options.mmr_lambda <= 1.0f)) {
        return Status::invalid_argument(fmt::format(
            "the MMR lambda is {}; it must lie in [0, 1] (1 = no diversity)", options.mmr_lambda));
    }
    const ArticleTable& articles = store_.articles();
    std::vector<uint8_t> index_groups;
    std::vector<uint8_t> product_groups;
    if (!options.index_groups.empty()) {
        LOOKBOOK_ASSIGN_OR_RETURN(index_groups,
                                  codes_of(articles.attribute(ArticleAttribute::kIndexGroup),
                                           options.index_groups,
                                           "index group"));
    }
    if (!options.product_groups.empty()) {
        LOOKBOOK_ASSIGN_OR_RETURN(product_groups,
                                  codes_of(articles.attribute(ArticleAttribute::kProductGroup),
                                           options.product_groups,
                                           "product group"));
    }
    std::vector<uint8_t> allowed;
    if (options.allow) {
        allowed.assign(articles.size(), 0);
        for (uint32_t article : *options.allow) {
            if (article < articles.size()) {
                allowed[article] = 1;
            }
        }
    }
    // Colour variants share a product code; an empty code means "its own product".
    std::string_view self_code;
    if (self && options.exclude_colour_variants) {
        self_code = articles.product_code(*self);
    }
    const HitFilter filter = [&](uint32_t id) {
        // An article sharing no part with the query would score 0 whatever it looks like.
        if ((self && id == *self) || (parts_present_[id] & query_parts) == 0) {
            return false;
        }
        if (!self_code.empty() && articles.product_code(id) == self_code) {
            return false;
        }
        if (!index_groups.empty() &&
            !index_groups[articles.attribute(ArticleAttribute::kIndexGroup).code(id)]) {
            return false;
        }
        if (!product_groups.empty() &&
            !product_groups[articles.attribute(ArticleAttribute::kProductGroup).code(id)]) {
            return false;
        }
        if (options.min_price || options.max_price) {
            const double price = mean_price_[id];
            if (std::isnan(price) || (options.min_price && price < *options.min_price) ||
                (options.max_price && price > *options.max_price)) {
                return false;
            }
        }
        return allowed.empty() || allowed[id] != 0;
    };

    const bool diverse = options.mmr_lambda < 1.0f;
    const size_t pool = diverse ? options.k * kMmrPool : options.k;
    // TODO: image-only and text-only queries walk the graph built on combined vectors; their
    // HNSW recall was not measured (the combined one was) — for big catalogs a graph per part
    // would cost memory but guarantee it.
    const VectorIndex& index = hnsw_ ? static_cast<const VectorIndex&>(*hnsw_) : exact_;
    LOOKBOOK_ASSIGN_OR_RETURN(std::vector<Hit> hits, index.search(query, pool, filter));

    // Scores normalised by the query's parts, and each part's cosine on its own.
    double query_share = 0;
    for (size_t p = 0; p < parts_.size(); ++p) {
        if (query_parts & (1u << p)) {
            query_share += parts_[p].share;
        }
    }
    std::vector<SimilarHit> out;
    out.reserve(hits.size());
    for (const Hit& hit : hits) {
        SimilarHit similar{hit.id, static_cast<float>(hit.score / query_share)};
        const auto row = exact_.vector(hit.id);
        double kind_dot[2] = {0, 0};
        double kind_share[2] = {0, 0};
        for (size_t p = 0; p < parts_.size(); ++p) {
            const PartSlice& part = parts_[p];
            if (!(query_parts & parts_present_[hit.id] & (1u << p)) || part.share == 0) {
                continue;
            }
            const size_t kind = part.kind == PartKind::kImage ? 0 : 1;
            kind_dot[kind] +=
                vector_kernels::dot(query.data() + part.offset, row.data() + part.offset, part.dim);
            kind_share[kind] += part.share;
        }
        if (kind_share[0] > 0) {
            similar.image_score = static_cast<float>(kind_dot[0] / kind_share[0]);
        }
        if (kind_share[1] > 0) {
            similar.text_score = static_cast<float>(kind_dot[1] / kind_share[1]);
        }
        out.push_back(similar);
    }
    if (!diverse || out.size() <= 1) {
        return out;
    }

    // Greedy MMR: relevance against redundancy with what is already picked.
    const float lambda = options.mmr_lambda;
    std::vector<SimilarHit> picked;
    std::vector<float> max_similarity(out.size(), -std::numeric_limits<float>::infinity());
    std::vector<uint8_t> used(out.size(), 0);
    while (picked.size() < options.k && picked.size() < out.size()) {
        size_t best = out.size();
        float best_value = -std::numeric_limits<float>::infinity();
        for (size_t i = 0; i < out.size(); ++i) {
            if (used[i]) {
                continue;
            }
            const float redundancy = picked.empty() ? 0.0f : max_similarity[i];
            const float value = lambda * out[i].score - (1.0f - lambda) * redundancy;
            if (value > best_value) {
                best_value = value;
                best = i;
            }
        }
        used[best] = 1;
        picked.push_back(out[best]);
        const auto chosen = exact_.vector(out[best].article);
        for (size_t i = 0; i < out.size(); ++i) {
            if (!used[i]) {
                const auto row = exact_.vector(out[i].article);
                max_similarity[i] =
                    std::max(max_similarity[i],
                             vector_kernels::dot(chosen.data(), row.data(), chosen.size()));
            }
        }
    }
    return picked;
}

Status SimilarItems::remove_article(uint32_t article) {
    if (!exact_.contains(article)) {
        return Status::not_found("article row " + std::to_string(article) +
                                 " is not in the similar-items index");
    }
    LOOKBOOK_RETURN_IF_ERROR(exact_.remove(article));
    if (hnsw_) {
        LOOKBOOK_RETURN_IF_ERROR(hnsw_->remove(article));
    }
    return Status::ok();
}

Status SimilarItems::update_article(uint32_t article,
                                    const std::vector<std::span<const float>>& parts) {
    if (article >= parts_present_.size() || parts.size() != parts_.size()) {
        return Status::invalid_argument(fmt::format(
            "update_article needs a store row below {} and {} parts; got row {} and {} parts",
            parts_present_.size(),
            parts_.size(),
            article,
            parts.size()));
    }
    // The same layout combine_parts writes: each part normalised and scaled by sqrt(share).
    std::vector<float> row(exact_.dim(), 0.0f);
    uint8_t present = 0;
    for (size_t p = 0; p < parts.size(); ++p) {
        if (parts[p].empty() || parts_[p].share == 0) {
            continue;
        }
        LOOKBOOK_RETURN_IF_ERROR(
            check_vector(parts[p], parts_[p].dim, "part \"" + parts_[p].name + "\""));
        const float norm =
            std::sqrt(vector_kernels::dot(parts[p].data(), parts[p].data(), parts[p].size()));
        const float factor = std::sqrt(parts_[p].share) / norm;
        for (size_t i = 0; i < parts_[p].dim; ++i) {
            row[parts_[p].offset + i] = parts[p][i] * factor;
        }
        present |= static_cast<uint8_t>(1u << p);
    }
    if (present == 0) {
        return Status::invalid_argument(
            "update_article got no vector with a positive weight "
            "for article row " +
            std::to_string(article));
    }
    LOOKBOOK_RETURN_IF_ERROR(exact_.add(article, row));
    if (hnsw_) {
        LOOKBOOK_RETURN_IF_ERROR(hnsw_->add(article, row));
    }
    parts_present_[article] = present;
    return Status::ok();
}

namespace {

// The saved index's articles that differ from the freshly combined vectors, by store row.
struct IndexChanges {
    std::vector<uint32_t> added;
    std::vector<uint32_t> updated;
    std::vector<uint32_t> removed;
    size_t count() const { return added.size() + updated.size() + removed.size(); }
};

IndexChanges diff_rows(const CombinedVectors& now,
                       std::span<const float> saved_rows,
                       std::span<const uint8_t> saved_present) {
    IndexChanges changes;
    const size_t dim = now.dim;
    const auto saved_articles = static_cast<uint32_t>(saved_present.size());
    for (uint32_t article = 0; article < std::max(saved_articles, now.articles); ++article) {
        const bool was = article < saved_articles && saved_present[article] != 0;
        const bool is = article < now.articles && now.parts_present[article] != 0;
        if (was && !is) {
            changes.removed.push_back(article);
        } else if (is && !was) {
            changes.added.push_back(article);
        } else if (is && (saved_present[article] != now.parts_present[article] ||
                          !std::equal(now.row(article).begin(),
                                      now.row(article).end(),
                                      saved_rows.begin() + size_t{article} * dim))) {
            changes.updated.push_back(article);
        }
    }
    return changes;
}

// Why the saved index cannot be updated into the one `options` asks for; "" when it can.
std::string layout_mismatch(const nlohmann::json& meta,
                            const CombinedVectors& now,
                            bool want_hnsw,
                            const HnswParams& params) {
    if (!meta.is_object()) {
        return "its metadata is unreadable";
    }
    if (meta.value("dim", size_t{0}) != now.dim || !meta.contains("parts") ||
        meta["parts"] != parts_json(now.parts)) {
        return "the dimensions, parts or weights changed";
    }
    if (want_hnsw != (meta.value("index", "") == "hnsw")) {
        return fmt::format("the index kind changed to {}", want_hnsw ? "hnsw" : "exact");
    }
    if (want_hnsw) {
        const nlohmann::json wanted = {
            {"m", params.m}, {"ef_construction", params.ef_construction}, {"seed", params.seed}};
        if (!meta.contains("hnsw") || meta["hnsw"] != wanted) {
            return "the HNSW parameters changed";
        }
    }
    return "";
}

// Applies `changes` to the saved graph: removals are marked, nodes still in the graph are
// updated one by one, and brand-new articles are inserted on all cores like a build.
// TODO: changed vectors are re-inserted on one thread — concurrent hnswlib updates of existing
// nodes were not tested here; near the rebuild limit (half the catalog) that is slower than
// a full build on all cores.
Status apply_changes(const IndexChanges& changes, const CombinedVectors& now, HnswIndex* graph) {
    for (uint32_t article : changes.removed) {
        // A graph saved without an article its vectors list has nothing to remove.
        if (graph->contains(article)) {
            LOOKBOOK_RETURN_IF_ERROR(graph->remove(article));
        }
    }
    std::vector<uint32_t> fresh_ids;
    std::vector<float> fresh_rows;
    for (const auto* list : {&changes.updated, &changes.added}) {
        for (uint32_t article : *list) {
            if (graph->in_graph(article)) {
                LOOKBOOK_RETURN_IF_ERROR(graph->add(article, now.row(article)));
            } else {
                fresh_ids.push_back(article);
                fresh_rows.insert(
                    fresh_rows.end(), now.row(article).begin(), now.row(article).end());
            }
        }
    }
    const size_t threads = std::max(1u, std::thread::hardware_concurrency());
    return graph->add_batch(fresh_ids, fresh_rows, threads);
}

// Tries to bring the store's saved index up to date with `now` in place. Sets report's counts
// and mode "incremental" or "unchanged" on success (and *graph for HNSW); returns false with
// report->rebuild_reason when a full build is needed instead. A damaged saved file is not an
// error here: the rebuild replaces it.
Result<bool> update_saved_index(const Store& store,
                                const CombinedVectors& now,
                                bool want_hnsw,
                                const std::string& fingerprint,
                                const SimilarOptions& options,
                                std::unique_ptr<HnswIndex>* graph,
                                SimilarIndexReport* report) {
    auto opened = store.open_file(kSimilarFile);
    if (!opened.is_ok()) {
        report->rebuild_reason = opened.status().message();
        return false;
    }
    const ColumnFile& saved = *opened;
    const auto meta = nlohmann::json::parse(saved.metadata(), nullptr, false);
    report->rebuild_reason = layout_mismatch(meta, now, want_hnsw, options.hnsw);
    if (!report->rebuild_reason.empty()) {
        return false;
    }
    auto vectors = saved.column<float>("vectors");
    auto present = saved.column<uint8_t>("parts_present");
    if (!vectors.is_ok() || !present.is_ok() || vectors->size() != present->size() * now.dim) {
        report->rebuild_reason = "its columns are damaged";
        return false;
    }
    const IndexChanges changes = diff_rows(now, *vectors, *present);
    report->added = changes.added.size();
    report->updated = changes.updated.size();
    report->removed = changes.removed.size();
    if (changes.count() == 0 && meta.value("source", "") == fingerprint &&
        meta.value("articles", int64_t{-1}) == int64_t{now.articles}) {
        report->mode = "unchanged";
        return true;
    }
    // Past half the catalog, re-inserting one by one costs as much as a build on all cores.
    // Counted against the articles with vectors, not the whole store: most stores have many
    // articles without a photo or text (the H&M sample: 11,800 of 24,717), which would halve
    // the limit's reach.
    const size_t indexed = static_cast<size_t>(std::count_if(
        now.parts_present.begin(), now.parts_present.end(), [](uint8_t p) { return p != 0; }));
    if (want_hnsw && changes.count() * 2 > std::max<size_t>(indexed, 1)) {
        report->rebuild_reason =
            fmt::format("{} of {} indexed articles changed", changes.count(), indexed);
        return false;
    }
    if (want_hnsw) {
        auto bytes = saved.column<char>("hnsw");
        if (!bytes.is_ok()) {
            report->rebuild_reason = "its HNSW graph is missing";
            return false;
        }
        auto loaded = HnswIndex::deserialize(*bytes, now.dim, options.hnsw);
        if (!loaded.is_ok()) {
            report->rebuild_reason = loaded.status().message();
            return false;
        }
        LOOKBOOK_RETURN_IF_ERROR(apply_changes(changes, now, loaded->get()));
        const size_t dead = (*loaded)->graph_size() - (*loaded)->size();
        if (dead > options.max_removed_fraction * static_cast<double>((*loaded)->graph_size())) {
            report->rebuild_reason = fmt::format(
                "{} of the graph's {} nodes are removed articles", dead, (*loaded)->graph_size());
            return false;
        }
        *graph = std::move(loaded).value();
    }
    report->mode = "incremental";
    return true;
}

}  // namespace

Result<SimilarIndexReport> build_similar_index(const std::filesystem::path& store_dir,
                                               const SimilarOptions& options,
                                               const std::function<Status()>& before_commit) {
    const auto start = std::chrono::steady_clock::now();
    LOOKBOOK_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::open(store_dir));
    // Combine only: whether the graph is loaded and updated or built is decided below.
    SimilarOptions fresh = options;
    fresh.use_saved = false;
    fresh.approximate_threshold = std::numeric_limits<size_t>::max();
    LOOKBOOK_ASSIGN_OR_RETURN(std::unique_ptr<SimilarItems> items,
                              SimilarItems::open(*store, fresh));
    LOOKBOOK_ASSIGN_OR_RETURN(ColumnFile embeddings, store->open_file(kEmbeddingsFile));
    const std::string fingerprint = embeddings_fingerprint(embeddings);
    const CombinedVectors& combined = items->combined_;

    SimilarIndexReport report;
    report.articles = store->articles().size();
    report.indexed = items->size();
    report.dim = items->dim();
    const bool want_hnsw = items->size() >= options.approximate_threshold;
    report.kind = want_hnsw ? "hnsw" : "exact";
    std::unique_ptr<HnswIndex> graph;
    bool updated = false;
    if (!options.incremental) {
        report.rebuild_reason = "incremental updates are off";
    } else if (!store->has_file(kSimilarFile)) {
        report.rebuild_reason = "the store has no saved index";
    } else {
        LOOKBOOK_ASSIGN_OR_RETURN(
            updated,
            update_saved_index(*store, combined, want_hnsw, fingerprint, options, &graph, &report));
    }
    if (!updated) {
        report.mode = "full";
        report.added = report.updated = report.removed = 0;
        log::info("similar-items index: full build ({})", report.rebuild_reason);
        if (want_hnsw) {
            LOOKBOOK_ASSIGN_OR_RETURN(graph,
                                      build_hnsw(items->exact_, report.articles, options.hnsw));
        }
    }
    if (report.mode == "unchanged") {
        report.generation = store->generation();
        report.seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        log::info("similar-items index: already up to date ({} articles)", report.indexed);
        return report;
    }

    ColumnFileWriter writer;
    writer.add("vectors", combined.rows);
    writer.add("parts_present", combined.parts_present);
    std::string graph_bytes;
    if (graph) {
        LOOKBOOK_ASSIGN_OR_RETURN(graph_bytes, graph->serialize());
        writer.add("hnsw", std::span<const char>(graph_bytes.data(), graph_bytes.size()));
    }
    nlohmann::json meta;
    meta["source"] = fingerprint;
    meta["articles"] = report.articles;
    meta["indexed"] = report.indexed;
    meta["dim"] = report.dim;
    meta["parts"] = parts_json(items->parts());
    meta["model"] = path_for_store(store_dir, items->model_path());
    meta["index"] = report.kind;
    if (graph) {
        const HnswParams& p = graph->params();
        meta["hnsw"] = {{"m", p.m}, {"ef_construction", p.ef_construction}, {"seed", p.seed}};
        meta["hnsw_nodes"] = graph->graph_size();
    }
    writer.set_metadata(meta.dump());
    if (before_commit) {
        LOOKBOOK_RETURN_IF_ERROR(before_commit());
    }
    LOOKBOOK_ASSIGN_OR_RETURN(
        report.generation,
        Store::commit(store_dir, {{kSimilarFile, &writer}}, true, store->generation()));
    report.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    log::info(
        "similar-items index ({}): {} of {} articles, {} dimensions, {} index, {} added, {} "
        "updated, {} removed, {:.1f} s",
        report.mode,
        report.indexed,
        report.articles,
        report.dim,
        report.kind,
        report.added,
        report.updated,
        report.removed,
        report.seconds);
    return report;
}

}  // namespace lookbook
