// libFuzzer target: A1111's prompt syntax (metadata/prompt_syntax.h
// parse_prompt_attention: weights, escapes, BREAK, limits) and the JSON
// that `daub-cli prompt --parse` prints of it. The JSON must parse back to
// the same pieces and weights (weights are written as the shortest decimal
// that reads back as the double; non-finite ones as Python's words, which
// JSON parsers refuse, so those inputs skip this check).
//
// Refusals (daub::RequestError) are expected; a crash, a sanitizer report,
// another exception or JSON that does not say what was parsed is a finding.
#include "core/errors.h"
#include "fuzz_support.h"
#include "metadata/prompt_syntax.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    std::vector<daub::PromptWeight> pieces;
    try {
        pieces = daub::parse_prompt_attention(text);
    } catch (const daub::RequestError& e) {
        daub::fuzz::note("refused", e.what());
        return 0;
    }
    DAUB_FUZZ_CHECK(!pieces.empty());
    size_t bytes = 0;
    for (const auto& [piece, weight] : pieces)
        bytes += piece.size();
    DAUB_FUZZ_CHECK(bytes <= size); // pieces are parts of the text, brackets and weights removed

    const std::string json_text = daub::prompt_weights_json(pieces);
    for (const auto& [piece, weight] : pieces)
        if (!std::isfinite(weight))
            return 0;
    const nlohmann::json j = nlohmann::json::parse(json_text, nullptr, false);
    DAUB_FUZZ_CHECK(!j.is_discarded());
    DAUB_FUZZ_CHECK(j.is_array() && j.size() == pieces.size());
    for (size_t k = 0; k < pieces.size(); ++k) {
        const nlohmann::json& pair = j[k];
        DAUB_FUZZ_CHECK(pair.is_array() && pair.size() == 2);
        DAUB_FUZZ_CHECK(pair[0].is_string() && pair[1].is_number());
        DAUB_FUZZ_CHECK(pair[1].get<double>() == pieces[k].second);
        const std::string& piece = pieces[k].first;
        bool ascii = true;
        for (const char c : piece)
            ascii = ascii && static_cast<unsigned char>(c) < 0x80;
        if (ascii)
            DAUB_FUZZ_CHECK(pair[0].get<std::string>() == piece);
    }
    return 0;
}
