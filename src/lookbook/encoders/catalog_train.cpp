#include "lookbook/encoders/catalog_train.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <limits>
#include <numeric>
#include <random>
#include <thread>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "lookbook/encoders/catalog_embed.hpp"
#include "lookbook/encoders/clip_model.hpp"
#include "lookbook/encoders/safetensors.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/util/checksum.hpp"
#include "lookbook/util/file.hpp"
#include "lookbook/util/log.hpp"

namespace lookbook {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kEndOfWord = "</w>";
constexpr int kSpecialTokens = 2;
constexpr int kByteTokens = 512;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// Replaces `path` by writing `bytes` next to it and renaming, so a reader never sees half a file.
Status write_atomically(const fs::path& path, std::string_view bytes) {
    const fs::path tmp = path.string() + ".tmp";
    LOOKBOOK_RETURN_IF_ERROR(write_file_synced(tmp, bytes));
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec) {
        return Status::io_error(path.string() + ": cannot replace: " + ec.message());
    }
    return Status::ok();
}

// Words of the corpus as symbol ids with their counts, and the pair counts over them.
class BpeLearner {
  public:
    void add_word(const std::vector<std::string>& symbols) {
        std::vector<int> ids;
        for (const std::string& s : symbols) {
            ids.push_back(intern(s));
        }
        uint64_t key = 0xcbf29ce484222325ull;
        for (int id : ids) {
            key = (key ^ static_cast<uint64_t>(id)) * 1099511628211ull;
        }
        auto [it, added] = word_index_.try_emplace(key, words_.size());
        if (added || words_[it->second] != ids) {
            if (!added) {
                // A hash collision between different words: keep both, unindexed.
                it = word_index_.end();
            }
            words_.push_back(std::move(ids));
            counts_.push_back(0);
        }
        counts_[it == word_index_.end() ? words_.size() - 1 : it->second] += 1;
    }

    // Runs up to `merges` merges; returns them as symbol strings in rank order.
    // TODO: each merge rescans every distinct word and pair (about a second per 1000 merges for
    // 10k distinct words); an index from pairs to words would be needed for catalogs with
    // hundreds of thousands of distinct words or vocabularies far above 8k.
    std::vector<std::pair<std::string, std::string>> learn(int merges) {
        for (size_t word_idx = 0; word_idx < words_.size(); ++word_idx) {
            count_pairs(word_idx, +1);
        }
        std::vector<std::pair<std::string, std::string>> out;
        while (static_cast<int>(out.size()) < merges) {
            // The most frequent pair; ties to the smaller key (older symbols).
            uint64_t best = 0;
            int64_t best_count = 0;
            for (const auto& [key, count] : pairs_) {
                if (count > best_count || (count == best_count && key < best)) {
                    best = key;
                    best_count = count;
                }
            }
            if (best_count < 2) {
                break;
            }
            const int first = static_cast<int>(best >> 32);
            const int second = static_cast<int>(best & 0xffffffffu);
            const int merged = intern(symbols_[first] + symbols_[second]);
            out.emplace_back(symbols_[first], symbols_[second]);
            for (size_t word_idx = 0; word_idx < words_.size(); ++word_idx) {
                std::vector<int>& w = words_[word_idx];
                bool has = false;
                for (size_t i = 0; i + 1 < w.size() && !has; ++i) {
                    has = w[i] == first && w[i + 1] == second;
                }
                if (!has) {
                    continue;
                }
                count_pairs(word_idx, -1);
                std::vector<int> next;
                for (size_t i = 0; i < w.size(); ++i) {
                    if (i + 1 < w.size() && w[i] == first && w[i + 1] == second) {
                        next.push_back(merged);
                        ++i;
                    } else {
                        next.push_back(w[i]);
                    }
                }
                w = std::move(next);
                count_pairs(word_idx, +1);
            }
            std::erase_if(pairs_, [](const auto& item) { return item.second <= 0; });
        }
        return out;
    }

  private:
    int intern(const std::string& symbol) {
        auto [it, added] = ids_.try_emplace(symbol, static_cast<int>(symbols_.size()));
        if (added) {
            symbols_.push_back(symbol);
        }
        return it->second;
    }
    void count_pairs(size_t word_idx, int sign) {
        const std::vector<int>& w = words_[word_idx];
        for (size_t i = 0; i + 1 < w.size(); ++i) {
            const uint64_t key =
                (static_cast<uint64_t>(w[i]) << 32) | static_cast<uint32_t>(w[i + 1]);
            pairs_[key] += sign * counts_[word_idx];
        }
    }

    std::vector<std::string> symbols_;
    std::unordered_map<std::string, int> ids_;
    std::vector<std::vector<int>> words_;
    std::vector<int64_t> counts_;
    std::unordered_map<uint64_t, size_t> word_index_;
    std::unordered_map<uint64_t, int64_t> pairs_;
};

// The open_clip_config.json of a model lookbook trained.
nlohmann::json open_clip_config_json(const ClipConfig& c) {
    nlohmann::json vision = {
        {"image_size", c.vision.image_size},
        {"patch_size", c.vision.patch_size},
        {"width", c.vision.width},
        {"layers", c.vision.layers},
        {"head_width", c.vision.width / c.vision.heads},
        {"mlp_ratio", static_cast<double>(c.vision.mlp_width) / c.vision.width}};
    nlohmann::json text = {{"context_length", c.text.context_length},
                           {"vocab_size", c.text.vocab_size},
                           {"width", c.text.width},
                           {"heads", c.text.heads},
                           {"layers", c.text.layers},
                           {"mlp_ratio", static_cast<double>(c.text.mlp_width) / c.text.width}};
    nlohmann::json out;
    out["model_cfg"] = {{"embed_dim", c.embed_dim},
                        {"quick_gelu", c.vision.activation == ClipActivation::kQuickGelu},
                        {"vision_cfg", vision},
                        {"text_cfg", text}};
    out["preprocess_cfg"] = {{"mean", c.image_mean}, {"std", c.image_std}};
    out["lookbook"] = {{"trained_by", "lookbook train-encoder"}};
    if (c.wide_features) {
        out["lookbook"]["wide_features"] = true;
    }
    if (c.linear_path) {
        out["lookbook"]["linear_path"] = true;
    }
    return out;
}

