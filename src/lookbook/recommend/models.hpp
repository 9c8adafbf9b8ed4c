#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "lookbook/recommend/als.hpp"
#include "lookbook/recommend/interactions.hpp"
#include "lookbook/recommend/neighbours.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/util/status.hpp"

// The trained models of `lookbook train` (ALS item factors, item-to-item neighbours, trending,
// blend weights) and their file in the store.
namespace lookbook {

// Source name -> blend weight.
using BlendWeights = std::map<std::string, float>;

struct TrainSettings {
    // TODO: these ALS settings are the defaults, not tuned on the store: the values tuned on
    // MovieLens (128 factors, regularisation 30, alpha 2) were never tried on H&M validation
    // weeks, so ALS alone is weak there (MAP@12 0.0012) and the tuned blend gives it weight 0.
    AlsOptions als;
    uint32_t item_neighbours = 200;
    float item_shrink = 2.0f;
    float trending_half_life_days = 7.0f;
};

struct TrainedModels {
    int32_t trained_until = 0;  // first day not in the training data
    TrainSettings settings;
    std::shared_ptr<const AlsModel> als;
    std::shared_ptr<const ItemNeighbours> item_item;
    std::shared_ptr<const TrendingModel> trending;
    BlendWeights weights;
    nlohmann::json tuning;  // how the weights were found (see tune_blend_weights)
    // Seconds and peak-RSS growth in bytes per model, for the benchmarks.
    std::map<std::string, std::pair<double, uint64_t>> costs;
};

// The default blend weights, used until tune_blend_weights finds better ones.
BlendWeights default_blend_weights();

// Trains ALS, item-to-item and trending on the log's rows dated before `as_of`.
TrainedModels train_models(const InteractionLog& log, int32_t as_of, const TrainSettings& settings);

// The column file holding the models in a store generation.
constexpr const char* kRecommendFileName = "recommend";

// Writes the models as STORE/<generation>/recommend.lbc in a new generation (others kept).
// `based_on`: the generation trained from; fails as Store::commit does when the store changed.
Status save_models(const std::filesystem::path& store_dir,
                   const TrainedModels& models,
                   const std::string& based_on);

// Reads what save_models wrote. kNotFound telling to run `lookbook train STORE` when absent;
// kCorruption when columns disagree with each other or with the store's catalog.
Result<TrainedModels> load_models(const Store& store);

}  // namespace lookbook
