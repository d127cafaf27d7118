// The CLIP tokenizer data compiled into Daub, so that a single-file
// checkpoint with nothing beside it loads: the merge list of OpenAI's CLIP
// tokenizer (48,894 merges, MIT licence, engine/tokenizer/data/), stored
// gzip-compressed in the program and decompressed on use with a hard size
// limit. The vocabulary is built from the merges as OpenAI's
// simple_tokenizer.py builds it (clip_vocabulary), so no vocab.json is
// carried. No file is read at run time.
//
//   auto tok = daub::ClipTokenizer::builtin();     // SD 1.5, SDXL's first encoder
//   auto tok2 = daub::ClipTokenizer::builtin("!"); // SDXL's second: pads with "!"
//   show(daub::clip_license_notice());             // the About text
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace daub {

/// Merges in the built-in list and entries of the vocabulary built from it.
inline constexpr std::size_t kClipMergeCount = 48894;
inline constexpr std::size_t kClipVocabSize = 49408; // 256 + 256 + merges + 2 special
/// The most bytes the built-in merge list may decompress to (it is 524,619).
inline constexpr std::size_t kClipMergesMaxBytes = std::size_t(1) << 20;

/// The built-in merge list as compiled in (gzip).
std::string_view clip_builtin_merges_compressed();

/// The built-in merge list decompressed: the text of a merges.txt
/// ("#version: 0.2", then one "left right" pair per line in rank order).
/// FormatError if the compiled-in data is damaged or exceeds
/// kClipMergesMaxBytes.
std::string clip_builtin_merges_text();

/// The licence notice of the built-in merge list (OpenAI's MIT licence, as
/// installed in share/doc/daub/LICENSE-CLIP), for the app's About text.
const char* clip_license_notice();

} // namespace daub