// Where the training state lives inside the output folder.
struct CheckpointPaths {
    fs::path dir, tmp, old;
    explicit CheckpointPaths(const fs::path& output)
        : dir(output / "checkpoint"),
          tmp(output / "checkpoint.tmp"),
          old(output / "checkpoint.old") {}
};

// Writes parameters, optimizer state and step into checkpoint.tmp, then swaps it in: a crash
// at any point leaves checkpoint/ or checkpoint.old/ complete.
Status save_checkpoint(const CheckpointPaths& paths,
                       ClipModel& model,
                       torch::optim::Optimizer& optimizer,
                       const nlohmann::json& state) {
    std::error_code ec;
    fs::remove_all(paths.tmp, ec);
    fs::create_directories(paths.tmp, ec);
    std::vector<std::pair<std::string, torch::Tensor>> params;
    for (auto& [name, tensor] : model.trainable_parameters()) {
        params.emplace_back(name, tensor.detach());
    }
    LOOKBOOK_RETURN_IF_ERROR(write_safetensors(paths.tmp / "params.safetensors", params));
    try {
        torch::save(optimizer, (paths.tmp / "optimizer.pt").string());
    } catch (const std::exception& e) {
        return Status::io_error((paths.tmp / "optimizer.pt").string() +
                                ": cannot save the optimizer state: " + e.what());
    }
    LOOKBOOK_RETURN_IF_ERROR(write_file_synced(paths.tmp / "state.json", state.dump(2)));
    fs::remove_all(paths.old, ec);
    if (fs::exists(paths.dir)) {
        fs::rename(paths.dir, paths.old, ec);
    }
    fs::rename(paths.tmp, paths.dir, ec);
    if (ec) {
        return Status::io_error(paths.dir.string() +
                                ": cannot move the checkpoint into place: " + ec.message());
    }
    fs::remove_all(paths.old, ec);
    return Status::ok();
}

// Restores what save_checkpoint wrote; returns the state JSON.
Result<nlohmann::json> load_checkpoint(const CheckpointPaths& paths,
                                       ClipModel& model,
                                       torch::optim::Optimizer& optimizer) {
    const fs::path dir = fs::exists(paths.dir / "state.json") ? paths.dir : paths.old;
    LOOKBOOK_ASSIGN_OR_RETURN(std::string state_text, read_file(dir / "state.json"));
    nlohmann::json state = nlohmann::json::parse(state_text, nullptr, false);
    if (state.is_discarded() || !state.contains("step")) {
        return Status::corruption((dir / "state.json").string() +
                                  ": not a training state; delete the checkpoint folder and "
                                  "train again without --resume");
    }
    LOOKBOOK_ASSIGN_OR_RETURN(SafeTensorsFile params,
                              SafeTensorsFile::open(dir / "params.safetensors"));
    torch::NoGradGuard no_grad;
    for (auto& [name, tensor] : model.trainable_parameters()) {
        LOOKBOOK_ASSIGN_OR_RETURN(torch::Tensor saved, params.tensor(name));
        if (saved.sizes() != tensor.sizes()) {
            return Status::invalid_data(params.path().string() + ": tensor \"" + name +
                                        "\" has shape " + shape_to_string(saved.sizes()) +
                                        "; the model has " + shape_to_string(tensor.sizes()));
        }
        tensor.copy_(saved);
    }
    try {
        torch::load(optimizer, (dir / "optimizer.pt").string());
    } catch (const std::exception& e) {
        return Status::corruption((dir / "optimizer.pt").string() +
                                  ": cannot read the optimizer state: " + e.what());
    }
    return state;
}

// One batch of augmented pixels: a random square crop of each stored photo (its side drawn
// from [crop_min, crop_max] times the photo's side, its place at random), flipped half the
// time, resized to S and normalised (crop_planes). [B, 3, S, S]
// The old fixed crop (8/9 of the photo, shifted only) is crop_min = crop_max = 8/9; then no
// side is drawn and the random numbers are those of the earlier versions.
torch::Tensor batch_pixels(const std::vector<TrainingExample>& examples,
                           const std::vector<int64_t>& indices,
                           const ClipConfig& config,
                           const TrainOptions& options,
                           std::mt19937_64& rng) {
    const int64_t s = config.vision.image_size;
    torch::Tensor pixels = torch::empty({static_cast<int64_t>(indices.size()), 3, s, s});
    float* out = pixels.data_ptr<float>();
    for (size_t b = 0; b < indices.size(); ++b) {
        const RgbImage& image = examples[indices[b]].image;
        const int64_t side = image.width;
        const auto [low, high] = crop_side_range(side, options.crop_min, options.crop_max);
        const int64_t crop =
            low == high ? low : low + static_cast<int64_t>(rng() % (high - low + 1));
        const int64_t ox = static_cast<int64_t>(rng() % (side - crop + 1));
        const int64_t oy = static_cast<int64_t>(rng() % (side - crop + 1));
        const bool flip = (rng() & 1) != 0;
        crop_planes(image, ox, oy, crop, flip, s, config, out + b * 3 * s * s);
    }
    return pixels;
}

// Drops each token strictly between start and end of text with probability `p`, moving the
// rest left and padding with 0 as the tokenizer does. ids [B, L] int64, changed in place.
void drop_tokens(torch::Tensor& ids, double p, std::mt19937_64& rng) {
    std::bernoulli_distribution drop(p);
    const int64_t length = ids.size(1);
    int64_t* data = ids.data_ptr<int64_t>();
    for (int64_t row = 0; row < ids.size(0); ++row) {
        int64_t* tokens = data + row * length;
        const int64_t eot = std::max_element(tokens, tokens + length) - tokens;
        int64_t kept = 1;  // the start token stays
        for (int64_t pos = 1; pos < eot; ++pos) {
            if (!drop(rng)) {
                tokens[kept++] = tokens[pos];
            }
        }
        tokens[kept++] = tokens[eot];
        std::fill(tokens + kept, tokens + length, 0);
    }
}

