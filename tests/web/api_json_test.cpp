// The JSON written straight into responses (api_json.hpp) against the nlohmann tree it
// replaces: the same bytes for odd strings, every kind of number, and scored lists over a
// catalog with quotes, control characters, non-ASCII and invalid UTF-8 in its text.
#include "lookbook/web/api_json.hpp"

#include <bit>
#include <cmath>
#include <fstream>
#include <limits>
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "lookbook/data/ingest.hpp"
#include "lookbook/store/store.hpp"
#include "web_fixture.hpp"

namespace lookbook::web {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string tree_dump(const json& value) {
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string written_string(std::string_view text) {
    std::string out = "x";  // appended after existing text, which stays
    append_json_string(&out, text);
    return out.substr(1);
}

std::string written_number(double value) {
    std::string out;
    append_json_number(&out, value);
    return out;
}

TEST(ApiJsonTest, StringsAreEscapedAsNlohmannDumpsThem) {
    std::vector<std::string> cases = {
        "",
        "plain",
        "quote \" and backslash \\ and slash /",
        "tab\tnewline\ncr\rbackspace\bformfeed\f",
        std::string("nul \0 inside", 12),
        "\x01\x1f\x7f",
        "Blåbär é ü ß",
        "curly “quotes” – dash",
        "emoji \xF0\x9F\x98\x80 and U+10FFFF \xF4\x8F\xBF\xBF",
        "lone high byte \xFF end",
        "cut short \xE2\x82",
        "overlong \xC0\xAF and \xE0\x80\xAF",
        "surrogate \xED\xA0\x80",
        "past U+10FFFF \xF4\x90\x80\x80",
        "lead at the end \xC3",
    };
    for (int c = 0; c < 0x20; ++c) {
        cases.push_back(std::string(1, static_cast<char>(c)));
    }
    for (const std::string& text : cases) {
        EXPECT_EQ(written_string(text), tree_dump(json(text))) << text;
    }
    // Random bytes, most of them above 0x7F so every UTF-8 state is reached.
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> length(0, 12);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<int> high(0x80, 0xF5);
    for (int round = 0; round < 50'000; ++round) {
        std::string text;
        for (int i = length(rng); i > 0; --i) {
            text.push_back(static_cast<char>(round % 2 ? high(rng) : byte(rng)));
        }
        ASSERT_EQ(written_string(text), tree_dump(json(text)))
            << json(text).dump(-1, ' ', true, json::error_handler_t::replace);
    }
}

TEST(ApiJsonTest, NumbersAreWrittenAsNlohmannDumpsThem) {
    const double inf = std::numeric_limits<double>::infinity();
    std::vector<double> cases = {0.0,
                                 -0.0,
                                 1.0,
                                 -1.0,
                                 0.1,
                                 static_cast<double>(0.1f),
                                 static_cast<double>(0.823456f),
                                 1e15,
                                 1e16,
                                 123456789012345680.0,
                                 1e21,
                                 1e-4,
                                 1e-5,
                                 1.5e-7,
                                 std::numeric_limits<double>::denorm_min(),
                                 std::numeric_limits<double>::min(),
                                 std::numeric_limits<double>::max(),
                                 static_cast<double>(std::numeric_limits<float>::max())};
    for (double value : cases) {
        EXPECT_EQ(written_number(value), tree_dump(json(value))) << value;
    }
    // Not finite: null, never NaN or Infinity.
    EXPECT_EQ(written_number(std::numeric_limits<double>::quiet_NaN()), "null");
    EXPECT_EQ(written_number(inf), "null");
    EXPECT_EQ(written_number(-inf), "null");
    std::mt19937_64 rng(11);
    for (int round = 0; round < 100'000; ++round) {
        const auto bits = rng();
        // Every double bit pattern, and floats widened as the recommenders' scores are.
        const double value =
            round % 2 ? std::bit_cast<double>(bits)
                      : static_cast<double>(std::bit_cast<float>(static_cast<uint32_t>(bits)));
        ASSERT_EQ(written_number(value), tree_dump(std::isfinite(value) ? json(value) : json()))
            << bits;
    }
}

class ApiJsonStoreTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("lookbook_api_json_" + std::to_string(getpid()));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        // Text with quotes, backslashes, a tab, a newline (quoted field), control and
        // non-ASCII characters, and bytes that are not UTF-8; one article has a photo and one
        // (bought, not in the catalog) has no metadata.
        std::ofstream(dir_ / "articles.csv")
            << "article_id,product_code,prod_name,product_type_name,product_group_name,"
               "colour_group_name,section_name,detail_desc\n"
               "0108775015,0108775,\"Strap \"\"top\"\" \\ slash\",Vest top,Garment Upper body,"
               "Bl\xC3\xA4\x63k,Womens \xE2\x80\x9C"
               "Basics\xE2\x80\x9D,\"Line one\nline\ttwo\"\n"
               "0706016001,0706016,Jeans \xF0\x9F\x98\x80,Trousers,Garment Lower body,Blue,"
               "Denim,Bell \x01 bottoms\n"
               "0200000001,0200000,Bad \xFF\xFE bytes,Socks,Socks & Tights,Gr\xC3y,</script>,"
               "\"a,b\"\n";
        std::ofstream(dir_ / "transactions.csv")
            << "t_dat,customer_id,article_id,price,sales_channel_id\n"
               "2020-09-01,c1,0108775015,0.02,1\n"
               "2020-09-02,c1,0999999999,0.03,2\n";
        IngestOptions options;
        options.articles = dir_ / "articles.csv";
        options.transactions = dir_ / "transactions.csv";
        options.images = fs::path(LOOKBOOK_TEST_DATA_DIR) / "web" / "images";
        options.store = dir_ / "store";
        auto report = ingest(options);
        ASSERT_TRUE(report.is_ok()) << report.status().to_string();
        auto store = Store::open(options.store);
        ASSERT_TRUE(store.is_ok()) << store.status().to_string();
        store_ = std::move(store).value();
    }
    void TearDown() override { fs::remove_all(dir_); }

