// Decoded pixels on their way from a codec to an RGB daub::Image, and the
// error every image decoder throws.
#pragma once

#include "core/errors.h"

#include <cstdint>
#include <string>
#include <vector>

namespace daub::image {

/// What a file's header says, before any pixel is decoded.
struct ImageInfo {
    int width = 0;
    int height = 0;
    bool has_alpha = false;
};

/// Row-major, tightly packed 8-bit pixels with 3 (RGB) or 4 (RGBA) channels.
struct Pixels {
    int width = 0;
    int height = 0;
    int channels = 0;
    std::vector<uint8_t> data; ///< width * height * channels bytes
};

/// Throws ImageError("Cannot read image <name>: <what>.").
[[noreturn]] inline void fail_read(const std::string& name, const std::string& what) {
    throw ImageError("Cannot read image " + name + ": " + what + ".");
}

} // namespace daub::image