// TrainOptions::scale_wide_features: sqrt(2 / F) / max(rms, 0.01) per wide image feature, the
// root mean square over the training photos as training crops them (centred, the largest crop,
// not flipped). Unit-norm histogram and thumbnail give an average rms near sqrt(1 / F), so the
// scaled features keep about the squared norm of 2 they had.
torch::Tensor wide_feature_scale(ClipModel& model,
                                 const std::vector<TrainingExample>& examples,
                                 const ClipConfig& config,
                                 const TrainOptions& options) {
    const int64_t s = config.vision.image_size;
    const int64_t features = ClipModel::wide_image_feature_count();
    torch::Tensor sum_sq = torch::zeros({features}, torch::kFloat64);
    constexpr size_t kChunk = 256;
    for (size_t begin = 0; begin < examples.size(); begin += kChunk) {
        const size_t end = std::min(examples.size(), begin + kChunk);
        torch::Tensor pixels = torch::empty({static_cast<int64_t>(end - begin), 3, s, s});
        for (size_t i = begin; i < end; ++i) {
            const RgbImage& image = examples[i].image;
            const int64_t crop =
                crop_side_range(image.width, options.crop_max, options.crop_max).first;
            const int64_t offset = (image.width - crop) / 2;
            crop_planes(image,
                        offset,
                        offset,
                        crop,
                        false,
                        s,
                        config,
                        pixels.data_ptr<float>() + static_cast<int64_t>(i - begin) * 3 * s * s);
        }
        sum_sq += model.wide_image_features(pixels).to(torch::kFloat64).square().sum(0);
    }
    const torch::Tensor rms = (sum_sq / static_cast<double>(examples.size())).sqrt();
    const double target = std::sqrt(2.0 / static_cast<double>(features));
    return (target / rms.clamp_min(1e-2)).to(torch::kFloat32);
}

}  // namespace

Result<ClipTokenizer> learn_clip_bpe(const std::vector<std::string>& texts, int vocab_size) {
    const int merges = vocab_size - kByteTokens - kSpecialTokens;
    if (merges < 0) {
        return Status::invalid_argument(fmt::format(
            "vocabulary size is {}; a CLIP vocabulary needs at least {} tokens (512 byte "
            "symbols and 2 special tokens)",
            vocab_size,
            kByteTokens + kSpecialTokens));
    }
    // A tokenizer without merges splits each cleaned word into byte symbols, the last carrying
    // "</w>": the same words and symbols the learned tokenizer will see.
    LOOKBOOK_ASSIGN_OR_RETURN(ClipTokenizer bytes, ClipTokenizer::from_merges({}, "byte symbols"));
    BpeLearner learner;
    std::vector<std::string> word;
    for (const std::string& text : texts) {
        for (std::string& piece : bytes.bpe_tokens(text)) {
            const bool last = piece.ends_with(kEndOfWord);
            word.push_back(std::move(piece));
            if (last) {
                learner.add_word(word);
                word.clear();
            }
        }
    }
    std::vector<std::pair<std::string, std::string>> learned = learner.learn(merges);
    log::info("learned {} BPE merges from {} texts (vocabulary {})",
              learned.size(),
              texts.size(),
              learned.size() + kByteTokens + kSpecialTokens);
    return ClipTokenizer::from_merges(std::move(learned), "learned BPE");
}

Status write_clip_tokenizer(const ClipTokenizer& tokenizer, const fs::path& dir) {
    nlohmann::json vocab = nlohmann::json::object();
    const std::vector<std::string>& tokens = tokenizer.id_to_token();
    for (size_t id = 0; id < tokens.size(); ++id) {
        vocab[tokens[id]] = id;
    }
    std::string merges = "#version: 0.2\n";
    for (const auto& [first, second] : tokenizer.merges()) {
        merges += first + " " + second + "\n";
    }
    LOOKBOOK_RETURN_IF_ERROR(write_atomically(dir / "vocab.json", vocab.dump()));
    return write_atomically(dir / "merges.txt", merges);
}

ClipConfig small_clip_config(int64_t vocab_size) {
    ClipConfig c;
    c.embed_dim = 128;
    c.vision = {.image_size = 32,
                .patch_size = 8,
                .width = 128,
                .layers = 3,
                .heads = 4,
                .mlp_width = 512,
                .activation = ClipActivation::kGelu};
    c.text = {.context_length = 64,
              .vocab_size = vocab_size,
              .width = 128,
              .layers = 3,
              .heads = 4,
              .mlp_width = 512,
              .activation = ClipActivation::kGelu};
    c.layout = ClipWeightLayout::kOpenClip;
    // Measured on the H&M sample (7 minutes each): held-out text-to-image recall@10 0.66 with
    // the wide paths against 0.31 without.
    c.wide_features = true;
    c.linear_path = true;
    return c;
}

bool is_held_out(std::string_view article_id, double fraction) {
    const uint32_t h = crc32c(article_id.data(), article_id.size(), 0x9e3779b9u);
    return static_cast<double>(h % 10000) < fraction * 10000.0;
}

std::optional<HoldoutSplit> parse_holdout_split(std::string_view name) {
    if (name == "article") {
        return HoldoutSplit::kArticle;
    }
    if (name == "product") {
        return HoldoutSplit::kProduct;
    }
    return std::nullopt;
}

std::string_view holdout_split_name(HoldoutSplit split) {
    return split == HoldoutSplit::kProduct ? "product" : "article";
}

