#include "lookbook/recommend/models.hpp"

#include <chrono>
#include <vector>

#include <fmt/format.h>

#include "lookbook/store/column_file.hpp"
#include "lookbook/util/file.hpp"
#include "lookbook/util/log.hpp"

namespace lookbook {

BlendWeights default_blend_weights() {
    return {{"repurchase", 1.0f},
            {"trending", 0.5f},
            {"item_item", 0.5f},
            {"als", 0.5f},
            {"profile", 0.25f},
            {"two_tower", 0.5f}};
}

namespace {

// Runs `train` and records its wall time and how much the peak RSS grew.
template <typename F>
void measured(const std::string& name, TrainedModels* models, F&& train) {
    uint64_t rss_before = peak_rss_bytes();
    auto start = std::chrono::steady_clock::now();
    train();
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    uint64_t rss_after = peak_rss_bytes();
    models->costs[name] = {seconds, rss_after > rss_before ? rss_after - rss_before : 0};
    log::info("trained {} in {:.2f} s", name, seconds);
}

nlohmann::json settings_json(const TrainSettings& s) {
    return {{"als",
             {{"factors", s.als.factors},
              {"regularization", s.als.regularization},
              {"alpha", s.als.alpha},
              {"iterations", s.als.iterations},
              {"cg_steps", s.als.cg_steps},
              {"seed", s.als.seed}}},
            {"item_item", {{"neighbours", s.item_neighbours}, {"shrink", s.item_shrink}}},
            {"trending", {{"half_life_days", s.trending_half_life_days}}}};
}

}  // namespace

TrainedModels train_models(const InteractionLog& full_log,
                           int32_t as_of,
                           const TrainSettings& settings) {
    // Rows on or after `as_of` never reach a model (the evaluation relies on it).
    InteractionLog log;
    log.customer_count = full_log.customer_count;
    log.article_count = full_log.article_count;
    log.customer_age_band = full_log.customer_age_band;
    for (size_t row = 0; row < full_log.size(); ++row) {
        if (full_log.day[row] < as_of) {
            log.customer.push_back(full_log.customer[row]);
            log.article.push_back(full_log.article[row]);
            log.day.push_back(full_log.day[row]);
        }
    }
    TrainedModels models;
    models.trained_until = as_of;
    models.settings = settings;
    models.weights = default_blend_weights();
    SparseMatrix counts = customer_article_counts(log);
    measured("als", &models, [&] {
        models.als = std::make_shared<const AlsModel>(fit_als(counts, settings.als));
    });
    measured("item_item", &models, [&] {
        models.item_item = std::make_shared<const ItemNeighbours>(
            fit_item_neighbours(counts, settings.item_neighbours, settings.item_shrink));
    });
    measured("trending", &models, [&] {
        models.trending = std::make_shared<const TrendingModel>(
            fit_trending(log, as_of, settings.trending_half_life_days));
    });
    return models;
}

Status save_models(const std::filesystem::path& store_dir,
                   const TrainedModels& models,
                   const std::string& based_on) {
    ColumnFileWriter writer;
    const AlsModel& als = *models.als;
    std::vector<float> factors(als.item_factors.data(),
                               als.item_factors.data() + als.item_factors.size());
    writer.add_owned("als.item_factors", std::move(factors));
    writer.add("item_item.offsets", models.item_item->offsets);
    writer.add("item_item.items", models.item_item->items);
    writer.add("item_item.similarities", models.item_item->similarities);
    writer.add("trending.overall", models.trending->overall);
    std::vector<float> bands;
    for (const auto& band : models.trending->by_band) {
        bands.insert(bands.end(), band.begin(), band.end());
    }
    writer.add_owned("trending.by_band", std::move(bands));

    nlohmann::json metadata;
    metadata["trained_until"] = models.trained_until;
    metadata["articles"] = als.item_factors.rows();
    metadata["settings"] = settings_json(models.settings);
    metadata["weights"] = models.weights;
    metadata["tuning"] = models.tuning;
    writer.set_metadata(metadata.dump());
    LOOKBOOK_ASSIGN_OR_RETURN(
        std::string generation,
        Store::commit(store_dir, {{kRecommendFileName, &writer}}, true, based_on));
    log::info("saved the recommendation models in {} ({})", store_dir.string(), generation);
    return Status::ok();
}

namespace {

template <typename T>
Status read_column(const ColumnFile& file, const std::string& name, std::vector<T>* out) {
    LOOKBOOK_ASSIGN_OR_RETURN(std::span<const T> values, file.column<T>(name));
    out->assign(values.begin(), values.end());
    return Status::ok();
}

}  // namespace

Result<TrainedModels> load_models(const Store& store) {
    if (!store.has_file(kRecommendFileName)) {
        return Status::not_found(fmt::format(
            "the store at \"{}\" has no recommendation models yet; run `lookbook train {}` first.",
            store.dir().string(),
            store.dir().string()));
    }
    LOOKBOOK_ASSIGN_OR_RETURN(ColumnFile file, store.open_file(kRecommendFileName));
    auto metadata = nlohmann::json::parse(file.metadata(), nullptr, false);
    uint32_t n_articles = store.articles().size();
    auto corrupt = [&](const std::string& what) {
        return Status::corruption(fmt::format("{}: {}; run `lookbook train {}` again.",
                                              file.path().string(),
                                              what,
                                              store.dir().string()));
    };
    // TODO: models trained before an `ingest --append` that added article ids are refused,
    // though appends keep every row: personal recommendations (and the two-tower model, which
    // would accept the new rows) stay off until `train` runs again. Zero factors, no neighbours
    // and no sales for the new rows would keep them serving.
    if (metadata.is_discarded() || !metadata.contains("trained_until") ||
        metadata.value("articles", int64_t{-1}) != int64_t{n_articles}) {
        return corrupt(fmt::format(
            "the metadata is unreadable or was written for another catalog (the store has {} "
            "articles)",
            n_articles));
    }
    TrainedModels models;
    // The metadata was written by save_models; a key missing or of the wrong type means damage.
    try {
        models.trained_until = metadata.at("trained_until").get<int32_t>();
        const auto& s = metadata.at("settings");
        models.settings.als.factors = s.at("als").at("factors").get<int>();
        models.settings.als.regularization = s.at("als").at("regularization").get<float>();
        models.settings.als.alpha = s.at("als").at("alpha").get<float>();
        models.settings.als.iterations = s.at("als").at("iterations").get<int>();
        models.settings.als.cg_steps = s.at("als").at("cg_steps").get<int>();
        models.settings.item_neighbours = s.at("item_item").at("neighbours").get<uint32_t>();
        models.settings.item_shrink = s.at("item_item").at("shrink").get<float>();
        models.settings.trending_half_life_days =
            s.at("trending").at("half_life_days").get<float>();
        models.weights = metadata.at("weights").get<BlendWeights>();
        models.tuning = metadata.value("tuning", nlohmann::json());
    } catch (const nlohmann::json::exception& e) {
        return corrupt(fmt::format("the metadata lacks a setting or has one of the wrong type ({})",
                                   e.what()));
    }
    auto als = std::make_shared<AlsModel>();
    als->options = models.settings.als;
    LOOKBOOK_ASSIGN_OR_RETURN(auto factors, file.column<float>("als.item_factors"));
    if (als->options.factors < 1 || factors.size() != size_t{n_articles} * als->options.factors) {
        return corrupt(fmt::format("als.item_factors holds {} values, expected {} x {}",
                                   factors.size(),
                                   n_articles,
                                   als->options.factors));
    }
    als->item_factors =
        Eigen::Map<const FactorMatrix>(factors.data(), n_articles, als->options.factors);
    als->update_gram();
    models.als = als;

    auto item_item = std::make_shared<ItemNeighbours>();
    LOOKBOOK_RETURN_IF_ERROR(read_column(file, "item_item.offsets", &item_item->offsets));
    LOOKBOOK_RETURN_IF_ERROR(read_column(file, "item_item.items", &item_item->items));
    LOOKBOOK_RETURN_IF_ERROR(read_column(file, "item_item.similarities", &item_item->similarities));
    bool consistent = item_item->offsets.size() == size_t{n_articles} + 1 &&
                      item_item->offsets.back() == item_item->items.size() &&
                      item_item->similarities.size() == item_item->items.size();
    for (uint32_t item : item_item->items) {
        consistent = consistent && item < n_articles;
    }
    if (!consistent) {
        return corrupt(
            "the item_item columns disagree in length or name articles beyond the "
            "catalog");
    }
    models.item_item = item_item;

    auto trending = std::make_shared<TrendingModel>();
    trending->as_of = models.trained_until;
    trending->half_life_days = models.settings.trending_half_life_days;
    LOOKBOOK_RETURN_IF_ERROR(read_column(file, "trending.overall", &trending->overall));
    std::vector<float> bands;
    LOOKBOOK_RETURN_IF_ERROR(read_column(file, "trending.by_band", &bands));
    if (trending->overall.size() != n_articles ||
        bands.size() != size_t{n_articles} * kAgeBandCount) {
        return corrupt("the trending columns do not match the catalog");
    }
    for (uint8_t band = 0; band < kAgeBandCount; ++band) {
        trending->by_band.emplace_back(bands.begin() + ptrdiff_t{band} * n_articles,
                                       bands.begin() + ptrdiff_t{band + 1} * n_articles);
    }
    models.trending = trending;
    return models;
}

}  // namespace lookbook
