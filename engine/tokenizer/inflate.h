// Bounded zlib/gzip decompression for data compiled into Daub (the CLIP
// merge list). The output never grows past the caller's limit, whatever
// the compressed bytes claim: a corrupt, truncated or oversized stream is a
// FormatError, decided before more than `max_output` bytes are held.
//
//   std::string text = daub::inflate_limited(blob, 1 << 20, "the CLIP merge list");
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace daub {

/// Decompresses one gzip or zlib stream (the header says which).
/// Throws FormatError naming `what` when the stream is corrupt, ends early,
/// has bytes after its end, or decompresses to more than `max_output` bytes.
std::string inflate_limited(std::string_view compressed, std::size_t max_output,
                            const std::string& what);

} // namespace daub
