#include "lookbook/encoders/tokenizer.hpp"

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <zlib.h>

#include "input_fixture.hpp"

namespace lookbook {
namespace {

namespace fs = std::filesystem;
using testing::clip_fixture_dir;

const ClipTokenizer& gz_tokenizer() {
    static const ClipTokenizer tok = [] {
        auto r = ClipTokenizer::from_bpe_gz(clip_fixture_dir() / "tokenizer" /
                                            "bpe_simple_vocab_16e6.txt.gz");
        EXPECT_TRUE(r.is_ok()) << r.status().to_string();
        return std::move(r).value();
    }();
    return tok;
}

const ClipTokenizer& json_tokenizer() {
    static const ClipTokenizer tok = [] {
        auto r = ClipTokenizer::from_vocab_and_merges(clip_fixture_dir() / "hf" / "vocab.json",
                                                      clip_fixture_dir() / "hf" / "merges.txt");
        EXPECT_TRUE(r.is_ok()) << r.status().to_string();
        return std::move(r).value();
    }();
    return tok;
}

// A scratch folder per test, removed afterwards.
class TempDir {
  public:
    TempDir() {
        path_ =
            fs::temp_directory_path() /
            ("lookbook_tok_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
             "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(path_);
    }
    ~TempDir() { fs::remove_all(path_); }
    fs::path write(const std::string& name, const std::string& content) const {
        std::ofstream(path_ / name, std::ios::binary) << content;
        return path_ / name;
    }
    fs::path write_gz(const std::string& name, const std::string& content) const {
        gzFile f = gzopen((path_ / name).c_str(), "wb");
        gzwrite(f, content.data(), static_cast<unsigned>(content.size()));
        gzclose(f);
        return path_ / name;
    }
    const fs::path& path() const { return path_; }

  private:
    fs::path path_;
};

TEST(ClipTokenizer, MatchesOpenAiIdsCleanTextAndBpeForFixtureTexts) {
    nlohmann::json expected = testing::load_clip_expected_json();
    ASSERT_EQ(expected["texts"].size(), 8u);
    for (const auto& t : expected["texts"]) {
        std::string text = t["text"].get<std::string>();
        SCOPED_TRACE(text);
        EXPECT_EQ(gz_tokenizer().clean(text), t["cleaned_text"].get<std::string>());
        EXPECT_EQ(gz_tokenizer().bpe_tokens(text), t["bpe_tokens"].get<std::vector<std::string>>());
        EXPECT_EQ(gz_tokenizer().encode(text), t["token_ids"].get<std::vector<int64_t>>());
    }
}

TEST(ClipTokenizer, MatchesInputIdsTensorOfFixture) {
    auto tensors =
        testing::read_fixture_safetensors(clip_fixture_dir() / "expected_tensors.safetensors");
    const auto& input_ids = tensors.at("input_ids");
    ASSERT_EQ(input_ids.dtype, "I64");
    ASSERT_EQ(input_ids.shape, (std::vector<int64_t>{8, 77}));
    std::vector<int64_t> all = input_ids.values<int64_t>();
    nlohmann::json expected = testing::load_clip_expected_json();
    for (size_t row = 0; row < 8; ++row) {
        std::vector<int64_t> want(all.begin() + row * 77, all.begin() + (row + 1) * 77);
        EXPECT_EQ(json_tokenizer().encode(expected["texts"][row]["text"].get<std::string>()), want)
            << "row " << row;
    }
}

TEST(ClipTokenizer, VocabJsonAndBpeGzBuildIdenticalTables) {
    ASSERT_EQ(gz_tokenizer().id_to_token().size(), 49408u);
    EXPECT_EQ(gz_tokenizer().id_to_token(), json_tokenizer().id_to_token());
    EXPECT_EQ(gz_tokenizer().merges().size(), 48894u);
    EXPECT_EQ(gz_tokenizer().merges(), json_tokenizer().merges());
    EXPECT_EQ(json_tokenizer().start_of_text_id(), 49406);
    EXPECT_EQ(json_tokenizer().end_of_text_id(), 49407);
    for (const char* text :
         {"Organic cotton T-shirt, 100% recycled!", "Ünïcödé ﬁts 👗👠", "日本語"}) {
        EXPECT_EQ(gz_tokenizer().encode(text), json_tokenizer().encode(text)) << text;
    }
}

TEST(ClipTokenizer, TruncatesAtContextLengthAndEndsWithEndOfText) {
    // "a photo of a red dress" is [49406, 320, 1125, 539, 320, 736, 2595, 49407].
    EXPECT_EQ(gz_tokenizer().encode("a photo of a red dress", 5),
              (std::vector<int64_t>{49406, 320, 1125, 539, 49407}));
    EXPECT_EQ(gz_tokenizer().encode("a photo of a red dress", 8),
              (std::vector<int64_t>{49406, 320, 1125, 539, 320, 736, 2595, 49407}));
    EXPECT_EQ(gz_tokenizer().encode("a photo of a red dress", 10),
              (std::vector<int64_t>{49406, 320, 1125, 539, 320, 736, 2595, 49407, 0, 0}));
    EXPECT_EQ(gz_tokenizer().encode("", 2), (std::vector<int64_t>{49406, 49407}));
}

TEST(ClipTokenizer, SpecialTokenTextMapsToItsId) {
    // The regex matches "<|endoftext|>" as one token and the BPE cache returns it unchanged.
    std::vector<int64_t> ids = gz_tokenizer().encode("a <|endoftext|>", 5);
    EXPECT_EQ(ids, (std::vector<int64_t>{49406, 320, 49407, 49407, 0}));
}

TEST(ClipTokenizer, CleansHtmlEntitiesLikeFtfyAndHtmlUnescape) {
    const ClipTokenizer& tok = gz_tokenizer();
    // ftfy repeats its unescape until nothing changes, then html.unescape runs twice more.
    EXPECT_EQ(tok.clean("fish &amp;amp;amp;amp; chips"), "fish & chips");
    // With a '<' in the line ftfy leaves entities alone: only the two html.unescape passes.
    EXPECT_EQ(tok.clean("<b> &amp;amp;amp;amp;"), "<b> &amp;amp;");
    EXPECT_EQ(tok.clean("&#x41;&#66;&#67"), "abc");
    EXPECT_EQ(tok.clean("caf&eacute; &EACUTE; &amp &copy2024 &hellip;"), "café é & ©2024 …");
    EXPECT_EQ(tok.clean("&#0; &#x110000; &#128; &#1;x"), "\uFFFD \uFFFD € x");
    EXPECT_EQ(tok.clean("&unknown; &#; & x"), "&unknown; &#; & x");
}

TEST(ClipTokenizer, CleansUnicodeLikeFtfy) {
    const ClipTokenizer& tok = gz_tokenizer();
    EXPECT_EQ(tok.clean("\u201cQuoted\u201d \u2018x\u2019 \u02bcy"), "\"quoted\" 'x' 'y");
    EXPECT_EQ(tok.clean("ＡＢＣ　１２３ ｶ"), "abc 123 カ");
    EXPECT_EQ(tok.clean("\uFB01ne \uFB02ow \u0132"), "fine flow ij");
    EXPECT_EQ(tok.clean("\u01C4ep \u0149"), "d\u017Eep 'n");  // DŽ digraph; ŉ -> ʼn -> 'n
    EXPECT_EQ(tok.clean("cafe\u0301"), "caf\u00e9");          // NFC
    EXPECT_EQ(tok.clean("a\x07"
                        "b\x1b[31mred\x1b[0m"),
              "abred");                         // controls, colours
    EXPECT_EQ(tok.clean("it\u0092s"), "it's");  // C1 read as cp1252
    EXPECT_EQ(tok.clean("\u00a0 x\u2003\u3000y \r\n z\u2028"), "x y z");
}

TEST(ClipTokenizer, LowercasesLikePython) {
    const ClipTokenizer& tok = gz_tokenizer();
    EXPECT_EQ(tok.clean("ÀÉÎ ΟΔΟΣ ΣΑ"),
              "àéî \u03bf\u03b4\u03bf\u03c2 \u03c3\u03b1");  // final sigma at word end
    EXPECT_EQ(tok.clean("İ"), "i\u0307");
}

TEST(ClipTokenizer, SplitsContractionsDigitsAndPunctuation) {
    // Joining the pieces shows the pre-token boundaries whatever the merges do inside a word.
    std::string joined;
    for (const std::string& piece : gz_tokenizer().bpe_tokens("we'll 12 ?!'s")) {
        joined += piece + "|";
    }
    std::string words;
    for (size_t pos = 0; pos < joined.size();) {
        size_t bar = joined.find('|', pos);
        std::string piece = joined.substr(pos, bar - pos);
        words += piece;
        if (piece.size() >= 4 && piece.ends_with("</w>")) {
            words += " ";
        }
        pos = bar + 1;
    }
    EXPECT_EQ(words, "we</w> 'll</w> 1</w> 2</w> ?!'</w> s</w> ");
}

TEST(ClipTokenizer, EncodesTheSameFromSeveralThreads) {
    // The BPE cache is shared; concurrent encodes of fresh words must not disturb each other.
    std::vector<std::string> texts;
    for (int i = 0; i < 64; ++i) {
        texts.push_back("variant" + std::to_string(i * 7919) + " wool-blend coat no. " +
                        std::string(1, static_cast<char>('a' + i % 26)) + "zzle" +
                        std::to_string(i));
    }
    std::vector<std::vector<int64_t>> serial;
    for (const std::string& t : texts) {
        serial.push_back(json_tokenizer().encode(t));
    }
    std::vector<std::vector<std::vector<int64_t>>> results(4);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < results.size(); ++t) {
        threads.emplace_back([&, t] {
            for (const std::string& text : texts) {
                results[t].push_back(gz_tokenizer().encode(text));
            }
        });
    }
    for (std::thread& thread : threads) {
        thread.join();
    }
    for (const auto& r : results) {
        EXPECT_EQ(r, serial);
    }
}

TEST(ClipTokenizer, ReportsMissingFileByName) {
    auto r = ClipTokenizer::from_bpe_gz("/nonexistent/bpe.txt.gz");
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
    EXPECT_NE(r.status().message().find("/nonexistent/bpe.txt.gz"), std::string::npos);
}

// The message of a load that must fail with kInvalidData.
std::string invalid_data_message(const Result<ClipTokenizer>& r) {
    EXPECT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidData);
    return r.status().message();
}

std::string load_error(const TempDir& dir, const std::string& vocab, const std::string& merges) {
    return invalid_data_message(ClipTokenizer::from_vocab_and_merges(
        dir.write("vocab.json", vocab), dir.write("merges.txt", merges)));
}

TEST(ClipTokenizer, ReportsMalformedMergesLineWithFileAndLine) {
    TempDir dir;
    EXPECT_EQ(load_error(dir, R"({"a": 0, "b": 1, "ab": 2})", "#version: 0.2\na b\nabc\n"),
              (dir.path() / "merges.txt").string() +
                  ":3: merge line is \"abc\"; expected two symbols separated by a space. Fix the "
                  "line or use the model's original merges.txt");
}

TEST(ClipTokenizer, ReportsMergeWhoseResultIsNotInVocab) {
    TempDir dir;
    EXPECT_EQ(load_error(dir, R"({"a": 0, "b": 1, "ab": 2})", "#version: 0.2\na b\nb a\n"),
              (dir.path() / "merges.txt").string() + ":3: merge result \"ba\" is not in " +
                  (dir.path() / "vocab.json").string() +
                  "; the two files do not belong together. Use the vocab.json and merges.txt of "
                  "the same model");
}

TEST(ClipTokenizer, ReportsVocabularyWithoutByteSymbols) {
    TempDir dir;
    EXPECT_EQ(load_error(dir, R"({"a": 0, "b": 1, "ab": 2})", "#version: 0.2\na b\n"),
              (dir.path() / "vocab.json").string() +
                  ": token \"!\" is missing from the vocabulary; a CLIP vocabulary has every byte "
                  "symbol (with and without </w>) and the <|startoftext|> and <|endoftext|> "
                  "tokens");
}

TEST(ClipTokenizer, ReportsVocabJsonThatIsNotAnObject) {
    TempDir dir;
    EXPECT_EQ(load_error(dir, "[1, 2]", "#version: 0.2\n"),
              (dir.path() / "vocab.json").string() +
                  ": is not a JSON object of token -> id; expected the tokenizer's vocab.json");
}

std::string gz_error(const fs::path& path) {
    return invalid_data_message(ClipTokenizer::from_bpe_gz(path));
}

TEST(ClipTokenizer, ReportsMalformedGzLine) {
    TempDir dir;
    fs::path gz = dir.write_gz("bpe.txt.gz", "#version\ni n\nbroken\n");
    EXPECT_EQ(gz_error(gz),
              gz.string() +
                  ":3: merge line is \"broken\"; expected two symbols separated by a space. The "
                  "file is damaged; use the original bpe_simple_vocab_16e6.txt.gz");
}

TEST(ClipTokenizer, ReportsTooFewMergesAndDataThatIsNotGzip) {
    TempDir dir;
    fs::path short_gz = dir.write_gz("short.txt.gz", "#version\ni n\nt h\n");
    EXPECT_EQ(gz_error(short_gz),
              short_gz.string() +
                  ": has 2 merges; CLIP's BPE needs 48894. The file is truncated; use the "
                  "original bpe_simple_vocab_16e6.txt.gz");
    fs::path not_gz = dir.write("plain.txt.gz", "#version\ni n\n");
    EXPECT_EQ(gz_error(not_gz),
              not_gz.string() +
                  ": not a complete gzip file (zlib: incorrect header check); download "
                  "bpe_simple_vocab_16e6.txt.gz again");
}

TEST(ClipTokenizer, FromModelDirFindsEitherLayoutOrSaysWhatItWants) {
    auto hf = ClipTokenizer::from_model_dir(clip_fixture_dir() / "hf");
    ASSERT_TRUE(hf.is_ok()) << hf.status().to_string();
    auto openai = ClipTokenizer::from_model_dir(clip_fixture_dir());
    ASSERT_TRUE(openai.is_ok()) << openai.status().to_string();
    EXPECT_EQ(hf->encode("red dress"), openai->encode("red dress"));

    TempDir dir;
    auto missing = ClipTokenizer::from_model_dir(dir.path());
    ASSERT_FALSE(missing.is_ok());
    EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
    EXPECT_EQ(missing.status().message(),
              dir.path().string() +
                  ": no tokenizer found; expected vocab.json and merges.txt, or "
                  "bpe_simple_vocab_16e6.txt.gz, in this folder or its tokenizer/ subfolder");
}

}  // namespace
}  // namespace lookbook
