// A prompt as the AUTOMATIC1111 web UI feeds it to CLIP text encoders: any
// length, in chunks of 75 tokens, each with a weight per token
// (modules/sd_hijack_clip.py's tokenize_line):
//
//   - the prompt is parsed for weights and BREAK (metadata/prompt_syntax.h),
//     each piece tokenized on its own (no BOS/EOS);
//   - tokens fill a chunk of 75; when a chunk is full and the last comma is
//     within its last 20 tokens, the tokens after that comma move on to the
//     next chunk; BREAK ends the chunk there;
//   - each chunk becomes BOS + its tokens + EOS, padded to 77 with the
//     tokenizer's pad token (SDXL's second tokenizer pads with "!"), with
//     weight 1 at BOS, EOS and padding;
//   - a prompt with no tokens is one chunk: BOS, EOS, padding.
//
// A prompt of up to 75 tokens without markup gives the same 77 ids as
// ClipTokenizer::encode_padded, so short prompts encode exactly as before.
#pragma once

#include "metadata/prompt_syntax.h"

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace daub {

class ClipTokenizer;

constexpr int kPromptChunkTokens = 75; ///< prompt tokens per chunk (BOS and EOS make 77)
constexpr int kCommaBacktrack = 20;    ///< A1111's comma_padding_backtrack default
constexpr int kMaxPromptChunks = 32;   ///< 2,400 tokens; beyond: RequestError

/// One chunk: the 77 ids a text encoder takes, and each token's weight.
struct PromptChunk {
    std::vector<int64_t> ids;    ///< 77: BOS, up to 75 tokens, EOS, padding
    std::vector<double> weights; ///< 77; 1.0 at BOS, EOS and padding

    /// True when some weight differs from 1 (the encoder then rescales).
    bool weighted() const;
};

struct ChunkedPrompt {
    std::vector<PromptChunk> chunks; ///< at least one
    /// A1111's token count: 75 for every chunk before the last (a BREAK
    /// counts its chunk as full), plus the tokens of the last one.
    int token_count = 0;
};

/// Chunks parsed pieces (parse_prompt_attention's) with `tokenizer`.
/// RequestError when the prompt needs more than `max_chunks` chunks.
ChunkedPrompt chunk_prompt(const ClipTokenizer& tokenizer, const std::vector<PromptWeight>& parsed,
                           int max_chunks = kMaxPromptChunks);
/// parse_prompt_attention, then the above.
ChunkedPrompt chunk_prompt(const ClipTokenizer& tokenizer, std::string_view prompt,
                           int max_chunks = kMaxPromptChunks);

/// A1111's token count of `prompt` (as ChunkedPrompt::token_count), for any
/// length: chunks are counted, not kept. RequestError only for a prompt
/// parse_prompt_attention refuses.
int count_prompt_tokens(const ClipTokenizer& tokenizer, std::string_view prompt);
/// The counter's limit for a count: the next multiple of 75, at least 75
/// (42 → 75, 90 → 150, 150 → 150).
int prompt_token_limit(int token_count);

/// The chunk of an empty prompt: BOS, EOS, padding; all weights 1.
PromptChunk empty_prompt_chunk(const ClipTokenizer& tokenizer);
/// Appends empty chunks until `prompt` has `count` (so a prompt and its
/// negative prompt have the same length).
void pad_prompt_chunks(ChunkedPrompt& prompt, std::size_t count, const ClipTokenizer& tokenizer);

} // namespace daub
