// PNG, JPEG and BMP decoding through stb_image (Debian's libstb-dev headers;
// the implementation is compiled, static, into stb_decode.cpp only).
#pragma once

#include "image/pixels.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace daub::image {

/// Size and alpha from the header alone. Throws ImageError naming `name`.
ImageInfo stb_read_info(const uint8_t* data, size_t size, const std::string& name);

/// Decodes to `channels` (3 or 4) 8-bit channels; 16-bit PNG samples keep
/// their high byte. Throws ImageError for corrupt or truncated data.
Pixels stb_decode(const uint8_t* data, size_t size, int channels, const std::string& name);

} // namespace daub::image
