#include "lookbook/encoders/align_tokenizer.hpp"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include "align_fixture.hpp"

namespace lookbook {
namespace {

namespace fs = std::filesystem;
using testing::align_fixture_dir;

WordPieceTokenizer fixture_tokenizer() {
    auto tokenizer = WordPieceTokenizer::from_vocab_file(align_fixture_dir() / "vocab.txt");
    EXPECT_TRUE(tokenizer.is_ok()) << tokenizer.status().message();
    return std::move(tokenizer).value();
}

// A vocab.txt of `tokens` in a fresh temporary folder.
fs::path write_vocab(const std::string& name, const std::vector<std::string>& tokens) {
    const fs::path dir = fs::temp_directory_path() /
                         ("lookbook_align_vocab_" + std::to_string(::getpid()) + "_" + name);
    fs::create_directories(dir);
    std::ofstream out(dir / "vocab.txt", std::ios::binary);
    for (const std::string& token : tokens) {
        out << token << "\n";
    }
    return dir / "vocab.txt";
}

TEST(WordPieceTokenizer, MatchesReferenceIdsAndMasksForEveryFixtureText) {
    const WordPieceTokenizer tokenizer = fixture_tokenizer();
    const nlohmann::json expected = testing::load_align_expected_json();
    ASSERT_EQ(expected["texts"].size(), 8u);
    for (const nlohmann::json& text : expected["texts"]) {
        const std::string input = text["text"];
        SCOPED_TRACE(input);
        auto basic = tokenizer.basic_tokens(input);
        ASSERT_TRUE(basic.is_ok()) << basic.status().message();
        EXPECT_EQ(*basic, text["basic_tokens"].get<std::vector<std::string>>());
        auto pieces = tokenizer.wordpieces(input);
        ASSERT_TRUE(pieces.is_ok());
        EXPECT_EQ(*pieces, text["wordpieces"].get<std::vector<std::string>>());
        auto encoded = tokenizer.encode(input, 64);
        ASSERT_TRUE(encoded.is_ok());
        EXPECT_EQ(encoded->input_ids, text["input_ids"].get<std::vector<int64_t>>());
        EXPECT_EQ(encoded->attention_mask, text["attention_mask"].get<std::vector<int64_t>>());
        EXPECT_EQ(encoded->untruncated_tokens, text["n_tokens_untruncated"].get<size_t>());
    }
}

TEST(WordPieceTokenizer, MatchesReferenceIdTensor) {
    const WordPieceTokenizer tokenizer = fixture_tokenizer();
    const nlohmann::json expected = testing::load_align_expected_json();
    torch::Tensor ids = testing::align_expected_tensor("input_ids");  // [8, 64]
    for (int64_t row = 0; row < ids.size(0); ++row) {
        auto encoded = tokenizer.encode(expected["texts"][row]["text"].get<std::string>());
        ASSERT_TRUE(encoded.is_ok());
        EXPECT_TRUE(torch::equal(torch::tensor(encoded->input_ids), ids[row])) << "row " << row;
    }
}

TEST(WordPieceTokenizer, GreedyLongestMatchWithContinuations) {
    // By hand: "unaffable" -> un ##aff ##able, the longest prefix first at every position.
    auto tokenizer = WordPieceTokenizer::from_vocab_file(write_vocab(
        "greedy",
        {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "una", "##aff", "##able", "##a", "##ff", "!"}));
    ASSERT_TRUE(tokenizer.is_ok()) << tokenizer.status().message();
    auto pieces = tokenizer->wordpieces("UNAFFABLE!");
    ASSERT_TRUE(pieces.is_ok());
    // "una" matches first, then "##ff" and "##able": greedy, not globally best.
    EXPECT_EQ(*pieces, (std::vector<std::string>{"una", "##ff", "##able", "!"}));
    auto encoded = tokenizer->encode("unaffable xyz", 6);
    ASSERT_TRUE(encoded.is_ok());
    EXPECT_EQ(encoded->input_ids, (std::vector<int64_t>{2, 5, 9, 7, 1, 3}));
}

TEST(WordPieceTokenizer, TruncatesToMaxLengthKeepingClsAndSep) {
    const WordPieceTokenizer tokenizer = fixture_tokenizer();
    auto encoded = tokenizer.encode("red red red red red", 4);
    ASSERT_TRUE(encoded.is_ok());
    // [CLS] red red [SEP]: 2 of the 5 pieces kept; "red" is 2417 in bert-base-uncased.
    EXPECT_EQ(encoded->input_ids, (std::vector<int64_t>{101, 2417, 2417, 102}));
    EXPECT_EQ(encoded->attention_mask, (std::vector<int64_t>{1, 1, 1, 1}));
    EXPECT_EQ(encoded->untruncated_tokens, 7u);
}

TEST(WordPieceTokenizer, KeepsCaseAndAccentsWhenConfigured) {
    AlignTokenizerOptions cased;
    cased.do_lower_case = false;
    cased.strip_accents = false;
    auto tokenizer = WordPieceTokenizer::from_vocab_file(align_fixture_dir() / "vocab.txt", cased);
    ASSERT_TRUE(tokenizer.is_ok());
    auto basic = tokenizer->basic_tokens("Café, OK");
    ASSERT_TRUE(basic.is_ok());
    EXPECT_EQ(*basic, (std::vector<std::string>{"Café", ",", "OK"}));
}

TEST(WordPieceTokenizer, RefusesInvalidUtf8NamingTheOffset) {
    const WordPieceTokenizer tokenizer = fixture_tokenizer();
    auto encoded = tokenizer.encode(std::string("red \xC3\x28 dress"));
    ASSERT_FALSE(encoded.is_ok());
    EXPECT_EQ(encoded.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(encoded.status().message(),
              "text is not valid UTF-8 (byte 0xc3 at offset 4); re-encode it as UTF-8");
}

TEST(WordPieceTokenizer, MissingVocabFileIsNotFound) {
    auto tokenizer = WordPieceTokenizer::from_vocab_file("/nonexistent/align/vocab.txt");
    ASSERT_FALSE(tokenizer.is_ok());
    EXPECT_EQ(tokenizer.status().code(), StatusCode::kNotFound);
    EXPECT_NE(tokenizer.status().message().find("/nonexistent/align/vocab.txt"), std::string::npos)
        << tokenizer.status().message();
}

TEST(WordPieceTokenizer, VocabWithoutSpecialTokensIsRefused) {
    const fs::path vocab = write_vocab("nospecial", {"[PAD]", "[UNK]", "red"});
    auto tokenizer = WordPieceTokenizer::from_vocab_file(vocab);
    ASSERT_FALSE(tokenizer.is_ok());
    EXPECT_EQ(tokenizer.status().code(), StatusCode::kInvalidData);
    EXPECT_EQ(tokenizer.status().message(),
              vocab.string() +
                  ": 3 tokens read, but [CLS], [SEP] missing; expected a BERT vocab.txt with the "
                  "special tokens [CLS], [SEP], [PAD] and [UNK]");
}

TEST(WordPieceTokenizer, EmptyVocabIsRefused) {
    const fs::path vocab = write_vocab("empty", {});
    auto tokenizer = WordPieceTokenizer::from_vocab_file(vocab);
    ASSERT_FALSE(tokenizer.is_ok());
    EXPECT_EQ(tokenizer.status().message(),
              vocab.string() +
                  ": the vocabulary is empty; expected one WordPiece token per line (the model's "
                  "vocab.txt)");
}

}  // namespace
}  // namespace lookbook