std::vector<uint8_t> held_out_products(const std::vector<std::string>& product_codes,
                                       double fraction,
                                       uint64_t seed) {
    const size_t n = product_codes.size();
    std::vector<uint8_t> held(n, 0);
    const auto target = static_cast<size_t>(std::llround(std::clamp(fraction, 0.0, 1.0) * n));
    if (target == 0) {
        return held;
    }

    // The articles of each product, and the products in the order of a seeded hash of the code
    // (FNV-1a from a seed-dependent start, then a splitmix64 finaliser; the code breaks ties).
    std::unordered_map<std::string_view, std::vector<size_t>> members;
    for (size_t i = 0; i < n; ++i) {
        members[product_codes[i]].push_back(i);
    }
    auto hash = [seed](std::string_view code) {
        uint64_t h = 0xcbf29ce484222325ull ^ (seed * 0x9e3779b97f4a7c15ull);
        for (unsigned char c : code) {
            h = (h ^ c) * 0x100000001b3ull;
        }
        h ^= h >> 30;
        h *= 0xbf58476d1ce4e5b9ull;
        h ^= h >> 27;
        h *= 0x94d049bb133111ebull;
        return h ^ (h >> 31);
    };
    std::vector<std::pair<uint64_t, std::string_view>> order;
    order.reserve(members.size());
    for (const auto& [code, indices] : members) {
        order.emplace_back(hash(code), code);
    }
    std::sort(order.begin(), order.end());

    size_t count = 0;
    for (const auto& [h, code] : order) {
        if (count >= target) {
            break;
        }
        for (size_t i : members[code]) {
            held[i] = 1;
        }
        count += members[code].size();
    }
    return held;
}

std::vector<uint8_t> held_out_articles(const ArticleTable& articles, const Holdout& holdout) {
    std::vector<uint8_t> held(articles.size(), 0);
    std::vector<uint32_t> candidates;
    for (uint32_t article = 0; article < articles.size(); ++article) {
        if (articles.has_metadata(article) && !articles.image_path(article).empty()) {
            candidates.push_back(article);
        }
    }
    if (holdout.split == HoldoutSplit::kArticle) {
        for (uint32_t article : candidates) {
            held[article] = is_held_out(articles.id(article), holdout.fraction) ? 1 : 0;
        }
        return held;
    }
    // Product codes never contain a NUL, so "\0" + id cannot equal a code.
    std::vector<std::string> codes;
    codes.reserve(candidates.size());
    for (uint32_t article : candidates) {
        const std::string_view code = articles.product_code(article);
        codes.push_back(code.empty() ? std::string(1, '\0') + std::string(articles.id(article))
                                     : std::string(code));
    }
    const std::vector<uint8_t> by_product =
        held_out_products(codes, holdout.fraction, holdout.seed);
    for (size_t i = 0; i < candidates.size(); ++i) {
        held[candidates[i]] = by_product[i];
    }
    return held;
}

std::pair<int64_t, int64_t> crop_side_range(int64_t side, double crop_min, double crop_max) {
    auto px = [side](double fraction) {
        return std::clamp<int64_t>(std::llround(fraction * static_cast<double>(side)), 1, side);
    };
    return {px(crop_min), std::max(px(crop_min), px(crop_max))};
}

void crop_planes(const RgbImage& image,
                 int64_t x,
                 int64_t y,
                 int64_t crop,
                 bool flip,
                 int64_t size,
                 const ClipConfig& config,
                 float* out) {
    // Per output column and row: the two source pixels and the second one's weight, sampling
    // at pixel centres (as torch's bilinear without align_corners). crop == size gives
    // weights 0: a plain copy.
    struct Tap {
        int64_t first, second;
        float weight;
    };
    auto taps = [&](int64_t origin) {
        std::vector<Tap> out_taps(size);
        const double step = static_cast<double>(crop) / static_cast<double>(size);
        for (int64_t i = 0; i < size; ++i) {
            const double at =
                std::clamp((i + 0.5) * step - 0.5, 0.0, static_cast<double>(crop - 1));
            const auto first = static_cast<int64_t>(std::floor(at));
            const int64_t second = std::min(first + 1, crop - 1);
            out_taps[i] = {origin + first, origin + second, static_cast<float>(at - first)};
        }
        return out_taps;
    };
    std::vector<Tap> columns = taps(x);
    const std::vector<Tap> rows = taps(y);
    if (flip) {
        std::reverse(columns.begin(), columns.end());
    }
    const int64_t side = image.width;
    const uint8_t* pixels = image.pixels.data();
    for (int c = 0; c < 3; ++c) {
        const float scale = 1.0f / (255.0f * config.image_std[c]);
        const float shift = config.image_mean[c] / config.image_std[c];
        float* plane = out + c * size * size;
        for (int64_t i = 0; i < size; ++i) {
            const Tap& row = rows[i];
            const uint8_t* top = pixels + row.first * side * 3 + c;
            const uint8_t* bottom = pixels + row.second * side * 3 + c;
            for (int64_t j = 0; j < size; ++j) {
                const Tap& col = columns[j];
                const float upper =
                    top[col.first * 3] + col.weight * (top[col.second * 3] - top[col.first * 3]);
                const float lower = bottom[col.first * 3] +
                                    col.weight * (bottom[col.second * 3] - bottom[col.first * 3]);
                plane[i * size + j] = (upper + row.weight * (lower - upper)) * scale - shift;
            }
        }
    }
}

double LearningRateSchedule::progress(int64_t step, double seconds) const {
    const double by_steps = static_cast<double>(step) / std::max<int64_t>(1, planned_steps);
    const double by_time = budget_seconds > 0 ? seconds / budget_seconds : 1.0;
    return std::clamp(std::max(by_steps, by_time), 0.0, 1.0);
}

double LearningRateSchedule::rate(int64_t step, double seconds) const {
    const double warm =
        std::min(1.0, static_cast<double>(step + 1) / std::max<int64_t>(1, warmup_steps));
    return peak * warm * 0.5 * (1.0 + std::cos(M_PI * progress(step, seconds)));
}

