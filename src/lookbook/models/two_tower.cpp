#include "lookbook/models/two_tower.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>
#include <span>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

#include "lookbook/encoders/cpu_threads.hpp"
#include "lookbook/eval/metrics.hpp"
#include "lookbook/recommend/sources.hpp"
#include "lookbook/util/assert.hpp"
#include "lookbook/util/dot.hpp"
#include "lookbook/util/file.hpp"
#include "lookbook/util/log.hpp"
#include "lookbook/util/progress.hpp"

namespace lookbook::models {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr size_t kValidationK = 12;
constexpr size_t kTieBreakK = 100;
// Validation scores at most this many customers (a fixed, seeded subset), so an epoch's check
// stays a small share of the epoch on large stores.
constexpr size_t kMaxValidationCustomers = 2000;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// One training purchase: the customer's state just before the day of the purchase.
struct Example {
    uint32_t customer;
    uint32_t article;
    int32_t day;
    uint64_t history_begin;  // the customer's transaction rows before `day`
    uint64_t history_end;
};

// A validation customer: inputs at the start of the validation weeks and what they bought in them.
struct ValidationCase {
    CustomerFeatures features;
    std::vector<uint32_t> bought;
};

// The store's transaction rows [begin, end) as interactions, for customer_features().
// Training builds customers through the same customer_features() as serving, so the two cannot
// drift apart; the copy is at most history_length rows per example.
std::vector<Interaction> interactions(const TransactionTable& rows, uint64_t begin, uint64_t end) {
    std::vector<Interaction> out;
    out.reserve(end - begin);
    for (uint64_t row = begin; row < end; ++row) {
        out.push_back({rows.article()[row], rows.date()[row], Interaction::Kind::kPurchase});
    }
    return out;
}

// Every purchase dated before `end_day`, with the customer's earlier-day rows as its history.
std::vector<Example> training_examples(const TransactionTable& rows,
                                       int32_t end_day,
                                       int history_length) {
    std::vector<Example> out;
    uint64_t day_start = 0;
    for (uint64_t row = 0; row < rows.size(); ++row) {
        const uint32_t customer = rows.customer()[row];
        const int32_t day = rows.date()[row];
        // Rows come sorted by (customer, day): a new run starts a new history end.
        if (row == 0 || customer != rows.customer()[row - 1] || day != rows.date()[row - 1]) {
            day_start = row;
        }
        if (day >= end_day) {
            continue;
        }
        const uint64_t customer_start = rows.customer_offsets()[customer];
        // Only the last history_length rows are pooled; older ones need not be copied.
        const uint64_t history_start = std::max<uint64_t>(
            customer_start, day_start - std::min<uint64_t>(day_start, history_length));
        out.push_back({customer, rows.article()[row], day, history_start, day_start});
    }
    return out;
}

// Customers who bought in [begin, end), with their inputs at `begin`.
std::vector<ValidationCase> validation_cases(
    const Store& store, const TwoTowerConfig& config, int32_t begin, int32_t end, uint64_t seed) {
    const TransactionTable& rows = store.transactions();
    std::vector<ValidationCase> out;
    for (uint32_t customer = 0; customer + 1 < rows.customer_offsets().size(); ++customer) {
        const uint64_t first = rows.customer_offsets()[customer];
        const uint64_t last = rows.customer_offsets()[customer + 1];
        uint64_t split = first;
        while (split < last && rows.date()[split] < begin) {
            ++split;
        }
        ValidationCase item;
        for (uint64_t row = split; row < last && rows.date()[row] < end; ++row) {
            item.bought.push_back(rows.article()[row]);
        }
        if (item.bought.empty()) {
            continue;
        }
        std::vector<Interaction> history = interactions(rows, first, split);
        item.features = customer_features(store, config, customer, begin, history);
        out.push_back(std::move(item));
    }
    if (out.size() > kMaxValidationCustomers) {
        std::mt19937_64 rng(seed);
        std::shuffle(out.begin(), out.end(), rng);
        out.resize(kMaxValidationCustomers);
    }
    return out;
}

// Validation figures of one epoch: recall@12 decides; recall@100 breaks its ties, which are
// common when a small validation week gives each customer one or two chances to hit.
struct ValidationScore {
    double recall_12 = -1;
    double recall_100 = -1;

