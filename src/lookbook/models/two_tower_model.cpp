#include "lookbook/models/two_tower_model.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include <fmt/format.h>

#include "lookbook/encoders/catalog_embed.hpp"
#include "lookbook/encoders/safetensors.hpp"
#include "lookbook/util/checksum.hpp"
#include "lookbook/util/file.hpp"
#include "lookbook/util/log.hpp"

namespace lookbook::models {
namespace {

namespace fs = std::filesystem;
namespace F = torch::nn::functional;

constexpr const char* kWeightsFile = "model.safetensors";
constexpr const char* kConfigFile = "config.json";
constexpr const char* kIdSlotsTensor = "article_id_slots";

// Each tower's head: one hidden ReLU layer, enough to mix demographics with the history pool
// (a linear head cannot); deeper heads were not tried on data this small.
torch::nn::Sequential two_layers(int64_t in, int64_t hidden, int64_t out) {
    return torch::nn::Sequential(
        torch::nn::Linear(in, hidden), torch::nn::ReLU(), torch::nn::Linear(hidden, out));
}

}  // namespace

// Six attribute embeddings, then the id embedding and the projected content vector when used.
int64_t TwoTowerConfig::feature_dim() const {
    return static_cast<int64_t>(kTowerAttributes.size()) * category_dim + id_dim +
           (content_dim > 0 ? content_proj_dim : 0);
}

// Every field, so a model folder alone rebuilds the network that wrote it.
nlohmann::json TwoTowerConfig::to_json() const {
    return nlohmann::json{{"dim", dim},
                          {"hidden", hidden},
                          {"category_dim", category_dim},
                          {"id_dim", id_dim},
                          {"postal_buckets", postal_buckets},
                          {"postal_dim", postal_dim},
                          {"content_dim", content_dim},
                          {"content_proj_dim", content_proj_dim},
                          {"attribute_sizes", attribute_sizes},
                          {"club_size", club_size},
                          {"news_size", news_size},
                          {"id_slots", id_slots},
                          {"history_length", history_length},
                          {"half_life_days", half_life_days},
                          {"view_weight", view_weight},
                          {"temperature", temperature}};
}

Result<TwoTowerConfig> TwoTowerConfig::from_json(const nlohmann::json& json) {
    TwoTowerConfig c;
    // Every key is required: a config from another version must not load with silent defaults.
    auto get = [&](const char* key, auto* out) -> Status {
        if (!json.contains(key)) {
            return Status::invalid_data(fmt::format("key \"{}\" is missing", key));
        }
        try {
            json.at(key).get_to(*out);
        } catch (const nlohmann::json::exception&) {
            return Status::invalid_data(
                fmt::format("key \"{}\" is {}; expected a number", key, json.at(key).dump()));
        }
        return Status::ok();
    };
    LOOKBOOK_RETURN_IF_ERROR(get("dim", &c.dim));
    LOOKBOOK_RETURN_IF_ERROR(get("hidden", &c.hidden));
    LOOKBOOK_RETURN_IF_ERROR(get("category_dim", &c.category_dim));
    LOOKBOOK_RETURN_IF_ERROR(get("id_dim", &c.id_dim));
    LOOKBOOK_RETURN_IF_ERROR(get("postal_buckets", &c.postal_buckets));
    LOOKBOOK_RETURN_IF_ERROR(get("postal_dim", &c.postal_dim));
    LOOKBOOK_RETURN_IF_ERROR(get("content_dim", &c.content_dim));
    LOOKBOOK_RETURN_IF_ERROR(get("content_proj_dim", &c.content_proj_dim));
    LOOKBOOK_RETURN_IF_ERROR(get("attribute_sizes", &c.attribute_sizes));
    LOOKBOOK_RETURN_IF_ERROR(get("club_size", &c.club_size));
    LOOKBOOK_RETURN_IF_ERROR(get("news_size", &c.news_size));
    LOOKBOOK_RETURN_IF_ERROR(get("id_slots", &c.id_slots));
    LOOKBOOK_RETURN_IF_ERROR(get("history_length", &c.history_length));
    LOOKBOOK_RETURN_IF_ERROR(get("half_life_days", &c.half_life_days));
    LOOKBOOK_RETURN_IF_ERROR(get("view_weight", &c.view_weight));
    LOOKBOOK_RETURN_IF_ERROR(get("temperature", &c.temperature));
    if (c.dim < 1 || c.hidden < 1 || c.category_dim < 1 || c.id_dim < 0 || c.postal_buckets < 1 ||
        c.postal_dim < 1 || c.content_dim < 0 || c.id_slots < 1 || c.history_length < 1 ||
        c.half_life_days <= 0 || c.temperature <= 0) {
        return Status::invalid_data(
            "a size is below 1 (or half_life_days/temperature not positive)");
    }
    return c;
}

int64_t age_bucket(float age) {
    if (std::isnan(age)) {
        return 0;
    }
    // 1: under 20; 2..10: five-year bands from 20; 11: 65 and over.
    if (age < 20) {
        return 1;
    }
    return std::min<int64_t>(kAgeBuckets - 1, 2 + static_cast<int64_t>((age - 20) / 5));
}

// FNV-1a rather than std::hash: the bucket must be the same in every build and on every machine
// that loads the saved model.
int64_t postal_bucket(std::string_view postal_code, int64_t buckets) {
    uint64_t hash = 0xcbf29ce484222325ull;
    for (char c : postal_code) {
        hash = (hash ^ static_cast<uint8_t>(c)) * 1099511628211ull;
    }
    return static_cast<int64_t>(hash % static_cast<uint64_t>(buckets));
}

TwoTowerNet::TwoTowerNet(const TwoTowerConfig& config) : config_(config) {
    const TwoTowerConfig& c = config_;
    for (size_t i = 0; i < kTowerAttributes.size(); ++i) {
        // One extra row for codes the training data did not have.
        attribute_embeddings_.push_back(
            register_module(std::string("attribute_") + article_attribute_name(kTowerAttributes[i]),
                            torch::nn::Embedding(c.attribute_sizes[i] + 1, c.category_dim)));
    }
    if (c.id_dim > 0) {
        id_embedding_ = register_module("article_id", torch::nn::Embedding(c.id_slots, c.id_dim));
    }
    if (c.content_dim > 0) {
        content_proj_ =
            register_module("content_proj", torch::nn::Linear(c.content_dim, c.content_proj_dim));
    }
    article_mlp_ = register_module("article_mlp", two_layers(c.feature_dim(), c.hidden, c.dim));
    age_embedding_ = register_module("age", torch::nn::Embedding(kAgeBuckets, c.category_dim));
    club_embedding_ =
        register_module("club_status", torch::nn::Embedding(c.club_size + 1, c.category_dim));
    news_embedding_ =
        register_module("news_frequency", torch::nn::Embedding(c.news_size + 1, c.category_dim));
    postal_embedding_ =
        register_module("postal_code", torch::nn::Embedding(c.postal_buckets, c.postal_dim));
    // Demographics, the history pool, and log1p of the history length.
    const int64_t customer_in = 3 * c.category_dim + c.postal_dim + c.feature_dim() + 1;
    customer_mlp_ = register_module("customer_mlp", two_layers(customer_in, c.hidden, c.dim));
    // Embeddings start small so the first logits do not saturate the softmax.
    torch::NoGradGuard no_grad;
    for (auto& item : named_parameters()) {
        if (item.value().dim() == 2 && item.key().find("weight") != std::string::npos &&
            item.key().find("mlp") == std::string::npos &&
            item.key().find("content_proj") == std::string::npos) {
            item.value().normal_(0.0, 0.1);
        }
    }
}

// Inputs, not parameters: codes and content come from the store at load time, so a catalog that
// grew since training still gets a vector for every article.
void TwoTowerNet::set_articles(torch::Tensor codes, torch::Tensor id_slots, torch::Tensor content) {
    codes_ = std::move(codes);
    id_slots_ = std::move(id_slots);
    content_ = std::move(content);
}

torch::Tensor TwoTowerNet::article_features(const torch::Tensor& articles) {
    torch::Tensor codes = codes_.index_select(0, articles);  // [N, 6]
    std::vector<torch::Tensor> parts;
    for (size_t i = 0; i < attribute_embeddings_.size(); ++i) {
        parts.push_back(attribute_embeddings_[i]->forward(codes.select(1, i)));  // [N, cat]
    }
    if (config_.id_dim > 0) {
        parts.push_back(id_embedding_->forward(id_slots_.index_select(0, articles)));
    }
    if (config_.content_dim > 0) {
        parts.push_back(content_proj_->forward(content_.index_select(0, articles)));
    }
    return torch::cat(parts, 1);  // [N, feature_dim]
}

torch::Tensor TwoTowerNet::article_tower(const torch::Tensor& features) {
    return F::normalize(article_mlp_->forward(features), F::NormalizeFuncOptions().dim(1));
}

torch::Tensor TwoTowerNet::customer_tower(const CustomerBatch& batch,
                                          const torch::Tensor& history_features) {
    const int64_t rows = batch.age.size(0);
    const int64_t length = batch.history.size(1);
    // Weighted mean of the history's article features: [B, L, F] x [B, L, 1] summed over L.
    torch::Tensor pooled =
        (history_features.view({rows, length, -1}) * batch.history_weight.unsqueeze(2)).sum(1);
    torch::Tensor x = torch::cat({age_embedding_->forward(batch.age),
                                  club_embedding_->forward(batch.club),
                                  news_embedding_->forward(batch.news),
                                  postal_embedding_->forward(batch.postal),
                                  pooled,
                                  batch.history_count.unsqueeze(1)},
                                 1);
    return F::normalize(customer_mlp_->forward(x), F::NormalizeFuncOptions().dim(1));
}

torch::Tensor TwoTowerNet::customers(const CustomerBatch& batch) {
    // Features of each distinct history article once: short histories are mostly padding, and
    // customers share articles, so this is several times fewer rows than B x L.
    auto [distinct, inverse] = at::_unique(batch.history.flatten(), false, true);
    return customer_tower(batch, article_features(distinct).index_select(0, inverse));
}

// The id slots are saved with the weights: which articles own an id row depends on the training
// purchases, which the loader no longer has.
std::vector<std::pair<std::string, torch::Tensor>> TwoTowerNet::state() const {
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (const auto& item : named_parameters()) {
        out.emplace_back(item.key(), item.value().detach());
    }
    out.emplace_back(kIdSlotsTensor, id_slots_);
    return out;
}

torch::Tensor sampled_softmax_loss(const torch::Tensor& queries,
                                   const torch::Tensor& items,
                                   const torch::Tensor& log_q,
                                   const torch::Tensor& item_ids,
                                   double temperature) {
    const int64_t rows = queries.size(0);
    // [B, B]: every query against every row's article; subtracting log q undoes the advantage
    // popular articles get from appearing as negatives more often than uniform sampling would.
    torch::Tensor logits = queries.matmul(items.t()) / temperature - log_q.unsqueeze(0);
    // A popular article is often the positive of several rows; as a negative for the others it
    // would push a customer away from what they bought.
    torch::Tensor same = item_ids.unsqueeze(0) == item_ids.unsqueeze(1);
    torch::Tensor others = same.logical_and(torch::eye(rows, torch::kBool).logical_not());
    logits = logits.masked_fill(others, -std::numeric_limits<float>::infinity());
    return F::cross_entropy(logits, torch::arange(rows, torch::kInt64));
}

torch::Tensor article_codes(const ArticleTable& articles, const TwoTowerConfig& config) {
    const int64_t count = articles.size();
    const auto width = static_cast<int64_t>(kTowerAttributes.size());
    std::vector<int64_t> codes(static_cast<size_t>(count * width));
    for (int64_t i = 0; i < width; ++i) {
        const CategoricalColumn& column = articles.attribute(kTowerAttributes[i]);
        const int64_t unknown = config.attribute_sizes[i];
        for (int64_t row = 0; row < count; ++row) {
            const int64_t code = column.code(row);
            codes[row * width + i] = code < unknown ? code : unknown;
        }
    }
    return torch::tensor(codes, torch::kInt64).view({count, width});
}

Result<torch::Tensor> article_content(const Store& store) {
    if (!store.has_file("embeddings")) {
        return torch::Tensor();
    }
    LOOKBOOK_ASSIGN_OR_RETURN(std::unique_ptr<CatalogEmbeddings> embeddings,
                              load_catalog_embeddings(store));
    const int64_t dim = embeddings->dim;
    const int64_t count = store.articles().size();
    // Articles added after `lookbook embed` have no row and keep zeros.
    const int64_t rows = std::min<int64_t>(count, embeddings->has_text.size());
    torch::Tensor content = torch::zeros({count, 2 * dim});
    for (int64_t row = 0; row < rows; ++row) {
        std::span<const float> image = embeddings->image_row(row);
        std::span<const float> text = embeddings->text_row(row);
        float* out = content[row].data_ptr<float>();
        std::copy(image.begin(), image.end(), out);
        std::copy(text.begin(), text.end(), out + dim);
    }
    return content;
}

std::string content_fingerprint(const torch::Tensor& content, int64_t rows) {
    if (!content.defined()) {
        return "none";
    }
    const torch::Tensor block = content.slice(0, 0, std::max<int64_t>(rows, 0)).contiguous();
    const uint32_t crc = crc32c(block.data_ptr<float>(), block.numel() * sizeof(float));
    return fmt::format("crc32c:{:08x}/{}x{}", crc, block.size(0), block.size(1));
}

Result<bool> two_tower_content_current(const Store& store, const fs::path& dir) {
    const fs::path config_path = dir / kConfigFile;
    auto text = read_file(config_path);
    if (!text.is_ok()) {
        return true;
    }
    const nlohmann::json json = nlohmann::json::parse(*text, nullptr, false);
    if (!json.is_object() || !json.contains("config") || !json["config"].is_object()) {
        return false;
    }
    // A key of another type reads as absent (-1), never as an exception.
    auto integer = [](const nlohmann::json& object, const char* key) -> int64_t {
        const auto it = object.find(key);
        return it != object.end() && it->is_number_integer() ? it->get<int64_t>() : -1;
    };
    const auto info = json.find("info");
    LOOKBOOK_ASSIGN_OR_RETURN(torch::Tensor content, article_content(store));
    if (info != json.end() && info->is_object() && info->contains("content_fingerprint")) {
        return (*info)["content_fingerprint"] ==
               content_fingerprint(content, integer(*info, "articles"));
    }
    // Saved before fingerprints: only the length can be compared.
    const int64_t length = content.defined() ? content.size(1) : 0;
    return integer(json["config"], "content_dim") == length;
}

CustomerFeatures customer_features(const Store& store,
                                   const TwoTowerConfig& config,
                                   uint32_t customer,
                                   int32_t today,
                                   std::span<const Interaction> history) {
    // Unknown customers (and rows past the table) take every "unknown" row: they are served
    // from their history alone, or, without one, like the average customer.
    CustomerFeatures f;
    const CustomerTable& customers = store.customers();
    if (customer != kNoRow && customer < customers.size()) {
        f.age = age_bucket(customers.age(customer));
        f.club = std::min<int64_t>(customers.club_status().code(customer), config.club_size);
        f.news = std::min<int64_t>(customers.news_frequency().code(customer), config.news_size);
        f.postal = postal_bucket(customers.postal_code().value(customer), config.postal_buckets);
    } else {
        f.club = config.club_size;
        f.news = config.news_size;
        f.postal = postal_bucket("", config.postal_buckets);
    }

    // The most recent interactions up to today, newest scanned first.
    double total = 0;
    const uint32_t article_count = store.articles().size();
    for (size_t i = history.size(); i-- > 0;) {
        if (static_cast<int>(f.history.size()) >= config.history_length) {
            break;
        }
        const Interaction& event = history[i];
        if (event.day > today || event.article >= article_count) {
            continue;
        }
        double weight = std::exp2(-(today - event.day) / config.half_life_days);
        if (event.kind == Interaction::Kind::kView) {
            weight *= config.view_weight;
        }
        f.history.push_back(event.article);
        f.weights.push_back(static_cast<float>(weight));
        total += weight;
    }
    std::reverse(f.history.begin(), f.history.end());
    std::reverse(f.weights.begin(), f.weights.end());
    for (float& w : f.weights) {
        w = static_cast<float>(w / total);
    }
    return f;
}

// Padding rows point at article 0 with weight 0, so they add nothing to the pool and need no
// mask; log1p of the true length tells the tower how much history there is.
CustomerBatch customer_batch(std::span<const CustomerFeatures> rows, const TwoTowerConfig& config) {
    const auto count = static_cast<int64_t>(rows.size());
    const int64_t length = config.history_length;
    std::vector<int64_t> age, club, news, postal, history(count * length, 0);
    std::vector<float> weight(count * length, 0.0f), history_count;
    for (int64_t row = 0; row < count; ++row) {
        const CustomerFeatures& f = rows[row];
        age.push_back(f.age);
        club.push_back(f.club);
        news.push_back(f.news);
        postal.push_back(f.postal);
        std::copy(f.history.begin(), f.history.end(), history.begin() + row * length);
        std::copy(f.weights.begin(), f.weights.end(), weight.begin() + row * length);
        history_count.push_back(std::log1p(static_cast<float>(f.history.size())));
    }
    CustomerBatch batch;
    batch.age = torch::tensor(age, torch::kInt64);
    batch.club = torch::tensor(club, torch::kInt64);
    batch.news = torch::tensor(news, torch::kInt64);
    batch.postal = torch::tensor(postal, torch::kInt64);
    batch.history = torch::tensor(history, torch::kInt64).view({count, length});
    batch.history_weight = torch::tensor(weight, torch::kFloat32).view({count, length});
    batch.history_count = torch::tensor(history_count, torch::kFloat32);
    return batch;
}

fs::path default_two_tower_dir(const fs::path& store_dir) {
    return store_dir / "models" / "two_tower";
}

Status save_two_tower(const fs::path& dir, const TwoTowerNet& net, const nlohmann::json& info) {
    // Written whole into DIR.tmp, then swapped in, so a reader sees the old or the new model.
    const fs::path tmp = dir.string() + ".tmp";
    std::error_code ec;
    fs::remove_all(tmp, ec);
    fs::create_directories(tmp, ec);
    if (ec) {
        return Status::io_error(
            fmt::format("{}: cannot create the model folder: {}", tmp.string(), ec.message()));
    }
    LOOKBOOK_RETURN_IF_ERROR(write_safetensors(tmp / kWeightsFile, net.state()));
    nlohmann::json json = {{"config", net.config().to_json()}, {"info", info}};
    LOOKBOOK_RETURN_IF_ERROR(write_file_synced(tmp / kConfigFile, json.dump(2)));
    return replace_directory(tmp, dir);
}

Result<LoadedTwoTower> load_two_tower(const fs::path& dir) {
    const fs::path config_path = dir / kConfigFile;
    auto text = read_file(config_path);
    if (!text.is_ok()) {
        return Status::not_found(
            fmt::format("{}: no two-tower model here; train one with `lookbook train STORE`.",
                        config_path.string()));
    }
    nlohmann::json json = nlohmann::json::parse(*text, nullptr, false);
    if (json.is_discarded() || !json.contains("config")) {
        return Status::invalid_data(
            fmt::format("{}: not a two-tower config (no \"config\" object); retrain the model.",
                        config_path.string()));
    }
    auto config = TwoTowerConfig::from_json(json["config"]);
    if (!config.is_ok()) {
        return config.status().with_context(config_path.string());
    }

    LoadedTwoTower loaded;
    loaded.net = std::make_shared<TwoTowerNet>(*config);
    loaded.info = json.value("info", nlohmann::json::object());
    // Shapes are checked tensor by tensor, so a file that does not match its config is named
    // instead of crashing inside a forward pass later.
    LOOKBOOK_ASSIGN_OR_RETURN(SafeTensorsFile weights, SafeTensorsFile::open(dir / kWeightsFile));
    torch::NoGradGuard no_grad;
    for (auto& item : loaded.net->named_parameters()) {
        LOOKBOOK_ASSIGN_OR_RETURN(torch::Tensor value, weights.tensor(item.key()));
        if (value.sizes() != item.value().sizes() || value.scalar_type() != torch::kFloat32) {
            return Status::invalid_data(fmt::format(
                "{}: tensor \"{}\" is {}; the config asks for F32 {}. Retrain the model.",
                weights.path().string(),
                item.key(),
                shape_to_string(value.sizes()),
                shape_to_string(item.value().sizes())));
        }
        item.value().copy_(value);
    }
    LOOKBOOK_ASSIGN_OR_RETURN(loaded.id_slots, weights.tensor(kIdSlotsTensor));
    if (loaded.id_slots.dim() != 1 || loaded.id_slots.scalar_type() != torch::kInt64 ||
        (loaded.id_slots.numel() > 0 &&
         (loaded.id_slots.min().item<int64_t>() < 0 ||
          loaded.id_slots.max().item<int64_t>() >= config->id_slots))) {
        return Status::invalid_data(
            fmt::format("{}: tensor \"{}\" must be I64 [articles] with values in [0, {}).",
                        weights.path().string(),
                        kIdSlotsTensor,
                        config->id_slots));
    }
    return loaded;
}

}  // namespace lookbook::models
