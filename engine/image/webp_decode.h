// WebP decoding through libwebp.
#pragma once

#include "image/pixels.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace daub::image {

/// Size and alpha from the header alone. Throws ImageError naming `name`.
ImageInfo webp_read_info(const uint8_t* data, size_t size, const std::string& name);

/// Decodes to `channels` (3 or 4) 8-bit channels (an animation's first
/// frame). Throws ImageError for corrupt or truncated data.
Pixels webp_decode(const uint8_t* data, size_t size, int channels, const std::string& name);

} // namespace daub::image
