// Retrieval evaluation of a CLIP model folder (normally the catalog-trained encoder) on a store,
// against a non-neural baseline.
//
//   encoder_eval --store STORE --model DIR [--holdout 0.1] [--split article|product]
//                [--batch 64]
//
// Articles with metadata and a photo are split with held_out_articles, the split train-encoder
// --holdout (and --holdout-split) uses, so the held-out articles were never seen in training;
// the model must have been trained with the same --holdout and split. `--split article` (the
// default) holds out single articles, so colour variants of a held-out article's product (near-
// same text, same cut) are mostly in training; `--split product` holds out whole product codes,
// which measures generalisation to new products. Printed:
//  1. Text-to-image retrieval among the held-out articles: query = an article's catalog text,
//     gallery = every held-out photo; recall@1/5/10 of its own photo. The model's gallery is
//     the whole photo, as `embed` gives it; two more rows show the photo at the zoom training
//     crops show it (training_view), alone and averaged with its mirror image; for a model
//     with the linear path (ClipModel::fit_linear_path) two more show each part of its
//     embedding alone. Paired rows
//     compare the encoder with the baseline (and the zoom with the whole photo) on the same
//     queries: the recall difference with a 95% interval. With 400 queries the interval is
//     about +-0.05 at recall@1, so single runs cannot tell apart methods closer than that.
//  2. Nearest-neighbour precision@10 of the same product type among the held-out articles, for
//     image, text and combined (normalised sum) vectors.
// Both for the model and for the baseline:
//  - text: TF-IDF over lowercase words seen in 2+ training texts, L2-normalised;
//  - image: a colour histogram (HSV, 8x4x4 bins, square-rooted) and a 8x8 grey thumbnail
//    (coarse shape: dress vs trousers), each L2-normalised, concatenated;
//  - text -> image: a ridge regression (lambda 1) from TF-IDF to the standardised image
//    features, fitted on the training articles; a query scores each photo by the cosine
//    between its predicted and the photo's actual features.
// The baseline learns the text-image relation from the same training pairs as the model, but
// linearly, from colour and shape only. The header says how many held-out articles have a
// colour variant (same product code) in training; the run aborts if the product split has any.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <torch/torch.h>

#include "lookbook/encoders/catalog_embed.hpp"
#include "lookbook/encoders/catalog_train.hpp"
#include "lookbook/encoders/clip_encode.hpp"
#include "lookbook/encoders/clip_model.hpp"
#include "lookbook/encoders/cpu_threads.hpp"
#include "lookbook/encoders/image.hpp"
#include "lookbook/encoders/tokenizer.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/util/file.hpp"
#include "lookbook/util/log.hpp"

