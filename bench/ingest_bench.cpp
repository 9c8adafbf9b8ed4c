// Ingest benchmark: generates an H&M-shaped transactions file (5 million rows by default, with
// a matching articles and customers file), then measures in a child process, so that the
// generator's memory does not count:
//   - CSV parsing alone (rows/s, MB/s),
//   - the whole ingest: parse, validate, dictionary-encode, sort, write (rows/s, MB/s),
//   - peak resident memory of the ingest against the size of the store it wrote,
//   - the time to open the store (and to verify every checksum).
// Usage: ingest_bench [--rows N] [--dir DIR] [--keep] [--verbose]
// --verbose logs the wall and CPU time of each ingest step (debug level) on stderr.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>

#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lookbook/data/csv_reader.hpp"
#include "lookbook/data/ingest.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/util/date.hpp"
#include "lookbook/util/file.hpp"
#include "lookbook/util/log.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU seconds (user + system) this process has used: on a shared machine this, not the wall
// clock, says what one core does.
double cpu_seconds() {
    struct rusage usage {};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec +
           usage.ru_stime.tv_usec / 1e6;
}

std::string hex_id(std::mt19937_64& rng) {
    static const char* kHex = "0123456789abcdef";
    std::string id(64, '0');
    for (char& c : id) {
        c = kHex[rng() & 15];
    }
    return id;
}

// Writes articles.csv, customers.csv and transactions.csv shaped like the Kaggle H&M files:
// 64-hex customer ids, 10-digit article ids with leading zero, dates in order over two years,
// 16-digit normalised prices, channel 1 or 2. Popularity is skewed as in retail.
void generate(const fs::path& dir, uint64_t rows) {
    fs::create_directories(dir);
    std::mt19937_64 rng(42);
    const uint64_t customers = std::max<uint64_t>(1000, rows / 16);
    const uint64_t articles = std::max<uint64_t>(1000, rows / 50);
    std::vector<std::string> customer_ids(customers);
    for (auto& id : customer_ids) {
        id = hex_id(rng);
    }
    std::vector<std::string> article_ids(articles);
    for (uint64_t i = 0; i < articles; ++i) {
        article_ids[i] = fmt::format("0{:03d}{:06d}", 100 + i % 900, i);
    }
    FILE* out = std::fopen((dir / "articles.csv").c_str(), "w");
    std::fputs(
        "article_id,product_code,prod_name,product_type_name,product_group_name,"
        "colour_group_name,detail_desc\n",
        out);
    for (uint64_t i = 0; i < articles; ++i) {
        std::fprintf(out,
                     "%s,%s,Item %llu,Trousers,Garment Lower body,Black,\"Soft, warm\"\n",
                     article_ids[i].c_str(),
                     article_ids[i].substr(0, 7).c_str(),
                     static_cast<unsigned long long>(i));
    }
    std::fclose(out);
    out = std::fopen((dir / "customers.csv").c_str(), "w");
    std::fputs(
        "customer_id,FN,Active,club_member_status,fashion_news_frequency,age,"
        "postal_code\n",
        out);
    for (uint64_t i = 0; i < customers; ++i) {
        std::fprintf(out,
                     "%s,,,ACTIVE,NONE,%d.0,%s\n",
                     customer_ids[i].c_str(),
                     18 + static_cast<int>(rng() % 60),
                     customer_ids[i].c_str());
    }
    std::fclose(out);
    out = std::fopen((dir / "transactions.csv").c_str(), "w");
    std::vector<char> buffer(1 << 20);
    std::setvbuf(out, buffer.data(), _IOFBF, buffer.size());
    std::fputs("t_dat,customer_id,article_id,price,sales_channel_id\n", out);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    // Rows come in baskets as in the H&M file: one customer buys 1 to 6 articles on one day
    // (mean 3.5; the sample's mean is 3.6), on consecutive rows.
    uint64_t r = 0;
    while (r < rows) {
        int day = static_cast<int>(r * 730 / rows);
        std::string date = lookbook::format_iso_date(17794 + day);
        const std::string& customer = customer_ids[rng() % customers];
        int channel = 1 + static_cast<int>(rng() % 2);
        uint64_t basket = std::min<uint64_t>(1 + rng() % 6, rows - r);
        for (uint64_t i = 0; i < basket; ++i, ++r) {
            // Squaring a uniform draw skews picks towards low indices: a few best sellers.
            double u = unit(rng);
            uint64_t article = static_cast<uint64_t>(u * u * static_cast<double>(articles));
            std::fprintf(out,
                         "%s,%s,%s,%.16f,%d\n",
                         date.c_str(),
                         customer.c_str(),
                         article_ids[article].c_str(),
                         0.001 + unit(rng) * 0.2,
                         channel);
        }
    }
    std::fclose(out);
}

