#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lookbook/encoders/clip_config.hpp"
#include "lookbook/encoders/image.hpp"
#include "lookbook/encoders/tokenizer.hpp"
#include "lookbook/util/status.hpp"

namespace lookbook {

class ArticleTable;

// The catalog-trained default encoder: a small CLIP trained from scratch on the retailer's own
// photos and texts, for machines where no pretrained weights can be downloaded. The result is
// an OpenCLIP model folder (open_clip_config.json, open_clip_model.safetensors, vocab.json,
// merges.txt) that ClipModel::load and ClipTokenizer::from_model_dir read like any other.

// Learns a CLIP-format byte-level BPE from `texts`: the texts are cleaned and split into words
// exactly as ClipTokenizer does, then the most frequent adjacent pair of symbols is merged
// until the vocabulary (512 byte symbols + merges + 2 special tokens) has `vocab_size` tokens
// or no pair occurs twice. Ties go to the pair whose symbols were created first, so the result
// is deterministic. kInvalidArgument when vocab_size < 514.
Result<ClipTokenizer> learn_clip_bpe(const std::vector<std::string>& texts, int vocab_size);

// Writes vocab.json and merges.txt (with CLIP's "#version" header) into `dir`.
Status write_clip_tokenizer(const ClipTokenizer& tokenizer, const std::filesystem::path& dir);

// The default model: 32 px images in 8 px patches, 128 wide, 3 layers on both towers, text
// context 64, 128-dimensional trained embeddings followed by the 192-value linear path
// (ClipConfig::linear_path, fitted after training), exact GELU, vocab_size as given.
// Context 64 instead of 32: 307 of the 400 held-out H&M texts were cut at 32 tokens (26 at
// 64); at 30 epochs, seed 1, the trained part alone gave held-out recall@1/5/10 0.242 /
// 0.530 / 0.682 against 0.223 / 0.527 / 0.650 at 32. With the linear path: 0.295 / 0.630 /
// 0.752 against the baseline's 0.260 / 0.525 / 0.665 (docs/measurements.md). On the H&M sample
// 32 px trained 2.8 times faster than 64 px in 8 px patches and retrieved better within the
// same time (30 epochs instead of 15; held-out text-to-image recall@10 0.41 against 0.28).
// 64 px in 16 px patches (the same 16 tokens) costs about the same CPU; at 30 epochs, seed 1
// it gave 0.233 / 0.527 / 0.667 at recall@1/5/10 against 0.220 / 0.535 / 0.662: no gain. Wide paths
// on (ClipConfig::wide_features): within 7 minutes they raised held-out recall@10 from 0.31 to
// 0.66, level with the TF-IDF/colour-histogram baseline of bench/encoder_eval.
ClipConfig small_clip_config(int64_t vocab_size);

// One training pair: a photo already resized and centre-cropped to a square a little larger
// than the model input (random crops are cut from it), and its catalog text.
struct TrainingExample {
    RgbImage image;  // RGB, square, side >= model image size
    // The photo as `embed` gives it to the model (resize_and_crop to the model input), for
    // fitting the linear path; empty: `image` resized to the input is used instead.
    RgbImage whole;
    std::string text;
    // The article's product code and type, for batches of look-alikes (TrainOptions::
    // group_batches). Empty: the example is a product of its own, of no type.
    std::string product_code;
    std::string product_type;
};

// The learning rate of each step: linear warm-up over the first `warmup_steps`, then a cosine
// decay over the run's progress, the larger of step / planned_steps (the epochs limit) and
// seconds / budget_seconds (the time limit), so the decay ends at whichever limit comes first,
// however the step time changes during the run (a shared machine that slows down still gets
// the end of the decay):
//   rate = peak * min(1, (step + 1) / warmup_steps) * (1 + cos(pi * progress)) / 2
struct LearningRateSchedule {
    double peak = 1e-3;
    int64_t warmup_steps = 1;
    int64_t planned_steps = 1;
    double budget_seconds = 1;

