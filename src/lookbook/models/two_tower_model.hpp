#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "lookbook/recommend/candidates.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/util/status.hpp"

// The two-tower retrieval model: a customer tower and an article tower that map both sides into
// one space, where a dot product scores how likely the customer is to buy the article.
//
// The article tower reads what the catalog says about an article (six categorical attributes,
// the content vector of `lookbook embed` when the store has one, and an id embedding for
// articles bought often enough to learn one). The customer tower reads demographics and the
// recency-weighted mean of the *article features* of the customer's recent purchases. The
// history pool shares the article tower's feature layer instead of keeping its own table: on the
// H&M sample most articles are bought once or twice, so a separate history table would be
// untrained for most rows, while the shared features place a once-bought "black strap top" next
// to every other black top.
namespace lookbook::models {

// The six article attributes the article tower embeds, in this order.
constexpr std::array<ArticleAttribute, 6> kTowerAttributes = {
    ArticleAttribute::kProductType,
    ArticleAttribute::kProductGroup,
    ArticleAttribute::kColour,
    ArticleAttribute::kDepartment,
    ArticleAttribute::kSection,
    ArticleAttribute::kGarmentGroup,
};

// Sizes and the feature recipe; everything needed to rebuild the network before loading weights.
struct TwoTowerConfig {
    int64_t dim = 64;           // length of both towers' output vectors (L2-normalised)
    int64_t hidden = 128;       // width of each tower's hidden layer
    int64_t category_dim = 16;  // per categorical attribute
    int64_t id_dim = 32;        // article id embedding; 0 disables it
    int64_t postal_buckets = 1 << 14;
    int64_t postal_dim = 16;
    int64_t content_dim = 0;  // input content vector length (image + text); 0 when absent
    int64_t content_proj_dim = 32;
    // Codes per attribute as trained; each table has one more row for codes it never saw.
    std::array<int64_t, 6> attribute_sizes{};
    int64_t club_size = 0;
    int64_t news_size = 0;
    int64_t id_slots = 1;        // trained id rows + 1 shared row for rare and unseen articles
    int history_length = 32;     // most recent interactions pooled
    double half_life_days = 60;  // recency weight halves every this many days
    double view_weight = 0.5;    // a view counts this much of a purchase
    double temperature = 0.05;   // softmax temperature over cosine scores

    // Width of the shared article feature vector (the history pool has the same width).
    int64_t feature_dim() const;
    nlohmann::json to_json() const;
    // kInvalidData naming the key when a field is missing or out of range.
    static Result<TwoTowerConfig> from_json(const nlohmann::json& json);
};

// Age buckets: 0 unknown, then <20, 20-24, 25-29, ..., 60-64, 65+.
constexpr int64_t kAgeBuckets = 12;
int64_t age_bucket(float age);

// The postal code's hashed bucket (FNV-1a 64 modulo `buckets`).
int64_t postal_bucket(std::string_view postal_code, int64_t buckets);

// One batch of customer-side inputs. Rows are customers (or one customer's state at a day).
struct CustomerBatch {
    torch::Tensor age;             // [B] int64 bucket
    torch::Tensor club;            // [B] int64 code (club_size = unknown)
    torch::Tensor news;            // [B] int64 code
    torch::Tensor postal;          // [B] int64 bucket
    torch::Tensor history;         // [B, L] int64 article rows (any valid row where weight is 0)
    torch::Tensor history_weight;  // [B, L] float, rows sum to 1 (or 0 without history)
    torch::Tensor history_count;   // [B] float, log1p(number of interactions pooled)
};

// The network. Article inputs are tables indexed by article row, set once with set_articles().
class TwoTowerNet : public torch::nn::Module {
  public:
    explicit TwoTowerNet(const TwoTowerConfig& config);

    // Per-article inputs: attribute codes [A, 6] int64, id slots [A] int64 and content vectors
    // [A, content_dim] float (ignored when content_dim is 0).
    void set_articles(torch::Tensor codes, torch::Tensor id_slots, torch::Tensor content);
    int64_t article_count() const { return codes_.size(0); }

    // Shared article features [N, feature_dim] of article rows [N].
    torch::Tensor article_features(const torch::Tensor& articles);
    // Article tower output from features: [N, dim], unit length.
    torch::Tensor article_tower(const torch::Tensor& features);
    // Customer tower output: [B, dim], unit length. `history_features` are the features of
    // batch.history flattened: [B * L, feature_dim].
    torch::Tensor customer_tower(const CustomerBatch& batch, const torch::Tensor& history_features);
    // Both steps for a batch: features of the history rows, then the tower.
    torch::Tensor customers(const CustomerBatch& batch);

    const TwoTowerConfig& config() const { return config_; }
    // Parameters by name, plus "article_id_slots" (the id slot of every trained article row).
    std::vector<std::pair<std::string, torch::Tensor>> state() const;

