#include "lookbook/models/two_tower.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "lookbook/data/ingest.hpp"
#include "lookbook/store/column_file.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/util/file.hpp"

namespace lookbook::models {
namespace {
namespace fs = std::filesystem;

TEST(SampledSoftmaxLoss, MatchesHandComputedValueWithLogQCorrection) {
    // Queries q0 = (1, 0), q1 = (0, 1); items i0 = (1, 0), i1 = (0.6, 0.8); temperature 0.5;
    // sampling probabilities q(i0) = 0.5, q(i1) = 0.25, so -log q = (0.6931, 1.3863).
    // Row 0 logits: 1/0.5 + 0.6931 = 2.6931 and 0.6/0.5 + 1.3863 = 2.5863;
    //   loss0 = ln(e^2.6931 + e^2.5863) - 2.6931 = ln(14.7781 + 13.2805) - 2.6931 = 0.6411.
    // Row 1 logits: 0 + 0.6931 = 0.6931 and 0.8/0.5 + 1.3863 = 2.9863;
    //   loss1 = ln(2 + 19.8121) - 2.9863 = 0.0962.
    // Mean (0.6411 + 0.0962) / 2 = 0.3687. Without the correction it would be 0.2775.
    torch::Tensor queries = torch::tensor({1.0f, 0.0f, 0.0f, 1.0f}).view({2, 2});
    torch::Tensor items = torch::tensor({1.0f, 0.0f, 0.6f, 0.8f}).view({2, 2});
    torch::Tensor log_q = torch::tensor({std::log(0.5f), std::log(0.25f)});
    torch::Tensor ids = torch::tensor({3, 9}, torch::kInt64);
    const float loss = sampled_softmax_loss(queries, items, log_q, ids, 0.5).item<float>();
    EXPECT_NEAR(loss, 0.3687, 1e-4);
    const float plain =
        sampled_softmax_loss(queries, items, torch::zeros({2}), ids, 0.5).item<float>();
    EXPECT_NEAR(plain, 0.2775, 1e-4);
}

TEST(SampledSoftmaxLoss, SameArticleInAnotherRowIsNotANegative) {
    // Both rows hold article 7: each row's only other logit is masked, so each loss is
    // -log(1) = 0 whatever the vectors.
    torch::Tensor queries = torch::tensor({1.0f, 0.0f, 0.0f, 1.0f}).view({2, 2});
    torch::Tensor items = torch::tensor({0.0f, 1.0f, 1.0f, 0.0f}).view({2, 2});
    torch::Tensor ids = torch::tensor({7, 7}, torch::kInt64);
    EXPECT_NEAR(
        sampled_softmax_loss(queries, items, torch::zeros({2}), ids, 0.1).item<float>(), 0, 1e-6);
}

TEST(TwoTowerFeatures, AgeBucketsAndUnknownAge) {
    EXPECT_EQ(age_bucket(std::nanf("")), 0);
    EXPECT_EQ(age_bucket(16), 1);
    EXPECT_EQ(age_bucket(20), 2);
    EXPECT_EQ(age_bucket(34.9f), 4);
    EXPECT_EQ(age_bucket(90), kAgeBuckets - 1);
}

// Group A: young customers of postal code "pa" buying red dresses (articles 1..30); group B:
// older customers of "pb" buying blue trousers (articles 31..60). Customers "newa" and "newb"
// have demographics but no purchases.
class TwoTowerStoreTest : public ::testing::Test {
  protected:
    static constexpr int kPerGroup = 30;
    static constexpr int kCustomersPerGroup = 20;

    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               fmt::format("lookbook_two_tower_{}_{}",
                           ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                           ::getpid());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        std::string articles =
            "article_id,product_code,prod_name,product_type_name,product_group_name,"
            "colour_group_name,department_name,section_name,garment_group_name\n";
        for (int i = 1; i <= 2 * kPerGroup; ++i) {
            const bool a = i <= kPerGroup;
            articles += fmt::format("{:010d},{},{} {},{},{},{},{},{},{}\n",
                                    i,
                                    i,
                                    a ? "Dress" : "Trousers",
                                    i,
                                    a ? "Dress" : "Trousers",
                                    a ? "Garment Full body" : "Garment Lower body",
                                    a ? "Red" : "Blue",
                                    a ? "Dresses" : "Trouser",
                                    a ? "Womens" : "Mens",
                                    a ? "Dressed" : "Trousers");
        }
        std::string customers =
            "customer_id,FN,Active,club_member_status,fashion_news_frequency,age,postal_code\n";
        std::string transactions = "t_dat,customer_id,article_id,price,sales_channel_id\n";
        for (int c = 0; c < 2 * kCustomersPerGroup; ++c) {
            const bool a = c < kCustomersPerGroup;
            customers += fmt::format("c{},,,{},NONE,{},{}\n",
                                     c,
                                     a ? "ACTIVE" : "PRE-CREATE",
                                     a ? 22 : 62,
                                     a ? "pa" : "pb");
            // Eight purchases over eight weeks, each from the customer's own group.
            for (int j = 0; j < 8; ++j) {
                const int article = (a ? 1 : 1 + kPerGroup) + (c * 7 + j * 3) % kPerGroup;
                transactions +=
                    fmt::format("2020-01-{:02d},c{},{:010d},0.02,2\n", 1 + j * 4, c, article);
            }
        }
        customers += "newa,,,ACTIVE,NONE,23,pa\n";
        customers += "newb,,,PRE-CREATE,NONE,63,pb\n";

