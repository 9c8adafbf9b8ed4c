#include "lookbook/models/personal.hpp"

#include <algorithm>
#include <atomic>
#include <system_error>

#include <fmt/format.h>
#include <unistd.h>

#include "lookbook/util/date.hpp"
#include "lookbook/util/log.hpp"

namespace lookbook::models {

EvaluateOptions::SourceFactory two_tower_factory(TwoTowerOptions options) {
    return [options](const Store& store,
                     int32_t train_until) -> std::shared_ptr<const CandidateSource> {
        const auto dates = store.transactions().date();
        if (dates.empty()) {
            return nullptr;
        }
        // The split counts whole weeks back from the day after the last purchase; the cut days
        // the evaluation asks for are such week boundaries.
        const int32_t end = *std::max_element(dates.begin(), dates.end()) + 1;
        TwoTowerOptions run = options;
        run.test_weeks = std::max(0, (end - train_until) / 7);
        static std::atomic<int> counter{0};
        std::error_code ignored;
        const auto folder = std::filesystem::temp_directory_path(ignored) /
                            fmt::format("lookbook-two-tower-{}-{}", getpid(), counter++);
        run.output = folder;
        run.save = true;
        auto report = train_two_tower(store.dir(), run);
        if (!report.is_ok()) {
            log::warn("two-tower model for days before {} not trained: {}",
                      format_iso_date(train_until),
                      report.status().message());
            std::filesystem::remove_all(folder, ignored);
            return nullptr;
        }
        auto source = TwoTowerSource::open(store, folder);
        std::filesystem::remove_all(folder, ignored);
        if (!source.is_ok()) {
            log::warn("two-tower model not loaded: {}", source.status().message());
            return nullptr;
        }
        return std::shared_ptr<const CandidateSource>(std::move(source).value());
    };
}

Result<std::unique_ptr<Recommender>> open_personal_recommender(const Store& store) {
    LOOKBOOK_ASSIGN_OR_RETURN(std::unique_ptr<Recommender> recommender, Recommender::open(store));
    const auto dir = default_two_tower_dir(store.dir());
    std::error_code ignored;
    if (!std::filesystem::exists(dir, ignored)) {
        log::info("two-tower model absent ({}); run `lookbook train {}` to add it",
                  dir.string(),
                  store.dir().string());
        return recommender;
    }
    auto source = TwoTowerSource::open(store, dir);
    if (!source.is_ok()) {
        log::warn("two-tower model not used: {}", source.status().message());
        return recommender;
    }
    const auto& weights = recommender->weights();
    auto tuned = weights.find("two_tower");
    const float weight = tuned != weights.end() ? tuned->second : 0.0f;
    recommender->add_source(std::shared_ptr<const CandidateSource>(std::move(source).value()),
                            weight);
    return recommender;
}

}  // namespace lookbook::models
