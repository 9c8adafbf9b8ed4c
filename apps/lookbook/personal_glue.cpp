#include "personal_glue.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "lookbook/recommend/sources.hpp"
#include "lookbook/util/date.hpp"
#include "lookbook/util/file.hpp"
#include "lookbook/util/log.hpp"

#if LOOKBOOK_WITH_TORCH
#include "lookbook/models/personal.hpp"
#endif

namespace lookbook::cli {

Result<std::unique_ptr<Recommender>> open_recommender(const Store& store) {
#if LOOKBOOK_WITH_TORCH
    return models::open_personal_recommender(store);
#else
    return Recommender::open(store);
#endif
}

void add_two_tower(EvaluateOptions* options, double max_minutes) {
#if LOOKBOOK_WITH_TORCH
    models::TwoTowerOptions two_tower;
    two_tower.max_minutes = max_minutes;
    // The model is trained with the evaluation's weeks left out: the same option sets them.
    two_tower.weeks_option = options->weeks_option;
    options->two_tower = models::two_tower_factory(two_tower);
#else
    (void)options;
    (void)max_minutes;
#endif
}

Status train_store_two_tower(const std::filesystem::path& store_dir, double max_minutes) {
#if LOOKBOOK_WITH_TORCH
    models::TwoTowerOptions options;
    options.max_minutes = max_minutes;
    auto report = models::train_two_tower(store_dir, options);
    if (!report.is_ok()) {
        return report.status();
    }
    log::info("two-tower model: {} epochs (best {}), validation recall@12 {:.4f}, {:.1f} s",
              report->epochs,
              report->best_epoch,
              report->best_validation_recall,
              report->seconds);
    return Status::ok();
#else
    (void)store_dir;
    (void)max_minutes;
    return Status::ok();
#endif
}

namespace {

namespace fs = std::filesystem;

fs::path evaluation_path(const fs::path& store_dir) {
    return store_dir / "models" / "evaluation.json";
}

}  // namespace

Result<PersonalTrainResult> train_personal(const fs::path& store_dir,
                                           const PersonalTrainOptions& options) {
    LOOKBOOK_ASSIGN_OR_RETURN(auto store, Store::open(store_dir));
    const TransactionTable& rows = store->transactions();
    if (rows.size() == 0) {
        return Status::invalid_data(
            "the store has no transactions to train on; ingest a transactions file first.");
    }
    const int32_t last_day = *std::max_element(rows.date().begin(), rows.date().end());

    // The weights come from the last weeks, with models that have not seen them.
    const int32_t validation_start = last_day + 1 - 7 * options.validation_weeks;
    EvaluateOptions evaluate_options;
    evaluate_options.train = options.settings;
    evaluate_options.weeks_option = options.weeks_option;
    if (options.two_tower) {
        add_two_tower(&evaluate_options, options.two_tower_minutes);
    }
    TuningResult tuning;
    tuning.weights = default_blend_weights();
    if (options.tune) {
        std::shared_ptr<const ContentVectors> vectors;
        if (auto loaded = load_content_vectors(*store); loaded.is_ok()) {
            vectors = std::move(loaded).value();
        }
        tuning = tune_blend_weights(
            *store, validation_start, last_day + 1, evaluate_options, std::move(vectors));
    }
    PersonalTrainResult result;
    result.transactions = rows.size();
    result.models =
        train_models(interaction_log_from_store(*store), last_day + 1, options.settings);
    result.models.weights = tuning.weights;
    result.models.tuning = {{"validation_start", format_iso_date(validation_start)},
                            {"validation_customers", tuning.validation_customers},
                            {"validation_map_at_12", tuning.validation_map},
                            {"steps", tuning.log}};
    LOOKBOOK_RETURN_IF_ERROR(save_models(store_dir, result.models, store->generation()));
    // The two-tower model lives beside the generations (STORE/models/two_tower) and learns from
    // every purchase, like the models above; its blend weight was tuned just now. A store too
    // small for its time split still gets the other models.
    if (options.two_tower) {
        Status trained = train_store_two_tower(store_dir, options.two_tower_minutes);
        if (!trained.is_ok()) {
            result.two_tower_error = trained.message();
        }
    }
    return result;
}

Result<bool> personal_up_to_date(const fs::path& store_dir) {
    LOOKBOOK_ASSIGN_OR_RETURN(auto store, Store::open(store_dir));
    const TransactionTable& rows = store->transactions();
    if (rows.size() == 0) {
        return true;  // nothing to learn from; `recommend` then says to ingest transactions
    }
    if (!store->has_file(kRecommendFileName)) {
        return false;
    }
    auto models = load_models(*store);
    if (!models.is_ok()) {
        return false;
    }
    const int32_t last_day = *std::max_element(rows.date().begin(), rows.date().end());
    if (models->trained_until != last_day + 1) {
        return false;
    }
    std::ifstream in(evaluation_path(store_dir));
    auto saved = nlohmann::json::parse(in, nullptr, false);
    if (saved.is_discarded() || saved.value("store_transactions", uint64_t{0}) != rows.size()) {
        return false;
    }
#if LOOKBOOK_WITH_TORCH
    // The two-tower model reads the store's content vectors: after a new `embed` (another
    // encoder) it would be refused, or fed vectors it never learned from.
    const fs::path two_tower = models::default_two_tower_dir(store_dir);
    LOOKBOOK_ASSIGN_OR_RETURN(bool current, models::two_tower_content_current(*store, two_tower));
    if (!current) {
        log::info("{} was trained on other content vectors than the store's embeddings",
                  two_tower.string());
        return false;
    }
#endif
    return true;
}

Status save_personal_evaluation(const fs::path& store_dir,
                                int test_weeks,
                                double two_tower_minutes) {
    LOOKBOOK_ASSIGN_OR_RETURN(auto store, Store::open(store_dir));
    EvaluateOptions options;
    options.test_weeks = test_weeks;
    options.weeks_option = "";  // `build` sets no weeks
    add_two_tower(&options, two_tower_minutes);
    // A store too small or too short for the protocol still builds: the saved evaluation then
    // holds the reason, which the report shows in place of the figures.
    auto evaluated = try_evaluate_recommenders(*store, options);
    nlohmann::json evaluation;
    if (evaluated.is_ok()) {
        evaluation = std::move(evaluated).value();
    } else {
        log::warn("offline evaluation not possible: {}", evaluated.status().message());
        evaluation = {{"error", evaluated.status().message()}};
    }
    evaluation["store_transactions"] = store->transactions().size();
    std::error_code error;
    fs::create_directories(evaluation_path(store_dir).parent_path(), error);
    return write_file_synced(evaluation_path(store_dir), evaluation.dump(1));
}

// Live events carry wall-clock times; the store's data may end years earlier (the H&M sample
// ends in 2020). An event is placed on the recommender's "today" at the latest, so it counts
// as the newest thing the customer did rather than as something in the far future.
std::vector<Interaction> live_interactions(const Store& store,
                                           const std::vector<web::CustomerEvent>& events,
                                           int32_t today) {
    std::vector<Interaction> out;
    out.reserve(events.size());
    for (const web::CustomerEvent& event : events) {
        auto article = store.articles().find(event.article_id);
        if (!article) {
            continue;  // the server only records events for known articles
        }
        const auto day = static_cast<int32_t>(event.unix_ms / 86'400'000);
        out.push_back(Interaction{
            .article = *article,
            .day = std::min(day, today),
            .kind = event.kind == web::EventKind::kPurchase ? Interaction::Kind::kPurchase
                                                            : Interaction::Kind::kView,
        });
    }
    return out;
}

Result<nlohmann::json> personal_evaluation_for_report(const Store& store) {
    std::ifstream in(evaluation_path(store.dir()));
    if (in) {
        auto saved = nlohmann::json::parse(in, nullptr, false);
        if (!saved.is_discarded() &&
            saved.value("store_transactions", uint64_t{0}) == store.transactions().size()) {
            saved["source"] = "the evaluation `lookbook build` saved (" +
                              evaluation_path(store.dir()).string() + "), two-tower included";
            return saved;
        }
        log::info(
            "{} is older than the store's transactions; evaluating again without the "
            "two-tower model (run `lookbook build` to refresh it)",
            evaluation_path(store.dir()).string());
    }
    EvaluateOptions options;
    options.test_weeks = kPersonalEvaluationWeeks;
    options.weeks_option = "";  // fixed for the report
    auto evaluated = try_evaluate_recommenders(store, options);
    if (evaluated.is_ok()) {
        (*evaluated)["source"] =
            "evaluated for this report, without the two-tower model (run `lookbook build` to "
            "save an evaluation with it)";
    }
    return evaluated;
}

}  // namespace lookbook::cli
