#include "lookbook/web/build_steps.hpp"

#include <chrono>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lookbook/rules/store_rules.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/util/log.hpp"
#include "lookbook/web/event_log.hpp"
#include "lookbook/web/fold_events.hpp"

namespace lookbook {

namespace fs = std::filesystem;

Result<std::vector<BuildStepReport>> run_build(const fs::path& store_dir,
                                               const std::vector<BuildStep>& steps,
                                               const BuildOptions& options) {
    std::vector<BuildStepReport> reports;
    for (size_t step_idx = 0; step_idx < steps.size(); ++step_idx) {
        const BuildStep& step = steps[step_idx];
        BuildStepReport report{step.name};
        if (!options.force) {
            auto fresh = step.up_to_date(store_dir);
            if (!fresh.is_ok()) {
                return fresh.status().with_context(fmt::format("build step \"{}\"", step.name));
            }
            if (*fresh) {
                log::info(
                    "build [{}/{}] {}: up to date, skipped", step_idx + 1, steps.size(), step.name);
                report.skipped = true;
                reports.push_back(report);
                continue;
            }
        }
        log::info("build [{}/{}] {}: {}", step_idx + 1, steps.size(), step.name, step.description);
        auto start = std::chrono::steady_clock::now();
        Status status = step.run(store_dir);
        report.seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (!status.is_ok()) {
            return status.with_context(fmt::format("build step \"{}\"", step.name));
        }
        log::info("build [{}/{}] {}: done in {:.1f} s",
                  step_idx + 1,
                  steps.size(),
                  step.name,
                  report.seconds);
        reports.push_back(report);
    }
    return reports;
}

namespace {

// Rules are up to date when they were mined by a build from as many transactions as the store
// holds now (folding events only ever adds transactions).
Result<bool> rules_up_to_date(const fs::path& store_dir) {
    LOOKBOOK_ASSIGN_OR_RETURN(auto store, Store::open(store_dir));
    if (!store->has_file(rules::kRulesFileName)) {
        return false;
    }
    LOOKBOOK_ASSIGN_OR_RETURN(auto file, store->open_file(rules::kRulesFileName));
    auto metadata = nlohmann::json::parse(file.metadata(), nullptr, false);
    if (metadata.is_discarded() || !metadata.contains("settings") ||
        !metadata["settings"].is_object()) {
        return false;
    }
    const auto& settings = metadata["settings"];
    if (settings.value("transactions", uint64_t{0}) != store->transactions().size()) {
        return false;
    }
    // Rules a user mined with `lookbook mine` keep their options. Rules an older `build` mined
    // with other defaults are redone, so such a store gets the pairs kept from one basket.
    if (settings.value("built_by", std::string()) != "lookbook build") {
        return true;
    }
    const rules::TrainOptions defaults = rules::default_train_options();
    return settings.value("max_length", int64_t{-1}) ==
               static_cast<int64_t>(defaults.mining.max_length) &&
           settings.value("pair_min_support", int64_t{-1}) ==
               static_cast<int64_t>(defaults.pair_min_support);
}

Status mine_rules(const fs::path& store_dir) {
    LOOKBOOK_ASSIGN_OR_RETURN(auto store, Store::open(store_dir));
    rules::TrainOptions options = rules::default_train_options();
    LOOKBOOK_ASSIGN_OR_RETURN(auto baskets, rules::baskets_from_store(*store, {}));
    LOOKBOOK_ASSIGN_OR_RETURN(
        auto model,
        rules::train_complete_the_look(baskets, rules::catalog_from_store(*store), options));
    nlohmann::json settings = {
        {"basket", "customer-day"},
        {"min_support_count", options.mining.min_support.to_count(baskets.total_weight())},
        {"max_length", options.mining.max_length},
        {"pair_min_support", options.pair_min_support},
        {"transactions", store->transactions().size()},
        {"built_by", "lookbook build"}};
    log::info("mined {} baskets: {} article rules, {} product-code rules",
              baskets.size(),
              model.article_rules.size(),
              model.code_rules.size());
    return rules::save_complete_the_look(store_dir, model, settings.dump(), store->generation());
}

}  // namespace

std::vector<BuildStep> core_build_steps() {
    std::vector<BuildStep> steps;
    steps.push_back(BuildStep{
        "events",
        "fold purchases recorded by `lookbook serve` into the transactions",
        [](const fs::path& store_dir) -> Result<bool> {
            if (!fs::exists(web::event_log_path(store_dir))) {
                return true;
            }
            LOOKBOOK_ASSIGN_OR_RETURN(auto log,
                                      web::EventLog::open(web::event_log_path(store_dir)));
            LOOKBOOK_ASSIGN_OR_RETURN(auto counts, log->counts());
            return counts.second == 0;
        },
        [](const fs::path& store_dir) -> Status { return web::fold_events(store_dir).status(); }});
    steps.push_back(BuildStep{
        "rules", "mine bought-together rules from the transactions", rules_up_to_date, mine_rules});
    return steps;
}

}  // namespace lookbook