        IngestOptions options;
        options.articles = write("articles.csv", articles);
        options.customers = write("customers.csv", customers);
        options.transactions = write("transactions.csv", transactions);
        options.store = dir_ / "store";
        auto report = ingest(options);
        ASSERT_TRUE(report.is_ok()) << report.status().to_string();
        auto store = Store::open(options.store);
        ASSERT_TRUE(store.is_ok()) << store.status().to_string();
        store_ = std::move(store).value();
    }
    void TearDown() override { fs::remove_all(dir_); }

    fs::path write(const std::string& name, const std::string& text) {
        fs::path path = dir_ / name;
        std::ofstream(path, std::ios::binary) << text;
        return path;
    }

    // Small sizes so training takes a second.
    static TwoTowerConfig small_config() {
        TwoTowerConfig config;
        config.dim = 16;
        config.hidden = 32;
        config.category_dim = 8;
        config.id_dim = 8;
        config.postal_buckets = 64;
        config.postal_dim = 8;
        return config;
    }

    // The untrained network sized for the store, article inputs set.
    std::shared_ptr<TwoTowerNet> random_net() {
        TwoTowerConfig config = small_config();
        for (size_t i = 0; i < kTowerAttributes.size(); ++i) {
            config.attribute_sizes[i] = static_cast<int64_t>(
                store_->articles().attribute(kTowerAttributes[i]).cardinality());
        }
        config.club_size = static_cast<int64_t>(store_->customers().club_status().cardinality());
        config.news_size = static_cast<int64_t>(store_->customers().news_frequency().cardinality());
        config.id_slots = 3;
        torch::manual_seed(5);
        auto net = std::make_shared<TwoTowerNet>(config);
        const int64_t count = store_->articles().size();
        net->set_articles(article_codes(store_->articles(), config),
                          torch::arange(count, torch::kInt64) % 3,
                          torch::zeros({count, 0}));
        return net;
    }

    uint32_t customer(const std::string& id) const { return *store_->customers().find(id); }

    // The customer's purchases in the store as a history.
    std::vector<Interaction> history_of(uint32_t row) const {
        const TransactionTable& t = store_->transactions();
        std::vector<Interaction> out;
        for (uint64_t r = t.customer_offsets()[row]; r < t.customer_offsets()[row + 1]; ++r) {
            out.push_back({t.article()[r], t.date()[r], Interaction::Kind::kPurchase});
        }
        return out;
    }

    // How many of the listed articles are in group A (ids 1..kPerGroup).
    int count_group_a(const std::vector<Candidate>& list) const {
        int in_a = 0;
        for (const Candidate& c : list) {
            in_a += std::stoi(std::string(store_->articles().id(c.article))) <= kPerGroup ? 1 : 0;
        }
        return in_a;
    }