  private:
    TwoTowerConfig config_;
    std::vector<torch::nn::Embedding> attribute_embeddings_;
    torch::nn::Embedding id_embedding_{nullptr};
    torch::nn::Linear content_proj_{nullptr};
    torch::nn::Sequential article_mlp_{nullptr};
    torch::nn::Embedding age_embedding_{nullptr};
    torch::nn::Embedding club_embedding_{nullptr};
    torch::nn::Embedding news_embedding_{nullptr};
    torch::nn::Embedding postal_embedding_{nullptr};
    torch::nn::Sequential customer_mlp_{nullptr};
    torch::Tensor codes_;     // [A, 6]
    torch::Tensor id_slots_;  // [A]
    torch::Tensor content_;   // [A, content_dim]
};

// In-batch sampled softmax with the log-frequency correction (Yi et al., RecSys 2019): row i's
// logits are queries[i] . items[j] / temperature - log_q[j], the label is j = i, and other rows
// holding the same article as row i are masked out (they are not negatives). Mean over rows.
// queries, items: [B, D]; log_q: [B] log sampling probability of each row's article;
// item_ids: [B] int64.
torch::Tensor sampled_softmax_loss(const torch::Tensor& queries,
                                   const torch::Tensor& items,
                                   const torch::Tensor& log_q,
                                   const torch::Tensor& item_ids,
                                   double temperature);

// Per-article attribute codes of the store [A, 6], codes the config has no row for (an article
// or value added after training) mapped to the unknown row.
torch::Tensor article_codes(const ArticleTable& articles, const TwoTowerConfig& config);

// The content vectors of the store's "embeddings" file, image then text, [A, 2 * dim];
// an undefined tensor when the store has none.
Result<torch::Tensor> article_content(const Store& store);

// What a two-tower model learned its content inputs from, saved in its info as
// "content_fingerprint": "crc32c:XXXXXXXX/ROWSxCOLS", the CRC-32C of the bytes of the first
// `rows` rows of `content` (article_content; the articles the model was trained on, fewer when
// the tensor has fewer) and that shape; "none" for an undefined tensor (no content vectors).
// Articles added to the catalog later do not change it; a re-embedding with another encoder
// does.
std::string content_fingerprint(const torch::Tensor& content, int64_t rows);

// Whether the model saved in `dir` was trained on the content vectors `store` gives now: its
// info's content_fingerprint equals content_fingerprint(article_content(store), info
// "articles"). A model saved before fingerprints were recorded counts as current when its
// config's content_dim equals the length of the store's content vectors (0 without them). No
// model in `dir`: true (nothing to redo). An unreadable config.json: false (retraining
// replaces it). Reads config.json only, not the weights; fails with article_content's errors.
Result<bool> two_tower_content_current(const Store& store, const std::filesystem::path& dir);

// The customer-side inputs of one customer as plain numbers, before batching.
struct CustomerFeatures {
    int64_t age = 0;
    int64_t club = 0;
    int64_t news = 0;
    int64_t postal = 0;
    std::vector<int64_t> history;  // article rows, oldest first, at most history_length
    std::vector<float> weights;    // parallel to history, summing to 1
};

// Inputs of one customer (row, or kNoRow for a customer the store does not know) at `today`
// with `history` (oldest first). Only the last config.history_length interactions dated on or
// before `today` with a valid article row count.
CustomerFeatures customer_features(const Store& store,
                                   const TwoTowerConfig& config,
                                   uint32_t customer,
                                   int32_t today,
                                   std::span<const Interaction> history);

// Tensors of a batch of customers; histories padded to config.history_length with weight 0.
CustomerBatch customer_batch(std::span<const CustomerFeatures> rows, const TwoTowerConfig& config);

// The model folder of a store: STORE/models/two_tower.
std::filesystem::path default_two_tower_dir(const std::filesystem::path& store_dir);

// Writes model.safetensors and config.json (`config` plus `info`) into `dir`, replacing an
// earlier model as a whole (written next to it and renamed). kIOError when it cannot be written.
Status save_two_tower(const std::filesystem::path& dir,
                      const TwoTowerNet& net,
                      const nlohmann::json& info);

// A saved model: its network (article inputs not set yet) and the info saved with it.
struct LoadedTwoTower {
    std::shared_ptr<TwoTowerNet> net;
    torch::Tensor id_slots;  // [trained articles] int64
    nlohmann::json info;
};

// Reads what save_two_tower wrote. kNotFound (saying to train) when `dir` holds no model;
// kInvalidData naming the file and the tensor or key when it does not fit together.
Result<LoadedTwoTower> load_two_tower(const std::filesystem::path& dir);

}  // namespace lookbook::models
