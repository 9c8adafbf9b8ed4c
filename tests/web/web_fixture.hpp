#pragma once

#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "lookbook/data/ingest.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/web/api_json.hpp"
#include "lookbook/web/build_steps.hpp"
#include "lookbook/web/server.hpp"

namespace lookbook::web::testing {

namespace fs = std::filesystem;

inline fs::path web_data_dir() { return fs::path(LOOKBOOK_TEST_DATA_DIR) / "web"; }

// The JSON tree the server built for a list of scored articles before writing the lists
// straight into the response (api_json.hpp): the reference its bytes are compared with.
inline nlohmann::json scored_items_tree(const ArticleTable& articles,
                                        const std::vector<ScoredArticle>& items) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& item : items) {
        auto article = articles.find(item.article_id);
        nlohmann::json entry = article ? article_json(articles, *article)
                                       : nlohmann::json{{"article_id", item.article_id}};
        entry["score"] =
            std::isfinite(item.score) ? nlohmann::json(item.score) : nlohmann::json(nullptr);
        entry["reason"] = item.reason;
        entry["parts"] = item.parts;
        if (!item.source.empty()) {
            entry["source"] = item.source;
        }
        if (!item.because_of.empty()) {
            entry["because_of"] = item.because_of;
        }
        out.push_back(std::move(entry));
    }
    return out;
}

// A tiny store ingested from tests/data/web (5 articles, 3 customers, 7 transactions, 2
// photos) in a per-test folder, served on an ephemeral port of 127.0.0.1.
class WebServerTest : public ::testing::Test {
  protected:
    void SetUp() override {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        dir_ =
            fs::temp_directory_path() /
            fmt::format("lookbook_web_{}_{}_{}", info->test_suite_name(), info->name(), getpid());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        store_ = dir_ / "store";
        IngestOptions options;
        options.articles = web_data_dir() / "articles.csv";
        options.customers = web_data_dir() / "customers.csv";
        options.transactions = web_data_dir() / "transactions.csv";
        options.images = web_data_dir() / "images";
        options.store = store_;
        auto report = ingest(options);
        ASSERT_TRUE(report.is_ok()) << report.status().to_string();
    }

    void TearDown() override {
        stop_server();
        fs::remove_all(dir_);
    }

    // Mines the rules (the "rules" build step).
    void mine() {
        auto steps = core_build_steps();
        auto reports = run_build(store_, steps);
        ASSERT_TRUE(reports.is_ok()) << reports.status().to_string();
    }

    void start_server(ServerOptions options = {}) {
        options.port = 0;
        options.threads = 8;
        options.reload_interval = std::chrono::milliseconds(50);
        auto server = WebServer::create(store_, std::move(options));
        ASSERT_TRUE(server.is_ok()) << server.status().to_string();
        server_ = std::move(server).value();
        auto port = server_->bind();
        ASSERT_TRUE(port.is_ok()) << port.status().to_string();
        port_ = *port;
        thread_ = std::thread([this] { server_->run(); });
        client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
        client_->set_connection_timeout(5);
    }

    void stop_server() {
        if (server_) {
            server_->stop();
            thread_.join();
            server_.reset();
        }
    }

    httplib::Result get(const std::string& path, const httplib::Headers& headers = {}) {
        return client_->Get(path, headers);
    }

    static nlohmann::json body_json(const httplib::Result& res) {
        return nlohmann::json::parse(res->body);
    }

    fs::path dir_;
    fs::path store_;
    std::unique_ptr<WebServer> server_;
    std::thread thread_;
    int port_ = 0;
    std::unique_ptr<httplib::Client> client_;
};

}  // namespace lookbook::web::testing