    fs::path dir_;
    std::unique_ptr<Store> store_;
};

TEST_F(TwoTowerStoreTest, CustomerWithoutHistoryIsServedFromDemographics) {
    auto net = random_net();
    torch::NoGradGuard no_grad;
    const TwoTowerConfig& config = net->config();
    const int32_t today = 18300;
    std::vector<CustomerFeatures> rows = {
        customer_features(*store_, config, customer("newa"), today, {}),
        customer_features(*store_, config, customer("newb"), today, {}),
        customer_features(*store_, config, kNoRow, today, {})};
    EXPECT_TRUE(rows[0].history.empty());
    torch::Tensor out = net->customers(customer_batch(rows, config));  // [3, dim]
    ASSERT_EQ(out.size(0), 3);
    EXPECT_TRUE(torch::isfinite(out).all().item<bool>());
    // Unit length, and different demographics give different vectors.
    EXPECT_NEAR(out[0].norm().item<float>(), 1.0f, 1e-5);
    EXPECT_GT((out[0] - out[1]).abs().max().item<float>(), 1e-3);
    EXPECT_GT((out[0] - out[2]).abs().max().item<float>(), 1e-3);
}

TEST_F(TwoTowerStoreTest, HistoryWeightsFavourRecentPurchases) {
    TwoTowerConfig config = small_config();
    config.half_life_days = 10;
    std::vector<Interaction> history = {{1, 100, Interaction::Kind::kPurchase},
                                        {2, 110, Interaction::Kind::kPurchase},
                                        {3, 130, Interaction::Kind::kPurchase}};
    // Day 120: the purchase on day 130 is in the future and ignored; weights 2^-2 and 2^-1,
    // normalised: 1/3 and 2/3.
    CustomerFeatures f = customer_features(*store_, config, kNoRow, 120, history);
    ASSERT_EQ(f.history, (std::vector<int64_t>{1, 2}));
    EXPECT_NEAR(f.weights[0], 1.0 / 3, 1e-6);
    EXPECT_NEAR(f.weights[1], 2.0 / 3, 1e-6);
}

TEST_F(TwoTowerStoreTest, SaveAndLoadGiveIdenticalScores) {
    auto net = random_net();
    TwoTowerSource in_memory(*store_, net);
    const fs::path model_dir = dir_ / "model";
    ASSERT_TRUE(save_two_tower(model_dir, *net, {{"note", "test"}}).is_ok());
    auto loaded = TwoTowerSource::open(*store_, model_dir);
    ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();

    const uint32_t row = customer("c3");
    std::vector<Interaction> history = history_of(row);
    CustomerContext context{.customer = row, .today = 18400, .history = history};
    EXPECT_EQ(in_memory.article_vectors(), (*loaded)->article_vectors());
    EXPECT_EQ(in_memory.scores(in_memory.query(context)),
              (*loaded)->scores((*loaded)->query(context)));
}

// Issue 7: query() runs the customer tower with plain loops; it must give libtorch's vector.
TEST_F(TwoTowerStoreTest, PlainQueryMatchesTheTorchForward) {
    TwoTowerSource source(*store_, random_net());
    std::vector<Interaction> views = {{3, 18299, Interaction::Kind::kView},
                                      {40, 18300, Interaction::Kind::kPurchase}};
    std::vector<CustomerContext> contexts;
    std::vector<std::vector<Interaction>> histories;
    for (uint32_t row = 0; row < 8; ++row) {
        histories.push_back(history_of(row));
    }
    for (uint32_t row = 0; row < 8; ++row) {
        contexts.push_back({.customer = row, .today = 18300, .history = histories[row]});
    }
    contexts.push_back({.customer = customer("newb"), .today = 18300});
    contexts.push_back({.customer = kNoRow, .today = 18300, .history = views});
    for (const CustomerContext& context : contexts) {
        std::vector<float> plain = source.query(context);
        std::vector<float> torch_query = source.query_with_torch(context);
        ASSERT_EQ(plain.size(), torch_query.size());
        for (size_t d = 0; d < plain.size(); ++d) {
            EXPECT_NEAR(plain[d], torch_query[d], 1e-5) << "customer " << context.customer;
        }
    }
}

// The bounded heap of ranked() against a full sort of every article's score.
TEST_F(TwoTowerStoreTest, RankedListIsTheTopOfAFullSort) {
    TwoTowerSource source(*store_, random_net());
    const uint32_t row = customer("c25");
    std::vector<Interaction> history = history_of(row);
    CustomerContext context{.customer = row, .today = 18300, .history = history};
    std::vector<float> scores = source.scores(source.query(context));
    std::vector<uint32_t> order(scores.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(
        order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return scores[a] > scores[b]; });
    for (size_t k : {size_t{1}, size_t{7}, size_t{60}, size_t{500}}) {
        std::vector<Candidate> list = source.ranked(context, k);
        ASSERT_EQ(list.size(), std::min(k, scores.size()));
        for (size_t pos = 0; pos < list.size(); ++pos) {
            EXPECT_EQ(list[pos].article, order[pos]) << "k " << k << " pos " << pos;
            EXPECT_EQ(list[pos].score, scores[order[pos]]);
            EXPECT_TRUE(list[pos].reason.empty());
        }
    }
    // explain() then gives what candidates() gives.
    std::vector<Candidate> explained = source.ranked(context, 10);
    std::vector<Candidate> full = source.candidates(context, 10);
    for (size_t pos = 0; pos < explained.size(); ++pos) {
        source.explain(context, &explained[pos]);
        EXPECT_EQ(explained[pos].reason, full[pos].reason);
        EXPECT_EQ(explained[pos].because_of, full[pos].because_of);
        EXPECT_FALSE(full[pos].reason.empty());
    }
}

TEST_F(TwoTowerStoreTest, LiveEventChangesTheQueryAtOnce) {
    TwoTowerSource source(*store_, random_net());
    const uint32_t row = customer("newa");
    CustomerContext before{.customer = row, .today = 18300};
    // A view recorded a moment ago: no retraining, the next query already uses it.
    std::vector<Interaction> live = {{3, 18300, Interaction::Kind::kView}};
    CustomerContext after{.customer = row, .today = 18300, .history = live};
    EXPECT_NE(source.query(before), source.query(after));
    std::vector<Candidate> list = source.candidates(after, 3);
    ASSERT_EQ(list.size(), 3u);
    EXPECT_EQ(list[0].because_of, 3u);
    EXPECT_EQ(list[0].reason, "because you viewed " + std::string(store_->articles().name(3)));
}

// Found by a fresh-user trial: "because you bought 0841434001" named an article missing from
// the articles file by its bare id, which tells a shopper nothing.
TEST_F(TwoTowerStoreTest, ReasonNeverShowsABareArticleId) {
    // An article missing from the articles file, as most of the H&M sample's are.
    const std::string sale =
        "t_dat,customer_id,article_id,price,sales_channel_id\n"
        "2020-02-01,c0,0841434001,0.02,2\n";
    ASSERT_TRUE(
        ingest({.transactions = write("stub.csv", sale), .store = dir_ / "store", .append = true})
            .is_ok());
    auto store = Store::open(dir_ / "store");
    ASSERT_TRUE(store.is_ok());
    store_ = std::move(store).value();
    const uint32_t stub = *store_->articles().find("0841434001");
    ASSERT_FALSE(store_->articles().has_metadata(stub));

    TwoTowerSource source(*store_, random_net());
    const uint32_t row = customer("newa");
    for (auto kind : {Interaction::Kind::kPurchase, Interaction::Kind::kView}) {
        std::vector<Interaction> history = {{stub, 18300, kind}};
        CustomerContext context{.customer = row, .today = 18300, .history = history};
        std::vector<Candidate> list = source.candidates(context, 3);
        ASSERT_FALSE(list.empty());
        // The article stays known to callers; the sentence does not show its id.
        EXPECT_EQ(list[0].because_of, stub);
        EXPECT_EQ(list[0].reason,
                  kind == Interaction::Kind::kView ? "because of an article you viewed"
                                                   : "because of a past purchase");
    }
}

TEST_F(TwoTowerStoreTest, ConcurrentQueriesMatchSequentialOnes) {
    TwoTowerSource source(*store_, random_net());
    std::vector<std::vector<Interaction>> histories;
    for (uint32_t row = 0; row < 8; ++row) {
        histories.push_back(history_of(row));
    }
    auto run = [&](uint32_t row) {
        return source.candidates({.customer = row, .today = 18300, .history = histories[row]}, 10);
    };
    std::vector<std::vector<Candidate>> expected, got(histories.size());
    for (uint32_t row = 0; row < histories.size(); ++row) {
        expected.push_back(run(row));
    }
    std::vector<std::thread> threads;
    for (uint32_t row = 0; row < histories.size(); ++row) {
        threads.emplace_back([&, row] { got[row] = run(row); });
    }
    for (std::thread& t : threads) {
        t.join();
    }
    for (uint32_t row = 0; row < histories.size(); ++row) {
        ASSERT_EQ(got[row].size(), expected[row].size());
        for (size_t i = 0; i < got[row].size(); ++i) {
            EXPECT_EQ(got[row][i].article, expected[row][i].article);
            EXPECT_EQ(got[row][i].score, expected[row][i].score);
        }
    }
}

TEST_F(TwoTowerStoreTest, OpenWithoutModelSaysToTrain) {
    auto loaded = TwoTowerSource::open(*store_, dir_ / "none");
    EXPECT_EQ(loaded.status().code(), StatusCode::kNotFound);
    EXPECT_EQ(loaded.status().message(),
              (dir_ / "none" / "config.json").string() +
                  ": no two-tower model here; train one with `lookbook train STORE`.");
}

TEST_F(TwoTowerStoreTest, RejectsBadOptions) {
    TwoTowerOptions options;
    options.batch_size = 1;
    auto report = train_two_tower(dir_ / "store", options);
    EXPECT_EQ(report.status().message(),
              "two-tower options: test weeks 0, validation weeks 1, epochs 30, patience 3, "
              "minutes 10, batch 1, learning rate 0.003, id min count 2; expected weeks >= 0, "
              "epochs, patience, id min count >= 1, batch >= 2 and positive time and rate.");
}

// Found by a fresh-user trial: `lookbook train` advised "lower --test-weeks", an option train
// does not have. The advice names the running command's option, or none.
TEST_F(TwoTowerStoreTest, SplitWithoutTrainingPurchasesSaysWhatToChange) {
    TwoTowerOptions options;
    options.test_weeks = 10;  // the data spans four weeks
    options.weeks_option = "--validation-weeks";
    auto report = train_two_tower(dir_ / "store", options);
    EXPECT_EQ(report.status().code(), StatusCode::kInvalidArgument);
    const std::string start = (dir_ / "store").string() +
                              ": 0 purchases before the last 10 test and 1 validation weeks; the "
                              "two-tower model needs at least 2. Ingest more transactions";
    EXPECT_EQ(report.status().message(), start + " or lower --validation-weeks.");
    options.weeks_option = "";
    EXPECT_EQ(train_two_tower(dir_ / "store", options).status().message(), start + ".");
}

TEST_F(TwoTowerStoreTest, LoadNamesTheTensorThatDoesNotFitTheConfig) {
    auto net = random_net();
    const fs::path model_dir = dir_ / "model";
    ASSERT_TRUE(save_two_tower(model_dir, *net, {}).is_ok());
    // Hand-edit the output size: the saved weights no longer fit.
    auto text = read_file(model_dir / "config.json");
    ASSERT_TRUE(text.is_ok());
    nlohmann::json json = nlohmann::json::parse(*text);
    json["config"]["dim"] = 8;
    write(model_dir.lexically_relative(dir_) / "config.json", json.dump());
    auto loaded = load_two_tower(model_dir);
    EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidData);
    EXPECT_EQ(loaded.status().message(),
              (model_dir / "model.safetensors").string() +
                  ": tensor \"article_mlp.2.weight\" is [16, 32]; the config asks for F32 "
                  "[8, 32]. Retrain the model.");

