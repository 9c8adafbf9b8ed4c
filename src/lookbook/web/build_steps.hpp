#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "lookbook/util/status.hpp"

namespace lookbook {

// One step of `lookbook build`. `up_to_date` looks only at what is on disk (the store's live
// generation and the metadata the step wrote last time) and must be cheap; `run` does the work
// and commits its output to the store. Both receive the store folder.
struct BuildStep {
    std::string name;
    std::string description;
    std::function<Result<bool>(const std::filesystem::path& store_dir)> up_to_date;
    std::function<Status(const std::filesystem::path& store_dir)> run;
};

struct BuildOptions {
    bool force = false;  // run every step even when it is up to date
};

struct BuildStepReport {
    std::string name;
    bool skipped = false;  // up to date
    double seconds = 0.0;
};

// Runs `steps` in order, skipping those that are up to date, and logs each step's start, skip
// and duration. Stops at the first failing step and returns its error prefixed with the step's
// name; the steps before it stay committed.
Result<std::vector<BuildStepReport>> run_build(const std::filesystem::path& store_dir,
                                               const std::vector<BuildStep>& steps,
                                               const BuildOptions& options = {});

// The plain C++ steps every build has, in order: "events" (fold recorded purchases into the
// transactions) and "rules" (mine bought-together rules). Torch and index steps are appended by
// the caller.
std::vector<BuildStep> core_build_steps();

}  // namespace lookbook
