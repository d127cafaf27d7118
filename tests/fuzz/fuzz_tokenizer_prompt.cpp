// libFuzzer target: prompts of any bytes through the CLIP tokenizer built
// into Daub (ClipTokenizer::builtin: special tokens, NFC and lower-casing,
// CLIP's split, byte-level BPE), both its variants (SDXL's second pads
// with "!"), and A1111's chunking of a weighted prompt into 77-token
// chunks (pipelines/prompt_chunks.h) with its token counter.
//
// Refusals (daub::RequestError) are expected; a crash, a sanitizer report,
// another exception or ids and chunks that break the tokenizer's promises
// are a finding.
#include "core/errors.h"
#include "fuzz_support.h"
#include "pipelines/prompt_chunks.h"
#include "tokenizer/clip_tokenizer.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace {

void check_ids(const daub::ClipTokenizer& tok, const std::vector<int64_t>& ids) {
    for (const int64_t id : ids)
        DAUB_FUZZ_CHECK(id >= 0 && static_cast<size_t>(id) < tok.vocab_size());
}

void check(const daub::ClipTokenizer& tok, const std::string& text) {
    const std::vector<int64_t> ids = tok.encode(text);
    DAUB_FUZZ_CHECK(ids.size() >= 2 && ids.front() == tok.bos_id() && ids.back() == tok.eos_id());
    check_ids(tok, ids);
    const std::vector<int64_t> padded = tok.encode_padded(text, 77);
    DAUB_FUZZ_CHECK(padded.size() == 77);
    DAUB_FUZZ_CHECK(padded.front() == tok.bos_id());
    DAUB_FUZZ_CHECK(ids.size() <= 77 || padded.back() == tok.eos_id());
    const std::vector<std::string> tokens = tok.tokenize(text);
    DAUB_FUZZ_CHECK(tokens.size() == ids.size() - 2);
    for (const std::string& t : tokens)
        DAUB_FUZZ_CHECK(!t.empty());

    try {
        const daub::ChunkedPrompt chunked = daub::chunk_prompt(tok, text);
        DAUB_FUZZ_CHECK(!chunked.chunks.empty());
        for (const daub::PromptChunk& c : chunked.chunks) {
            DAUB_FUZZ_CHECK(c.ids.size() == 77 && c.weights.size() == 77);
            DAUB_FUZZ_CHECK(c.ids.front() == tok.bos_id());
            check_ids(tok, c.ids);
        }
        DAUB_FUZZ_CHECK(daub::count_prompt_tokens(tok, text) == chunked.token_count);
        DAUB_FUZZ_CHECK(chunked.token_count >= 0);
    } catch (const daub::RequestError&) {
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const daub::ClipTokenizer tokenizer = daub::ClipTokenizer::builtin();
    static const daub::ClipTokenizer tokenizer_2 = daub::ClipTokenizer::builtin("!");
    const std::string text(reinterpret_cast<const char*>(data), size);
    check(tokenizer, text);
    check(tokenizer_2, text);
    return 0;
}