    json["config"].erase("temperature");
    write(model_dir.lexically_relative(dir_) / "config.json", json.dump());
    EXPECT_EQ(load_two_tower(model_dir).status().message(),
              (model_dir / "config.json").string() + ": key \"temperature\" is missing");
}

// Commits an "embeddings" file where group A articles point one way and group B another, with
// `dim` values per image and per text vector (each `value`), and reopens the store.
void add_embeddings(const fs::path& store_dir,
                    std::unique_ptr<Store>* store,
                    int dim,
                    float value = 1.0f) {
    const size_t n = (*store)->articles().size();
    std::vector<float> image(n * dim, 0.0f), text(n * dim, 0.0f);
    for (size_t row = 0; row < n; ++row) {
        const bool a = std::stoi(std::string((*store)->articles().id(row))) <= 30;
        image[row * dim + (a ? 0 : 1)] = value;
        text[row * dim + (a ? 1 : 0)] = value;
    }
    ColumnFileWriter writer;
    writer.add("image", std::move(image));
    writer.add("text", std::move(text));
    writer.add("has_image", std::vector<uint8_t>(n, 1));
    writer.add("has_text", std::vector<uint8_t>(n, 1));
    auto generation = Store::commit(store_dir, {{"embeddings", &writer}}, true, "");
    ASSERT_TRUE(generation.is_ok()) << generation.status().to_string();
    auto reopened = Store::open(store_dir);
    ASSERT_TRUE(reopened.is_ok());
    *store = std::move(reopened).value();
}