    // From 0 to 1; `seconds` is the training time so far (of every run of a resumed training).
    double progress(int64_t step, double seconds) const;
    double rate(int64_t step, double seconds) const;
};

// One epoch's batches: every index of [0, n) exactly once, in ceil(n / batch_size) batches of
// n / steps or one more examples, in an order drawn from `seed` and `epoch` (the same epoch
// gives the same batches). Without grouping the order is a plain shuffle. With grouping,
// look-alikes share a batch: the colour variants of a product code stay together, and the
// products are ordered by product type (types and products in random order) and cut into blocks
// of a quarter batch, shuffled, so a batch holds a few types, each with several products: the
// contrastive loss then has to tell apart near-same texts and photos (hard negatives).
// `product_codes` and `product_types` have n entries; an empty code is a product of its own.
std::vector<std::vector<int64_t>> epoch_batches(const std::vector<std::string>& product_codes,
                                                const std::vector<std::string>& product_types,
                                                int64_t batch_size,
                                                uint64_t seed,
                                                int64_t epoch,
                                                bool grouped);

struct TrainOptions {
    // Stop (and save) after this much training time, counting the time of the runs a resumed
    // training continues; the learning-rate decay ends there (LearningRateSchedule).
    double minutes = 12;
    // Or after this many passes over the examples. On the H&M sample (seed 1) 20 epochs gave
    // held-out recall@1/5/10 0.228 / 0.542 / 0.662 against 0.220 / 0.535 / 0.662 at 30.
    int epochs = 30;
    int64_t max_steps = 0;  // or after this many steps in total (0: no limit); for tests
    // Pairs per step (the contrastive loss sees batch_size^2 pairs). 256 at the same 30 epochs
    // (450 steps, seed 1) gave held-out recall@1/5/10 0.215 / 0.542 / 0.670 against 0.220 /
    // 0.535 / 0.662 at 128, with a 623 MB peak against 421 MB.
    int batch_size = 128;
    double learning_rate = 1e-3;
    // The logit scale (1 / temperature) at the start, up to 100; learned from there (at most
    // 100). 0: the model's own start, CLIP's 1 / 0.07.
    // In 900 steps the learned scale climbs only from 14.3 to about 18 (AdamW moves its log by
    // at most the learning rate a step); starting at 40 (30 epochs, seed 1) gave recall@1/5/10
    // 0.210 / 0.525 / 0.655 against 0.220 / 0.535 / 0.662, so the default start stays.
    double initial_logit_scale = 0;
    double weight_decay = 0.1;
    int vocab_size = 4096;
    // Probability of dropping each text token (between start and end of text) in a training
    // pair, a fresh draw every step: the text tower cannot rely on one word. 0: off. On the H&M
    // sample with the default 12 minutes (one run each, shared machine) 0.1 raised held-out
    // recall@1/5/10 from 0.212 / 0.517 / 0.640 (753 steps) to 0.247 / 0.535 / 0.665 (641
    // steps): the 26-epoch model overfits without it (final loss 0.39 against 0.92). At 8
    // epochs it cost recall (0.115 / 0.345 / 0.515 against 0.140 / 0.412 / 0.557).
    double token_dropout = 0.1;
    // Image augmentation: each step crops every training photo (stored at 9/8 of the model
    // input, see train_catalog_encoder) to a square whose side is drawn uniformly from
    // [crop_min, crop_max] times the photo's side, at a random place, mirrors it left-right half
    // the time and resizes it to the model input (crop_planes). Colours are never changed:
    // colour words are the main signal. Embedding and evaluation see the whole photo, never
    // augmented. crop_min = crop_max = 8/9 is the earlier fixed crop (shifts and flips only);
    // windows shifted at the embed scale instead (1, 1) gave lower held-out recall@10 than
    // that zoom on the H&M sample (0.32 against 0.41, one run each). Random scales (0.75, 1)
    // did not beat the fixed crop there (30 epochs, token dropout 0.1, seed 1, one run each:
    // recall@1/5/10 0.210 / 0.530 / 0.665, final loss 0.85, against 0.220 / 0.535 / 0.662,
    // loss 0.66), so the default stays the fixed crop.
    double crop_min = 8.0 / 9;
    double crop_max = 8.0 / 9;
    // Batches of look-alikes (epoch_batches with grouping): colour variants of one product and
    // products of one type share a batch. Off by default: on the H&M sample (8 epochs, seed 1,
    // one run each) it lowered held-out text-to-image recall@1/5/10 from 0.140 / 0.412 / 0.557
    // to 0.100 / 0.312 / 0.453, and to 0.018 / 0.105 / 0.195 together with token dropout 0.1.
    // TODO: batches of a few types are too hard for a model this small trained this briefly;
    // a milder mix (variants together, types at random, or a few look-alikes per batch) is
    // untried.
    bool group_batches = false;
    // With the wide paths: train the image projection on features scaled to a common size
    // (ClipModel::set_wide_feature_scale): each histogram bin and thumbnail cell by
    // sqrt(2 / F) / max(rms, 0.01), its root mean square over the training photos, so a rare
    // colour bin moves its weights as fast as the white background does. Folded into the
    // saved projection: the model format and the embeddings path do not change. Off: on the H&M
    // sample with a 64 px input in 16 px patches (30 epochs, seed 1, one run each) it gave
    // recall@1/5/10 0.230 / 0.517 / 0.655 against 0.233 / 0.527 / 0.667 without (final loss
    // 0.67 against 0.71).
    bool scale_wide_features = false;
    // With the linear path (ClipConfig::linear_path): fit it before training, so the
    // contrastive loss scores pairs by both parts and the trained part learns what the
    // linear one misses, instead of after training (the two parts then learn independently).
    // Off: on the H&M sample (context 64, 30 epochs, seed 1, one run each, article split) it
    // gave held-out recall@1/5/10 0.250 / 0.522 / 0.635 against 0.295 / 0.630 / 0.752 fitted
    // after; the trained part alone fell to 0.048 / 0.165 / 0.280 (it leans on the linear
    // part and learns little of its own).
    bool fit_linear_first = false;
    uint64_t seed = 1;
    bool resume = false;              // continue from OUTPUT/checkpoint
    double checkpoint_seconds = 120;  // time between checkpoints (one is always written at the end)
    int threads = 2;
    ClipConfig model;        // sizes; vocab_size is set from the tokenizer
    bool model_set = false;  // false: small_clip_config()
};

struct TrainReport {
    int64_t start_step = 0;         // > 0 when resumed
    int64_t steps = 0;              // the step reached (total, including resumed steps)
    int64_t planned_steps = 0;      // the epochs limit in steps
    double last_learning_rate = 0;  // of the last step run
    int64_t examples = 0;
    double first_loss = 0;  // mean loss of the first (up to) 10 steps of this run
    double last_loss = 0;   // mean loss of the last (up to) 10 steps of this run
    double seconds = 0;     // wall time of this run, data preparation included
    double train_seconds = 0;
    double images_per_second = 0;
    uint64_t peak_rss_bytes = 0;
    std::filesystem::path output;
};

// Whether `output` holds a training state train_clip_encoder can resume (its checkpoint, or
// the previous one kept while a new one is swapped in).
bool has_training_checkpoint(const std::filesystem::path& output);

// Trains the dual encoder on `examples` with the symmetric InfoNCE loss and a learnable logit
// scale, AdamW with LearningRateSchedule (warm-up, cosine decay ending at the epochs limit or
// the time budget), batches from epoch_batches, random crop and horizontal flip. The tokenizer
// is learned from the examples' texts (or reused from `output` when resuming). Writes
// OUTPUT/checkpoint (parameters, optimizer, step, training time; replaced atomically) every
// checkpoint_seconds and at the end, then the model folder files. Progress (step, loss,
// images/s, time left) is logged. Fails with kInvalidArgument for fewer than 2 examples or
// bad options, kAlreadyExists-like kInvalidArgument when OUTPUT holds a checkpoint and resume
// is off, kNotFound when resume is on and there is none, and kIOError when writing fails.
Result<TrainReport> train_clip_encoder(const std::vector<TrainingExample>& examples,
                                       const std::filesystem::path& output,
                                       const TrainOptions& options);

// The crop sides (in px, inclusive) TrainOptions::crop_min/crop_max give for a photo of `side`
// px: each fraction times side, rounded, within [1, side]; the upper one at least the lower.
std::pair<int64_t, int64_t> crop_side_range(int64_t side, double crop_min, double crop_max);

// One augmented training photo as the model's input: the `crop` x `crop` square of `image`
// (square RGB) at column x, row y, mirrored left-right when `flip`, resized to `size` x `size`
// bilinearly (sampling at pixel centres; crop == size copies the pixels) and normalised with
// the config's mean and std. Writes 3 planes of size * size floats to `out`. The square must
// lie inside the image.
void crop_planes(const RgbImage& image,
                 int64_t x,
                 int64_t y,
                 int64_t crop,
                 bool flip,
                 int64_t size,
                 const ClipConfig& config,
                 float* out);

// True when the article is in the held-out evaluation split: a stable hash of its id falls in
// the first `fraction` of the range. The same ids are held out on every machine and run.
bool is_held_out(std::string_view article_id, double fraction);

// How the articles held out of training for evaluation are chosen.
enum class HoldoutSplit {
    // Each article on its own (is_held_out): the colour variants of a held-out article's
    // product (near-same text, same cut) are mostly in training.
    kArticle,
    // Whole product codes (held_out_products): training sees none of the held-out products, as
    // when a retailer adds a new collection.
    kProduct,
};

// "article" or "product" (the --holdout-split / --split values); nullopt for anything else.
std::optional<HoldoutSplit> parse_holdout_split(std::string_view name);
std::string_view holdout_split_name(HoldoutSplit split);

struct Holdout {
    double fraction = 0;  // share of the candidate articles held out; 0: none
    HoldoutSplit split = HoldoutSplit::kArticle;
    uint64_t seed = 1;  // draws the product split; the article split has none
};

// The product split of n articles, product_codes[i] being article i's code (equal codes are one
// product; give articles without a code a unique key). Products are ordered by a stable 64-bit
// hash of their code and `seed`, and taken whole in that order until at least
// round(fraction * n) articles are held out, so the count overshoots by less than the largest
// product's article count. Returns n flags (1 = held out). No code is on both sides; the same
// codes and seed give the same split on every machine.
std::vector<uint8_t> held_out_products(const std::vector<std::string>& product_codes,
                                       double fraction,
                                       uint64_t seed);

// One flag per article of the table (1 = held out). Candidates are the articles with metadata
// and a photo path, whether or not the photo decodes, so train-encoder and bench/encoder_eval
// draw the same split from the same store; other articles are never held out. The article split
// is is_held_out of each id; the product split is held_out_products over the candidates
// (an empty product code counts as a product of its own).
std::vector<uint8_t> held_out_articles(const ArticleTable& articles, const Holdout& holdout);

struct CatalogTrainOptions {
    TrainOptions train;
    Holdout holdout;  // articles held out of training (see held_out_articles)
};

// Training pairs from a store: every article with metadata and a readable photo, minus the
// held-out ones (or only those, with `held_out_only`), photos resized to `side` px (and, when
// `whole_side` > 0, also to that side as TrainingExample::whole). Unreadable photos are logged
// and skipped. Decodes on `threads` threads. Fails with the store's errors.
Result<std::vector<TrainingExample>> load_training_examples(const std::filesystem::path& store_dir,
                                                            int side,
                                                            const Holdout& holdout,
                                                            bool held_out_only,
                                                            int threads,
                                                            int whole_side = 0);

// `lookbook train-encoder`: load_training_examples + train_clip_encoder.
Result<TrainReport> train_catalog_encoder(const std::filesystem::path& store_dir,
                                          const std::filesystem::path& output,
                                          const CatalogTrainOptions& options);

}  // namespace lookbook
