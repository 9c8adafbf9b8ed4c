// `lookbook serve` and `lookbook build` as a user runs them: exit codes and messages.
#include <cstdio>
#include <string>

#include <gtest/gtest.h>
#include <sys/wait.h>

namespace {

struct CliRun {
    int exit_code = -1;
    std::string output;
};

CliRun run_cli(const std::string& args) {
    CliRun run;
    std::string command = std::string(LOOKBOOK_CLI) + " " + args + " 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    char buffer[4096];
    while (size_t n = fread(buffer, 1, sizeof(buffer), pipe)) {
        run.output.append(buffer, n);
    }
    int status = pclose(pipe);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return run;
}

TEST(ServeCommand, MissingStoreExits1NamingIt) {
    CliRun run = run_cli("serve /nonexistent/lookbook-store --port 0");
    EXPECT_EQ(run.exit_code, 1);
    EXPECT_NE(run.output.find("lookbook serve: cannot serve /nonexistent/lookbook-store"),
              std::string::npos)
        << run.output;
}

TEST(ServeCommand, BadPortIsUsageError) {
    CliRun run = run_cli("serve /tmp --port 70000");
    EXPECT_EQ(run.exit_code, 2);
    EXPECT_NE(run.output.find("--port"), std::string::npos) << run.output;
}

TEST(BuildCommand, MissingStoreExits1) {
    CliRun run = run_cli("build /nonexistent/lookbook-store");
    EXPECT_EQ(run.exit_code, 1);
    EXPECT_NE(run.output.find("lookbook build: "), std::string::npos) << run.output;
}

}  // namespace
