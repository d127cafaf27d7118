#include "image/stb_decode.h"

#include "image/jpeg_guard.h"

#ifndef DAUB_HAVE_STB
#error "stb_image.h was not found: install libstb-dev (packaging/install-deps.sh)"
#endif

#include <climits>
#include <cstring>
#include <memory>

// Only the formats Daub reads, with every symbol local to this file so no
// other copy of stb in the process (OpenCV, Qt plugins) can clash with it.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <stb_image.h>
#pragma GCC diagnostic pop

namespace daub::image {

namespace {

int checked_length(size_t size, const std::string& name) {
    if (size > static_cast<size_t>(INT_MAX))
        fail_read(name, "the file is over 2 GB");
    return static_cast<int>(size);
}

/// Refuses data that would trip a known bug of the stb version in use.
void guard(const uint8_t* data, size_t size, const std::string& name) {
    if (size >= 2 && data[0] == 0xFF && data[1] == 0xD8 && !jpeg_huffman_tables_valid(data, size))
        fail_read(name, "the JPEG file is corrupt (bad Huffman table)");
}

std::string reason() {
    const char* r = stbi_failure_reason();
    return r ? r : "unknown error";
}

} // namespace

ImageInfo stb_read_info(const uint8_t* data, size_t size, const std::string& name) {
    guard(data, size, name);
    int w = 0, h = 0, comp = 0;
    if (!stbi_info_from_memory(data, checked_length(size, name), &w, &h, &comp))
        fail_read(name, "its header is corrupt or truncated (" + reason() + ")");
    return {w, h, comp == 2 || comp == 4};
}

Pixels stb_decode(const uint8_t* data, size_t size, int channels, const std::string& name) {
    guard(data, size, name);
    int w = 0, h = 0, comp = 0;
    std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
        stbi_load_from_memory(data, checked_length(size, name), &w, &h, &comp, channels),
        stbi_image_free);
    if (!pixels)
        fail_read(name, "the file is corrupt or truncated (" + reason() + ")");
    Pixels out{w, h, channels, {}};
    const size_t bytes = static_cast<size_t>(w) * h * channels;
    out.data.assign(pixels.get(), pixels.get() + bytes);
    return out;
}

} // namespace daub::image
