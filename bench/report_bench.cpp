// Time to generate `lookbook report` on the H&M sample: the sample is ingested into a temporary
// store (or --store DIR is used) and write_report runs end to end (data profile, the
// bought-together evaluation with its retraining, both files). Target: under a minute on 2 cores.
//
//   report_bench [--store DIR] [--evaluation FILE] [--out DIR]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "hm_sample.hpp"
#include "lookbook/report/report.hpp"
#include "lookbook/store/store.hpp"
#include "lookbook/util/file.hpp"
#include "lookbook/util/log.hpp"

namespace {

namespace fs = std::filesystem;

int run(const std::string& given_store, const std::string& evaluation_file, fs::path out) {
    fs::path work = fs::temp_directory_path() / "lookbook_report_bench";
    fs::path store_dir = given_store;
    if (store_dir.empty()) {
        fs::remove_all(work);
        store_dir = work / "store";
        if (!lookbook::bench::ingest_hm_sample(store_dir)) {
            return 1;
        }
    }
    if (out.empty()) {
        out = work / "report";
    }

    auto start = std::chrono::steady_clock::now();
    auto store = lookbook::Store::open(store_dir);
    if (!store.is_ok()) {
        std::fprintf(stderr, "%s\n", store.status().to_string().c_str());
        return 1;
    }
    lookbook::report::ReportOptions options;
    options.out_dir = out;
    if (!evaluation_file.empty()) {
        auto evaluation = lookbook::report::read_personal_evaluation(evaluation_file);
        if (!evaluation.is_ok()) {
            std::fprintf(stderr, "%s\n", evaluation.status().to_string().c_str());
            return 1;
        }
        options.personal_evaluation = std::move(evaluation).value();
    }
    auto files = lookbook::report::write_report(**store, options);
    if (!files.is_ok()) {
        std::fprintf(stderr, "%s\n", files.status().to_string().c_str());
        return 1;
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf(
        "report on the H&M sample (%llu transactions): %.2f s (target < 60 s), peak RSS "
        "%.0f MB, report.html %llu bytes\n",
        static_cast<unsigned long long>((*store)->transactions().size()),
        seconds,
        static_cast<double>(lookbook::peak_rss_bytes()) / 1e6,
        static_cast<unsigned long long>(fs::file_size(files->html)));
    std::printf("written to %s\n", files->html.string().c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    lookbook::log::init_logging(lookbook::log::Level::kWarn);
    std::string store;
    std::string evaluation;
    std::string out;
    for (int idx = 1; idx + 1 < argc; idx += 2) {
        std::string flag = argv[idx];
        if (flag == "--store") {
            store = argv[idx + 1];
        } else if (flag == "--evaluation") {
            evaluation = argv[idx + 1];
        } else if (flag == "--out") {
            out = argv[idx + 1];
        }
    }
    return run(store, evaluation, out);
}