    bool better_than(const ValidationScore& other) const {
        return recall_12 > other.recall_12 ||
               (recall_12 == other.recall_12 && recall_100 > other.recall_100);
    }
};

// Mean recall@12 and @100 of the network's lists over the validation customers.
ValidationScore validation_score(TwoTowerNet& net, const std::vector<ValidationCase>& cases) {
    torch::NoGradGuard no_grad;
    const int64_t articles = net.article_count();
    torch::Tensor features = net.article_features(torch::arange(articles, torch::kInt64));
    torch::Tensor vectors = net.article_tower(features);  // [A, dim]
    ValidationScore score{0, 0};
    constexpr size_t kChunk = 256;
    for (size_t start = 0; start < cases.size(); start += kChunk) {
        const size_t end = std::min(cases.size(), start + kChunk);
        std::vector<CustomerFeatures> rows;
        for (size_t i = start; i < end; ++i) {
            rows.push_back(cases[i].features);
        }
        CustomerBatch batch = customer_batch(rows, net.config());
        torch::Tensor queries =
            net.customer_tower(batch, features.index_select(0, batch.history.flatten()));
        const int64_t k = std::min<int64_t>(kTieBreakK, articles);
        torch::Tensor top = std::get<1>(queries.matmul(vectors.t()).topk(k, 1)).contiguous();
        for (size_t i = start; i < end; ++i) {
            const int64_t* ids = top[static_cast<int64_t>(i - start)].data_ptr<int64_t>();
            std::vector<uint32_t> ranked(ids, ids + k);
            score.recall_12 += eval::recall_at_k(ranked, cases[i].bought, kValidationK);
            score.recall_100 += eval::recall_at_k(ranked, cases[i].bought, kTieBreakK);
        }
    }
    const auto n = static_cast<double>(std::max<size_t>(1, cases.size()));
    return {score.recall_12 / n, score.recall_100 / n};
}

// What a gradient step reads besides its batch.
struct StepInputs {
    const Store& store;
    const TwoTowerConfig& config;
    TwoTowerNet& net;
    torch::optim::Optimizer& optimizer;
    const std::vector<float>& log_q;  // by article row
};

// One gradient step on the examples at `batch`; returns the batch's loss.
double train_step(const StepInputs& in,
                  const std::vector<Example>& examples,
                  std::span<const size_t> batch) {
    const TransactionTable& rows = in.store.transactions();
    std::vector<CustomerFeatures> customers;
    std::vector<int64_t> positives;
    std::vector<float> batch_log_q;
    for (size_t index : batch) {
        // The customer as they were the day before this purchase.
        const Example& e = examples[index];
        std::vector<Interaction> history = interactions(rows, e.history_begin, e.history_end);
        customers.push_back(customer_features(in.store, in.config, e.customer, e.day, history));
        positives.push_back(e.article);
        batch_log_q.push_back(in.log_q[e.article]);
    }
    torch::Tensor items = torch::tensor(positives, torch::kInt64);
    torch::Tensor queries = in.net.customers(customer_batch(customers, in.config));  // [B, dim]
    torch::Tensor vectors = in.net.article_tower(in.net.article_features(items));    // [B, dim]
    torch::Tensor loss = sampled_softmax_loss(
        queries, vectors, torch::tensor(batch_log_q), items, in.config.temperature);
    in.optimizer.zero_grad();
    loss.backward();
    in.optimizer.step();
    return loss.item<double>();
}

// The config of a model for this store: options.model's sizes with the store's vocabulary
// sizes, and an id row (in *id_slots, by article row) for each article bought at least
// options.id_min_count times; the others share row 0 with articles added later.
TwoTowerConfig store_config(const Store& store,
                            const TwoTowerOptions& options,
                            const std::vector<int64_t>& counts,
                            std::vector<int64_t>* id_slots) {
    TwoTowerConfig config = options.model;
    const ArticleTable& articles = store.articles();
    for (size_t i = 0; i < kTowerAttributes.size(); ++i) {
        config.attribute_sizes[i] =
            static_cast<int64_t>(articles.attribute(kTowerAttributes[i]).cardinality());
    }
    config.club_size = static_cast<int64_t>(store.customers().club_status().cardinality());
    config.news_size = static_cast<int64_t>(store.customers().news_frequency().cardinality());
    id_slots->assign(articles.size(), 0);
    config.id_slots = 1;
    for (uint32_t article = 0; article < articles.size(); ++article) {
        if (counts[article] >= options.id_min_count) {
            (*id_slots)[article] = config.id_slots++;
        }
    }
    return config;
}

Status check_options(const TwoTowerOptions& o) {
    if (o.test_weeks < 0 || o.validation_weeks < 0 || o.max_epochs < 1 || o.patience < 1 ||
        o.max_minutes <= 0 || o.batch_size < 2 || o.learning_rate <= 0 || o.id_min_count < 1) {
        return Status::invalid_argument(fmt::format(
            "two-tower options: test weeks {}, validation weeks {}, epochs {}, patience {}, "
            "minutes {}, batch {}, learning rate {}, id min count {}; expected weeks >= 0, "
            "epochs, patience, id min count >= 1, batch >= 2 and positive time and rate.",
            o.test_weeks,
            o.validation_weeks,
            o.max_epochs,
            o.patience,
            o.max_minutes,
            o.batch_size,
            o.learning_rate,
            o.id_min_count));
    }
    return Status::ok();
}

}  // namespace

