// Runs the built `lookbook` binary as a user would and checks exit codes and messages.
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lookbook/web/event_log.hpp"

namespace {
namespace fs = std::filesystem;

struct CommandResult {
    int exit_code;
    std::string out;  // stdout and stderr together
};

CommandResult run(const std::string& args) {
    std::string command = std::string(LOOKBOOK_CLI) + " " + args + " 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    CommandResult result{-1, ""};
    std::array<char, 4096> buffer{};
    size_t n;
    while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
        result.out.append(buffer.data(), n);
    }
    int status = pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

class CliTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("lookbook_cli_" + std::to_string(::getpid()) + "_" +
                std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        std::ofstream(dir_ / "a.csv") << "article_id,prod_name,product_type_name\n"
                                         "0001,Tee,T-shirt\n0002,Jeans,Trousers\n";
        std::ofstream(dir_ / "t.csv") << "t_dat,customer_id,article_id,price,sales_channel_id\n"
                                         "2020-01-01,c1,0001,0.1,1\n2020-01-01,c1,0002,0.2,1\n";
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::string path(const std::string& name) const { return (dir_ / name).string(); }
    fs::path dir_;
};

TEST_F(CliTest, IngestThenInfoAsJson) {
    CommandResult ingest = run("ingest --articles " + path("a.csv") + " --transactions " +
                               path("t.csv") + " --store " + path("store"));
    ASSERT_EQ(ingest.exit_code, 0) << ingest.out;
    EXPECT_NE(ingest.out.find("transactions: 2 rows read, 2 kept, 0 rejected"), std::string::npos)
        << ingest.out;
    CommandResult info = run("--log-level off info " + path("store") + " --json --verify");
    ASSERT_EQ(info.exit_code, 0) << info.out;
    EXPECT_NE(info.out.find("\"total\": 2"), std::string::npos) << info.out;
    EXPECT_NE(info.out.find("\"product_type\": \"T-shirt\""), std::string::npos) << info.out;
    EXPECT_NE(info.out.find("\"recorded\": 0"), std::string::npos) << info.out;
    EXPECT_FALSE(fs::exists(lookbook::web::event_log_path(path("store"))))
        << "info created the events file";
    CommandResult text = run("--log-level off info " + path("store"));
    EXPECT_EQ(text.out.find("events:"), std::string::npos) << text.out;
    // Found by a fresh-user trial: events recorded through the API did not show before a build.
    {
        auto log = lookbook::web::EventLog::open(lookbook::web::event_log_path(path("store")));
        ASSERT_TRUE(log.is_ok()) << log.status().message();
        for (const char* article : {"0001", "0002", "0001"}) {
            lookbook::web::CustomerEvent event;
            event.customer_id = "c1";
            event.article_id = article;
            event.kind = lookbook::web::EventKind::kPurchase;
            event.unix_ms = 1600000000000;
            ASSERT_TRUE((*log)->record(event).is_ok());
        }
        ASSERT_TRUE((*log)->mark_folded(1, "gen-000001").is_ok());
    }
    text = run("--log-level off info " + path("store"));
    EXPECT_NE(text.out.find("  events:       3 recorded through the API, 2 not yet in the "
                            "transactions (`lookbook build " +
                            path("store") + "` folds them in)\n"),
              std::string::npos)
        << text.out;
    info = run("--log-level off info " + path("store") + " --json");
    EXPECT_NE(info.out.find("\"not_folded\": 2"), std::string::npos) << info.out;
    EXPECT_NE(info.out.find("\"recorded\": 3"), std::string::npos) << info.out;
}

// Found by a fresh-user trial: an append that added article ids said nothing of the parts it
// left out of date.
TEST_F(CliTest, AppendSaysWhatTheNextBuildDoes) {
    ASSERT_EQ(run("ingest --articles " + path("a.csv") + " --transactions " + path("t.csv") +
                  " --store " + path("store"))
                  .exit_code,
              0);
    std::ofstream(dir_ / "known.csv") << "t_dat,customer_id,article_id\n2020-01-02,c1,0001\n";
    CommandResult known =
        run("ingest --append --transactions " + path("known.csv") + " --store " + path("store"));
    ASSERT_EQ(known.exit_code, 0) << known.out;
    EXPECT_NE(known.out.find("  next: `lookbook build " + path("store") +
                             "` mines the rules and retrains the personal models on the new "
                             "rows\n"),
              std::string::npos)
        << known.out;
    std::ofstream(dir_ / "new.csv") << "t_dat,customer_id,article_id\n2020-01-03,c1,0009\n";
    CommandResult added =
        run("ingest --append --transactions " + path("new.csv") + " --store " + path("store"));
    ASSERT_EQ(added.exit_code, 0) << added.out;
    EXPECT_NE(added.out.find("; until then the 1 new article id has no rules, and similar items, "
                             "search and personal recommendations stay off"),
              std::string::npos)
        << added.out;
}

TEST_F(CliTest, BuildRunsStepsOnceThenSkipsThem) {
    ASSERT_EQ(run("ingest --articles " + path("a.csv") + " --transactions " + path("t.csv") +
                  " --store " + path("store"))
                  .exit_code,
              0);
    CommandResult first = run("--log-level warn build " + path("store"));
    ASSERT_EQ(first.exit_code, 0) << first.out;
    EXPECT_NE(first.out.find("rules      built in"), std::string::npos) << first.out;
    EXPECT_NE(first.out.find("personal   built in"), std::string::npos) << first.out;
    // The offline evaluation the report reads is saved, here as the reason it could not run:
    // one day of sales, all inside the test weeks, leaves nothing to train on (it used to be
    // "evaluated" with models trained on nothing).
    std::ifstream saved(dir_ / "store" / "models" / "evaluation.json");
    std::string evaluation((std::istreambuf_iterator<char>(saved)), {});
    EXPECT_NE(evaluation.find("so nothing is left to train the models on"), std::string::npos)
        << evaluation;
    EXPECT_NE(evaluation.find("\"store_transactions\": 2"), std::string::npos) << evaluation;
    CommandResult second = run("--log-level warn build " + path("store"));
    EXPECT_NE(second.out.find("events     up to date"), std::string::npos) << second.out;
    EXPECT_NE(second.out.find("rules      up to date"), std::string::npos) << second.out;
    EXPECT_NE(second.out.find("personal   up to date"), std::string::npos) << second.out;
    // Rules a user mined with their own options are kept by the next build.
    ASSERT_EQ(run("--log-level warn mine " + path("store") + " --pair-min-support 0").exit_code, 0);
    CommandResult third = run("--log-level warn build " + path("store"));
    EXPECT_NE(third.out.find("rules      up to date"), std::string::npos) << third.out;
    // The personal models answer right after the build, for a known and an unknown customer.
    CommandResult known = run("--log-level warn recommend " + path("store") + " c1 -k 2");
    EXPECT_EQ(known.exit_code, 0) << known.out;
#ifdef LOOKBOOK_CLI_HAS_ENCODERS
    // A two-tower model saved before content fingerprints: current while its content length
    // matches the store's (no embeddings here: 0), retrained when it does not (a model trained
    // on embeddings the store no longer has).
    const fs::path two_tower = dir_ / "store" / "models" / "two_tower";
    fs::create_directories(two_tower);
    std::ofstream(two_tower / "config.json") << R"({"config": {"content_dim": 0}, "info": {}})";
    CommandResult same = run("--log-level warn build " + path("store"));
    EXPECT_NE(same.out.find("personal   up to date"), std::string::npos) << same.out;
    std::ofstream(two_tower / "config.json") << R"({"config": {"content_dim": 640}, "info": {}})";
    CommandResult other = run("--log-level warn build " + path("store"));
    EXPECT_NE(other.out.find("personal   built in"), std::string::npos) << other.out;
#endif
    CommandResult missing = run("build " + path("nothing"));
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_NE(missing.out.find("lookbook build: "), std::string::npos) << missing.out;
}

// Found by a fresh-user trial: `train` advised "lower --test-weeks" and `build` "lower --weeks",
// options neither command has, and a day was printed as a raw number (18207).
TEST_F(CliTest, TrainAndBuildAdviceNamesTheirOwnOptionsAndDates) {
    ASSERT_EQ(run("ingest --articles " + path("a.csv") + " --transactions " + path("t.csv") +
                  " --store " + path("store"))
                  .exit_code,
              0);
    fs::copy(dir_ / "store", dir_ / "built", fs::copy_options::recursive);
    CommandResult train = run("--log-level warn train " + path("store"));
    ASSERT_EQ(train.exit_code, 0) << train.out;
    EXPECT_EQ(train.out.find("--test-weeks"), std::string::npos) << train.out;
#ifdef LOOKBOOK_CLI_HAS_ENCODERS
    // Tuning holds out the last 8 weeks (--validation-weeks) from 2020-01-02 back: 2019-11-07.
    EXPECT_NE(train.out.find("two-tower model for days before 2019-11-07 not trained"),
              std::string::npos)
        << train.out;
    EXPECT_NE(train.out.find("Ingest more transactions or lower --validation-weeks."),
              std::string::npos)
        << train.out;
#endif
    CommandResult build = run("--log-level warn build " + path("built"));
    ASSERT_EQ(build.exit_code, 0) << build.out;
    EXPECT_EQ(build.out.find("--weeks"), std::string::npos) << build.out;
    EXPECT_EQ(build.out.find("--test-weeks"), std::string::npos) << build.out;
    EXPECT_NE(build.out.find("so nothing is left to train the models on; ingest a longer history"),
              std::string::npos)
        << build.out;
}

TEST_F(CliTest, ServeRefusesAMissingStoreAndABadPort) {
    CommandResult missing = run("serve " + path("nothing") + " --port 0");
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_NE(missing.out.find("lookbook serve: cannot serve " + path("nothing")),
              std::string::npos)
        << missing.out;
    EXPECT_EQ(run("serve " + path("nothing") + " --port 70000").exit_code, 2);
    // A negative cache size once wrapped to the largest number and turned the cache off.
    CommandResult cache = run("serve " + path("nothing") + " --recommend-cache -1");
    EXPECT_EQ(cache.exit_code, 2);
    EXPECT_NE(cache.out.find("--recommend-cache"), std::string::npos) << cache.out;
    CommandResult slots = run("serve " + path("nothing") + " --compute-slots -2");
    EXPECT_EQ(slots.exit_code, 2);
    EXPECT_NE(slots.out.find("--compute-slots"), std::string::npos) << slots.out;
}

TEST_F(CliTest, BadRowFailsWithExitCodeOneAndKeepsTheStore) {
    ASSERT_EQ(run("ingest --articles " + path("a.csv") + " --store " + path("store")).exit_code, 0);
    std::ofstream(dir_ / "bad.csv") << "t_dat,customer_id,article_id,price\n"
                                       "2020-01-01,c1,0001,12,50\n";
    CommandResult r = run("ingest --articles " + path("a.csv") + " --transactions " +
                          path("bad.csv") + " --store " + path("store"));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.out.find("bad.csv:2: the row has 5 fields; the header has 4."), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("nothing was changed in"), std::string::npos) << r.out;
    EXPECT_EQ(run("info " + path("store")).exit_code, 0);
}