TEST_F(TwoTowerStoreTest, ContentVectorsFeedTheArticleTowerWhenPresent) {
    add_embeddings(dir_ / "store", &store_, 4);
    TwoTowerOptions options;
    options.model = small_config();
    options.max_epochs = 2;
    options.threads = 1;
    options.output = dir_ / "model";
    auto report = train_two_tower(dir_ / "store", options);
    ASSERT_TRUE(report.is_ok()) << report.status().to_string();
    EXPECT_TRUE(report->has_content);
    auto loaded = load_two_tower(dir_ / "model");
    ASSERT_TRUE(loaded.is_ok());
    EXPECT_EQ(loaded->net->config().content_dim, 8);  // image then text

    // Embeddings of another length (a new `lookbook embed` model) need a retrained model.
    add_embeddings(dir_ / "store", &store_, 3);
    auto source = TwoTowerSource::open(*store_, dir_ / "model");
    EXPECT_EQ(source.status().code(), StatusCode::kInvalidData);
    EXPECT_EQ(source.status().message(),
              (dir_ / "model").string() +
                  ": the model was trained on content vectors of length 8, the store's "
                  "embeddings give 6; retrain the model after `lookbook embed`.");
}

TEST(ContentFingerprint, IsTheCrcOfTheTrainedRowsAndTheirShape) {
    EXPECT_EQ(content_fingerprint(torch::Tensor(), 5), "none");
    // Two rows of (1, 0): the CRC-32C of the 16 bytes 00 00 80 3f 00 00 00 00 (twice), checked
    // against the byte-wise definition below; a third row added later does not count.
    torch::Tensor content = torch::tensor({1.0f, 0.0f, 1.0f, 0.0f, 7.0f, 7.0f}).view({3, 2});
    const unsigned char bytes[16] = {0, 0, 0x80, 0x3f, 0, 0, 0, 0, 0, 0, 0x80, 0x3f, 0, 0, 0, 0};
    uint32_t crc = 0xffffffffu;
    for (unsigned char byte : bytes) {
        crc ^= byte;
        for (int bit = 0; bit < 8; ++bit) {
            crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
        }
    }
    EXPECT_EQ(content_fingerprint(content, 2), fmt::format("crc32c:{:08x}/2x2", ~crc));
    EXPECT_NE(content_fingerprint(content, 3), content_fingerprint(content, 2));
    // More rows asked for than the tensor has: the shape says how many there were.
    EXPECT_EQ(content_fingerprint(content, 9).substr(15), "/3x2");
}