std::vector<std::vector<int64_t>> epoch_batches(const std::vector<std::string>& product_codes,
                                                const std::vector<std::string>& product_types,
                                                int64_t batch_size,
                                                uint64_t seed,
                                                int64_t epoch,
                                                bool grouped) {
    const auto n = static_cast<int64_t>(product_codes.size());
    std::mt19937_64 rng(seed * 7919 + static_cast<uint64_t>(epoch));
    std::vector<int64_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    if (!grouped) {
        std::shuffle(order.begin(), order.end(), rng);
    } else {
        // Products (the examples of one code), listed under their type in first-seen order.
        std::vector<std::vector<int64_t>> products;
        std::unordered_map<std::string_view, size_t> product_of;
        std::vector<std::vector<size_t>> types;
        std::unordered_map<std::string_view, size_t> type_of;
        for (int64_t i = 0; i < n; ++i) {
            const std::string& code = product_codes[i];
            auto found = code.empty() ? product_of.end() : product_of.find(code);
            if (found != product_of.end()) {
                products[found->second].push_back(i);
                continue;
            }
            if (!code.empty()) {
                product_of.emplace(code, products.size());
            }
            static const std::string kNoType;
            const std::string& type =
                i < static_cast<int64_t>(product_types.size()) ? product_types[i] : kNoType;
            auto [t, added] = type_of.try_emplace(type, types.size());
            if (added) {
                types.emplace_back();
            }
            types[t->second].push_back(products.size());
            products.push_back({i});
        }
        // Types in random order, products in random order within their type, variants in
        // random order within their product.
        std::shuffle(types.begin(), types.end(), rng);
        order.clear();
        for (std::vector<size_t>& type : types) {
            std::shuffle(type.begin(), type.end(), rng);
            for (size_t product : type) {
                std::shuffle(products[product].begin(), products[product].end(), rng);
                order.insert(order.end(), products[product].begin(), products[product].end());
            }
        }
        // Blocks of a quarter batch in random order: a batch mixes a few types.
        const int64_t block = std::max<int64_t>(1, batch_size / 4);
        std::vector<std::pair<int64_t, int64_t>> blocks;  // [begin, end) in order
        for (int64_t begin = 0; begin < n; begin += block) {
            blocks.emplace_back(begin, std::min(n, begin + block));
        }
        std::shuffle(blocks.begin(), blocks.end(), rng);
        std::vector<int64_t> shuffled;
        shuffled.reserve(n);
        for (const auto& [begin, end] : blocks) {
            shuffled.insert(shuffled.end(), order.begin() + begin, order.begin() + end);
        }
        order = std::move(shuffled);
    }
    const int64_t steps =
        std::max<int64_t>(1, (n + batch_size - 1) / std::max<int64_t>(1, batch_size));
    std::vector<std::vector<int64_t>> batches;
    for (int64_t k = 0; k < steps; ++k) {
        batches.emplace_back(order.begin() + k * n / steps, order.begin() + (k + 1) * n / steps);
    }
    return batches;
}

bool has_training_checkpoint(const fs::path& output) {
    const CheckpointPaths paths(output);
    return fs::exists(paths.dir / "state.json") || fs::exists(paths.old / "state.json");
}