TEST_F(CliTest, InfoOnAFolderThatIsNoStore) {
    CommandResult r = run("info " + path("nothing"));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.out.find("not a lookbook store (no CURRENT file)"), std::string::npos) << r.out;
}

TEST_F(CliTest, UsageErrorsExitWithTwo) {
    EXPECT_EQ(run("").exit_code, 2);
    EXPECT_EQ(run("ingest --articles x.csv").exit_code, 2);  // --store missing
    EXPECT_EQ(run("ingest --store s --on-bad-row maybe").exit_code, 2);
    CommandResult level = run("--log-level loud info s");
    EXPECT_EQ(level.exit_code, 2);
    EXPECT_NE(level.out.find("--log-level is \"loud\""), std::string::npos);
    // The candidate search's list must hold at least one candidate.
    CommandResult ef = run("--candidate-ef 0 info s");
    EXPECT_EQ(ef.exit_code, 2);
    EXPECT_NE(ef.out.find("--candidate-ef"), std::string::npos) << ef.out;
    // Global options before the command: a flag takes no value, an option's value is no
    // command (a value once read as one gave `"150" is not a command`).
    EXPECT_EQ(run("--exact-scan info " + path("nothing")).exit_code, 1);
    CommandResult valued = run("--candidate-ef 150 --exact-scan info " + path("nothing"));
    EXPECT_EQ(valued.exit_code, 1);
    EXPECT_NE(valued.out.find("not a lookbook store"), std::string::npos) << valued.out;
    EXPECT_EQ(run("--candidate-ef=150 infoo").exit_code, 2);
}