    fs::path dir_;
    std::unique_ptr<Store> store_;
};

TEST_F(ApiJsonStoreTest, ScoredItemsAreTheBytesOfTheTreeTheyReplace) {
    const ArticleTable& articles = store_->articles();
    ASSERT_EQ(articles.size(), 4u);
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double scores[] = {0.123f, nan, -std::numeric_limits<double>::infinity(), -0.0, 1e-300};
    std::vector<ScoredArticle> items;
    std::vector<std::string> ids = {"unknown \"id\" \\ \xFF"};
    for (uint32_t article = 0; article < articles.size(); ++article) {
        ids.emplace_back(articles.id(article));
    }
    for (size_t i = 0; i < ids.size() * 3; ++i) {
        ScoredArticle item;
        item.article_id = ids[i % ids.size()];
        item.score = scores[i % std::size(scores)];
        item.reason = i % 2 ? "similar to Strap \"top\" you bought\n" : "bad \xC3 byte";
        if (i % 3 == 1) {
            item.parts = {"image 0.70", "text \x1f \xE2\x82\xAC"};
        }
        item.source = i % 2 ? "profile" : "";
        item.because_of = i % 4 == 3 ? ids[(i + 1) % ids.size()] : "";
        items.push_back(std::move(item));
    }
    bool with_metadata = false;
    bool with_photo = false;
    bool without_metadata = false;
    for (uint32_t article = 0; article < articles.size(); ++article) {
        with_metadata = with_metadata || articles.has_metadata(article);
        without_metadata = without_metadata || !articles.has_metadata(article);
        with_photo = with_photo || !articles.image_path(article).empty();
    }
    ASSERT_TRUE(with_metadata && with_photo && without_metadata);

    const ArticleFragments fragments(articles);
    std::string written = "{";
    append_scored_items(&written, fragments, items);
    written = written.substr(1);
    const json reference = testing::scored_items_tree(articles, items);
    EXPECT_EQ(written, tree_dump(reference));
    EXPECT_EQ(json::parse(written), json::parse(tree_dump(reference)));

    std::string empty;
    append_scored_items(&empty, fragments, {});
    EXPECT_EQ(empty, "[]");
}

}  // namespace
}  // namespace lookbook::web
