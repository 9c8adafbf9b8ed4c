#pragma once

// Printing similar-item hits, shared by `lookbook similar` and `lookbook search`.
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "lookbook/index/similar.hpp"
#include "lookbook/store/store.hpp"

namespace lookbook::cli {

// The filter and index options both commands take.
struct SimilarFilterArgs {
    size_t k = 10;
    bool json = false;
    std::vector<std::string> index_groups;
    std::vector<std::string> product_groups;
    double min_price = -1;
    double max_price = -1;
    std::string allow_file;
    float diversity = 1.0f;
    float image_weight = 0.5f;
    float text_weight = 0.5f;
};

// Adds -k, --json, filters, --mmr-lambda and the weights to `cmd`.
void add_similar_filter_options(CLI::App* cmd, SimilarFilterArgs* args);
// Adds --image-weight and --text-weight.
void add_weight_options(CLI::App* cmd, float* image_weight, float* text_weight);

// Opens the store's similar items with the weights of `args`; prints the error and returns
// null on failure.
std::unique_ptr<SimilarItems> open_similar_or_report(const Store& store,
                                                     const SimilarFilterArgs& args,
                                                     const char* command);

// Prints the hits (or the error, exit 2 for a bad query, 1 otherwise); returns the exit code.
int print_similar_result(const Store& store,
                         const Result<std::vector<SimilarHit>>& hits,
                         bool json,
                         const char* command);

// Why the model the store's embeddings were made with cannot encode queries: names `model_dir`,
// the cause (`cause`, the loader's message, used when the folder exists) and both ways out:
// `option` (how the running command takes another folder, e.g. "pass --model DIR") or
// `lookbook embed STORE` again.
std::string query_model_problem(const Store& store,
                                const std::string& model_dir,
                                const std::string& cause,
                                const std::string& option);

// Turns the parsed options into a query; fails when the allow file cannot be read.
Result<SimilarQuery> similar_query_from(const Store& store,
                                        const SimilarFilterArgs& args,
                                        const char* command);

// Prints hits as a numbered list or (json) a JSON array on stdout.
void print_similar_hits(const Store& store, const std::vector<SimilarHit>& hits, bool json);

}  // namespace lookbook::cli