TEST_F(CliTest, MistypedCommandNamesTheClosestOne) {
    CommandResult typo = run("--log-level warn recomend s c1");
    EXPECT_EQ(typo.exit_code, 2);
    EXPECT_EQ(typo.out,
              "lookbook: \"recomend\" is not a command. Did you mean \"recommend\"? "
              "`lookbook --help` lists the commands.\n");
    // A prefix of a command suggests it; a word far from every command suggests nothing.
    EXPECT_NE(run("bought s 1").out.find("Did you mean \"bought-together\"?"), std::string::npos);
    CommandResult far = run("xyzzy");
    EXPECT_EQ(far.exit_code, 2);
    EXPECT_EQ(far.out,
              "lookbook: \"xyzzy\" is not a command. `lookbook --help` lists the commands.\n");
    // Known commands and --help are untouched.
    EXPECT_EQ(run("--help").exit_code, 0);
}

// Found by the fresh-user trial: `lookbook info STORE --log-level warn` got CLI11's "The
// following arguments were not expected: warn --log-level".
TEST_F(CliTest, GlobalOptionAfterTheCommandSaysToPutItFirst) {
    CommandResult level = run("info s --log-level warn");
    EXPECT_EQ(level.exit_code, 2);
    EXPECT_EQ(level.out,
              "lookbook: --log-level is an option of lookbook itself, not of `info`: put it "
              "before the command, as in `lookbook --log-level warn info ...`.\n");
    CommandResult flag = run("recommend s c1 --exact-scan -k 3");
    EXPECT_EQ(flag.exit_code, 2);
    EXPECT_EQ(flag.out,
              "lookbook: --exact-scan is an option of lookbook itself, not of `recommend`: put "
              "it before the command, as in `lookbook --exact-scan recommend ...`.\n");
    // A command's own --help is its own.
    EXPECT_EQ(run("info --help").exit_code, 0);
}

