#pragma once

#include <filesystem>
#include <memory>

#include "lookbook/models/two_tower.hpp"
#include "lookbook/recommend/evaluate.hpp"
#include "lookbook/recommend/recommender.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/util/status.hpp"

// The two-tower model joined to the personal-recommendation blend: the recommend library is
// plain C++ (it runs under the sanitizers), the two-tower model needs libtorch, so the code that
// puts them together lives here and only in builds with torch.
namespace lookbook::models {

// A source factory for the evaluation and the weight tuning (EvaluateOptions::two_tower): for a
// cut day it trains a two-tower model on the store's purchases before that day (the validation
// weeks for early stopping are the ones just before the cut), in a temporary folder that is
// removed once the model is loaded, and returns it as a source. Returns null (the evaluation
// then says "not built") when training fails, with the reason logged. `options.test_weeks` and
// `options.output` are set per call; `options.weeks_option` should name the running command's
// option for the evaluation's weeks.
EvaluateOptions::SourceFactory two_tower_factory(TwoTowerOptions options);

// Recommender::open plus the store's two-tower model (STORE/models/two_tower) when it exists,
// with the blend weight `lookbook train` tuned for it. Without the model the blend runs on the
// other sources, with a log line.
Result<std::unique_ptr<Recommender>> open_personal_recommender(const Store& store);

}  // namespace lookbook::models
