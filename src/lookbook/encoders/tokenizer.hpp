#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "lookbook/util/status.hpp"

namespace lookbook {

// CLIP's byte-level BPE tokenizer, reproducing openai/CLIP's simple_tokenizer.py followed by
// clip.tokenize(..., truncate=True): the same ids for the same text.
//
// Text clean-up follows ftfy.fix_text + html.unescape twice + whitespace collapse + lowercase.
// Implemented from ftfy: HTML entities (semicolon forms, repeated until nothing changes, only
// when the line has no '<'), C1 controls read as Windows-1252, Latin ligatures, fullwidth and
// halfwidth forms folded as NFKC does, curly quotes made straight, terminal colour codes and
// control characters removed, NFC. Lowercasing is Python's str.lower (full mapping for U+0130,
// final sigma).
//
// Input bytes that are not valid UTF-8 become U+FFFD (Python would have refused to decode them).
//
// TODO: ftfy's mojibake repair is not implemented: fix_encoding (text decoded with the wrong
// code page, such as "cafÃ©"), with its helpers restore_byte_a0, replace_lossy_sequences and
// decode_inconsistent_utf8. It needs ftfy's badness heuristics and several legacy code pages;
// catalog text with mojibake gets different ids than OpenAI's tokenizer.
// TODO: only the common HTML entities are known (the 106 legacy Latin-1 names plus typographic
// ones such as &hellip; &mdash; &rsquo; &euro; &trade;); a rarer name such as &notin; stays as
// text or falls back to a legacy prefix ("&notin;" -> "¬in;"), where Python decodes it.
// TODO: the "cased" and "case-ignorable" properties for final sigma are approximated from
// utf8proc's lower/upper tables and categories; Greek text with unusual marks can differ.
//
// Thread safety: all const methods may be called from several threads at once (the BPE cache
// is guarded by a mutex).
class ClipTokenizer {
  public:
    // vocab.json + merges.txt (Hugging Face layout). Fails with kNotFound for a missing file and
    // kInvalidData naming the file (and line) for a malformed entry, a merge whose result is not
    // in the vocabulary, or missing special tokens.
    static Result<ClipTokenizer> from_vocab_and_merges(const std::filesystem::path& vocab_json,
                                                       const std::filesystem::path& merges_txt);

    // OpenAI's bpe_simple_vocab_16e6.txt.gz: the vocabulary is built from the merges as
    // simple_tokenizer.py does (256 byte symbols, the same with "</w>", one per merge, then
    // <|startoftext|> and <|endoftext|>).
    static Result<ClipTokenizer> from_bpe_gz(const std::filesystem::path& bpe_gz);

    // The vocabulary simple_tokenizer.py builds from `merges` (in rank order): 256 byte symbols,
    // the same with "</w>", one token per merge, <|startoftext|>, <|endoftext|>; for a BPE
    // learned from a catalog (see learn_clip_bpe). Every required token is built here, so the
    // kInvalidData check of from_vocab_and_merges (naming `name`) cannot fire in practice.
    static Result<ClipTokenizer> from_merges(
        std::vector<std::pair<std::string, std::string>> merges, const std::string& name);

    // Finds vocab.json+merges.txt or bpe_simple_vocab_16e6.txt.gz in DIR or DIR/tokenizer.
    static Result<ClipTokenizer> from_model_dir(const std::filesystem::path& dir);

    ClipTokenizer(ClipTokenizer&&) noexcept;
    ClipTokenizer& operator=(ClipTokenizer&&) noexcept;
    ~ClipTokenizer();

    // Cleans, tokenizes and pads/truncates: [49406, ids..., 49407, 0...], size context_length.
    // When the text is too long the first context_length ids are kept and the last is set to
    // <|endoftext|>. context_length must be at least 2.
    std::vector<int64_t> encode(std::string_view text, size_t context_length = 77) const;

    // The cleaned text (ftfy subset, html unescape, whitespace collapse, lowercase).
    std::string clean(std::string_view text) const;

    // The BPE token strings (byte symbols as in vocab.json, "</w>" ends a word).
    std::vector<std::string> bpe_tokens(std::string_view text) const;

    // Token string of each id (index = id), and the merges in rank order; for comparing two
    // tokenizers and for debugging.
    const std::vector<std::string>& id_to_token() const { return id_to_token_; }
    const std::vector<std::pair<std::string, std::string>>& merges() const { return merges_; }
    int64_t start_of_text_id() const { return start_id_; }
    int64_t end_of_text_id() const { return end_id_; }

  private:
    struct Cache;

    ClipTokenizer();
    // Checks that every byte symbol, merge result and special token has an id; `source` names
    // the file for the error message.
    Status finish_setup(const std::string& source);
    // BPE pieces of one pre-token whose bytes are already mapped to byte symbols.
    std::vector<std::string> bpe_word(const std::string& word) const;
    // Appends the BPE pieces of the cleaned text's pre-tokens, stopping before the first
    // pre-token that starts when `pieces` already holds max_pieces.
    // TODO: one pathological "word" (tens of thousands of letters without a space) still costs
    // quadratic time in bpe_word, as in Python; catalog text never has one, an attacker could.
    void append_pieces(std::string_view cleaned,
                       size_t max_pieces,
                       std::vector<std::string>* pieces) const;

    std::unordered_map<std::string, int64_t> token_to_id_;
    std::vector<std::string> id_to_token_;
    std::vector<std::pair<std::string, std::string>> merges_;
    // "first second" -> rank; a space never occurs inside a byte symbol.
    std::unordered_map<std::string, int> merge_ranks_;
    std::array<std::string, 256> byte_symbols_;
    int64_t start_id_ = -1;
    int64_t end_id_ = -1;
    std::unique_ptr<Cache> cache_;
};

}  // namespace lookbook