TEST_F(CliTest, MissingArticlesFileSaysWhichOption) {
    CommandResult r = run("ingest --articles " + path("none.csv") + " --store " + path("store"));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.out.find("--articles: " + path("none.csv") + ": no such file. Check the path."),
              std::string::npos)
        << r.out;
}

// The fresh-user trial's files: lookbook's field names as column names, timestamps, and
// --unknown-ids bad-row without --customers (which rejected every transaction).
TEST_F(CliTest, IngestReadsFieldNamesTimestampsAndChecksOnlyTheFilesGiven) {
    std::ofstream(dir_ / "items.csv") << "id,name,colour,product_group\n"
                                         "0001,Tee,Black,Garment Upper body\n"
                                         "0002,Jeans,Blue,Garment Lower body\n";
    std::ofstream(dir_ / "sales.csv") << "date,customer_id,article_id\n"
                                         "2024-01-03 10:22:00,c001,0001\n"
                                         "2024-01-03T10:22:00Z,c001,0002\n"
                                         "2024-01-04T10:22:00.123+02:00,c002,0001\n"
                                         "2024-01-04T10:22:00.123+02:00,c002,0003\n";
    // The command line's layout wins over the mapping file's.
    std::ofstream(dir_ / "mapping.json") << R"({"date_format": "%d/%m/%Y"})";
    CommandResult r = run("ingest --articles " + path("items.csv") + " --transactions " +
                          path("sales.csv") + " --mapping " + path("mapping.json") +
                          " --date-format %Y-%m-%d --unknown-ids bad-row --on-bad-row skip" +
                          " --store " + path("store"));
    ASSERT_EQ(r.exit_code, 0) << r.out;
    EXPECT_NE(r.out.find("transactions: 4 rows read, 3 kept, 1 rejected"), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("0 articles and 2 customers added without metadata"), std::string::npos)
        << r.out;
    CommandResult help = run("ingest --help");
    EXPECT_NE(help.out.find("overrides the mapping file's date_format"), std::string::npos)
        << help.out;
    EXPECT_NE(help.out.find("without --customers the customers are not checked"), std::string::npos)
        << help.out;
}

