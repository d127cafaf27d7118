#include "image/exif_orientation.h"

#include <cstring>

namespace daub::image {

namespace {

/// Reads the TIFF structure inside an APP1 "Exif" segment: byte order mark,
/// IFD0, and tag 0x0112 (Orientation, one SHORT).
int orientation_from_tiff(const uint8_t* t, size_t n) {
    if (n < 8)
        return 1;
    bool little;
    if (t[0] == 'I' && t[1] == 'I')
        little = true;
    else if (t[0] == 'M' && t[1] == 'M')
        little = false;
    else
        return 1;
    auto u16 = [&](size_t at) -> unsigned {
        return little ? t[at] | (t[at + 1] << 8) : (t[at] << 8) | t[at + 1];
    };
    auto u32 = [&](size_t at) -> uint32_t {
        return little ? uint32_t(t[at]) | uint32_t(t[at + 1]) << 8 | uint32_t(t[at + 2]) << 16 |
                            uint32_t(t[at + 3]) << 24
                      : uint32_t(t[at]) << 24 | uint32_t(t[at + 1]) << 16 |
                            uint32_t(t[at + 2]) << 8 | uint32_t(t[at + 3]);
    };
    if (u16(2) != 42)
        return 1;
    const size_t ifd = u32(4);
    if (ifd > n - 2)
        return 1;
    const unsigned count = u16(ifd);
    for (unsigned i = 0; i < count; ++i) {
        const size_t entry = ifd + 2 + size_t(i) * 12;
        if (entry + 12 > n)
            return 1;
        if (u16(entry) == 0x0112) {
            const unsigned type = u16(entry + 2);
            const unsigned value = u16(entry + 8); // SHORT values sit left-aligned
            if (type == 3 && u32(entry + 4) == 1 && value >= 1 && value <= 8)
                return static_cast<int>(value);
            return 1;
        }
    }
    return 1;
}

} // namespace

int jpeg_exif_orientation(const uint8_t* data, size_t size) {
    if (size < 4 || data[0] != 0xFF || data[1] != 0xD8)
        return 1;
    size_t at = 2;
    // Walk the marker segments up to the start of the scan.
    while (at + 4 <= size) {
        if (data[at] != 0xFF)
            return 1;
        const uint8_t marker = data[at + 1];
        if (marker == 0xFF) { // fill byte
            ++at;
            continue;
        }
        if (marker == 0xDA || marker == 0xD9) // start of scan / end of image
            return 1;
        const size_t length = (size_t(data[at + 2]) << 8) | data[at + 3];
        if (length < 2 || at + 2 + length > size)
            return 1;
        const uint8_t* body = data + at + 4;
        const size_t body_size = length - 2;
        if (marker == 0xE1 && body_size >= 6 && std::memcmp(body, "Exif\0\0", 6) == 0)
            return orientation_from_tiff(body + 6, body_size - 6);
        at += 2 + length;
    }
    return 1;
}

Pixels apply_exif_orientation(Pixels in, int orientation) {
    if (orientation < 2 || orientation > 8)
        return in;
    const int w = in.width, h = in.height, c = in.channels;
    const bool swap = orientation >= 5;
    Pixels out{swap ? h : w, swap ? w : h, c, {}};
    out.data.resize(in.data.size());
    for (int y = 0; y < out.height; ++y) {
        for (int x = 0; x < out.width; ++x) {
            int sx = x, sy = y; // the stored pixel shown at (x, y)
            switch (orientation) {
            case 2:
                sx = w - 1 - x;
                break; // mirrored
            case 3:
                sx = w - 1 - x;
                sy = h - 1 - y;
                break; // rotated 180
            case 4:
                sy = h - 1 - y;
                break; // flipped
            case 5:
                sx = y;
                sy = x;
                break; // transposed
            case 6:
                sx = y;
                sy = h - 1 - x;
                break; // rotate 90 clockwise
            case 7:
                sx = w - 1 - y;
                sy = h - 1 - x;
                break; // transversed
            case 8:
                sx = w - 1 - y;
                sy = x;
                break; // rotate 90 counter-clockwise
            }
            std::memcpy(&out.data[(size_t(y) * out.width + x) * c],
                        &in.data[(size_t(sy) * w + sx) * c], c);
        }
    }
    return out;
}

} // namespace daub::image