namespace {

using namespace lookbook;
namespace fs = std::filesystem;

constexpr int kThumb = 8;
constexpr int kFeatureSide = 64;

struct Item {
    std::string text;
    std::string type;
    std::string product_code;
    std::vector<float> features;  // baseline image features
    torch::Tensor pixels;         // [3, S, S] for the model (held-out items only)
    torch::Tensor zoomed;         // [3, S, S]: the centre of the photo at the training zoom
    torch::Tensor zoomed_mirror;  // the same mirrored left-right
};

// HSV histogram (8 hue x 4 saturation x 4 value bins, square-rooted and L2-normalised) followed
// by an 8x8 grey thumbnail (mean removed, L2-normalised) of a 64x64 RGB square.
std::vector<float> image_features(const RgbImage& square) {
    std::vector<float> hist(8 * 4 * 4, 0.0f);
    std::vector<float> thumb(kThumb * kThumb, 0.0f);
    const int cell = square.width / kThumb;
    for (int y = 0; y < square.height; ++y) {
        for (int x = 0; x < square.width; ++x) {
            const uint8_t* p = &square.pixels[(y * square.width + x) * 3];
            const float r = p[0] / 255.0f, g = p[1] / 255.0f, b = p[2] / 255.0f;
            const float mx = std::max({r, g, b}), mn = std::min({r, g, b});
            const float d = mx - mn;
            float h = 0;
            if (d > 0) {
                h = mx == r   ? std::fmod((g - b) / d + 6.0f, 6.0f)
                    : mx == g ? (b - r) / d + 2
                              : (r - g) / d + 4;
            }
            const int hb = std::min(7, static_cast<int>(h / 6.0f * 8));
            const int sb = std::min(3, static_cast<int>((mx > 0 ? d / mx : 0) * 4));
            const int vb = std::min(3, static_cast<int>(mx * 4));
            hist[(hb * 4 + sb) * 4 + vb] += 1;
            thumb[(y / cell) * kThumb + x / cell] += 0.299f * r + 0.587f * g + 0.114f * b;
        }
    }
    auto l2 = [](std::vector<float>& v) {
        double s = 0;
        for (float x : v) {
            s += x * x;
        }
        const float inv = s > 0 ? static_cast<float>(1 / std::sqrt(s)) : 0;
        for (float& x : v) {
            x *= inv;
        }
    };
    for (float& v : hist) {
        v = std::sqrt(v);
    }
    l2(hist);
    const float mean = std::accumulate(thumb.begin(), thumb.end(), 0.0f) / thumb.size();
    for (float& v : thumb) {
        v -= mean;
    }
    l2(thumb);
    hist.insert(hist.end(), thumb.begin(), thumb.end());
    return hist;
}

std::vector<std::string> words(const std::string& text) {
    std::vector<std::string> out;
    std::string w;
    for (char c : text + " ") {
        if (std::isalnum(static_cast<unsigned char>(c))) {
            w.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
        } else if (!w.empty()) {
            out.push_back(w);
            w.clear();
        }
    }
    return out;
}

// TF-IDF with a vocabulary and idf from the training texts.
class TfIdf {
  public:
    explicit TfIdf(const std::vector<Item>& train) {
        std::map<std::string, int> df;
        for (const Item& item : train) {
            std::vector<std::string> w = words(item.text);
            for (const std::string& word : std::set<std::string>(w.begin(), w.end())) {
                ++df[word];
            }
        }
        for (const auto& [word, count] : df) {
            if (count >= 2) {
                index_[word] = static_cast<int64_t>(idf_.size());
                idf_.push_back(static_cast<float>(std::log(train.size() / double(count))));
            }
        }
    }
    int64_t size() const { return static_cast<int64_t>(idf_.size()); }
    // [N, V], rows L2-normalised.
    torch::Tensor vectors(const std::vector<Item>& items) const {
        torch::Tensor out = torch::zeros({static_cast<int64_t>(items.size()), size()});
        for (size_t i = 0; i < items.size(); ++i) {
            for (const std::string& word : words(items[i].text)) {
                if (auto it = index_.find(word); it != index_.end()) {
                    out[i][it->second] += idf_[it->second];
                }
            }
        }
        return torch::nn::functional::normalize(
            out, torch::nn::functional::NormalizeFuncOptions().dim(1));
    }

