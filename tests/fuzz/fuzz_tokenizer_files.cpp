// libFuzzer target: a tokenizer folder as ClipTokenizer::from_folder reads
// it (vocab.json through its SAX reader, merges.txt, tokenizer_config.json
// and special_tokens_map.json with their special tokens, model_max_length
// and added_tokens_decoder), then prompts encoded with what it built.
//
// The input is the folder's files, each after a line "--- NAME":
//
//   --- vocab.json
//   {"a": 0, "b": 1, "ab</w>": 2, ...}
//   --- merges.txt
//   #version: 0.2
//   a b</w>
//   --- tokenizer_config.json            (optional)
//   --- special_tokens_map.json          (optional)
//   --- prompt                           (optional: encoded; else a fixed few)
//
// They are written to a private temporary folder, since from_folder reads
// files. Refusals (daub::Error) are expected; a crash, a sanitizer report,
// another exception, or ids outside the tokenizer's own vocabulary are a
// finding.
#include "core/errors.h"
#include "fuzz_support.h"
#include "tokenizer/clip_tokenizer.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace {

const char* const kFiles[] = {"vocab.json", "merges.txt", "tokenizer_config.json",
                              "special_tokens_map.json"};

void check_ids(const daub::ClipTokenizer& tok, const std::vector<int64_t>& ids) {
    for (const int64_t id : ids)
        DAUB_FUZZ_CHECK(id >= 0 && static_cast<size_t>(id) < tok.vocab_size());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static daub::fuzz::TempDir dir;
    std::map<std::string, std::string_view> sections;
    daub::fuzz::for_each_section(
        std::string_view(reinterpret_cast<const char*>(data), size),
        [&](std::string_view name, std::string_view body) { sections[std::string(name)] = body; });
    for (const char* name : kFiles) {
        if (auto it = sections.find(name); it != sections.end())
            dir.put(name, it->second);
        else
            dir.remove(name);
    }
    std::vector<std::string> prompts = {"a photo of a cat", "<|startoftext|>x<|endoftext|>!!",
                                        "Ünïcödé  (text:1.2) 日本語 's 're 123"};
    if (auto it = sections.find("prompt"); it != sections.end())
        prompts.assign(1, std::string(it->second));

    for (const char* pad : {"", "!"}) {
        try {
            const daub::ClipTokenizer tok =
                daub::ClipTokenizer::from_folder(dir.path().string(), pad);
            DAUB_FUZZ_CHECK(tok.model_max_length() >= 2);
            check_ids(tok, {tok.bos_id(), tok.eos_id(), tok.pad_id()});
            for (const std::string& prompt : prompts) {
                const std::vector<int64_t> ids = tok.encode(prompt);
                DAUB_FUZZ_CHECK(ids.size() >= 2);
                check_ids(tok, ids);
                const std::vector<int64_t> padded =
                    tok.encode_padded(prompt, tok.model_max_length());
                DAUB_FUZZ_CHECK(padded.size() == static_cast<size_t>(tok.model_max_length()));
                check_ids(tok, padded);
                (void)tok.tokenize(prompt);
            }
            daub::fuzz::note("loaded", (std::to_string(tok.vocab_size()) + " tokens").c_str());
        } catch (const daub::Error& e) {
            daub::fuzz::note("refused", e.what());
        }
    }
    return 0;
}
