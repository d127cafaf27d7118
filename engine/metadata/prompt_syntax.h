// The AUTOMATIC1111 web UI's prompt syntax for attention weights, as its
// prompt_parser.parse_prompt_attention reads it:
//
//   (word)       weight × 1.1       ((word))  × 1.21 (1.1 · 1.1 in double)
//   (word:1.3)   weight × 1.3       [word]    ÷ 1.1 (× 1/1.1)
//   \( \) \[ \] \\   the literal character
//   BREAK        (a whole word, spaces around it dropped) → the pair ("BREAK", -1):
//                the text encoder starts a new 75-token chunk there
//
// Brackets left open at the end are closed there; a ')' or ']' with nothing
// to close, and any ':' that is not a weight, is text. Neighbours of equal
// weight are merged, and an empty prompt is one empty pair.
//
//   parse_prompt_attention("an (important) word")
//     → {{"an ", 1.0}, {"important", 1.1}, {" word", 1.0}}
//
// Weights are doubles multiplied in A1111's order, so they equal Python's
// floats (1.3 · 1.1 · 1.1 = 1.5730000000000004). Plain C++ (no torch): the
// app links it too.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace daub {

/// One piece of a prompt and its attention weight; ("BREAK", -1.0) marks a
/// chunk break.
using PromptWeight = std::pair<std::string, double>;

/// The pieces of `text` (UTF-8) with their weights, as A1111. Throws
/// RequestError when a "(text:weight)" has a weight that is not a number
/// ("(text:1.2.3)"), where A1111 fails too, or when the text is over 1 MiB
/// or opens more than 256 brackets at once (limits against hostile text).
/// Bytes that are not UTF-8 are kept as they are (Python never sees them).
std::vector<PromptWeight> parse_prompt_attention(std::string_view text);

/// The pairs as one JSON array, each weight as the shortest decimal that
/// reads back as it, written as Python's repr writes floats (1.0, 1.1,
/// 1.5730000000000004, 1e+16); bytes that are not UTF-8 become U+FFFD:
/// [["an ",1.0],["important",1.1],[" word",1.0]].
std::string prompt_weights_json(const std::vector<PromptWeight>& pairs);

} // namespace daub