  private:
    std::unordered_map<std::string, int64_t> index_;
    std::vector<float> idf_;
};

torch::Tensor feature_matrix(const std::vector<Item>& items) {
    torch::Tensor out = torch::empty(
        {static_cast<int64_t>(items.size()), static_cast<int64_t>(items[0].features.size())});
    for (size_t i = 0; i < items.size(); ++i) {
        out[i] = torch::tensor(items[i].features);
    }
    return out;
}

torch::Tensor unit_rows(const torch::Tensor& x) {
    return torch::nn::functional::normalize(x,
                                            torch::nn::functional::NormalizeFuncOptions().dim(1));
}

// The photo as training with the default crops shows it (train_catalog_encoder,
// TrainOptions::crop_min = crop_max = 8/9): resized to 9/8 of the model input, then a crop of
// the input's side, here the centre one, mirrored when `mirror`. Objects look 9/8 larger than
// in the whole photo `embed` gives the model. [3, S, S].
Result<torch::Tensor> training_view(const RgbImage& decoded,
                                    const ClipConfig& config,
                                    bool mirror) {
    const int64_t size = config.vision.image_size;
    LOOKBOOK_ASSIGN_OR_RETURN(RgbImage square,
                              resize_and_crop(decoded, static_cast<int>(size + size / 8)));
    const int64_t offset = (square.width - size) / 2;
    torch::Tensor out = torch::empty({3, size, size});
    crop_planes(square, offset, offset, size, mirror, size, config, out.data_ptr<float>());
    return out;
}

// The rank of gallery item i among query i's scores, 0 = first: sim [Q, Q] -> [Q]. Ties count
// against the query (an item scoring the same as its own photo ranks before it), so a method
// that scores every photo alike gets chance-level recall, not a perfect one.
torch::Tensor own_rank(const torch::Tensor& sim) {
    torch::Tensor own = sim.diagonal().unsqueeze(1);  // [Q, 1]
    return ((sim >= own).sum(1) - 1).to(torch::kFloat64);
}

// Recall@k of query i finding gallery item i: sim [Q, Q].
void print_recall(const char* name, const torch::Tensor& sim) {
    torch::Tensor rank = own_rank(sim);
    std::printf("  %-28s", name);
    for (int k : {1, 5, 10}) {
        std::printf("  R@%-2d %.3f", k, (rank < k).to(torch::kFloat64).mean().item<double>());
    }
    std::printf("  median rank %.0f\n", rank.median().item<double>() + 1);
}

// Paired comparison of two methods on the same queries: at each k, the queries only `a` finds
// in its top k, those only `b` finds, and the recall difference a - b with a 95% interval
// (normal approximation for paired proportions: se = sqrt(only_a + only_b - (only_a -
// only_b)^2 / Q) / Q).
void print_paired(const char* name, const torch::Tensor& sim_a, const torch::Tensor& sim_b) {
    torch::Tensor rank_a = own_rank(sim_a), rank_b = own_rank(sim_b);
    const double q = static_cast<double>(rank_a.size(0));
    std::printf("  %-28s", name);
    for (int k : {1, 5, 10}) {
        const double only_a = ((rank_a < k) & (rank_b >= k)).sum().item<double>();
        const double only_b = ((rank_a >= k) & (rank_b < k)).sum().item<double>();
        const double diff = (only_a - only_b) / q;
        const double se =
            std::sqrt(std::max(0.0, only_a + only_b - (only_a - only_b) * (only_a - only_b) / q)) /
            q;
        std::printf("  @%-2d %+.3f +-%.3f (%.0f/%.0f)", k, diff, 1.96 * se, only_a, only_b);
    }
    std::printf("\n");
}

// Precision@10 of the same type among each item's 10 nearest other items: sim [N, N].
void print_type_precision(const char* name,
                          const torch::Tensor& sim_in,
                          const std::vector<Item>& items) {
    torch::Tensor sim = sim_in.clone();
    sim.fill_diagonal_(-1e9);
    torch::Tensor top = std::get<1>(sim.topk(10, 1));  // [N, 10]
    double hits = 0;
    for (int64_t i = 0; i < top.size(0); ++i) {
        for (int64_t j = 0; j < 10; ++j) {
            hits += items[top[i][j].item<int64_t>()].type == items[i].type ? 1 : 0;
        }
    }
    std::printf("  %-28s  P@10 %.3f\n", name, hits / (10.0 * top.size(0)));
}

}  // namespace

