// The HTML pages: sections, empty states, escaping, error pages.
#include <fstream>

#include "web_fixture.hpp"

namespace lookbook::web::testing {
namespace {

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

TEST_F(WebServerTest, CatalogListsArticlesEscapedWithFiltersAndPages) {
    start_server();
    auto res = get("/catalog?per_page=2");
    ASSERT_EQ(res->status, 200);
    EXPECT_EQ(res->get_header_value("Content-Type"), "text/html; charset=utf-8");
    EXPECT_TRUE(contains(res->body, "<link rel=\"stylesheet\" href=\"/static/style.css\">"));
    EXPECT_TRUE(contains(res->body, "href=\"/articles/0108775015\""));
    EXPECT_TRUE(contains(res->body, "Page 1 of 3"));
    EXPECT_TRUE(contains(res->body, "rel=\"next\""));

    auto shoes = get("/catalog?product_group=Shoes");
    // The catalog's hostile name is shown as text, never as markup.
    EXPECT_FALSE(contains(shoes->body, "<script>"));
    EXPECT_TRUE(contains(shoes->body, "&lt;script&gt;alert(1)&lt;/script&gt; Sneaker"));

    auto none = get("/catalog?q=nothing-like-this");
    EXPECT_TRUE(contains(none->body, "No articles match these filters"));
    EXPECT_EQ(get("/catalog?page=0")->status, 400);
    EXPECT_EQ(get("/")->status, 200);
    auto css = get("/static/style.css");
    EXPECT_EQ(css->status, 200);
    EXPECT_TRUE(contains(css->body, ".article-card"));
}

TEST_F(WebServerTest, ArticlePageShowsCompleteTheLookAndNotBuiltSimilar) {
    mine();
    start_server();
    auto res = get("/articles/0108775015");
    ASSERT_EQ(res->status, 200);
    EXPECT_TRUE(contains(res->body, "<h1>Strap top</h1>"));
    EXPECT_TRUE(contains(res->body, "src=\"/thumbnails/0108775015.jpg\""));
    EXPECT_TRUE(contains(res->body, "id=\"frequently-bought-together\""));
    EXPECT_TRUE(contains(res->body, "id=\"complete-the-look\""));
    // The look section comes second and holds no other top: the trousers come first.
    size_t look = res->body.find("id=\"complete-the-look\"");
    ASSERT_NE(look, std::string::npos);
    EXPECT_LT(res->body.find("id=\"frequently-bought-together\""), look);
    EXPECT_NE(res->body.find("href=\"/articles/0706016001\"", look), std::string::npos);
    EXPECT_EQ(res->body.find("href=\"/articles/0108775044\"", look), std::string::npos);
    // Found by the fresh-user trial: cards showed the rule's figures (ids, lift) in red. The
    // shopper reads a sentence; the figures stay on hover.
    EXPECT_TRUE(contains(res->body, "<p class=\"reason\" title=\"bought together in 2 baskets; "))
        << res->body;
    EXPECT_TRUE(contains(res->body, "\">bought together with this in 2 baskets</p>"));
    EXPECT_TRUE(contains(res->body, "class=\"reason\""));
    EXPECT_TRUE(contains(res->body, "The similar-items index is not built yet"));

    auto hostile = get("/articles/0351484002");
    EXPECT_FALSE(contains(hostile->body, "<script>"));
    EXPECT_TRUE(contains(hostile->body, "Canvas sneakers &amp; laces, &quot;classic&quot;."));

    auto missing = get("/articles/nope");
    EXPECT_EQ(missing->status, 404);
    EXPECT_TRUE(contains(missing->body, "This article is not in the catalog."));
    EXPECT_FALSE(contains(missing->body, "Did you mean"));
    // Found by a fresh-user trial: a spreadsheet drops the leading zero; the page now says which
    // article was meant, as the API does.
    auto unpadded = get("/articles/108775015");
    EXPECT_EQ(unpadded->status, 404);
    EXPECT_TRUE(
        contains(unpadded->body, "Did you mean <a href=\"/articles/0108775015\">0108775015</a>?"))
        << unpadded->body;
}

// Found by the break-it review: on the H&M sample most of "Frequently bought together" were
// articles sold but missing from the catalog file, shown as cards without name or photo.
// Found by a fresh-user trial: with no product groups in the catalog "Complete the look" was
// always empty and said no article of another group went with this one.
TEST_F(WebServerTest, CompleteTheLookSaysWhenTheCatalogHasNoProductGroups) {
    std::ofstream(dir_ / "a.csv") << "article_id,prod_name\n0001001,Tee\n0002001,Jeans\n";
    std::ofstream(dir_ / "t.csv") << "t_dat,customer_id,article_id\n"
                                     "2020-01-01,c1,0001001\n2020-01-01,c1,0002001\n"
                                     "2020-01-02,c2,0001001\n2020-01-02,c2,0002001\n";
    IngestOptions options;
    options.articles = dir_ / "a.csv";
    options.transactions = dir_ / "t.csv";
    options.store = store_;
    ASSERT_TRUE(ingest(options).is_ok());
    mine();
    start_server();
    auto res = get("/articles/0001001");
    ASSERT_EQ(res->status, 200);
    // Bought together still works; the look names the missing product group.
    EXPECT_TRUE(contains(res->body, "href=\"/articles/0002001\"")) << res->body;
    EXPECT_TRUE(contains(res->body,
                         "No suggestions: this article has no product group in the catalog, so "
                         "no article can be told to belong to another one."))
        << res->body;
}

TEST_F(WebServerTest, ArticlePageShowsOnlyCatalogArticles) {
    const fs::path more = dir_ / "more.csv";
    std::ofstream(more) << "t_dat,customer_id,article_id,price,sales_channel_id\n"
                           "2020-09-01,c1,0999999001,0.04,1\n"
                           "2020-09-02,c2,0999999001,0.04,2\n";
    IngestOptions options;
    options.transactions = more;
    options.store = store_;
    options.append = true;
    auto appended = ingest(options);
    ASSERT_TRUE(appended.is_ok()) << appended.status().to_string();
    mine();
    start_server();
    // Bought with the strap top in both baskets, but not in the catalog file: the API leaves it
    // out too (the fresh-user trial found the API and the page disagreeing) unless asked.
    auto api = get("/api/articles/0108775015/bought-together?k=10");
    ASSERT_EQ(api->status, 200);
    EXPECT_FALSE(contains(api->body, "\"0999999001\"")) << api->body;
    auto any = get("/api/articles/0108775015/bought-together?k=10&any_article=true");
    ASSERT_EQ(any->status, 200);
    EXPECT_TRUE(contains(any->body, "\"0999999001\"")) << any->body;
    auto cart = get("/api/bought-together?articles=0108775015&k=10&any_article=1");
    EXPECT_TRUE(contains(cart->body, "\"0999999001\"")) << cart->body;
    EXPECT_EQ(get("/api/bought-together?articles=0108775015&any_article=maybe")->status, 400);
    auto page = get("/articles/0108775015");
    ASSERT_EQ(page->status, 200);
    EXPECT_FALSE(contains(page->body, "/articles/0999999001"));
    EXPECT_TRUE(contains(page->body, "href=\"/articles/0706016001\""));
}

TEST_F(WebServerTest, CatalogPastTheLastPageSaysSo) {
    start_server();
    auto res = get("/catalog?per_page=2&page=9");
    ASSERT_EQ(res->status, 200);
    EXPECT_TRUE(contains(res->body, "Page 9 is past the last page."));
    EXPECT_TRUE(contains(res->body, "per_page=2&page=3\">Go to page 3</a>"));
    EXPECT_FALSE(contains(res->body, "No articles match these filters"));
    EXPECT_FALSE(contains(res->body, "rel=\"prev\""));
    EXPECT_TRUE(
        contains(get("/catalog?q=nothing-like-this")->body, "No articles match these filters"));
}

TEST_F(WebServerTest, ArticlePageWithoutRulesSaysNotBuilt) {
    start_server();
    auto res = get("/articles/0108775015");
    EXPECT_TRUE(contains(res->body, "Bought-together rules are not built yet"));
}

TEST_F(WebServerTest, CustomerPageShowsDemographicsHistoryAndRecommendations) {
    ServerOptions options;
    options.services_factory = [](const Snapshot&) {
        Services services;
        services.recommend =
            [](const std::string&,
               const RecommendQuery&,
               const std::vector<CustomerEvent>&) -> Result<std::vector<ScoredArticle>> {
            return std::vector<ScoredArticle>{
                {"0351484002", 0.4, "people like you bought it", {}, "two-tower"}};
        };
        return services;
    };
    start_server(options);
    auto res = get("/customers/c1");
    ASSERT_EQ(res->status, 200);
    EXPECT_TRUE(contains(res->body, "<dt>Age</dt><dd>24</dd>"));
    EXPECT_TRUE(contains(res->body, "id=\"recommended\""));
    EXPECT_TRUE(contains(res->body, "people like you bought it"));
    EXPECT_TRUE(contains(res->body, "bought on 2020-09-04"));
    EXPECT_EQ(get("/customers/nobody")->status, 404);
    EXPECT_FALSE(contains(get("/customers/nobody")->body, "Did you mean"));
    auto upper = get("/customers/C1");
    EXPECT_EQ(upper->status, 404);
    EXPECT_TRUE(contains(upper->body, "Did you mean <a href=\"/customers/c1\">c1</a>?"))
        << upper->body;
}

TEST_F(WebServerTest, CustomerListPageLinksCustomersAndOpensAnId) {
    start_server();
    auto res = get("/customers");
    ASSERT_EQ(res->status, 200);
    EXPECT_TRUE(contains(res->body, "3 customers with purchases"));
    size_t c1 = res->body.find("href=\"/customers/c1\"");
    size_t c2 = res->body.find("href=\"/customers/c2\"");
    ASSERT_NE(c1, std::string::npos);
    ASSERT_NE(c2, std::string::npos);
    EXPECT_LT(c1, c2);
    EXPECT_TRUE(contains(res->body, "<td>2020-09-04</td>"));
    EXPECT_TRUE(contains(get("/catalog")->body, "href=\"/customers\""));
    auto paged = get("/customers?per_page=2&page=2");
    EXPECT_TRUE(contains(paged->body, "Page 2 of 2"));
    EXPECT_TRUE(contains(paged->body, "href=\"/customers?per_page=2&page=1\""));
    EXPECT_TRUE(contains(paged->body, "href=\"/customers/c3\""));
    EXPECT_FALSE(contains(paged->body, "href=\"/customers/c1\""));
    auto open = get("/customers?id=c2");
    EXPECT_EQ(open->status, 303);
    EXPECT_EQ(open->get_header_value("Location"), "/customers/c2");
    auto missing = get("/customers?id=%3Cscript%3Ex");
    EXPECT_EQ(missing->status, 404);
    EXPECT_TRUE(contains(missing->body, "No customer has the id \"&lt;script&gt;x\""));
    // Found by the break-it review: long ids were cut at a byte count, splitting a character.
    std::string euros;
    std::string shown;
    for (int i = 0; i < 81; ++i) {
        euros += "%E2%82%AC";
        shown += i < 80 ? "\u20ac" : "\u2026";  // 80 euro signs, then an ellipsis
    }
    EXPECT_TRUE(contains(get("/customers?id=" + euros)->body, "the id \"" + shown + "\""));
    auto bad = get("/customers?page=0");
    EXPECT_EQ(bad->status, 400);
    // Found by the break-it review: the page showed the hint alone, not the parameter.
    EXPECT_TRUE(contains(bad->body,
                         "query parameter page is &quot;0&quot;: expected a whole number from 1 "
                         "to 1000000"))
        << bad->body;
    // Found by the break-it review: past the last page the list said "No customer has a
    // purchase yet" and linked to the (empty) page before.
    auto past = get("/customers?per_page=2&page=7");
    EXPECT_EQ(past->status, 200);
    EXPECT_TRUE(contains(past->body, "Page 7 is past the last page."));
    EXPECT_TRUE(contains(past->body, "href=\"/customers?per_page=2&page=2\">Go to page 2"));
    EXPECT_FALSE(contains(past->body, "No customer has a purchase yet"));
    EXPECT_FALSE(contains(past->body, "rel=\"prev\""));
}

TEST_F(WebServerTest, CustomerPageWithoutModelsSaysNotBuilt) {
    start_server();
    auto res = get("/customers/c2");
    EXPECT_TRUE(contains(res->body, "Personal recommendations are not built yet"));
    EXPECT_TRUE(contains(res->body, "<dt>Age</dt><dd>unknown</dd>"));
}

TEST_F(WebServerTest, SearchPageHasBothFormsAndResultStates) {
    start_server();
    auto empty = get("/search");
    ASSERT_EQ(empty->status, 200);
    EXPECT_TRUE(contains(empty->body, "enctype=\"multipart/form-data\""));
    EXPECT_TRUE(contains(get("/search?q=%3Cb%3E")->body, "Text search is not built yet"));
    EXPECT_FALSE(contains(get("/search?q=%3Cb%3E")->body, "value=\"<b>\""));
    auto upload = client_->Post(
        "/search",
        httplib::MultipartFormDataItems{{"image", "not a photo", "x.txt", "text/plain"}});
    EXPECT_EQ(upload->status, 400);
    EXPECT_TRUE(contains(upload->body, "That file is not a JPEG or PNG photo."));
}

}  // namespace
}  // namespace lookbook::web::testing
