// The storefront in Debian's headless Chromium: the pages render and their sections are filled.
// Screenshots are written under the test's temporary folder and their paths printed.
#include <cstdlib>

#include "web_fixture.hpp"

namespace lookbook::web::testing {
namespace {

const char* kChromium = "/usr/bin/chromium";

// Runs chromium on `url`; returns the DOM after scripts and layout, and writes a screenshot.
std::string browse(const fs::path& dir, const std::string& url, const fs::path& screenshot) {
    fs::path profile = dir / ("profile-" + screenshot.stem().string());
    fs::path dom = dir / (screenshot.stem().string() + ".html");
    std::string flags = fmt::format(
        "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
        "--disable-background-networking --disable-component-update --disable-sync "
        "--user-data-dir={} --window-size=1200,1600",
        profile.string());
    std::string shot = fmt::format(
        "{} {} --screenshot={} {} >/dev/null 2>&1", kChromium, flags, screenshot.string(), url);
    std::string dump =
        fmt::format("{} {} --dump-dom {} >{} 2>/dev/null", kChromium, flags, url, dom.string());
    if (std::system(shot.c_str()) != 0 || std::system(dump.c_str()) != 0) {
        return "";
    }
    std::ifstream in(dom);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_F(WebServerTest, BrowserRendersCatalogArticleCustomerAndSearch) {
    if (!fs::exists(kChromium)) {
        GTEST_SKIP() << "chromium is not installed (scripts/install-deps.sh installs it)";
    }
    mine();
    ServerOptions options;
    options.services_factory = [](const Snapshot&) {
        Services services;
        services.similar = [](const std::string&,
                              size_t,
                              const SimilarFilters&) -> Result<std::vector<ScoredArticle>> {
            return std::vector<ScoredArticle>{
                {"0706016002", 0.7, "same cut, other colour", {}, ""}};
        };
        services.search_text = [](const std::string&,
                                  size_t) -> Result<std::vector<ScoredArticle>> {
            return std::vector<ScoredArticle>{{"0706016001", 0.5, "blue jeans", {}, ""}};
        };
        services.recommend =
            [](const std::string&,
               const RecommendQuery&,
               const std::vector<CustomerEvent>&) -> Result<std::vector<ScoredArticle>> {
            return std::vector<ScoredArticle>{
                {"0351484002", 0.4, "people like you bought it", {}, ""}};
        };
        return services;
    };
    start_server(options);
    std::string base = fmt::format("http://127.0.0.1:{}", port_);
    struct Visit {
        std::string name;
        std::string path;
        std::vector<std::string> expected;  // sections and what fills them
    };
    // Screenshots outlive the test's folder so a person can look at them.
    fs::path keep =
        fs::temp_directory_path() / fmt::format("lookbook_browser_screenshots_{}", getpid());
    fs::create_directories(keep);
    for (const Visit& visit :
         {Visit{"catalog", "/catalog", {"id=\"catalog\"", "article-card"}},
          Visit{"article",
                "/articles/0108775015",
                {"id=\"complete-the-look\"",
                 "/articles/0706016001",
                 "id=\"similar\"",
                 "same cut, other colour"}},
          Visit{"customer",
                "/customers/c1",
                {"id=\"recommended\"", "people like you bought it", "bought on 2020-09-04"}},
          Visit{"customers", "/customers", {"id=\"customers\"", "/customers/c1"}},
          Visit{"search", "/search?q=jeans", {"id=\"results\"", "blue jeans"}}}) {
        fs::path screenshot = keep / (visit.name + ".png");
        std::string dom = browse(dir_, base + visit.path, screenshot);
        ASSERT_FALSE(dom.empty()) << "chromium failed on " << visit.path;
        for (const auto& expected : visit.expected) {
            EXPECT_NE(dom.find(expected), std::string::npos) << visit.path << ": " << expected;
        }
        EXPECT_EQ(dom.find("not built yet"), std::string::npos) << visit.path;
        EXPECT_TRUE(fs::exists(screenshot)) << visit.path;
        std::printf("screenshot of %s: %s\n", visit.path.c_str(), screenshot.string().c_str());
    }
}

}  // namespace
}  // namespace lookbook::web::testing