// Found by a review: after a new `embed`, `lookbook build` kept a two-tower model trained on the
// old content vectors ("personal up to date"), which serving then refused.
TEST_F(TwoTowerStoreTest, ContentChangesMakeTheSavedModelStale) {
    const fs::path model = dir_ / "model";
    auto current = [&] {
        auto result = two_tower_content_current(*store_, model);
        EXPECT_TRUE(result.is_ok()) << result.status().to_string();
        return result.is_ok() && *result;
    };
    EXPECT_TRUE(current());  // no model: nothing to redo

    TwoTowerOptions options;
    options.model = small_config();
    options.max_epochs = 1;
    options.threads = 1;
    options.output = model;
    ASSERT_TRUE(train_two_tower(dir_ / "store", options).is_ok());
    EXPECT_TRUE(current());
    // Trained without content vectors; the store then gains some.
    add_embeddings(dir_ / "store", &store_, 4);
    EXPECT_FALSE(current());

    ASSERT_TRUE(train_two_tower(dir_ / "store", options).is_ok());
    EXPECT_TRUE(current());
    auto text = read_file(model / "config.json");
    ASSERT_TRUE(text.is_ok());
    nlohmann::json json = nlohmann::json::parse(*text);
    auto content = article_content(*store_);
    ASSERT_TRUE(content.is_ok());
    EXPECT_EQ(json["info"]["content_fingerprint"], content_fingerprint(*content, 60));
    // Vectors of the same length but other values (another encoder): stale.
    add_embeddings(dir_ / "store", &store_, 4, 0.5f);
    EXPECT_FALSE(current());

    // A model saved before fingerprints: its content length decides (8 = 2 x 4).
    json["info"].erase("content_fingerprint");
    write(model.lexically_relative(dir_) / "config.json", json.dump());
    EXPECT_TRUE(current());
    add_embeddings(dir_ / "store", &store_, 3);
    EXPECT_FALSE(current());

    // A fingerprint of other vectors, and a config that is no model's.
    json["info"]["content_fingerprint"] = "crc32c:00000000/60x6";
    write(model.lexically_relative(dir_) / "config.json", json.dump());
    EXPECT_FALSE(current());
    write(model.lexically_relative(dir_) / "config.json", "{");
    EXPECT_FALSE(current());
}