int main(int argc, char** argv) {
    std::string store_dir, model_dir;
    double holdout = 0.1;
    std::string split_name = "article";
    int batch = 64;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string key = argv[i];
        if (key == "--store") {
            store_dir = argv[i + 1];
        } else if (key == "--model") {
            model_dir = argv[i + 1];
        } else if (key == "--holdout") {
            holdout = std::stod(argv[i + 1]);
        } else if (key == "--split") {
            split_name = argv[i + 1];
        } else if (key == "--batch") {
            batch = std::stoi(argv[i + 1]);
        }
    }
    if (store_dir.empty() || model_dir.empty()) {
        std::fprintf(stderr,
                     "usage: encoder_eval --store STORE --model DIR [--holdout 0.1] [--split "
                     "article|product] [--batch 64]\n");
        return 2;
    }
    const std::optional<HoldoutSplit> split = parse_holdout_split(split_name);
    if (!split) {
        std::fprintf(stderr,
                     "encoder_eval: --split is \"%s\"; expected \"article\" or \"product\" (the "
                     "--holdout-split the model was trained with)\n",
                     split_name.c_str());
        return 2;
    }
    log::init_logging(log::Level::kWarn);
    configure_cpu_threads(2);
    auto store = Store::open(store_dir);
    auto model = ClipModel::load(model_dir);
    auto tokenizer = ClipTokenizer::from_model_dir(model_dir);
    if (!store.is_ok() || !model.is_ok() || !tokenizer.is_ok()) {
        std::fprintf(stderr,
                     "encoder_eval: %s\n",
                     (!store.is_ok()   ? store.status()
                      : !model.is_ok() ? model.status()
                                       : tokenizer.status())
                         .message()
                         .c_str());
        return 1;
    }

    // Items: decode every photo once; the model input only for held-out items.
    const auto start = std::chrono::steady_clock::now();
    const ArticleTable& articles = (*store)->articles();
    const ClipPreprocess preprocess = clip_preprocess_for((*model)->config());
    const int64_t trained_dim = (*model)->config().embed_dim;  // the linear part follows
    const std::vector<uint8_t> held =
        held_out_articles(articles, Holdout{.fraction = holdout, .split = *split});
    std::vector<Item> train, test;
    for (uint32_t article = 0; article < articles.size(); ++article) {
        if (!articles.has_metadata(article) || articles.image_path(article).empty()) {
            continue;
        }
        auto decoded = decode_image_file(std::string(articles.image_path(article)));
        if (!decoded.is_ok()) {
            continue;
        }
        auto square = resize_and_crop(*decoded, kFeatureSide);
        if (!square.is_ok()) {
            continue;
        }
        Item item;
        item.text = catalog_text(articles, article);
        item.type = std::string(articles.product_type(article));
        item.product_code = std::string(articles.product_code(article));
        item.features = image_features(*square);
        if (held[article] != 0) {
            auto pixels = preprocess_clip(*decoded, preprocess);
            if (!pixels.is_ok()) {
                continue;
            }
            auto zoomed = training_view(*decoded, (*model)->config(), false);
            auto zoomed_mirror = training_view(*decoded, (*model)->config(), true);
            if (!zoomed.is_ok() || !zoomed_mirror.is_ok()) {
                continue;
            }
            item.pixels = *pixels;
            item.zoomed = *zoomed;
            item.zoomed_mirror = *zoomed_mirror;
            test.push_back(std::move(item));
        } else {
            train.push_back(std::move(item));
        }
    }
    std::printf("encoder_eval: store %s, model %s\n", store_dir.c_str(), model_dir.c_str());
    std::printf(
        "articles with a photo: %zu training, %zu held out (--holdout %.2f, --split %s); %.0f s "
        "to decode\n",
        train.size(),
        test.size(),
        holdout,
        split_name.c_str(),
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());

    // Held-out articles whose product has a colour variant in training: most of them under the
    // article split, none under the product split (anything else is a bug in the split).
    std::set<std::string> train_codes;
    for (const Item& item : train) {
        if (!item.product_code.empty()) {
            train_codes.insert(item.product_code);
        }
    }
    const auto shared = std::count_if(test.begin(), test.end(), [&](const Item& item) {
        return train_codes.contains(item.product_code);
    });
    std::set<std::string> test_codes;
    for (const Item& item : test) {
        test_codes.insert(item.product_code);
    }
    std::printf(
        "held-out articles with a colour variant in training: %td of %zu (%zu product codes "
        "held out)\n",
        shared,
        test.size(),
        test_codes.size());
    if (*split == HoldoutSplit::kProduct && shared > 0) {
        std::fprintf(stderr,
                     "encoder_eval: %td held-out articles share a product code with training "
                     "under --split product; the split is broken\n",
                     shared);
        return 1;
    }
    if (test.size() < 11 || train.size() < 2) {
        std::fprintf(stderr, "encoder_eval: too few articles to evaluate\n");
        return 1;
    }

    // Model embeddings of the held-out items: the whole photo (as `embed` gives it), and the
    // photo at the training zoom, alone and averaged with its mirror image.
    torch::Tensor image_emb, text_emb, zoomed_emb, zoomed_mirror_emb;  // [Q, D], normalised
    {
        std::vector<torch::Tensor> images, zooms, mirrors, texts;
        const auto context = static_cast<size_t>((*model)->config().text.context_length);
        for (size_t begin = 0; begin < test.size(); begin += batch) {
            const size_t end = std::min(test.size(), begin + batch);
            std::vector<torch::Tensor> pixels, zoomed, zoomed_mirror;
            std::vector<int64_t> ids;
            for (size_t i = begin; i < end; ++i) {
                pixels.push_back(test[i].pixels);
                zoomed.push_back(test[i].zoomed);
                zoomed_mirror.push_back(test[i].zoomed_mirror);
                std::vector<int64_t> row = (*tokenizer).encode(test[i].text, context);
                ids.insert(ids.end(), row.begin(), row.end());
            }
            images.push_back((*model)->encode_image(torch::stack(pixels)));
            zooms.push_back((*model)->encode_image(torch::stack(zoomed)));
            mirrors.push_back((*model)->encode_image(torch::stack(zoomed_mirror)));
            texts.push_back((*model)->encode_text(
                torch::tensor(ids, torch::kInt64).view({-1, static_cast<int64_t>(context)})));
        }
        image_emb = unit_rows(torch::cat(images));
        text_emb = unit_rows(torch::cat(texts));
        zoomed_emb = unit_rows(torch::cat(zooms));
        zoomed_mirror_emb = unit_rows(zoomed_emb + unit_rows(torch::cat(mirrors)));
    }

    // Baseline: TF-IDF -> standardised image features by ridge regression on the training set.
    TfIdf tfidf(train);
    torch::Tensor x_train = tfidf.vectors(train).to(torch::kFloat64);   // [N, V]
    torch::Tensor y_train = feature_matrix(train).to(torch::kFloat64);  // [N, F]
    torch::Tensor mean = y_train.mean(0), stdev = y_train.std(0).clamp_min(1e-6);
    torch::Tensor y_std = (y_train - mean) / stdev;
    const double lambda = 1.0;
    torch::Tensor gram =
        x_train.t().matmul(x_train) + lambda * torch::eye(tfidf.size(), torch::kFloat64);  // [V, V]
    torch::Tensor w = torch::linalg::solve(gram, x_train.t().matmul(y_std), true);         // [V, F]
    torch::Tensor x_test = tfidf.vectors(test).to(torch::kFloat64);
    torch::Tensor y_test = (feature_matrix(test).to(torch::kFloat64) - mean) / stdev;
    torch::Tensor predicted = unit_rows(x_test.matmul(w));
    torch::Tensor gallery = unit_rows(y_test);

    std::printf(
        "\n1. text -> image retrieval of held-out articles (%zu queries, gallery of %zu "
        "photos; chance R@10 %.3f)\n",
        test.size(),
        test.size(),
        10.0 / test.size());
    print_recall("catalog-trained encoder", text_emb.matmul(image_emb.t()));
    print_recall("  photo at training zoom", text_emb.matmul(zoomed_emb.t()));
    print_recall("  zoom + mirror average", text_emb.matmul(zoomed_mirror_emb.t()));
    if (trained_dim < image_emb.size(1)) {
        // The model's two parts alone (ClipModel::fit_linear_path).
        auto part = [](const torch::Tensor& x, int64_t begin, int64_t end) {
            return unit_rows(x.slice(1, begin, end));
        };
        const int64_t all = image_emb.size(1);
        print_recall("  trained part alone",
                     part(text_emb, 0, trained_dim).matmul(part(image_emb, 0, trained_dim).t()));
        print_recall(
            "  linear part alone",
            part(text_emb, trained_dim, all).matmul(part(image_emb, trained_dim, all).t()));
    }
    torch::Tensor baseline_sim = predicted.matmul(gallery.t()).to(torch::kFloat);
    print_recall("baseline TF-IDF->hist+thumb", baseline_sim);
    std::printf(
        "  encoder minus baseline, paired: recall difference, 95%% interval (queries only the "
        "encoder / only the baseline finds)\n");
    print_paired("whole photo", text_emb.matmul(image_emb.t()), baseline_sim);
    print_paired("photo at training zoom", text_emb.matmul(zoomed_emb.t()), baseline_sim);
    std::printf(
        "  training zoom minus whole photo, paired (queries only the zoom / only the "
        "whole photo finds)\n");
    print_paired("encoder", text_emb.matmul(zoomed_emb.t()), text_emb.matmul(image_emb.t()));

    std::printf(
        "\n2. nearest-neighbour precision@10 of the same product type (%zu held-out "
        "articles, %zu types)\n",
        test.size(),
        std::set<std::string>([&] {
            std::set<std::string> s;
            for (const Item& item : test) {
                s.insert(item.type);
            }
            return s;
        }())
            .size());
    torch::Tensor combined = unit_rows(image_emb + text_emb);
    print_type_precision("encoder image", image_emb.matmul(image_emb.t()), test);
    print_type_precision("  photo at training zoom", zoomed_emb.matmul(zoomed_emb.t()), test);
    print_type_precision("encoder text", text_emb.matmul(text_emb.t()), test);
    print_type_precision("encoder image+text", combined.matmul(combined.t()), test);
    torch::Tensor base_text = x_test.to(torch::kFloat);
    torch::Tensor base_image = unit_rows(feature_matrix(test));
    print_type_precision("baseline image (hist+thumb)", base_image.matmul(base_image.t()), test);
    print_type_precision("baseline text (TF-IDF)", base_text.matmul(base_text.t()), test);
    std::printf("\npeak memory %.0f MB\n", peak_rss_bytes() / 1048576.0);
    return 0;
}
