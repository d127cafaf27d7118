#include "image/jpeg_guard.h"

#include <algorithm>
#include <cstdint>

namespace daub::image {

bool jpeg_huffman_tables_valid(const uint8_t* d, size_t n) {
    size_t at = 2; // after SOI
    while (at + 4 <= n) {
        if (d[at] != 0xFF) { // entropy-coded data between markers
            ++at;
            continue;
        }
        const uint8_t marker = d[at + 1];
        if (marker == 0xFF) { // fill byte
            ++at;
            continue;
        }
        // Markers without a length: stuffed zero, TEM, RSTn, SOI.
        if (marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {
            at += 2;
            continue;
        }
        if (marker == 0xD9) // end of image
            return true;
        const size_t length = (size_t(d[at + 2]) << 8) | d[at + 3];
        if (marker == 0xC4) {
            // DHT: tables of (class/id, 16 counts, symbols), read the way stb
            // reads them: a whole table even where the segment's length
            // ends inside it, and zeros past the end of the data.
            int64_t remaining = static_cast<int64_t>(length) - 2;
            size_t p = at + 4;
            while (remaining > 0) {
                size_t codes = 0;
                for (size_t i = 1; i <= 16; ++i)
                    codes += p + i < n ? d[p + i] : 0;
                if (codes > 256)
                    return false;
                p += 17 + codes;
                remaining -= static_cast<int64_t>(17 + codes);
            }
        }
        at += 2 + std::max<size_t>(length, 2);
    }
    return true;
}

} // namespace daub::image
