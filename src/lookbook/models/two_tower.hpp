#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lookbook/models/two_tower_model.hpp"
#include "lookbook/recommend/candidates.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/util/row_graph.hpp"
#include "lookbook/util/status.hpp"

// Training and serving of the two-tower model (two_tower_model.hpp has the network).
namespace lookbook::models {

struct TwoTowerOptions {
    // Time split, in weeks of 7 days counted back from the day after the store's last
    // transaction: the last `test_weeks` are left out entirely (for offline evaluation; 0 in
    // production), the `validation_weeks` before them pick the epoch (early stopping on
    // validation recall@12), and everything before trains.
    int test_weeks = 0;
    int validation_weeks = 1;
    int max_epochs = 30;
    int patience = 3;         // epochs without a better validation recall before stopping
    double max_minutes = 10;  // training stops (keeping the best epoch) after this long
    int batch_size = 512;
    double learning_rate = 3e-3;
    double weight_decay = 1e-4;
    uint64_t seed = 1;
    int threads = 2;          // CPU cores (configure_cpu_threads, process-wide)
    int id_min_count = 2;     // articles bought at least this often get their own id row
    bool use_content = true;  // read the store's content vectors when it has them
    TwoTowerConfig model;     // sizes; the vocabulary sizes are filled in from the store
    // Where the model goes; empty: default_two_tower_dir(store_dir). Nothing is saved when
    // `save` is false (benchmarks that only want the figures).
    std::filesystem::path output;
    bool save = true;
    // The option of the running command that sets test_weeks, named in the advice when the
    // split leaves too little to train on; empty when the command has none.
    std::string weeks_option;
};

struct TwoTowerReport {
    int64_t examples = 0;  // training purchases
    int64_t validation_customers = 0;
    int epochs = 0;      // epochs run
    int best_epoch = 0;  // the epoch kept (1-based; 0: none ran)
    double best_validation_recall = 0;
    double first_loss = 0;     // mean loss of the first epoch
    double last_loss = 0;      // ... of the last epoch run
    double train_seconds = 0;  // the training loop, validation included
    double seconds = 0;        // everything, loading and saving included
    uint64_t peak_rss_bytes = 0;
    int32_t train_end_day = 0;     // first day not trained on (validation start)
    int32_t test_start_day = 0;    // first day of the test weeks (= day after the data if 0)
    bool has_content = false;      // the store had content vectors
    std::filesystem::path output;  // the model folder (empty when not saved)
};

// Trains the two-tower model on the store at `store_dir` with in-batch sampled softmax and
// the log-frequency correction, AdamW, and early stopping on validation recall@12 (ties broken
// by recall@100); logs
// progress; saves the best epoch's weights to options.output. Deterministic for a seed and
// thread count. Fails with the store's errors, kInvalidArgument for bad options or when the
// split leaves no training purchases, and kIOError when the model cannot be written.
Result<TwoTowerReport> train_two_tower(const std::filesystem::path& store_dir,
                                       const TwoTowerOptions& options);

// Candidate source 1: the trained model as a CandidateSource named "two_tower". Article vectors
// are computed once at open(); a query runs the customer tower on the context's demographics and
// history and searches the article vectors for the best dot products (RowSearch: an HNSW graph
// built at open() on catalogs of 4,096 articles or more, else an exact scan).
class TwoTowerSource : public CandidateSource {
  public:
    // Loads the model in `dir` (default_two_tower_dir) for `store`, which must outlive the
    // source. Articles or attribute values the store gained after training use the unknown rows.
    // Fails with load_two_tower's errors and kInvalidData when the model needs content vectors
    // of another size than the store's embeddings.
    static Result<std::unique_ptr<TwoTowerSource>> open(const Store& store,
                                                        const std::filesystem::path& dir);

    // Wraps a trained network (article inputs set) without saving it, for training and tests.
    TwoTowerSource(const Store& store, std::shared_ptr<TwoTowerNet> net);

    std::string_view name() const override { return "two_tower"; }
    std::vector<Candidate> candidates(const CustomerContext& context, size_t k) const override {
        return explain_all(context, ranked(context, k));
    }
    std::vector<Candidate> ranked(const CustomerContext& context, size_t k) const override;
    // The reason: the history article whose vector is closest to the candidate's.
    void explain(const CustomerContext& context, Candidate* candidate) const override;

    // The customer's query vector [dim] (what candidates() scores with), computed with plain
    // loops over the customer tower's weights.
    std::vector<float> query(const CustomerContext& context) const;
    // The same vector from the libtorch network; the reference query() is tested against.
    std::vector<float> query_with_torch(const CustomerContext& context) const;
    // Dot products of a query with every article, by article row.
    std::vector<float> scores(const std::vector<float>& query) const;
    const std::vector<float>& article_vectors() const { return article_vectors_; }
    int64_t dim() const { return dim_; }

  private:
    // The customer tower's parameters as plain arrays, row-major as libtorch holds them. One
    // forward through libtorch for a single customer costs more in operator dispatch and small
    // allocations than the arithmetic (issue 7: ~100 us of the request's CPU).
    struct PlainTower {
        std::vector<float> age, club, news, postal;  // embedding tables [rows, width]
        std::vector<float> hidden_weight;            // [hidden, in]
        std::vector<float> hidden_bias;              // [hidden]
        std::vector<float> out_weight;               // [dim, hidden]
        std::vector<float> out_bias;                 // [dim]
        int64_t in = 0;
        int64_t hidden = 0;
    };

    const Store& store_;
    std::shared_ptr<TwoTowerNet> net_;
    PlainTower tower_;
    int64_t dim_ = 0;
    torch::Tensor features_;              // [A, feature_dim], shared with the history pool
    std::vector<float> article_vectors_;  // [A * dim]
    // The same vectors, searched for ranked() (an HNSW graph on large catalogs, else an exact
    // scan whose passes concurrent requests share).
    std::unique_ptr<RowSearch> search_;
};

}  // namespace lookbook::models
