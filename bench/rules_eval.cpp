// Offline evaluation of "complete the look" on the H&M sample: the sample is ingested into a
// temporary store, baskets (customer, day) before the last weeks train the model, and in every
// later basket of two or more articles one article (chosen at random, fixed seed) is hidden; the
// rest is the cart. Prints hit rate@5, @10 and MRR@10 for the recommender and two baselines:
// global popularity and raw pair co-occurrence counts.
//
//   rules_eval [--weeks N] [--store DIR]   (DIR: an existing store to use instead of ingesting)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>

#include "lookbook/data/ingest.hpp"
#include "lookbook/rules/complete_the_look.hpp"
#include "lookbook/rules/store_rules.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/util/log.hpp"

namespace {

namespace fs = std::filesystem;
using lookbook::rules::BasketSet;
using lookbook::rules::Count;
using lookbook::rules::ItemId;

struct Case {
    std::vector<uint32_t> cart;
    uint32_t hidden = 0;
    // The hidden article shares a product code with a cart article: the recommender never
    // suggests colour variants, so these cases are also scored apart.
    bool variant_of_cart = false;
};

struct Tally {
    double hits5 = 0;
    double hits10 = 0;
    double reciprocal = 0;
    size_t cases = 0;

    void add(const std::vector<uint32_t>& ranked, uint32_t hidden) {
        ++cases;
        for (size_t rank = 0; rank < ranked.size() && rank < 10; ++rank) {
            if (ranked[rank] == hidden) {
                hits5 += rank < 5 ? 1 : 0;
                hits10 += 1;
                reciprocal += 1.0 / static_cast<double>(rank + 1);
                return;
            }
        }
    }
    std::string text() const {
        double n = static_cast<double>(std::max<size_t>(cases, 1));
        char buffer[128];
        std::snprintf(buffer,
                      sizeof(buffer),
                      "hit@5 %.4f hit@10 %.4f MRR@10 %.4f (%zu)",
                      hits5 / n,
                      hits10 / n,
                      reciprocal / n,
                      cases);
        return buffer;
    }
};

struct Score {
    Tally all;
    Tally not_variant;

    void add(const std::vector<uint32_t>& ranked, const Case& c) {
        all.add(ranked, c.hidden);
        if (!c.variant_of_cart) {
            not_variant.add(ranked, c.hidden);
        }
    }
    void print(const std::string& name) const {
        std::printf("  %-38s all: %s | not a variant: %s\n",
                    name.c_str(),
                    all.text().c_str(),
                    not_variant.text().c_str());
    }
};

// Articles by number of training baskets, most first.
std::vector<uint32_t> popularity_order(const BasketSet& train, size_t n_articles) {
    std::vector<Count> counts(n_articles, 0);
    for (size_t basket_idx = 0; basket_idx < train.size(); ++basket_idx) {
        std::unordered_set<ItemId> seen;
        for (ItemId item : train.basket(basket_idx)) {
            if (seen.insert(item).second) {
                ++counts[item];
            }
        }
    }
    std::vector<uint32_t> order(n_articles);
    for (uint32_t article = 0; article < n_articles; ++article) {
        order[article] = article;
    }
    std::stable_sort(
        order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return counts[a] > counts[b]; });
    order.resize(std::min<size_t>(order.size(), 1000));
    return order;
}

// Pair counts: for each article, the articles sharing a training basket with it and how often.
std::vector<std::unordered_map<uint32_t, Count>> pair_counts(const BasketSet& train,
                                                             size_t n_articles) {
    std::vector<std::unordered_map<uint32_t, Count>> pairs(n_articles);
    std::vector<ItemId> distinct;
    for (size_t basket_idx = 0; basket_idx < train.size(); ++basket_idx) {
        auto items = train.basket(basket_idx);
        distinct.assign(items.begin(), items.end());
        std::sort(distinct.begin(), distinct.end());
        distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
        for (ItemId a : distinct) {
            for (ItemId b : distinct) {
                if (a != b) {
                    ++pairs[a][b];
                }
            }
        }
    }
    return pairs;
}

// Fills `ranked` up to 10 from the popularity order, skipping the cart and what is there.
void fill_popular(const std::vector<uint32_t>& popular,
                  const std::unordered_set<uint32_t>& cart,
                  std::vector<uint32_t>* ranked) {
    for (uint32_t article : popular) {
        if (ranked->size() >= 10) {
            break;
        }
        if (cart.count(article) == 0 &&
            std::find(ranked->begin(), ranked->end(), article) == ranked->end()) {
            ranked->push_back(article);
        }
    }
}