Result<TrainReport> train_clip_encoder(const std::vector<TrainingExample>& examples,
                                       const fs::path& output,
                                       const TrainOptions& options) {
    const auto start = Clock::now();
    if (examples.size() < 2) {
        return Status::invalid_argument(fmt::format(
            "{} training pairs; contrastive training needs at least 2 articles with a photo and "
            "a text",
            examples.size()));
    }
    if (options.batch_size < 2 || options.epochs < 1 || options.minutes <= 0) {
        return Status::invalid_argument(fmt::format(
            "batch size {}, epochs {}, minutes {}; expected a batch of 2 or more, 1 or more "
            "epochs and a positive time",
            options.batch_size,
            options.epochs,
            options.minutes));
    }
    if (!(options.initial_logit_scale >= 0 && options.initial_logit_scale <= 100)) {
        return Status::invalid_argument(
            fmt::format("initial logit scale {}; expected 0 (the default) or above 0 up to 100 "
                        "(--logit-scale)",
                        options.initial_logit_scale));
    }
    if (!(options.token_dropout >= 0 && options.token_dropout < 1)) {
        return Status::invalid_argument(fmt::format(
            "token dropout is {}; expected a probability from 0 to below 1 (--token-dropout)",
            options.token_dropout));
    }
    if (!(options.crop_min > 0 && options.crop_min <= options.crop_max && options.crop_max <= 1)) {
        return Status::invalid_argument(fmt::format(
            "crop fractions {} to {}; expected 0 < minimum <= maximum <= 1 (--crop-min, "
            "--crop-max)",
            options.crop_min,
            options.crop_max));
    }
    const CheckpointPaths paths(output);
    const bool has_checkpoint = has_training_checkpoint(output);
    if (has_checkpoint && !options.resume) {
        return Status::invalid_argument(
            output.string() +
            ": holds a training checkpoint; pass --resume to continue it, or choose another "
            "--output (or delete the folder) to start over");
    }
    if (options.resume && !has_checkpoint) {
        return Status::not_found(output.string() +
                                 ": no checkpoint to resume; run without --resume to start");
    }
    std::error_code ec;
    fs::create_directories(output, ec);

    // Tokenizer and config: learned and written on a fresh start, read back on resume.
    ClipConfig config;
    std::unique_ptr<ClipTokenizer> tokenizer;
    if (options.resume) {
        // The folder's config wins over options.model: a resumed run keeps its sizes.
        LOOKBOOK_ASSIGN_OR_RETURN(ClipTokenizer t, ClipTokenizer::from_model_dir(output));
        tokenizer = std::make_unique<ClipTokenizer>(std::move(t));
        LOOKBOOK_ASSIGN_OR_RETURN(config, read_open_clip_config(output / "open_clip_config.json"));
        if (options.model_set) {
            const ClipConfig& asked = options.model;
            if (asked.text.context_length != config.text.context_length ||
                asked.vision.image_size != config.vision.image_size ||
                asked.vision.patch_size != config.vision.patch_size ||
                asked.wide_features != config.wide_features ||
                asked.linear_path != config.linear_path) {
                log::warn(
                    "resuming {}: the model keeps the settings it started with (context {}, "
                    "image {} px in {} px patches, wide paths {}, linear path {}); the sizes "
                    "and paths given now are ignored. Train into another --output to change "
                    "them.",
                    output.string(),
                    config.text.context_length,
                    config.vision.image_size,
                    config.vision.patch_size,
                    config.wide_features ? "on" : "off",
                    config.linear_path ? "on" : "off");
            }
        }
    } else {
        std::vector<std::string> texts;
        for (const TrainingExample& example : examples) {
            texts.push_back(example.text);
        }
        LOOKBOOK_ASSIGN_OR_RETURN(ClipTokenizer t, learn_clip_bpe(texts, options.vocab_size));
        tokenizer = std::make_unique<ClipTokenizer>(std::move(t));
        LOOKBOOK_RETURN_IF_ERROR(write_clip_tokenizer(*tokenizer, output));
        const auto vocab = static_cast<int64_t>(tokenizer->id_to_token().size());
        config = options.model_set ? options.model : small_clip_config(vocab);
        config.text.vocab_size = vocab;
        LOOKBOOK_RETURN_IF_ERROR(validate_clip_config(config));
        LOOKBOOK_RETURN_IF_ERROR(write_atomically(output / "open_clip_config.json",
                                                  open_clip_config_json(config).dump(2)));
    }
    for (const TrainingExample& example : examples) {
        if (example.image.channels != 3 || example.image.width != example.image.height ||
            example.image.width < config.vision.image_size) {
            return Status::invalid_argument(fmt::format(
                "a training photo is {}x{} with {} channels; expected square RGB of at least {} px",
                example.image.width,
                example.image.height,
                example.image.channels,
                config.vision.image_size));
        }
    }

    // Token ids once: [N, context].
    const int64_t context = config.text.context_length;
    const auto n = static_cast<int64_t>(examples.size());
    std::vector<int64_t> all_ids;
    all_ids.reserve(n * context);
    for (const TrainingExample& example : examples) {
        std::vector<int64_t> ids = tokenizer->encode(example.text, context);
        all_ids.insert(all_ids.end(), ids.begin(), ids.end());
    }
    torch::Tensor token_ids = torch::from_blob(all_ids.data(), {n, context}, torch::kInt64);

    // Model and optimizer; weight decay on matrices only (not gains, biases or the scale).
    LOOKBOOK_ASSIGN_OR_RETURN(std::unique_ptr<ClipModel> model,
                              ClipModel::with_random_weights(config, options.seed));
    std::vector<torch::Tensor> decayed, plain;
    torch::Tensor log_scale;
    for (auto& [name, tensor] : model->trainable_parameters()) {
        tensor.set_requires_grad(true);
        (tensor.dim() >= 2 ? decayed : plain).push_back(tensor);
        if (name == "logit_scale") {
            log_scale = tensor;
            if (options.initial_logit_scale > 0) {
                torch::NoGradGuard no_grad;
                tensor.fill_(std::log(options.initial_logit_scale));
            }
        }
    }
    auto adamw = [&](double decay) {
        return std::make_unique<torch::optim::AdamWOptions>(
            torch::optim::AdamWOptions(options.learning_rate)
                .betas({0.9, 0.98})
                .eps(1e-6)
                .weight_decay(decay));
    };
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decayed, adamw(options.weight_decay));
    groups.emplace_back(plain, adamw(0.0));
    torch::optim::AdamW optimizer(std::move(groups),
                                  torch::optim::AdamWOptions(options.learning_rate));

    const int64_t batch = std::min<int64_t>(options.batch_size, n);
    const int64_t steps_per_epoch = (n + batch - 1) / batch;
    // The schedule spans the epochs limit or the time budget, whichever comes first; max_steps
    // only stops early, so a run cut short and resumed follows the same learning rates as an
    // uninterrupted one.
    LearningRateSchedule schedule;
    schedule.peak = options.learning_rate;
    schedule.planned_steps = steps_per_epoch * options.epochs;
    schedule.budget_seconds = options.minutes * 60.0;
    TrainReport report;
    report.examples = n;
    report.output = output;
    double earlier_seconds = 0;  // training time of the runs this one resumes
    // A resumed run keeps the feature scaling it started with (the saved projection is unscaled).
    bool scale_wide = options.scale_wide_features;
    bool fit_linear_first = options.fit_linear_first;  // kept from the first run on resume
    if (options.resume) {
        LOOKBOOK_ASSIGN_OR_RETURN(nlohmann::json state, load_checkpoint(paths, *model, optimizer));
        report.start_step = state["step"].get<int64_t>();
        schedule.planned_steps = state["planned_steps"].get<int64_t>();
        earlier_seconds = state.value("train_seconds", 0.0);
        scale_wide = state.value("scale_wide_features", false);
        if (state.value("fit_linear_first", false) != options.fit_linear_first) {
            log::warn("resuming {}: the linear path is fitted {} training, as the run started",
                      output.string(),
                      state.value("fit_linear_first", false) ? "before" : "after");
        }
        fit_linear_first = state.value("fit_linear_first", false);
        log::info("resuming {} at step {} of at most {} after {:.0f} s of training",
                  output.string(),
                  report.start_step,
                  schedule.planned_steps,
                  earlier_seconds);
    }
    if (config.wide_features && scale_wide) {
        model->set_wide_feature_scale(wide_feature_scale(*model, examples, config, options));
    }
    // The linear path, fitted on the whole photos (as `embed` shows them) and full texts.
    // Before training, the trained part learns what the linear one misses; after, it is an
    // equal second opinion. A resumed run fits again: the fit is deterministic.
    auto fit_linear = [&]() -> Status {
        const int64_t size = config.vision.image_size;
        auto pixel_rows = [&](int64_t begin, int64_t end) {
            torch::Tensor whole = torch::empty({end - begin, 3, size, size});
            for (int64_t i = begin; i < end; ++i) {
                const TrainingExample& example = examples[i];
                const RgbImage& image = example.whole.width == size ? example.whole : example.image;
                crop_planes(image,
                            0,
                            0,
                            image.width,
                            false,
                            size,
                            config,
                            whole[i - begin].data_ptr<float>());
            }
            return whole;
        };
        return model->fit_linear_path(token_ids, pixel_rows);
    };
    if (config.linear_path && fit_linear_first) {
        LOOKBOOK_RETURN_IF_ERROR(fit_linear());
    }
    schedule.warmup_steps =
        std::max<int64_t>(1, std::min<int64_t>(50, schedule.planned_steps / 10));
    const int64_t planned = schedule.planned_steps;
    std::vector<std::string> codes, types;
    for (const TrainingExample& example : examples) {
        codes.push_back(example.product_code);
        types.push_back(example.product_type);
    }

    // The loop: stops at the planned step, the time budget, or the step limit.
    const double budget = schedule.budget_seconds;
    const auto train_start = Clock::now();
    auto trained_seconds = [&] { return earlier_seconds + seconds_since(train_start); };
    auto last_log = train_start;
    auto last_checkpoint = train_start;
    std::deque<double> recent;
    std::vector<double> first;
    int64_t step = report.start_step;
    int64_t images = 0;
    auto state_json = [&] {
        return nlohmann::json{{"step", step},
                              {"planned_steps", planned},
                              {"train_seconds", trained_seconds()},
                              {"examples", n},
                              {"seed", options.seed},
                              {"scale_wide_features", scale_wide},
                              {"fit_linear_first", fit_linear_first}};
    };
    const int64_t last_step =
        options.max_steps > 0 ? options.max_steps : std::numeric_limits<int64_t>::max();
    int64_t batches_epoch = -1;
    std::vector<std::vector<int64_t>> batches;
    while (step < std::min(planned, last_step) && trained_seconds() < budget) {
        // Epoch order from the seed and epoch number, so a resumed run continues the same order.
        const int64_t epoch = step / steps_per_epoch;
        if (epoch != batches_epoch) {
            batches =
                epoch_batches(codes, types, batch, options.seed, epoch, options.group_batches);
            batches_epoch = epoch;
        }
        const std::vector<int64_t>& indices = batches[step % steps_per_epoch];
        const auto size = static_cast<int64_t>(indices.size());

        std::mt19937_64 crop_rng(options.seed * 104729 + step);
        torch::Tensor pixels =
            batch_pixels(examples, indices, config, options, crop_rng);         // [B, 3, S, S]
        torch::Tensor ids = token_ids.index_select(0, torch::tensor(indices));  // [B, L]
        if (options.token_dropout > 0) {
            drop_tokens(ids, options.token_dropout, crop_rng);  // a fresh copy: index_select
        }
        const double lr = schedule.rate(step, trained_seconds());
        for (auto& group : optimizer.param_groups()) {
            static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
        }
        report.last_learning_rate = lr;

        // Symmetric InfoNCE: image i should pick text i among the batch, and text i image i.
        ClipModel::TrainOutput out = model->train_forward(pixels, ids);
        namespace F = torch::nn::functional;
        torch::Tensor image = F::normalize(out.image, F::NormalizeFuncOptions().dim(1));
        torch::Tensor text = F::normalize(out.text, F::NormalizeFuncOptions().dim(1));
        torch::Tensor logits = out.log_logit_scale.exp() * image.matmul(text.t());  // [B, B]
        torch::Tensor labels = torch::arange(size, torch::kInt64);
        torch::Tensor loss =
            (F::cross_entropy(logits, labels) + F::cross_entropy(logits.t(), labels)) / 2;
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        {
            // CLIP's clamp: a temperature below 1/100 makes training unstable.
            torch::NoGradGuard no_grad;
            log_scale.clamp_(0.0, std::log(100.0));
        }
        ++step;
        images += size;
        const double loss_value = loss.item<double>();
        if (first.size() < 10) {
            first.push_back(loss_value);
        }
        recent.push_back(loss_value);
        if (recent.size() > 10) {
            recent.pop_front();
        }

        const int64_t run_steps = step - report.start_step;
        const double elapsed = seconds_since(train_start);
        if (std::chrono::duration<double>(Clock::now() - last_log).count() >= 10 ||
            step == planned) {
            const double mean = std::accumulate(recent.begin(), recent.end(), 0.0) / recent.size();
            const double rate = images / std::max(elapsed, 1e-9);
            const double left = (planned - step) * elapsed / std::max<int64_t>(1, run_steps);
            log::info(
                "train-encoder: step {} of at most {} (epoch {}), {:.0f}% of the schedule, "
                "learning rate {:.2g}, loss {:.4f}, logit scale {:.1f}, {:.0f} images/s, "
                "{:.0f} s left",
                step,
                planned,
                (step - 1) / steps_per_epoch + 1,
                100 * schedule.progress(step, trained_seconds()),
                lr,
                mean,
                std::exp(log_scale.item<double>()),
                rate,
                std::max(0.0, std::min(left, budget - trained_seconds())));
            last_log = Clock::now();
        }
        if (std::chrono::duration<double>(Clock::now() - last_checkpoint).count() >=
            options.checkpoint_seconds) {
            LOOKBOOK_RETURN_IF_ERROR(save_checkpoint(paths, *model, optimizer, state_json()));
            last_checkpoint = Clock::now();
        }
    }
    report.train_seconds = seconds_since(train_start);
    LOOKBOOK_RETURN_IF_ERROR(save_checkpoint(paths, *model, optimizer, state_json()));
    if (config.linear_path && !fit_linear_first) {
        LOOKBOOK_RETURN_IF_ERROR(fit_linear());
    }

    // The model folder: the OpenCLIP weights next to the config and tokenizer written above.
    std::vector<std::pair<std::string, torch::Tensor>> weights = model->openai_state_dict();
    const fs::path weights_path = output / "open_clip_model.safetensors";
    LOOKBOOK_RETURN_IF_ERROR(write_safetensors(weights_path.string() + ".tmp", weights));
    fs::rename(weights_path.string() + ".tmp", weights_path, ec);
    if (ec) {
        return Status::io_error(weights_path.string() +
                                ": cannot move into place: " + ec.message());
    }
    report.steps = step;
    report.planned_steps = planned;
    report.first_loss =
        first.empty() ? 0 : std::accumulate(first.begin(), first.end(), 0.0) / first.size();
    report.last_loss =
        recent.empty() ? 0 : std::accumulate(recent.begin(), recent.end(), 0.0) / recent.size();
    report.images_per_second = images / std::max(report.train_seconds, 1e-9);
    report.seconds = seconds_since(start);
    report.peak_rss_bytes = peak_rss_bytes();
    log::info("trained {} steps ({} this run) in {:.0f} s; loss {:.3f} -> {:.3f}; saved to {}",
              report.steps,
              report.steps - report.start_step,
              report.train_seconds,
              report.first_loss,
              report.last_loss,
              output.string());
    return report;
}