#ifdef LOOKBOOK_CLI_HAS_ENCODERS
TEST_F(CliTest, EmbedStoresTextVectorsAndSaysWhereTheCacheIs) {
    ASSERT_EQ(run("ingest --articles " + path("a.csv") + " --store " + path("store")).exit_code, 0);
    CommandResult r =
        run("embed " + path("store") + " --model " + LOOKBOOK_CLIP_FIXTURE + " --batch 1");
    ASSERT_EQ(r.exit_code, 0) << r.out;
    EXPECT_NE(r.out.find("embedded 2 articles into gen-000002 (dim 32): 2 texts; 0 photos"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("image cache: " + path("store") + "/cache/image-embeddings/"),
              std::string::npos)
        << r.out;
}

// A store of four articles with a photo each (the CLIP fixture's images) and two purchases.
class CliPhotoTest : public CliTest {
  protected:
    void SetUp() override {
        CliTest::SetUp();
        fs::create_directories(dir_ / "images");
        const char* photos[] = {"red_square_50x50.png",
                                "stripes_blue_white_60x60.png",
                                "gradient_48x40.png",
                                "gray_36x53.png"};
        for (int i = 0; i < 4; ++i) {
            fs::copy_file(fs::path(LOOKBOOK_CLIP_IMAGES) / photos[i],
                          dir_ / "images" / ("000" + std::to_string(i + 1) + ".png"));
        }
        std::ofstream(dir_ / "photo.csv")
            << "article_id,prod_name,product_type_name,colour_group_name\n"
               "0001,Red top,Top,Red\n0002,Striped shirt,Shirt,Blue\n"
               "0003,Soft scarf,Scarf,Beige\n"
               "0004,Grey jeans,Trousers,Grey\n";
        CommandResult ingest =
            run("ingest --articles " + path("photo.csv") + " --transactions " + path("t.csv") +
                " --images " + path("images") + " --store " + path("store"));
        ASSERT_EQ(ingest.exit_code, 0) << ingest.out;
        ASSERT_NE(ingest.out.find("images:       4 found"), std::string::npos) << ingest.out;
    }
    fs::path encoder() const { return dir_ / "store" / "models" / "encoder"; }
};

// Found by a review: a retrained encoder left the old embeddings "up to date", and search then
// failed with a dimension mismatch.
TEST_F(CliPhotoTest, BuildEmbedsAgainWhenTheEncoderWasReplaced) {
    CommandResult first = run("--log-level warn build " + path("store") + " --encoder-minutes 0.1");
    ASSERT_EQ(first.exit_code, 0) << first.out;
    EXPECT_NE(first.out.find("encoder    built in"), std::string::npos) << first.out;
    EXPECT_NE(first.out.find("embed      built in"), std::string::npos) << first.out;
    CommandResult same = run("--log-level warn build " + path("store"));
    EXPECT_NE(same.out.find("embed      up to date"), std::string::npos) << same.out;

    // Another model (another seed, one step) in the encoder's place.
    CommandResult other = run("--log-level warn train-encoder " + path("store") + " --output " +
                              path("other") + " --epochs 1 --seed 2");
    ASSERT_EQ(other.exit_code, 0) << other.out;
    fs::remove_all(encoder());
    fs::rename(dir_ / "other", encoder());
    CommandResult again = run("--log-level warn build " + path("store"));
    ASSERT_EQ(again.exit_code, 0) << again.out;
    EXPECT_NE(again.out.find("encoder    up to date"), std::string::npos) << again.out;
    EXPECT_NE(again.out.find("embed      built in"), std::string::npos) << again.out;
    EXPECT_NE(again.out.find("index      built in"), std::string::npos) << again.out;
    CommandResult after = run("--log-level warn build " + path("store"));
    EXPECT_NE(after.out.find("embed      up to date"), std::string::npos) << after.out;
    EXPECT_NE(after.out.find("index      up to date"), std::string::npos) << after.out;
}

// A build stopped during the encoder's training left a checkpoint and no model; the next build
// failed with "holds a training checkpoint; pass --resume".
TEST_F(CliPhotoTest, BuildResumesAnInterruptedEncoderTraining) {
    CommandResult trained = run("--log-level warn train-encoder " + path("store") + " --output " +
                                encoder().string() + " --epochs 1");
    ASSERT_EQ(trained.exit_code, 0) << trained.out;
    fs::remove(encoder() / "open_clip_model.safetensors");
    CommandResult build = run("--log-level info build " + path("store"));
    ASSERT_EQ(build.exit_code, 0) << build.out;
    EXPECT_NE(build.out.find("holds an interrupted training; resuming it"), std::string::npos)
        << build.out;
    EXPECT_NE(build.out.find("resuming " + encoder().string() + " at step 1"), std::string::npos)
        << build.out;
    EXPECT_TRUE(fs::exists(encoder() / "open_clip_model.safetensors"));
}

// --force trains a new encoder beside the old one (whose checkpoint made train-encoder refuse
// the folder) and swaps it in.
TEST_F(CliPhotoTest, ForcedBuildRetrainsTheEncoderBesideTheOldOne) {
    ASSERT_EQ(run("--log-level warn build " + path("store") + " --encoder-minutes 0.1").exit_code,
              0);
    CommandResult forced =
        run("--log-level info build " + path("store") + " --force --encoder-minutes 0.1");
    ASSERT_EQ(forced.exit_code, 0) << forced.out;
    EXPECT_NE(forced.out.find("encoder: training a new model in " + encoder().string() + ".tmp"),
              std::string::npos)
        << forced.out;
    EXPECT_TRUE(fs::exists(encoder() / "open_clip_model.safetensors"));
    EXPECT_FALSE(fs::exists(encoder().string() + ".tmp"));
    EXPECT_FALSE(fs::exists(encoder().string() + ".old"));
}

// Found by a fresh-user trial: embeddings recorded the model folder as an absolute path, so
// after `cp -a STORE COPY` (and removing STORE) search failed with "model folder does not exist".
TEST_F(CliTest, SearchFindsTheModelOfACopiedStore) {
    ASSERT_EQ(run("ingest --articles " + path("a.csv") + " --store " + path("store")).exit_code, 0);
    const fs::path inside = dir_ / "store" / "models" / "encoder";
    fs::create_directories(inside.parent_path());
    fs::copy(LOOKBOOK_CLIP_FIXTURE, inside, fs::copy_options::recursive);
    ASSERT_EQ(run("embed " + path("store") + " --model " + inside.string()).exit_code, 0);
    fs::copy(dir_ / "store", dir_ / "copy", fs::copy_options::recursive);
    fs::remove_all(dir_ / "store");
    CommandResult found = run("--log-level warn search " + path("copy") + " \"blue jeans\" -k 2");
    EXPECT_EQ(found.exit_code, 0) << found.out;
    EXPECT_NE(found.out.find(" 1. 000"), std::string::npos) << found.out;
}

TEST_F(CliTest, SearchSaysWhatToDoWhenTheModelIsGone) {
    ASSERT_EQ(run("ingest --articles " + path("a.csv") + " --store " + path("store")).exit_code, 0);
    fs::copy(LOOKBOOK_CLIP_FIXTURE, dir_ / "model", fs::copy_options::recursive);
    ASSERT_EQ(run("embed " + path("store") + " --model " + path("model")).exit_code, 0);
    fs::remove_all(dir_ / "model");
    CommandResult gone = run("--log-level warn search " + path("store") + " jeans");
    EXPECT_EQ(gone.exit_code, 1);
    EXPECT_EQ(gone.out,
              "lookbook search: the store's embeddings were made with the model in " +
                  path("model") +
                  ", which does not exist (was the store or the model copied or moved?); pass "
                  "--model DIR (the folder of that model), or run `lookbook embed " +
                  path("store") + "` again\n");
    CommandResult other = run("--log-level warn search " + path("store") + " jeans -k 1 --model " +
                              LOOKBOOK_CLIP_FIXTURE);
    EXPECT_EQ(other.exit_code, 0) << other.out;
}

TEST_F(CliTest, EmbedWithMissingModelFails) {
    ASSERT_EQ(run("ingest --articles " + path("a.csv") + " --store " + path("store")).exit_code, 0);
    CommandResult r = run("embed " + path("store") + " --model " + path("nope"));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.out.find("lookbook embed: " + path("nope") + ": model folder does not exist"),
              std::string::npos)
        << r.out;
}

TEST_F(CliTest, TrainEncoderWithoutPhotosSaysWhatIsMissing) {
    ASSERT_EQ(run("ingest --articles " + path("a.csv") + " --store " + path("store")).exit_code, 0);
    CommandResult r = run("train-encoder " + path("store") + " --output " + path("model"));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.out.find("lookbook train-encoder: 0 training pairs; contrastive training needs at "
                         "least 2 articles with a photo and a text"),
              std::string::npos)
        << r.out;
    EXPECT_EQ(run("train-encoder " + path("store")).exit_code, 2);  // --output missing
}

TEST_F(CliTest, TrainEncoderRejectsAnUnknownHoldoutSplit) {
    CommandResult r = run("train-encoder " + path("store") + " --output " + path("model") +
                          " --holdout 0.1 --holdout-split products");
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.out.find("--holdout-split: products not in {article,product}"), std::string::npos)
        << r.out;
    EXPECT_FALSE(fs::exists(path("model")));
}
#endif

}  // namespace
