#include "tokenizer/clip_builtin.h"

#include "tokenizer/inflate.h"

namespace daub {

// Defined in the file that engine/tokenizer/data/embed.cmake generates at
// build time from data/clip_merges.txt.gz and data/LICENSE-CLIP.
namespace clip_data {
extern const unsigned char merges_gz[];
extern const std::size_t merges_gz_size;
extern const unsigned char license_text[];
} // namespace clip_data

std::string_view clip_builtin_merges_compressed() {
    return {reinterpret_cast<const char*>(clip_data::merges_gz), clip_data::merges_gz_size};
}

std::string clip_builtin_merges_text() {
    return inflate_limited(clip_builtin_merges_compressed(), kClipMergesMaxBytes,
                           "The CLIP merge list compiled into Daub");
}

const char* clip_license_notice() {
    return reinterpret_cast<const char*>(clip_data::license_text);
}

} // namespace daub
