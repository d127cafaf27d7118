// The CLIP byte-level BPE tokenizer of Stable Diffusion's text encoders,
// giving the ids of transformers' CLIPTokenizer (the `tokenizers`-backed
// fast tokenizer of transformers 5):
//
//   1. special tokens (BOS, EOS, UNK, PAD, and any `added_tokens_decoder`
//      entry) written literally in the prompt are cut out first and map
//      straight to their ids; SDXL's second tokenizer pads with "!", so
//      "!!!" there is three "!" tokens;
//   2. each remaining piece is normalised: NFC, every run of whitespace to
//      one space, lower case;
//   3. it is split by CLIP's pattern: <|startoftext|>, <|endoftext|>, the
//      contractions 's 't 're 've 'm 'll 'd, letter runs, single digits,
//      runs of other non-space characters; whitespace is dropped;
//   4. each word's UTF-8 bytes become one symbol each (the GPT-2 byte to
//      character table), the last marked with "</w>", and BPE merges them,
//      lowest merge rank first;
//   5. BOS + ids + EOS.
//
//   auto tok = daub::ClipTokenizer::from_folder("model/tokenizer");
//   std::vector<int64_t> ids = tok.encode_padded("a photo of a cat"); // 77 ids
//
// Thread safety: a loaded tokenizer is immutable except for its word cache,
// which a mutex guards; encode() may be called from several threads.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace daub {

/// One token that is matched in the text before BPE (transformers' "added
/// tokens": the special tokens and `added_tokens_decoder`).
struct ClipAddedToken {
    std::string content;
    int64_t id = 0;
    bool normalized = false; ///< matched in the normalised text instead of the raw text
};

class ClipTokenizer {
public:
    /// Loads `dir`/vocab.json, `dir`/merges.txt and, when present,
    /// `dir`/special_tokens_map.json and `dir`/tokenizer_config.json (the
    /// latter wins: pad_token, bos_token, eos_token, unk_token as strings or
    /// AddedToken objects, model_max_length, added_tokens_decoder). Throws
    /// ModelError naming the file that is missing or wrong.
    /// `pad_token_override` (e.g. "!" for SDXL's second tokenizer when it
    /// shares the first one's files) replaces the folder's pad token.
    static ClipTokenizer from_folder(const std::string& dir,
                                     const std::string& pad_token_override = "");

    /// The tokenizer of Stable Diffusion's CLIP text encoders from the data
    /// compiled into Daub (tokenizer/clip_builtin.h): OpenAI's merge list
    /// and the vocabulary built from it, BOS "<|startoftext|>", EOS and UNK
    /// "<|endoftext|>", 77 tokens; the ids of a clip-vit-large-patch14
    /// tokenizer folder. Pads with "<|endoftext|>" unless
    /// `pad_token_override` is given ("!" for SDXL's second tokenizer).
    /// Reads no file.
    static ClipTokenizer builtin(const std::string& pad_token_override = "");

    /// The special token strings and the length of the text encoder's input.
    struct Config {
        std::string bos_token = "<|startoftext|>"; ///< prepended to every prompt
        std::string eos_token = "<|endoftext|>";   ///< appended, kept last when truncating
        std::string unk_token = "<|endoftext|>";   ///< for bytes the vocabulary lacks
        std::string pad_token = "<|endoftext|>";   ///< SDXL's second tokenizer: "!"
        int model_max_length = 77;                 ///< CLIP's context length
    };

    /// Builds from parsed files: `vocab` token -> id, `merges` in rank
    /// order. `source` names the folder in error messages.
    ClipTokenizer(std::unordered_map<std::string, int64_t> vocab,
                  const std::vector<std::pair<std::string, std::string>>& merges, Config config,
                  std::vector<ClipAddedToken> extra_added_tokens = {},
                  const std::string& source = "tokenizer");

    ClipTokenizer(ClipTokenizer&&) noexcept;
    ClipTokenizer& operator=(ClipTokenizer&&) noexcept;
    ~ClipTokenizer();

    /// BOS, the prompt's tokens, EOS; not truncated.
    std::vector<int64_t> encode(const std::string& text) const;
    /// encode() cut to `max_length` with EOS kept last, then padded with
    /// pad_id() to exactly `max_length` ids. Throws RequestError when
    /// max_length < 2.
    std::vector<int64_t> encode_padded(const std::string& text, int max_length = 77) const;
    /// The prompt's tokens only (no BOS/EOS), as strings of the vocabulary.
    std::vector<std::string> tokenize(const std::string& text) const;

    int64_t bos_id() const { return bos_id_; }
    int64_t eos_id() const { return eos_id_; }
    int64_t pad_id() const { return pad_id_; }
    int64_t unk_id() const { return unk_id_; }
    int model_max_length() const { return config_.model_max_length; }
    const Config& config() const { return config_; }
    /// Number of entries of the vocabulary (vocab.json).
    std::size_t vocab_size() const { return id_to_token_.size(); }
    /// The vocabulary entry of `id`; empty when out of range.
    std::string token(int64_t id) const;
    /// The id of a vocabulary entry, or -1.
    int64_t token_id(const std::string& token) const;

private:
    struct Merge {
        int32_t rank;
        int32_t id; ///< id of the merged token
    };

    void encode_text(std::string_view text, std::vector<int64_t>& out) const;
    void encode_normalized(const std::u32string& text, std::vector<int64_t>& out) const;
    void encode_word(std::string_view word, std::vector<int64_t>& out) const;
    std::vector<int64_t> bpe(std::string_view word) const;
    int64_t lookup_special(const std::string& content, const std::string& what,
                           const std::string& source) const;

    Config config_;
    std::unordered_map<std::string, int64_t> vocab_;
    std::vector<std::string> id_to_token_;
    std::unordered_map<uint64_t, Merge> merges_;   ///< (left id << 32 | right id) -> merge
    int64_t byte_id_[256];                         ///< id of each byte's character
    int64_t byte_eow_id_[256];                     ///< id of each byte's character + "</w>"
    std::vector<ClipAddedToken> raw_added_;        ///< matched in the raw text
    std::vector<ClipAddedToken> normalized_added_; ///< matched after normalisation
    std::vector<std::u32string> normalized_added_text_;
    int64_t bos_id_ = 0, eos_id_ = 0, pad_id_ = 0, unk_id_ = -1;

    mutable std::unique_ptr<std::mutex> cache_mutex_;
    mutable std::unordered_map<std::string, std::vector<int64_t>> cache_; ///< word -> ids
};

/// The merges of a merges.txt text: an optional "#version" first line, then
/// one "left right" pair per line, in rank order. `source` names the file in
/// the ModelError for a malformed line or an empty list.
std::vector<std::pair<std::string, std::string>> parse_clip_merges(std::string_view text,
                                                                   const std::string& source);

/// The vocabulary of OpenAI's CLIP tokenizer built from its merges, as
/// clip/simple_tokenizer.py builds it: the 256 byte characters (GPT-2's
/// byte-to-unicode order), the same with "</w>", one entry per merge (the
/// two sides joined), then "<|startoftext|>" and "<|endoftext|>". The index
/// is the id.
std::vector<std::string>
clip_vocabulary(const std::vector<std::pair<std::string, std::string>>& merges);

} // namespace daub
