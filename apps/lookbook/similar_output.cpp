#include "similar_output.hpp"

#include <filesystem>
#include <iostream>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "lookbook/rules/store_rules.hpp"

namespace lookbook::cli {

void add_similar_filter_options(CLI::App* cmd, SimilarFilterArgs* args) {
    cmd->add_option("-k", args->k, "Number of articles (1 to 1000)")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000));
    cmd->add_flag("--json", args->json, "Print JSON instead of text");
    cmd->add_option("--index-group", args->index_groups, "Only this index group (repeatable)");
    cmd->add_option(
        "--product-group", args->product_groups, "Only this product group (repeatable)");
    cmd->add_option("--min-price", args->min_price, "Lowest mean sold price")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--max-price", args->max_price, "Highest mean sold price")
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--allow", args->allow_file, "File of article ids that may be returned");
    cmd->add_option("--mmr-lambda",
                    args->diversity,
                    "Diversity re-ranking: 1 = none, 0.7 = mix types and colours")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 1.0));
    add_weight_options(cmd, &args->image_weight, &args->text_weight);
}

void add_weight_options(CLI::App* cmd, float* image_weight, float* text_weight) {
    cmd->add_option("--image-weight", *image_weight, "Weight of the image part")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    cmd->add_option("--text-weight", *text_weight, "Weight of the text part")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
}

std::unique_ptr<SimilarItems> open_similar_or_report(const Store& store,
                                                     const SimilarFilterArgs& args,
                                                     const char* command) {
    SimilarOptions options;
    options.weights = {args.image_weight, args.text_weight};
    auto items = SimilarItems::open(store, options);
    if (!items.is_ok()) {
        std::cerr << "lookbook " << command << ": " << items.status().message() << "\n";
        return nullptr;
    }
    return std::move(items).value();
}

int print_similar_result(const Store& store,
                         const Result<std::vector<SimilarHit>>& hits,
                         bool json,
                         const char* command) {
    if (!hits.is_ok()) {
        std::cerr << "lookbook " << command << ": " << hits.status().message() << "\n";
        return hits.status().code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
    }
    print_similar_hits(store, *hits, json);
    return kExitOk;
}

Result<SimilarQuery> similar_query_from(const Store& store,
                                        const SimilarFilterArgs& args,
                                        const char* command) {
    SimilarQuery query;
    query.k = args.k;
    query.index_groups = args.index_groups;
    query.product_groups = args.product_groups;
    if (args.min_price >= 0) {
        query.min_price = args.min_price;
    }
    if (args.max_price >= 0) {
        query.max_price = args.max_price;
    }
    query.mmr_lambda = args.diversity;
    if (!args.allow_file.empty()) {
        size_t unknown = 0;
        LOOKBOOK_ASSIGN_OR_RETURN(auto allow,
                                  rules::read_allow_list(store, args.allow_file, &unknown));
        if (unknown > 0) {
            std::cerr << fmt::format(
                "lookbook {}: {} ids of {} are not in the store's catalog and were ignored\n",
                command,
                unknown,
                args.allow_file);
        }
        query.allow = std::vector<uint32_t>(allow.begin(), allow.end());
    }
    return query;
}

void print_similar_hits(const Store& store, const std::vector<SimilarHit>& hits, bool json) {
    const ArticleTable& articles = store.articles();
    if (json) {
        nlohmann::json out = nlohmann::json::array();
        for (const SimilarHit& hit : hits) {
            nlohmann::json row = {{"article_id", articles.id(hit.article)},
                                  {"name", articles.name(hit.article)},
                                  {"product_type", articles.product_type(hit.article)},
                                  {"colour", articles.colour(hit.article)},
                                  {"score", hit.score},
                                  {"image_score", nullptr},
                                  {"text_score", nullptr}};
            if (hit.image_score) {
                row["image_score"] = *hit.image_score;
            }
            if (hit.text_score) {
                row["text_score"] = *hit.text_score;
            }
            out.push_back(row);
        }
        std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        return;
    }
    if (hits.empty()) {
        std::cout << "No similar articles: the filters leave none.\n";
    }
    for (size_t rank = 0; rank < hits.size(); ++rank) {
        const SimilarHit& hit = hits[rank];
        const auto part = [](const std::optional<float>& score) {
            return score ? fmt::format("{:.3f}", *score) : std::string("-");
        };
        // Type and colour, whichever the catalog has (a fresh-user trial saw "(Socks, )").
        std::string details;
        for (std::string_view field :
             {articles.product_type(hit.article), articles.colour(hit.article)}) {
            if (!field.empty()) {
                details += details.empty() ? "" : ", ";
                details += field;
            }
        }
        std::cout << fmt::format("{:2}. {} {}{}  score {:.3f}  image {}  text {}\n",
                                 rank + 1,
                                 articles.id(hit.article),
                                 articles.name(hit.article),
                                 details.empty() ? "" : " (" + details + ")",
                                 hit.score,
                                 part(hit.image_score),
                                 part(hit.text_score));
    }
}

std::string query_model_problem(const Store& store,
                                const std::string& model_dir,
                                const std::string& cause,
                                const std::string& option) {
    std::error_code ec;
    const std::string what =
        std::filesystem::exists(model_dir, ec)
            ? fmt::format("the model in {} cannot encode queries ({})", model_dir, cause)
            : fmt::format(
                  "the store's embeddings were made with the model in {}, which does not exist "
                  "(was the store or the model copied or moved?)",
                  model_dir);
    return fmt::format("{}; {} (the folder of that model), or run `lookbook embed {}` again",
                       what,
                       option,
                       store.dir().string());
}

}  // namespace lookbook::cli