Result<TwoTowerReport> train_two_tower(const fs::path& store_dir, const TwoTowerOptions& options) {
    const auto start = Clock::now();
    LOOKBOOK_RETURN_IF_ERROR(check_options(options));
    LOOKBOOK_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::open(store_dir));
    const TransactionTable& rows = store->transactions();
    const ArticleTable& articles = store->articles();
    configure_cpu_threads(options.threads);
    torch::manual_seed(options.seed);

    // The split, in days: [.., train_end) trains, [train_end, test_start) validates.
    TwoTowerReport report;
    const int32_t last_day =
        rows.size() == 0 ? 0 : *std::max_element(rows.date().begin(), rows.date().end());
    report.test_start_day = last_day + 1 - 7 * options.test_weeks;
    report.train_end_day = report.test_start_day - 7 * options.validation_weeks;
    std::vector<Example> examples =
        training_examples(rows, report.train_end_day, options.model.history_length);
    report.examples = static_cast<int64_t>(examples.size());
    if (examples.size() < 2) {
        return Status::invalid_argument(fmt::format(
            "{}: {} purchases before the last {} test and {} validation weeks; the two-tower "
            "model needs at least 2. Ingest more transactions{}.",
            store_dir.string(),
            examples.size(),
            options.test_weeks,
            options.validation_weeks,
            options.weeks_option.empty() ? "" : " or lower " + options.weeks_option));
    }

    // Vocabularies from the store; id rows for articles bought often enough to learn one.
    std::vector<int64_t> counts(articles.size(), 0);
    for (const Example& e : examples) {
        ++counts[e.article];
    }
    std::vector<int64_t> id_slots;
    TwoTowerConfig config = store_config(*store, options, counts, &id_slots);
    torch::Tensor content;
    if (options.use_content) {
        LOOKBOOK_ASSIGN_OR_RETURN(content, article_content(*store));
    }
    report.has_content = content.defined();
    config.content_dim = report.has_content ? content.size(1) : 0;
    // Saved with the model: `lookbook build` retrains it when the store's content changes.
    const std::string fingerprint = content_fingerprint(content, articles.size());
    if (!report.has_content) {
        content = torch::zeros({static_cast<int64_t>(articles.size()), 0});
        log::info(
            "two-tower: the store has no content vectors (run `lookbook embed`); the "
            "article tower uses attributes and ids only");
    }

    // log q: the share of training purchases of each article, the in-batch sampling probability.
    // Articles never bought never appear in a batch, so their value is never read.
    std::vector<float> log_q(articles.size(), 0.0f);
    for (uint32_t article = 0; article < articles.size(); ++article) {
        if (counts[article] > 0) {
            log_q[article] = static_cast<float>(
                std::log(static_cast<double>(counts[article]) / examples.size()));
        }
    }
    std::vector<ValidationCase> validation =
        validation_cases(*store, config, report.train_end_day, report.test_start_day, options.seed);
    report.validation_customers = static_cast<int64_t>(validation.size());

    auto net = std::make_shared<TwoTowerNet>(config);
    net->set_articles(article_codes(articles, config), torch::tensor(id_slots), content);
    torch::optim::AdamW optimizer(
        net->parameters(),
        torch::optim::AdamWOptions(options.learning_rate).weight_decay(options.weight_decay));
    log::info(
        "two-tower: {} training purchases, {} articles ({} with an id row), {} "
        "validation customers, content vectors {}",
        examples.size(),
        articles.size(),
        config.id_slots - 1,
        validation.size(),
        report.has_content ? "yes" : "no");

    // Epochs with early stopping; the best epoch's parameters are kept in `best`.
    const auto batch_size = static_cast<size_t>(options.batch_size);
    const size_t steps_per_epoch = std::max<size_t>(1, examples.size() / batch_size);
    const double budget = options.max_minutes * 60;
    const auto train_start = Clock::now();
    std::vector<torch::Tensor> best;
    ValidationScore best_score;
    int stale = 0;
    std::vector<size_t> order(examples.size());
    const StepInputs step_inputs{*store, config, *net, optimizer, log_q};
    // Counted in purchases, not batches: Progress reads the clock every 1024 counts, which would
    // be minutes apart in batches on a large store. The total assumes every epoch runs.
    Progress progress(
        "two-tower training", steps_per_epoch * batch_size * options.max_epochs, "purchases");
    for (int epoch = 1; epoch <= options.max_epochs; ++epoch) {
        std::iota(order.begin(), order.end(), 0);
        std::mt19937_64 rng(options.seed * 7919 + epoch);
        std::shuffle(order.begin(), order.end(), rng);
        double loss_sum = 0;
        size_t steps = 0;
        for (size_t step = 0; step < steps_per_epoch && seconds_since(train_start) < budget;
             ++step) {
            const size_t first = step * batch_size;
            const size_t last = std::min(examples.size(), first + batch_size);
            loss_sum += train_step(
                step_inputs, examples, std::span<const size_t>(order).subspan(first, last - first));
            ++steps;
            progress.add(last - first);
        }
        if (steps == 0) {
            break;
        }
        report.epochs = epoch;
        report.last_loss = loss_sum / steps;
        if (epoch == 1) {
            report.first_loss = report.last_loss;
        }

        // Keep the epoch when validation recall improves (every epoch without validation data).
        const ValidationScore score =
            validation.empty() ? ValidationScore{0, 0} : validation_score(*net, validation);
        log::info("two-tower: epoch {}: loss {:.4f}, validation recall@12 {:.4f} (@100 {:.4f})",
                  epoch,
                  report.last_loss,
                  score.recall_12,
                  score.recall_100);
        if (validation.empty() || score.better_than(best_score)) {
            best_score = score;
            report.best_validation_recall = score.recall_12;
            report.best_epoch = epoch;
            best.clear();
            for (const torch::Tensor& p : net->parameters()) {
                best.push_back(p.detach().clone());
            }
            stale = 0;
        } else if (++stale >= options.patience) {
            log::info("two-tower: no better validation recall for {} epochs; stopping",
                      options.patience);
            break;
        }
        if (seconds_since(train_start) >= budget) {
            log::warn(
                "two-tower: the {:.1f}-minute budget ran out after epoch {}; keeping the "
                "best epoch so far",
                options.max_minutes,
                epoch);
            break;
        }
    }
    progress.finish();
    report.train_seconds = seconds_since(train_start);
    {
        torch::NoGradGuard no_grad;
        std::vector<torch::Tensor> params = net->parameters();
        for (size_t i = 0; i < best.size(); ++i) {
            params[i].copy_(best[i]);
        }
    }
    // TODO: the kept model never sees the validation weeks' purchases (only as history at
    // serving time); refitting on them for best_epoch epochs would add the freshest week at the
    // cost of a second training run.

    if (options.save) {
        report.output = options.output.empty() ? default_two_tower_dir(store_dir) : options.output;
        nlohmann::json info = {{"generation", store->generation()},
                               {"articles", articles.size()},
                               {"examples", report.examples},
                               {"train_end_day", report.train_end_day},
                               {"test_start_day", report.test_start_day},
                               {"best_epoch", report.best_epoch},
                               {"best_validation_recall_at_12", report.best_validation_recall},
                               {"seed", options.seed},
                               {"content_fingerprint", fingerprint}};
        LOOKBOOK_RETURN_IF_ERROR(save_two_tower(report.output, *net, info));
    }
    report.seconds = seconds_since(start);
    report.peak_rss_bytes = peak_rss_bytes();
    log::info("two-tower: kept epoch {} of {} (validation recall@12 {:.4f}) after {:.1f} s{}",
              report.best_epoch,
              report.epochs,
              report.best_validation_recall,
              report.train_seconds,
              report.output.empty() ? "" : "; saved to " + report.output.string());
    return report;
}

