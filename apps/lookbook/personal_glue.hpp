#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lookbook/recommend/evaluate.hpp"
#include "lookbook/recommend/models.hpp"
#include "lookbook/recommend/recommender.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/util/status.hpp"
#include "lookbook/web/services.hpp"

// Where the commands meet the two-tower model: in builds with libtorch these add it to the
// personal-recommendation blend; without torch (the sanitizer build) they fall back to the
// plain recommend library, so `train`, `recommend`, `evaluate`, `serve` and `report` work the
// same minus that one source.
namespace lookbook::cli {

// The server's recorded events of a customer as live interactions, each placed on its own day
// but no later than `today` (the recommender's: the store's data may end years before the
// events' wall-clock dates); events naming an article the store lacks are skipped.
std::vector<Interaction> live_interactions(const Store& store,
                                           const std::vector<web::CustomerEvent>& events,
                                           int32_t today);

// Recommender::open plus the store's two-tower model when there is one.
Result<std::unique_ptr<Recommender>> open_recommender(const Store& store);

// Sets options->two_tower (a factory training a model per cut day) when torch is built in.
void add_two_tower(EvaluateOptions* options, double max_minutes);

// Trains the two-tower model on every purchase of the store (the last week picks the epoch)
// and saves it in STORE/models/two_tower; OK and a no-op without torch.
Status train_store_two_tower(const std::filesystem::path& store_dir, double max_minutes);

// Weeks of the offline evaluation `build` saves for the report: the H&M sample's last week has
// about 65 buying customers, too few to tell recommenders apart; eight weeks have about 390.
constexpr int kPersonalEvaluationWeeks = 8;

struct PersonalTrainOptions {
    TrainSettings settings;
    bool tune = true;          // tune the blend weights on the last weeks
    int validation_weeks = 8;  // ... this many
    bool two_tower = true;     // train the two-tower model too (builds with torch)
    double two_tower_minutes = 5;
    // The running command's option for validation_weeks, named in advice ("" for `build`).
    std::string weeks_option = "--validation-weeks";
};

struct PersonalTrainResult {
    TrainedModels models;
    uint64_t transactions = 0;
    std::string two_tower_error;  // why the two-tower model was not trained; empty when it was
};

// What `lookbook train` does: tunes the blend weights on the last `validation_weeks` weeks with
// models that have not seen them, trains ALS, item-to-item and trending on every purchase,
// saves them as a new store generation and trains the two-tower model. Fails with the store's
// errors and kInvalidData for a store without transactions; a two-tower model that cannot be
// trained (too little data for its split) is reported in two_tower_error, not as a failure.
Result<PersonalTrainResult> train_personal(const std::filesystem::path& store_dir,
                                           const PersonalTrainOptions& options);

// True when the store's personal models were trained on its current transactions (and, with
// torch, the two-tower model and the saved evaluation exist).
Result<bool> personal_up_to_date(const std::filesystem::path& store_dir);

// Runs the offline evaluation (evaluate_recommenders, two-tower included with torch) over the
// last `test_weeks` weeks and saves it as STORE/models/evaluation.json, tagged with the number
// of transactions it saw, for the report. When the store is too small for the protocol the
// file holds {"error": reason} instead (the report shows it); only I/O and store errors fail.
Status save_personal_evaluation(const std::filesystem::path& store_dir,
                                int test_weeks,
                                double two_tower_minutes);

// The evaluation for `lookbook report`: the saved one when it matches the store's
// transactions, otherwise a fresh run without the two-tower model (which would take minutes).
Result<nlohmann::json> personal_evaluation_for_report(const Store& store);

}  // namespace lookbook::cli
