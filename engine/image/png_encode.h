// PNG encoding through libpng: 8-bit RGB with text chunks.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace daub::image {

/// Encodes `rgb` (width × height × 3 bytes) as a PNG with one tEXt (ASCII
/// value) or iTXt (UTF-8 value) chunk per (key, value), before the image
/// data. Throws ImageError naming `name` (the file being written).
std::vector<uint8_t> png_encode(const uint8_t* rgb, int width, int height,
                                const std::vector<std::pair<std::string, std::string>>& text,
                                const std::string& name);

} // namespace daub::image