TwoTowerSource::TwoTowerSource(const Store& store, std::shared_ptr<TwoTowerNet> net)
    : store_(store), net_(std::move(net)), dim_(net_->config().dim) {
    // Every article's features and vector once; queries only run the customer tower.
    torch::NoGradGuard no_grad;
    features_ =
        net_->article_features(torch::arange(net_->article_count(), torch::kInt64)).contiguous();
    torch::Tensor vectors = net_->article_tower(features_).contiguous();
    article_vectors_.assign(vectors.data_ptr<float>(), vectors.data_ptr<float>() + vectors.numel());
    search_ = std::make_unique<RowSearch>(article_vectors_, static_cast<size_t>(dim_));

    // The customer tower's weights, copied out once for query().
    for (const auto& [name, value] : net_->state()) {
        torch::Tensor t = value.contiguous();
        if (t.scalar_type() != torch::kFloat32) {
            continue;  // the id slots
        }
        std::vector<float> copy(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
        if (name == "age.weight") {
            tower_.age = std::move(copy);
        } else if (name == "club_status.weight") {
            tower_.club = std::move(copy);
        } else if (name == "news_frequency.weight") {
            tower_.news = std::move(copy);
        } else if (name == "postal_code.weight") {
            tower_.postal = std::move(copy);
        } else if (name == "customer_mlp.0.weight") {
            tower_.hidden = t.size(0);
            tower_.in = t.size(1);
            tower_.hidden_weight = std::move(copy);
        } else if (name == "customer_mlp.0.bias") {
            tower_.hidden_bias = std::move(copy);
        } else if (name == "customer_mlp.2.weight") {
            tower_.out_weight = std::move(copy);
        } else if (name == "customer_mlp.2.bias") {
            tower_.out_bias = std::move(copy);
        }
    }
    const TwoTowerConfig& c = net_->config();
    LOOKBOOK_ASSERT(tower_.in == 3 * c.category_dim + c.postal_dim + c.feature_dim() + 1 &&
                        static_cast<int64_t>(tower_.out_bias.size()) == dim_,
                    "the customer tower's layers are the ones TwoTowerNet registers");
}

// The store, not the model folder, provides the article inputs, so the source follows the
// catalog: new articles get vectors from their attributes and content at once.
Result<std::unique_ptr<TwoTowerSource>> TwoTowerSource::open(const Store& store,
                                                             const fs::path& dir) {
    LOOKBOOK_ASSIGN_OR_RETURN(LoadedTwoTower loaded, load_two_tower(dir));
    const TwoTowerConfig& config = loaded.net->config();
    const int64_t count = store.articles().size();

    // Id rows as trained; articles added since share the unknown row 0. A smaller catalog means
    // a different store (a full re-ingest may renumber articles), so the id rows may be wrong.
    const int64_t trained_articles = loaded.info.value("articles", int64_t{0});
    if (trained_articles > count) {
        log::warn(
            "two-tower: {} was trained on {} articles, the store has {}; retrain it with "
            "`lookbook train STORE`",
            dir.string(),
            trained_articles,
            count);
    }
    torch::Tensor id_slots = torch::zeros({count}, torch::kInt64);
    const int64_t trained = std::min<int64_t>(count, loaded.id_slots.size(0));
    id_slots.slice(0, 0, trained).copy_(loaded.id_slots.slice(0, 0, trained));

    torch::Tensor content = torch::zeros({count, config.content_dim});
    if (config.content_dim > 0) {
        LOOKBOOK_ASSIGN_OR_RETURN(torch::Tensor stored, article_content(store));
        if (!stored.defined()) {
            log::warn(
                "two-tower: the model was trained with content vectors but the store has "
                "none; using zeros (run `lookbook embed` for better candidates)");
        } else if (stored.size(1) != config.content_dim) {
            return Status::invalid_data(fmt::format(
                "{}: the model was trained on content vectors of length {}, the store's "
                "embeddings give {}; retrain the model after `lookbook embed`.",
                dir.string(),
                config.content_dim,
                stored.size(1)));
        } else {
            content = stored;
        }
    }
    loaded.net->set_articles(article_codes(store.articles(), config), id_slots, content);
    loaded.net->eval();
    return std::make_unique<TwoTowerSource>(store, loaded.net);
}

std::vector<float> TwoTowerSource::query(const CustomerContext& context) const {
    const TwoTowerConfig& c = net_->config();
    CustomerFeatures f =
        customer_features(store_, c, context.customer, context.today, context.history);

    // The tower's input, in TwoTowerNet::customer_tower's order: age, club, news, postal
    // embeddings, the weighted mean of the history's article features, log1p(history length).
    std::vector<float> x(static_cast<size_t>(tower_.in), 0.0f);
    float* at = x.data();
    auto append = [&at](const std::vector<float>& table, int64_t row, int64_t width) {
        const float* from = table.data() + row * width;
        at = std::copy(from, from + width, at);
    };
    append(tower_.age, f.age, c.category_dim);
    append(tower_.club, f.club, c.category_dim);
    append(tower_.news, f.news, c.category_dim);
    append(tower_.postal, f.postal, c.postal_dim);
    const int64_t width = c.feature_dim();
    const float* features = features_.data_ptr<float>();
    for (size_t i = 0; i < f.history.size(); ++i) {
        const float* row = features + f.history[i] * width;
        for (int64_t d = 0; d < width; ++d) {
            at[d] += f.weights[i] * row[d];
        }
    }
    at[width] = std::log1p(static_cast<float>(f.history.size()));

    // Linear, ReLU, Linear, then unit length (F::normalize: divided by max(norm, 1e-12)).
    std::vector<float> hidden(static_cast<size_t>(tower_.hidden));
    for (int64_t h = 0; h < tower_.hidden; ++h) {
        const float sum =
            tower_.hidden_bias[h] +
            lookbook::dot(tower_.hidden_weight.data() + h * tower_.in, x.data(), tower_.in);
        hidden[h] = std::max(0.0f, sum);
    }
    std::vector<float> q(static_cast<size_t>(dim_));
    double norm = 0;
    for (int64_t d = 0; d < dim_; ++d) {
        q[d] = tower_.out_bias[d] + lookbook::dot(tower_.out_weight.data() + d * tower_.hidden,
                                                  hidden.data(),
                                                  tower_.hidden);
        norm += static_cast<double>(q[d]) * q[d];
    }
    const auto scale = static_cast<float>(1.0 / std::max(std::sqrt(norm), 1e-12));
    for (float& value : q) {
        value *= scale;
    }
    return q;
}

std::vector<float> TwoTowerSource::query_with_torch(const CustomerContext& context) const {
    torch::NoGradGuard no_grad;
    CustomerFeatures f =
        customer_features(store_, net_->config(), context.customer, context.today, context.history);
    CustomerBatch batch = customer_batch(std::span<const CustomerFeatures>(&f, 1), net_->config());
    torch::Tensor history = features_.index_select(0, batch.history.flatten());
    torch::Tensor q = net_->customer_tower(batch, history).contiguous();  // [1, dim]
    return std::vector<float>(q.data_ptr<float>(), q.data_ptr<float>() + dim_);
}

std::vector<float> TwoTowerSource::scores(const std::vector<float>& query) const {
    std::vector<float> out(article_vectors_.size() / dim_);
    lookbook::dot_rows(
        article_vectors_.data(), out.size(), static_cast<size_t>(dim_), query.data(), out.data());
    return out;
}

std::vector<Candidate> TwoTowerSource::ranked(const CustomerContext& context, size_t k) const {
    // Dot products can be negative, so those are kept. Ties go to the lower article row.
    const auto best = search_->top(query(context).data(), k, {}, /*positive_only=*/false);
    std::vector<Candidate> out;
    out.reserve(best.size());
    for (const auto& [article, score] : best) {
        out.push_back(Candidate{.article = article, .score = score});
    }
    return out;
}

void TwoTowerSource::explain(const CustomerContext& context, Candidate* candidate) const {
    const ArticleTable& articles = store_.articles();
    const float* v = article_vectors_.data() + static_cast<size_t>(candidate->article) * dim_;
    float best = -2;
    const Interaction* because = nullptr;
    for (const Interaction& event : context.history) {
        if (event.day > context.today || event.article >= articles.size()) {
            continue;
        }
        const float* h = article_vectors_.data() + static_cast<size_t>(event.article) * dim_;
        const float sim = lookbook::dot(v, h, dim_);
        if (sim > best) {
            best = sim;
            because = &event;
        }
    }
    if (because == nullptr) {
        candidate->because_of = kNoRow;
        candidate->reason = "customers like you bought this";
        return;
    }
    candidate->because_of = because->article;
    const bool viewed = because->kind == Interaction::Kind::kView;
    const std::optional<std::string> name = ArticleNamer(&articles)(because->article);
    if (!name) {
        // Never a bare id: the shopper cannot tell what "0841434001" was.
        candidate->reason =
            viewed ? "because of an article you viewed" : "because of a past purchase";
        return;
    }
    candidate->reason = fmt::format("because you {} {}", viewed ? "viewed" : "bought", *name);
}

}  // namespace lookbook::models
