#include "image/stb_decode.h"

#include "image/jpeg_guard.h"

#ifndef DAUB_HAVE_STB
#error "stb_image.h was not found: install libstb-dev (packaging/install-deps.sh)"
#endif

#include <climits>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

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
    // stb reads a JPEG after any number of 0xFF fill bytes before its SOI
    // marker (FF D8); the check starts at that marker. Found by fuzzing.
    size_t soi = 0;
    while (soi < size && data[soi] == 0xFF)
        ++soi;
    if (soi > 0 && soi < size && data[soi] == 0xD8 &&
        !jpeg_huffman_tables_valid(data + soi - 1, size - soi + 1))
        fail_read(name, "the JPEG file is corrupt (bad Huffman table)");
}

constexpr uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

bool is_png(const uint8_t* data, size_t size) {
    return size >= 8 && std::memcmp(data, kPngSignature, 8) == 0;
}

uint32_t be32(const uint8_t* p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

/// Calls `visit(offset, length, type)` for each whole chunk of a PNG until
/// it returns false or a chunk runs past the data.
template <typename Visit> void for_each_png_chunk(const uint8_t* data, size_t size, Visit visit) {
    size_t pos = 8;
    while (size - pos >= 12) { // pos <= size always holds
        const size_t length = be32(data + pos);
        if (length > size - pos - 12)
            return;
        if (!visit(pos, length, data + pos + 4))
            return;
        pos += 12 + length;
    }
}

/// Width and height of a PNG's IHDR, read without stb (which refuses sizes
/// over 2^24 as "corrupt" before Daub's own size limit could speak).
std::optional<ImageInfo> png_header_size(const uint8_t* data, size_t size) {
    if (!is_png(data, size) || size < 8 + 8 + 13 || std::memcmp(data + 12, "IHDR", 4) != 0)
        return std::nullopt;
    const uint32_t w = be32(data + 16), h = be32(data + 20);
    if (w == 0 || h == 0 || w > uint32_t(INT_MAX) || h > uint32_t(INT_MAX))
        return std::nullopt;
    return ImageInfo{int(w), int(h), false};
}

/// stb 2.27 passes a null pointer to memcpy when an IDAT chunk is empty
/// (a zero-byte copy, but undefined behaviour): such chunks carry nothing,
/// so a copy of the file without them decodes to the same pixels.
std::optional<std::vector<uint8_t>> without_empty_idat(const uint8_t* data, size_t size) {
    if (!is_png(data, size))
        return std::nullopt;
    bool empty_found = false;
    for_each_png_chunk(data, size, [&](size_t, size_t length, const uint8_t* type) {
        empty_found = length == 0 && std::memcmp(type, "IDAT", 4) == 0;
        return !empty_found;
    });
    if (!empty_found)
        return std::nullopt;
    std::vector<uint8_t> out(data, data + 8);
    size_t end = 8;
    for_each_png_chunk(data, size, [&](size_t pos, size_t length, const uint8_t* type) {
        if (length != 0 || std::memcmp(type, "IDAT", 4) != 0)
            out.insert(out.end(), data + pos, data + pos + 12 + length);
        end = pos + 12 + length;
        return true;
    });
    out.insert(out.end(), data + end, data + size); // a truncated tail stays truncated
    return out;
}

/// True when an IDAT chunk of a PNG claims more bytes than the data has
/// left: stb grows its buffer to the claimed size (2 GB for a 200-byte
/// file) before finding that the data ends first. Found by fuzzing.
bool png_idat_runs_past_end(const uint8_t* data, size_t size) {
    if (!is_png(data, size))
        return false;
    for (size_t pos = 8; size - pos >= 8;) { // pos <= size always holds
        const size_t length = be32(data + pos);
        const uint8_t* type = data + pos + 4;
        if (std::memcmp(type, "IEND", 4) == 0)
            return false;
        const size_t left = size - pos - 8; // after the chunk's length and type
        if (length > left)
            return std::memcmp(type, "IDAT", 4) == 0;
        if (left - length < 4) // its checksum is cut: no chunk follows
            return false;
        pos += 12 + length;
    }
    return false;
}

std::string reason() {
    const char* r = stbi_failure_reason();
    return r ? r : "unknown error";
}

} // namespace

ImageInfo stb_read_info(const uint8_t* data, size_t size, const std::string& name) {
    guard(data, size, name);
    int w = 0, h = 0, comp = 0;
    if (!stbi_info_from_memory(data, checked_length(size, name), &w, &h, &comp)) {
        // A PNG whose size stb will not take: report its size, so the
        // caller's size limit says what is wrong, not "corrupt".
        if (const auto header = png_header_size(data, size);
            header && int64_t(header->width) * header->height > (int64_t(1) << 24))
            return *header;
        fail_read(name, "its header is corrupt or truncated (" + reason() + ")");
    }
    // A BMP stored top-down has a negative height, which stb's info passes
    // on as it is (its decoder takes the absolute value).
    if (size >= 2 && data[0] == 'B' && data[1] == 'M' && h < 0 && h != INT_MIN)
        h = -h;
    return {w, h, comp == 2 || comp == 4};
}

Pixels stb_decode(const uint8_t* data, size_t size, int channels, const std::string& name) {
    guard(data, size, name);
    if (png_idat_runs_past_end(data, size))
        fail_read(name, "the file is corrupt or truncated (its image data runs past its end)");
    const std::optional<std::vector<uint8_t>> cleaned = without_empty_idat(data, size);
    if (cleaned) {
        data = cleaned->data();
        size = cleaned->size();
    }
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