// Runs `fn` in a child process and returns its peak resident memory in bytes.
template <typename Fn>
uint64_t run_measured(Fn&& fn) {
    int fds[2];
    if (pipe(fds) != 0) {
        return 0;
    }
    std::fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        fn();
        std::fflush(stdout);
        uint64_t peak = lookbook::peak_rss_bytes();
        ssize_t ignored = write(fds[1], &peak, sizeof(peak));
        (void)ignored;
        _exit(0);
    }
    close(fds[1]);
    uint64_t peak = 0;
    ssize_t got = read(fds[0], &peak, sizeof(peak));
    (void)got;
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return peak;
}

}  // namespace

int main(int argc, char** argv) {
    uint64_t rows = 5'000'000;
    fs::path dir = fs::temp_directory_path() / "lookbook_ingest_bench";
    bool keep = false;
    bool verbose = false;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--rows") && i + 1 < argc) {
            rows = std::stoull(argv[++i]);
        } else if (!std::strcmp(argv[i], "--dir") && i + 1 < argc) {
            dir = argv[++i];
        } else if (!std::strcmp(argv[i], "--keep")) {
            keep = true;
        } else if (!std::strcmp(argv[i], "--verbose")) {
            verbose = true;
        }
    }
    lookbook::log::init_logging(verbose ? lookbook::log::Level::kDebug
                                        : lookbook::log::Level::kError);
    fs::path tx = dir / "transactions.csv";
    if (!fs::exists(tx) || !keep) {
        auto start = Clock::now();
        generate(dir, rows);
        fmt::print("generated {} rows ({:.0f} MB) in {:.1f}s\n",
                   rows,
                   fs::file_size(tx) / 1e6,
                   seconds_since(start));
    }
    double tx_mb = fs::file_size(tx) / 1e6;

    // 1. Parsing alone, single thread.
    uint64_t parse_peak = run_measured([&] {
        auto start = Clock::now();
        double cpu_start = cpu_seconds();
        auto reader = lookbook::CsvReader::open(tx);
        uint64_t n = 0;
        uint64_t bytes = 0;
        while ((*reader)->next()) {
            ++n;
            bytes += (*reader)->fields()[1].size();
        }
        double s = seconds_since(start);
        double cpu = cpu_seconds() - cpu_start;
        fmt::print(
            "csv parse:    {} rows in {:.3f}s wall = {:.2f} M rows/s, {:.0f} MB/s; {:.3f}s CPU "
            "= {:.2f} M rows/s per core (checksum {})\n",
            n,
            s,
            n / s / 1e6,
            tx_mb / s,
            cpu,
            n / cpu / 1e6,
            bytes % 1000);
    });

    // 2. The whole ingest (articles + customers + transactions), single thread.
    fs::path store = dir / "store";
    uint64_t ingest_peak = run_measured([&] {
        lookbook::IngestOptions options;
        options.articles = dir / "articles.csv";
        options.customers = dir / "customers.csv";
        options.transactions = tx;
        options.store = store;
        auto start = Clock::now();
        double cpu_start = cpu_seconds();
        auto report = lookbook::ingest(options);
        double s = seconds_since(start);
        double cpu = cpu_seconds() - cpu_start;
        if (!report.is_ok()) {
            fmt::print("ingest failed: {}\n", report.status().to_string());
            return;
        }
        uint64_t n = report->transactions.rows_kept;
        double in_mb = report->input_bytes / 1e6;
        fmt::print(
            "ingest:       {} transactions (+{} articles, {} customers, {:.0f} MB input) "
            "in {:.3f}s wall = {:.2f} M transaction rows/s, {:.0f} MB/s; {:.3f}s CPU = "
            "{:.2f} M rows/s per core (target >= 5)\n",
            n,
            report->articles.rows_kept,
            report->customers.rows_kept,
            in_mb,
            s,
            n / s / 1e6,
            in_mb / s,
            cpu,
            n / cpu / 1e6);
    });
    auto opened = lookbook::Store::open(store);
    if (!opened.is_ok()) {
        fmt::print("open failed: {}\n", opened.status().to_string());
        return 1;
    }
    uint64_t store_bytes = (*opened)->size_bytes();
    opened = lookbook::Status::ok();
    fmt::print(
        "memory:       ingest peak RSS {:.0f} MB, store {:.0f} MB on disk: ratio {:.2f} "
        "(target <= 2); parse-only peak {:.0f} MB\n",
        ingest_peak / 1e6,
        store_bytes / 1e6,
        double(ingest_peak) / store_bytes,
        parse_peak / 1e6);

    // 3. Opening the store: mapping, header and directory checks, code-range checks.
    double best = 1e9;
    for (int i = 0; i < 5; ++i) {
        auto start = Clock::now();
        auto s = lookbook::Store::open(store);
        best = std::min(best, seconds_since(start));
    }
    auto s = lookbook::Store::open(store);
    auto start = Clock::now();
    lookbook::Status verified = (*s)->verify();
    double verify_s = seconds_since(start);
    fmt::print(
        "open:         {:.1f} ms (best of 5, target < 50 ms); verify all checksums {:.0f} ms "
        "({})\n",
        best * 1e3,
        verify_s * 1e3,
        verified.is_ok() ? "ok" : verified.to_string());
    if (!keep) {
        fs::remove_all(dir);
    }
    return 0;
}
