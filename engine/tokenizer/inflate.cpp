#include "tokenizer/inflate.h"

#include "core/errors.h"

#include <zlib.h>

#include <climits>
#include <memory>
#include <vector>

namespace daub {

std::string inflate_limited(std::string_view compressed, std::size_t max_output,
                            const std::string& what) {
    if (compressed.size() > UINT_MAX)
        throw FormatError(what + " is " + std::to_string(compressed.size()) +
                          " bytes compressed, more than zlib takes in one piece.");
    z_stream zs{};
    // 15 + 32: the largest window, and a gzip or zlib header detected from the data.
    if (inflateInit2(&zs, 15 + 32) != Z_OK)
        throw FormatError(what + ": zlib could not start decompressing.");
    const std::unique_ptr<z_stream, int (*)(z_stream*)> end(&zs, inflateEnd);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
    zs.avail_in = static_cast<uInt>(compressed.size());

    std::string out;
    std::vector<unsigned char> chunk(1 << 16);
    for (;;) {
        zs.next_out = chunk.data();
        zs.avail_out = static_cast<uInt>(chunk.size());
        const int rc = inflate(&zs, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
            throw FormatError(what + " is corrupt (zlib: " +
                              (zs.msg != nullptr ? zs.msg : "error " + std::to_string(rc)) + ").");
        const std::size_t produced = chunk.size() - zs.avail_out;
        if (produced > max_output - out.size())
            throw FormatError(what + " decompresses to more than " + std::to_string(max_output) +
                              " bytes, its limit.");
        out.append(reinterpret_cast<const char*>(chunk.data()), produced);
        if (rc == Z_STREAM_END)
            break;
        // Z_BUF_ERROR with a whole empty chunk to fill: no input left to go on with.
        if (rc == Z_BUF_ERROR)
            throw FormatError(what + " ends before its compressed stream does (truncated).");
    }
    if (zs.avail_in != 0)
        throw FormatError(what + " has " + std::to_string(zs.avail_in) +
                          " bytes after the end of its compressed stream.");
    return out;
}

} // namespace daub
