#include "lookbook/encoders/align_tokenizer.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <utf8proc.h>

#include "lookbook/encoders/unicode_text.hpp"
#include "lookbook/util/file.hpp"

namespace lookbook {
namespace {

namespace fs = std::filesystem;

// HF's WordpieceTokenizer.max_input_chars_per_word.
constexpr size_t kMaxCharsPerWord = 100;
constexpr std::string_view kContinuation = "##";

utf8proc_category_t category(char32_t cp) {
    return utf8proc_category(static_cast<utf8proc_int32_t>(cp));
}

// BERT's _is_control: every "C*" category except TAB, LF, CR (which are whitespace).
bool is_control(char32_t cp) {
    if (cp == '\t' || cp == '\n' || cp == '\r') {
        return false;
    }
    const utf8proc_category_t c = category(cp);
    return c == UTF8PROC_CATEGORY_CN || c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF ||
           c == UTF8PROC_CATEGORY_CS || c == UTF8PROC_CATEGORY_CO;
}

// BERT's _is_whitespace: the four ASCII spaces and category Zs.
bool is_bert_whitespace(char32_t cp) {
    return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' ||
           category(cp) == UTF8PROC_CATEGORY_ZS;
}

// What Python's str.split() still splits on after clean-up removed the controls: spaces and
// the line and paragraph separators (U+2028, U+2029), which BERT does not map to a space.
bool is_split_space(char32_t cp) { return cp == ' ' || cp == 0x2028 || cp == 0x2029; }

// BERT's _is_punctuation: all non-alphanumeric ASCII, plus every "P*" category.
bool is_punctuation(char32_t cp) {
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
        (cp >= 123 && cp <= 126)) {
        return true;
    }
    const utf8proc_category_t c = category(cp);
    return c == UTF8PROC_CATEGORY_PC || c == UTF8PROC_CATEGORY_PD || c == UTF8PROC_CATEGORY_PS ||
           c == UTF8PROC_CATEGORY_PE || c == UTF8PROC_CATEGORY_PI || c == UTF8PROC_CATEGORY_PF ||
           c == UTF8PROC_CATEGORY_PO;
}

// BERT's _is_chinese_char: the CJK Unified Ideographs blocks (not Japanese kana or Hangul).
bool is_cjk(char32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

std::u32string normalize(const std::u32string& text, int options) {
    std::u32string out;
    size_t bad = 0;
    // utf8proc output is valid UTF-8, so strict decoding cannot fail here.
    if (!decode_utf8_strict(
            utf8proc_normalize(encode_utf8(text), UTF8PROC_STABLE | options), &out, &bad)) {
        return text;
    }
    return out;
}

// NFD, then drop the combining marks (category Mn).
std::u32string strip_accents(const std::u32string& word) {
    std::u32string out;
    for (char32_t cp : normalize(word, UTF8PROC_DECOMPOSE)) {
        if (category(cp) != UTF8PROC_CATEGORY_MN) {
            out.push_back(cp);
        }
    }
    return out;
}

// Splits on whitespace, dropping empty words (Python's str.split()).
std::vector<std::u32string> split_words(const std::u32string& text) {
    std::vector<std::u32string> words;
    std::u32string current;
    for (char32_t cp : text) {
        if (is_split_space(cp)) {
            if (!current.empty()) {
                words.push_back(std::move(current));
                current.clear();
            }
        } else {
            current.push_back(cp);
        }
    }
    if (!current.empty()) {
        words.push_back(std::move(current));
    }
    return words;
}

}  // namespace

Result<WordPieceTokenizer> WordPieceTokenizer::from_vocab_file(
    const fs::path& vocab_txt, const AlignTokenizerOptions& options) {
    LOOKBOOK_ASSIGN_OR_RETURN(std::string text, read_file(vocab_txt));
    WordPieceTokenizer out;
    out.options_ = options;
    size_t begin = 0;
    while (begin < text.size()) {
        size_t end = text.find('\n', begin);
        end = end == std::string::npos ? text.size() : end;
        std::string token = text.substr(begin, end - begin);
        // Python reads the file in text mode, so a Windows line ending is one newline.
        if (!token.empty() && token.back() == '\r') {
            token.pop_back();
        }
        // A later duplicate wins, as in HF's load_vocab (a dict filled line by line).
        out.token_to_id_[token] = static_cast<int64_t>(out.id_to_token_.size());
        out.id_to_token_.push_back(std::move(token));
        begin = end + 1;
    }
    if (out.id_to_token_.empty()) {
        return Status::invalid_data(vocab_txt.string() +
                                    ": the vocabulary is empty; expected one WordPiece token per "
                                    "line (the model's vocab.txt)");
    }
    std::string missing;
    auto find = [&](const char* name, int64_t* id) {
        auto it = out.token_to_id_.find(name);
        if (it == out.token_to_id_.end()) {
            missing += missing.empty() ? name : std::string(", ") + name;
        } else {
            *id = it->second;
        }
    };
    find("[CLS]", &out.cls_id_);
    find("[SEP]", &out.sep_id_);
    find("[PAD]", &out.pad_id_);
    find("[UNK]", &out.unk_id_);
    if (!missing.empty()) {
        return Status::invalid_data(
            fmt::format("{}: {} tokens read, but {} missing; expected a BERT vocab.txt with the "
                        "special tokens [CLS], [SEP], [PAD] and [UNK]",
                        vocab_txt.string(),
                        out.id_to_token_.size(),
                        missing));
    }
    return out;
}

Result<WordPieceTokenizer> WordPieceTokenizer::from_model_dir(
    const fs::path& dir, const AlignTokenizerOptions& options) {
    return from_vocab_file(dir / "vocab.txt", options);
}

Result<std::vector<std::string>> WordPieceTokenizer::basic_tokens(std::string_view text) const {
    std::u32string decoded;
    size_t bad = 0;
    if (!decode_utf8_strict(text, &decoded, &bad)) {
        return Status::invalid_argument(fmt::format(
            "text is not valid UTF-8 (byte 0x{:02x} at offset {}); re-encode it as UTF-8",
            static_cast<unsigned char>(text[bad]),
            bad));
    }

    // Clean-up: drop NUL, U+FFFD and controls; whitespace becomes a space; CJK stands alone.
    std::u32string cleaned;
    cleaned.reserve(decoded.size());
    for (char32_t cp : decoded) {
        if (cp == 0 || cp == 0xFFFD || is_control(cp)) {
            continue;
        }
        if (is_bert_whitespace(cp)) {
            cleaned.push_back(' ');
        } else if (options_.tokenize_chinese_chars && is_cjk(cp)) {
            cleaned += U' ';
            cleaned.push_back(cp);
            cleaned += U' ';
        } else {
            cleaned.push_back(cp);
        }
    }

    // Per word: case and accents, then every punctuation character becomes its own token.
    std::vector<std::string> tokens;
    for (std::u32string word : split_words(normalize(cleaned, UTF8PROC_COMPOSE))) {
        if (options_.do_lower_case) {
            word = python_lower(word);
        }
        if (options_.strip_accents) {
            word = strip_accents(word);
        }
        std::u32string current;
        for (char32_t cp : word) {
            if (is_punctuation(cp)) {
                if (!current.empty()) {
                    tokens.push_back(encode_utf8(current));
                    current.clear();
                }
                tokens.push_back(encode_utf8(std::u32string(1, cp)));
            } else {
                current.push_back(cp);
            }
        }
        if (!current.empty()) {
            tokens.push_back(encode_utf8(current));
        }
    }
    return tokens;
}

void WordPieceTokenizer::append_word_pieces(const std::u32string& word,
                                            std::vector<std::string>* out) const {
    if (word.size() > kMaxCharsPerWord) {
        out->push_back(id_to_token_[unk_id_]);
        return;
    }
    // Greedy longest match from the left; one unmatched position makes the whole word [UNK].
    std::vector<std::string> pieces;
    size_t start = 0;
    while (start < word.size()) {
        size_t end = word.size();
        std::string match;
        for (; end > start; --end) {
            std::string candidate = start > 0 ? std::string(kContinuation) : std::string();
            candidate += encode_utf8(word.substr(start, end - start));
            if (token_to_id_.count(candidate) > 0) {
                match = std::move(candidate);
                break;
            }
        }
        if (match.empty()) {
            out->push_back(id_to_token_[unk_id_]);
            return;
        }
        pieces.push_back(std::move(match));
        start = end;
    }
    out->insert(out->end(), pieces.begin(), pieces.end());
}

Result<std::vector<std::string>> WordPieceTokenizer::wordpieces(std::string_view text) const {
    LOOKBOOK_ASSIGN_OR_RETURN(std::vector<std::string> words, basic_tokens(text));
    std::vector<std::string> pieces;
    for (const std::string& word : words) {
        std::u32string decoded;
        size_t bad = 0;
        // Built from valid UTF-8 above, so this cannot fail.
        decode_utf8_strict(word, &decoded, &bad);
        append_word_pieces(decoded, &pieces);
    }
    return pieces;
}

Result<WordPieceEncoding> WordPieceTokenizer::encode(std::string_view text,
                                                     size_t max_length) const {
    if (max_length == 0) {
        max_length = static_cast<size_t>(options_.max_length);
    }
    max_length = std::max<size_t>(max_length, 2);
    LOOKBOOK_ASSIGN_OR_RETURN(std::vector<std::string> pieces, wordpieces(text));
    WordPieceEncoding out;
    out.untruncated_tokens = pieces.size() + 2;
    const size_t kept = std::min(pieces.size(), max_length - 2);
    out.input_ids.reserve(max_length);
    out.input_ids.push_back(cls_id_);
    for (size_t i = 0; i < kept; ++i) {
        out.input_ids.push_back(token_to_id_.at(pieces[i]));
    }
    out.input_ids.push_back(sep_id_);
    out.attention_mask.assign(out.input_ids.size(), 1);
    out.input_ids.resize(max_length, pad_id_);
    out.attention_mask.resize(max_length, 0);
    return out;
}

}  // namespace lookbook
