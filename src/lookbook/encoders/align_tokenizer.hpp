#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lookbook/encoders/align_config.hpp"
#include "lookbook/util/status.hpp"

namespace lookbook {

// One text as the BERT tower takes it: max_length ids ([CLS] pieces [SEP] [PAD]...) and the
// attention mask (1 for real tokens, 0 for padding). token_type_ids are all 0 and not stored.
struct WordPieceEncoding {
    std::vector<int64_t> input_ids;
    std::vector<int64_t> attention_mask;
    size_t untruncated_tokens = 0;  // [CLS] + pieces + [SEP] before truncation
};

// BERT's WordPiece tokenizer, reproducing Hugging Face's slow BertTokenizer (BasicTokenizer +
// WordpieceTokenizer), as kakaobrain/align-base uses it: delete control characters, map
// whitespace to spaces, space out CJK ideographs, NFC, split on whitespace, lower-case and strip
// accents (NFD without Mn) as the options say, split off punctuation, then greedy
// longest-match-first WordPiece with "##" continuations; a word longer than 100 code points or
// with an unmatched position becomes one [UNK].
//
// TODO: special-token strings typed in the text ("[SEP]", "[MASK]") are split like any text;
// HF keeps them whole as their special ids. Catalog text does not contain them; a text that
// does gets different ids than transformers.
//
// Immutable after construction; const methods may be called from several threads at once.
class WordPieceTokenizer {
  public:
    // Reads vocab.txt (one token per line, id = line number). kNotFound when the file is
    // missing, kInvalidData (naming the file) when it is empty or lacks [CLS], [SEP], [PAD] or
    // [UNK].
    static Result<WordPieceTokenizer> from_vocab_file(const std::filesystem::path& vocab_txt,
                                                      const AlignTokenizerOptions& options = {});

    // DIR/vocab.txt with the options of DIR/tokenizer_config.json (read_align_config).
    static Result<WordPieceTokenizer> from_model_dir(const std::filesystem::path& dir,
                                                     const AlignTokenizerOptions& options);

    // The basic tokenizer's words (after clean-up, case and accent handling, punctuation split).
    // kInvalidArgument when `text` is not valid UTF-8, naming the byte offset.
    Result<std::vector<std::string>> basic_tokens(std::string_view text) const;

    // The WordPiece pieces of the whole text, without [CLS]/[SEP]. Errors as basic_tokens.
    Result<std::vector<std::string>> wordpieces(std::string_view text) const;

    // [CLS] + the first max_length - 2 pieces + [SEP], right-padded with [PAD] to max_length
    // (options().max_length when 0). Errors as basic_tokens.
    Result<WordPieceEncoding> encode(std::string_view text, size_t max_length = 0) const;

    const AlignTokenizerOptions& options() const { return options_; }
    size_t vocab_size() const { return id_to_token_.size(); }
    int64_t cls_id() const { return cls_id_; }
    int64_t sep_id() const { return sep_id_; }
    int64_t pad_id() const { return pad_id_; }
    int64_t unk_id() const { return unk_id_; }

  private:
    WordPieceTokenizer() = default;
    // Appends the pieces of one basic-tokenizer word to `out`.
    void append_word_pieces(const std::u32string& word, std::vector<std::string>* out) const;

    AlignTokenizerOptions options_;
    std::unordered_map<std::string, int64_t> token_to_id_;
    std::vector<std::string> id_to_token_;
    int64_t cls_id_ = -1;
    int64_t sep_id_ = -1;
    int64_t pad_id_ = -1;
    int64_t unk_id_ = -1;
};

}  // namespace lookbook