int run(int weeks, const std::string& given_store) {
    std::string data = std::string(LOOKBOOK_SHARED_DIR) + "/data/hm_hungle45_pse";
    fs::path store_dir = given_store;
    if (store_dir.empty()) {
        store_dir = fs::temp_directory_path() / "lookbook_rules_eval_store";
        fs::remove_all(store_dir);
        lookbook::IngestOptions ingest;
        ingest.articles = data + "/articles_train_sample.csv";
        ingest.customers = data + "/customers_sample.csv";
        ingest.transactions = data + "/transactions_train_sample.csv";
        ingest.store = store_dir;
        auto report = lookbook::ingest(ingest);
        if (!report.is_ok()) {
            std::fprintf(stderr, "ingest failed: %s\n", report.status().to_string().c_str());
            return 1;
        }
    }
    auto store = lookbook::Store::open(store_dir);
    if (!store.is_ok()) {
        std::fprintf(stderr, "%s\n", store.status().to_string().c_str());
        return 1;
    }
    auto dates = (*store)->transactions().date();
    int32_t last_day = *std::max_element(dates.begin(), dates.end());
    int32_t first_test_day = last_day - 7 * weeks + 1;

    lookbook::rules::StoreBasketOptions train_options;
    train_options.last_day = first_test_day - 1;
    lookbook::rules::StoreBasketOptions test_options;
    test_options.first_day = first_test_day;
    auto train = lookbook::rules::baskets_from_store(**store, train_options);
    auto test = lookbook::rules::baskets_from_store(**store, test_options);
    if (!train.is_ok() || !test.is_ok()) {
        return 1;
    }
    size_t n_articles = (*store)->articles().size();

    lookbook::rules::CatalogView catalog = lookbook::rules::catalog_from_store(**store);
    // Test cases: baskets with two or more distinct articles, one hidden at random.
    std::mt19937 rng(20200922);
    std::vector<Case> cases;
    size_t non_empty_test = 0;
    for (size_t basket_idx = 0; basket_idx < test->size(); ++basket_idx) {
        auto items = test->basket(basket_idx);
        std::vector<uint32_t> distinct(items.begin(), items.end());
        std::sort(distinct.begin(), distinct.end());
        distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
        non_empty_test += distinct.empty() ? 0 : 1;
        if (distinct.size() < 2) {
            continue;
        }
        std::uniform_int_distribution<size_t> pick(0, distinct.size() - 1);
        size_t hidden_pos = pick(rng);
        Case c;
        c.hidden = distinct[hidden_pos];
        distinct.erase(distinct.begin() + static_cast<ptrdiff_t>(hidden_pos));
        c.cart = distinct;
        for (uint32_t article : c.cart) {
            c.variant_of_cart = c.variant_of_cart ||
                                catalog.product_code[article] == catalog.product_code[c.hidden];
        }
        cases.push_back(c);
    }
    std::printf(
        "H&M sample: %zu training baskets (customer, day) before the last %d weeks, %zu "
        "test baskets, %zu with two or more articles (one hidden each)\n",
        train->size(),
        weeks,
        non_empty_test,
        cases.size());

    // Baselines.
    std::vector<uint32_t> popular = popularity_order(*train, n_articles);
    auto pairs = pair_counts(*train, n_articles);
    Score popularity_score;
    Score pair_score;
    for (const Case& c : cases) {
        std::unordered_set<uint32_t> cart(c.cart.begin(), c.cart.end());
        std::vector<uint32_t> ranked;
        fill_popular(popular, cart, &ranked);
        popularity_score.add(ranked, c);

        std::unordered_map<uint32_t, Count> summed;
        for (uint32_t article : c.cart) {
            for (const auto& [other, count] : pairs[article]) {
                if (cart.count(other) == 0) {
                    summed[other] += count;
                }
            }
        }
        std::vector<std::pair<uint32_t, Count>> by_count(summed.begin(), summed.end());
        std::sort(by_count.begin(), by_count.end(), [](const auto& a, const auto& b) {
            return a.second != b.second ? a.second > b.second : a.first < b.first;
        });
        ranked.clear();
        for (size_t idx = 0; idx < by_count.size() && idx < 10; ++idx) {
            ranked.push_back(by_count[idx].first);
        }
        fill_popular(popular, cart, &ranked);
        pair_score.add(ranked, c);
    }
    popularity_score.print("global popularity");
    pair_score.print("pair co-occurrence counts");

    // The recommender at a few supports.
    for (Count min_count : {1, 2, 3}) {
        lookbook::rules::TrainOptions options = lookbook::rules::default_train_options();
        options.mining.min_support = lookbook::rules::MinSupport::of_count(min_count);
        auto model = lookbook::rules::train_complete_the_look(*train, catalog, options);
        if (!model.is_ok()) {
            std::fprintf(stderr, "%s\n", model.status().to_string().c_str());
            return 1;
        }
        std::printf("  support %llu: %zu article rules, %zu product-code rules\n",
                    static_cast<unsigned long long>(min_count),
                    model->article_rules.size(),
                    model->code_rules.size());
        for (double prior : {0.0, 2.0, 5.0, 20.0}) {
            Score score;
            size_t by_rule = 0;
            lookbook::rules::RecommendOptions recommend;
            recommend.k = 10;
            recommend.confidence_prior = prior;
            for (const Case& c : cases) {
                auto suggestions = lookbook::rules::complete_the_look(*model, c.cart, recommend);
                std::vector<uint32_t> ranked;
                for (const auto& s : *suggestions) {
                    ranked.push_back(s.article);
                    by_rule += s.source == lookbook::rules::SuggestionSource::kArticleRule ? 1 : 0;
                }
                score.add(ranked, c);
            }
            score.print(fmt::format("complete the look, support {}, prior {}", min_count, prior));
            std::printf("    %.1f%% of suggestions from article rules\n",
                        100.0 * static_cast<double>(by_rule) /
                            static_cast<double>(std::max<size_t>(1, cases.size() * 10)));
        }
    }
    if (given_store.empty()) {
        fs::remove_all(store_dir);
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    lookbook::log::init_logging(lookbook::log::Level::kWarn);
    int weeks = 4;
    std::string store;
    for (int idx = 1; idx + 1 < argc; idx += 2) {
        std::string flag = argv[idx];
        if (flag == "--weeks") {
            weeks = std::max(1, std::atoi(argv[idx + 1]));
        } else if (flag == "--store") {
            store = argv[idx + 1];
        }
    }
    return run(weeks, store);
}
