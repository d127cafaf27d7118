// Checks on JPEG data that the stb_image version Debian ships (2.27) does
// not make itself, run before stb sees the bytes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace daub::image {

/// False when a Huffman table (DHT segment) declares more than 256 codes:
/// stb 2.27 would write past its table (fixed upstream in 2.28). Walks
/// every marker segment, also those between the scans of progressive files.
bool jpeg_huffman_tables_valid(const uint8_t* data, size_t size);

} // namespace daub::image