Result<std::vector<TrainingExample>> load_training_examples(const fs::path& store_dir,
                                                            int side,
                                                            const Holdout& holdout,
                                                            bool held_out_only,
                                                            int threads,
                                                            int whole_side) {
    LOOKBOOK_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::open(store_dir));
    const ArticleTable& articles = store->articles();
    const std::vector<uint8_t> held = held_out_articles(articles, holdout);
    std::vector<uint32_t> chosen;
    for (uint32_t article = 0; article < articles.size(); ++article) {
        if (articles.has_metadata(article) && !articles.image_path(article).empty() &&
            (held[article] != 0) == held_out_only) {
            chosen.push_back(article);
        }
    }
    if (holdout.fraction > 0) {
        log::info("{} split, holdout {:.2f}: {} of the articles with a photo held out",
                  holdout_split_name(holdout.split),
                  holdout.fraction,
                  std::count(held.begin(), held.end(), uint8_t{1}));
    }

    // Decode and resize on `threads` threads; each writes only its own slots.
    std::vector<TrainingExample> slots(chosen.size());
    std::vector<uint8_t> ok(chosen.size(), 0);
    auto work = [&](size_t worker, size_t workers) {
        for (size_t i = worker; i < chosen.size(); i += workers) {
            const std::string path(articles.image_path(chosen[i]));
            auto decoded = decode_image_file(path);
            Result<RgbImage> square =
                decoded.is_ok() ? resize_and_crop(*decoded, side) : decoded.status();
            if (!square.is_ok()) {
                log::warn("article {}: photo skipped: {}",
                          articles.id(chosen[i]),
                          square.status().message());
                continue;
            }
            if (whole_side > 0) {
                Result<RgbImage> whole = resize_and_crop(*decoded, whole_side);
                if (!whole.is_ok()) {
                    log::warn("article {}: photo skipped: {}",
                              articles.id(chosen[i]),
                              whole.status().message());
                    continue;
                }
                slots[i].whole = std::move(whole).value();
            }
            slots[i].image = std::move(square).value();
            slots[i].text = catalog_text(articles, chosen[i]);
            slots[i].product_code = std::string(articles.product_code(chosen[i]));
            slots[i].product_type = std::string(articles.product_type(chosen[i]));
            ok[i] = 1;
        }
    };
    const size_t workers = static_cast<size_t>(std::max(1, threads));
    std::vector<std::thread> pool;
    for (size_t worker = 1; worker < workers; ++worker) {
        pool.emplace_back(work, worker, workers);
    }
    work(0, workers);
    for (std::thread& t : pool) {
        t.join();
    }
    std::vector<TrainingExample> out;
    for (size_t i = 0; i < slots.size(); ++i) {
        if (ok[i] != 0) {
            out.push_back(std::move(slots[i]));
        }
    }
    log::info("{} {} articles with a photo loaded at {} px ({} skipped)",
              out.size(),
              held_out_only ? "held-out" : "training",
              side,
              chosen.size() - out.size());
    return out;
}

