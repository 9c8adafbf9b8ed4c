// Quality of similar items on a store with embeddings, for image-only, text-only and combined
// vectors:
//   - similar-article precision@10: share of the 10 similar articles (colour variants left out)
//     with the query's product type, and with its colour;
//   - text search: the article's name encoded by the text tower; recall@10 of the article
//     itself and of its product (any colour variant), over held-out articles (held_out_articles
//     with --holdout and --split, as train-encoder --holdout and --holdout-split used; holdout
//     0 = every article).
// Queries and candidates are the articles with metadata and a photo.
//
//   build/bench/index_eval --store S [--model M] [--queries 1000] [--holdout 0.1]
//                          [--split article|product]
#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "lookbook/encoders/catalog_train.hpp"
#include "lookbook/index/query_encoder.hpp"
#include "lookbook/index/similar.hpp"

namespace {

using lookbook::SimilarItems;

struct Variant {
    const char* label;
    lookbook::CombineWeights weights;
    const char* text_part;  // where an encoded name is searched
};

}  // namespace

int main(int argc, char** argv) {
    CLI::App app("similar-items quality on a store");
    std::string store_dir;
    std::string model_dir;
    size_t queries = 1000;
    double holdout = 0;
    std::string split = "article";
    app.add_option("--store", store_dir)->required();
    app.add_option("--model", model_dir, "Default: the embeddings' model");
    app.add_option("--queries", queries)->capture_default_str();
    app.add_option("--holdout", holdout)->capture_default_str();
    app.add_option("--split", split, "The --holdout-split the model was trained with")
        ->capture_default_str()
        ->check(CLI::IsMember({"article", "product"}));
    CLI11_PARSE(app, argc, argv);

    auto store = lookbook::Store::open(store_dir);
    if (!store.is_ok()) {
        std::fprintf(stderr, "%s\n", store.status().message().c_str());
        return 1;
    }
    const lookbook::ArticleTable& articles = (*store)->articles();
    const Variant variants[] = {{"image-only", {1, 0}, "image"},
                                {"text-only", {0, 1}, "text"},
                                {"combined", {0.5f, 0.5f}, "*"}};

    // Query articles: with metadata, a photo and a text (so all three variants can answer).
    auto probe = SimilarItems::open(**store);
    if (!probe.is_ok()) {
        std::fprintf(stderr, "%s\n", probe.status().message().c_str());
        return 1;
    }
    if (model_dir.empty()) {
        model_dir = (*probe)->model_path();
    }
    std::vector<uint32_t> both;
    for (uint32_t a = 0; a < articles.size(); ++a) {
        if (articles.has_metadata(a) && !articles.image_path(a).empty()) {
            both.push_back(a);
        }
    }
    std::mt19937 rng(42);
    std::shuffle(both.begin(), both.end(), rng);
    std::vector<uint32_t> similar_queries(both.begin(),
                                          both.begin() + std::min(queries, both.size()));
    const std::vector<uint8_t> held = lookbook::held_out_articles(
        articles,
        lookbook::Holdout{.fraction = holdout,
                          .split = lookbook::parse_holdout_split(split).value_or(
                              lookbook::HoldoutSplit::kArticle)});
    std::vector<uint32_t> text_queries;
    for (uint32_t a : both) {
        if (text_queries.size() < queries && (holdout == 0 || held[a] != 0)) {
            text_queries.push_back(a);
        }
    }
    auto encoder = lookbook::QueryEncoder::load(model_dir);
    if (!encoder.is_ok()) {
        std::fprintf(stderr, "%s\n", encoder.status().message().c_str());
        return 1;
    }
    std::vector<std::vector<float>> name_vectors;
    for (uint32_t a : text_queries) {
        name_vectors.push_back((*encoder)->encode_text(articles.name(a)).value());
    }
    std::printf(
        "store %s: %u articles, %zu similar-article queries, %zu name queries "
        "(holdout %.2f), model %s\n",
        store_dir.c_str(),
        articles.size(),
        similar_queries.size(),
        text_queries.size(),
        holdout,
        model_dir.c_str());
    std::printf("%-11s %12s %12s %14s %16s\n",
                "vectors",
                "type P@10",
                "colour P@10",
                "name R@10 art.",
                "name R@10 product");
    for (const Variant& variant : variants) {
        lookbook::SimilarOptions options;
        options.weights = variant.weights;
        options.use_saved = false;
        auto items = SimilarItems::open(**store, options);
        if (!items.is_ok()) {
            std::fprintf(stderr, "%s\n", items.status().message().c_str());
            return 1;
        }
        // Candidates are the articles with a photo, so the three variants rank the same set.
        lookbook::SimilarQuery query;
        query.exclude_colour_variants = true;
        query.allow = both;
        double same_type = 0;
        double same_colour = 0;
        double answered = 0;
        for (uint32_t a : similar_queries) {
            auto hits = (*items)->similar_to_article(a, query);
            if (!hits.is_ok() || hits->empty()) {
                continue;
            }
            for (const auto& hit : *hits) {
                same_type += articles.product_type(hit.article) == articles.product_type(a);
                same_colour += articles.colour(hit.article) == articles.colour(a);
            }
            answered += hits->size();
        }
        double article_hits = 0;
        double product_hits = 0;
        for (size_t q = 0; q < text_queries.size(); ++q) {
            lookbook::SimilarQuery search;
            search.allow = both;
            auto hits = (*items)->search_by_vector(variant.text_part, name_vectors[q], search);
            if (!hits.is_ok()) {
                continue;
            }
            bool article = false;
            bool product = false;
            for (const auto& hit : *hits) {
                article = article || hit.article == text_queries[q];
                product = product || articles.product_code(hit.article) ==
                                         articles.product_code(text_queries[q]);
            }
            article_hits += article;
            product_hits += product;
        }
        std::printf("%-11s %12.3f %12.3f %14.3f %16.3f\n",
                    variant.label,
                    same_type / std::max(answered, 1.0),
                    same_colour / std::max(answered, 1.0),
                    article_hits / std::max<double>(text_queries.size(), 1),
                    product_hits / std::max<double>(text_queries.size(), 1));
    }
    return 0;
}