TEST_F(TwoTowerStoreTest, EachGroupGetsItsOwnArticlesAfterTraining) {
    TwoTowerOptions options;
    options.model = small_config();
    options.batch_size = 32;
    options.max_epochs = 40;
    options.patience = 40;
    options.learning_rate = 1e-2;
    options.threads = 1;
    options.output = dir_ / "model";
    auto report = train_two_tower(dir_ / "store", options);
    ASSERT_TRUE(report.is_ok()) << report.status().to_string();
    EXPECT_LT(report->last_loss, report->first_loss);
    auto source = TwoTowerSource::open(*store_, dir_ / "model");
    ASSERT_TRUE(source.is_ok()) << source.status().to_string();
    EXPECT_EQ((*source)->name(), "two_tower");

    // A customer of each group with history, and the two newcomers with none.
    constexpr size_t k = 5;
    for (const char* id : {"c1", "c25"}) {
        std::vector<Interaction> history = history_of(customer(id));
        CustomerContext context{.customer = customer(id), .today = 18300, .history = history};
        std::vector<Candidate> list = (*source)->candidates(context, k);
        ASSERT_EQ(list.size(), k);
        EXPECT_EQ(count_group_a(list), id == std::string("c1") ? 5 : 0) << id;
        EXPECT_NE(list[0].because_of, kNoRow);
        EXPECT_EQ(list[0].reason.rfind("because you bought ", 0), 0u) << list[0].reason;
    }
    for (const char* id : {"newa", "newb"}) {
        CustomerContext context{.customer = customer(id), .today = 18300};
        std::vector<Candidate> list = (*source)->candidates(context, k);
        EXPECT_EQ(count_group_a(list), id == std::string("newa") ? 5 : 0) << id;
        EXPECT_EQ(list[0].reason, "customers like you bought this");
        EXPECT_EQ(list[0].because_of, kNoRow);
    }
}

}  // namespace
}  // namespace lookbook::models
