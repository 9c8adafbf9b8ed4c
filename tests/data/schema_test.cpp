#include "lookbook/data/schema.hpp"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <unistd.h>

namespace lookbook {
namespace {

std::filesystem::path write_temp(const std::string& name, const std::string& text) {
    auto path = std::filesystem::temp_directory_path() / (std::to_string(::getpid()) + "_" + name);
    std::ofstream(path) << text;
    return path;
}

TEST(ColumnMapping, DefaultsReadHmColumns) {
    ColumnMapping m = default_column_mapping();
    EXPECT_EQ(m.articles.at("id"), "article_id");
    EXPECT_EQ(m.articles.at("product_type"), "product_type_name");
    EXPECT_EQ(m.customers.at("club_status"), "club_member_status");
    EXPECT_EQ(m.transactions.at("date"), "t_dat");
    EXPECT_EQ(m.transactions.at("order_id"), "");
}

TEST(ColumnMapping, FileOverridesChosenFields) {
    auto path = write_temp("lookbook_mapping_ok.json",
                           R"({"articles": {"id": "sku", "name": "title"},
                               "date_format": "%d/%m/%Y", "image_patterns": ["{id}.png"]})");
    auto m = load_column_mapping(path);
    ASSERT_TRUE(m.is_ok()) << m.status().to_string();
    EXPECT_EQ(m->articles.at("id"), "sku");
    EXPECT_EQ(m->articles.at("name"), "title");
    EXPECT_EQ(m->articles.at("colour"), "colour_group_name");
    EXPECT_EQ(m->date_format, "%d/%m/%Y");
    EXPECT_EQ(m->image_patterns, std::vector<std::string>{"{id}.png"});
}

TEST(ColumnMapping, UnknownFieldListsTheAllowedOnes) {
    auto path = write_temp("lookbook_mapping_bad.json", R"({"customers": {"birthday": "dob"}})");
    auto m = load_column_mapping(path);
    ASSERT_FALSE(m.is_ok());
    EXPECT_EQ(m.status().message(),
              path.string() +
                  ": \"customers\" has no field \"birthday\"; its fields are id, age, "
                  "club_status, news_frequency, postal_code");
}

TEST(ColumnMapping, UnknownTopLevelKeyAndBadJsonAreErrors) {
    auto m = load_column_mapping(write_temp("lookbook_mapping_key.json", R"({"article": {}})"));
    ASSERT_FALSE(m.is_ok());
    EXPECT_NE(m.status().message().find("unknown key \"article\""), std::string::npos);
    auto j = load_column_mapping(write_temp("lookbook_mapping_json.json", "{\"articles\": "));
    ASSERT_FALSE(j.is_ok());
    EXPECT_NE(j.status().message().find("not valid JSON"), std::string::npos);
}

TEST(ColumnMapping, RequiredFieldCannotBeUnmapped) {
    auto m = load_column_mapping(
        write_temp("lookbook_mapping_req.json", R"({"transactions": {"date": ""}})"));
    ASSERT_FALSE(m.is_ok());
    EXPECT_NE(m.status().message().find("transactions.date is required"), std::string::npos);
}

TEST(ImagePattern, ExpandsIdSlicesAndProductCode) {
    EXPECT_EQ(expand_image_pattern("{id:0:3}/{id}.jpg", "0111565001", "111565"),
              "011/0111565001.jpg");
    EXPECT_EQ(expand_image_pattern("{product_code}/{id}.png", "A1", "P9"), "P9/A1.png");
    EXPECT_EQ(expand_image_pattern("{id:bad}.jpg", "A1", "P9"), "");
    EXPECT_EQ(expand_image_pattern("../{id}.jpg", "A1", "P9"), "");
    EXPECT_EQ(expand_image_pattern("{id", "A1", "P9"), "");
}

}  // namespace
}  // namespace lookbook
