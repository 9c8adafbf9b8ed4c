#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lookbook/recommend/candidates.hpp"
#include "lookbook/recommend/models.hpp"
#include "lookbook/recommend/sources.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/util/status.hpp"

// Offline evaluation of the personal recommenders with the H&M competition's protocol scaled to
// the store: train on every day before the last `test_weeks` weeks, recommend k articles to
// each customer who bought in those weeks, score against what they bought. The blend's weights
// are tuned on the N weeks before the test weeks (models trained on the days before them), never on
// the test weeks. The JSON shape is the contract with the report (see README).
namespace lookbook {

struct EvaluateOptions {
    int test_weeks = 2;
    size_t k = 12;
    TrainSettings train;
    // Coordinate ascent over these weights, `tuning_rounds` passes over the sources.
    std::vector<float> weight_grid = {0.0f, 0.1f, 0.25f, 0.5f, 1.0f, 2.0f, 4.0f, 16.0f};
    int tuning_rounds = 2;
    // Skips the tuning and uses default_blend_weights() (faster; for tests).
    bool tune = true;
    // Extra sources (the two-tower model): called once per training cut with the first day the
    // source must not have seen (the validation start while tuning, the test start after), so
    // no source learns from the weeks it is scored on. Returns null when it cannot be built;
    // a source that is never built is reported as "not built".
    using SourceFactory = std::function<std::shared_ptr<const CandidateSource>(
        const Store& store, int32_t train_until)>;
    SourceFactory two_tower;
    // The option of the running command that sets test_weeks ("--weeks" for `evaluate`), named
    // in the advice of the errors; empty when the command has none (`build`), and the advice
    // is then about the data only.
    std::string weeks_option = "--weeks";
};

// Blend weights chosen on a validation window and how they were found.
struct TuningResult {
    BlendWeights weights;
    double validation_map = 0;
    size_t validation_customers = 0;
    nlohmann::json log;  // one entry per step: source, weight tried, MAP@k
};

// Trains the models on the days before `validation_start`, caches every source's candidates
// for the customers who bought in [validation_start, validation_end), and runs coordinate
// ascent on MAP@k: starting from default_blend_weights(), each source in turn takes the grid
// value that maximises MAP@k with the others fixed (a tie keeps the current value). Returns the
// defaults when nobody bought in the window.
TuningResult tune_blend_weights(const Store& store,
                                int32_t validation_start,
                                int32_t validation_end,
                                const EvaluateOptions& options,
                                std::shared_ptr<const ContentVectors> vectors);

// The evaluation as JSON (protocol, recommenders with metrics and segments, settings). Fails
// with kInvalidArgument when the store has no transactions or nobody bought in the test weeks
// (the message gives the dates and says to change options.weeks_option).
Result<nlohmann::json> try_evaluate_recommenders(const Store& store,
                                                 const EvaluateOptions& options);

// The same, for the report: on failure returns {"error": message}.
nlohmann::json evaluate_recommenders(const Store& store, const EvaluateOptions& options);

// The figures of one list per customer. `relevant[c]` is what customer c bought in the test
// window; `lists[c]` the recommendation. Exposed for the tests.
struct ListMetrics {
    double map = 0, recall = 0, ndcg = 0, hit = 0, mrr = 0;
};
ListMetrics mean_metrics(const std::vector<std::vector<uint32_t>>& lists,
                         const std::vector<std::vector<uint32_t>>& relevant,
                         size_t k);

}  // namespace lookbook