Result<TrainReport> train_catalog_encoder(const fs::path& store_dir,
                                          const fs::path& output,
                                          const CatalogTrainOptions& options) {
    const auto start = Clock::now();
    ClipConfig config =
        options.train.model_set ? options.train.model : small_clip_config(options.train.vocab_size);
    if (options.train.resume && fs::exists(output / "open_clip_config.json")) {
        // A resumed run keeps the sizes it started with.
        LOOKBOOK_ASSIGN_OR_RETURN(config, read_open_clip_config(output / "open_clip_config.json"));
    }
    // Bad sizes fail before thousands of photos are decoded.
    LOOKBOOK_RETURN_IF_ERROR(validate_clip_config(config));
    // Crops are cut from photos one eighth larger than the model input.
    const int side = static_cast<int>(config.vision.image_size + config.vision.image_size / 8);
    LOOKBOOK_ASSIGN_OR_RETURN(
        std::vector<TrainingExample> examples,
        load_training_examples(
            store_dir,
            side,
            options.holdout,
            false,
            options.train.threads,
            config.linear_path ? static_cast<int>(config.vision.image_size) : 0));
    LOOKBOOK_ASSIGN_OR_RETURN(TrainReport report,
                              train_clip_encoder(examples, output, options.train));
    report.seconds = seconds_since(start);
    return report;
}

}  // namespace lookbook
