# Script mode (cmake -P), run at build time: writes OUT, a C++ file defining
# the compressed CLIP merge list and the licence notice as byte arrays.
#   cmake -DMERGES=clip_merges.txt.gz -DLICENSE=LICENSE-CLIP -DOUT=clip_data.cpp -P embed.cmake
# file(READ ... HEX) and two regular expressions: about 0.15 s for the
# 208 kB blob, and the resulting 1 MB file compiles in about 0.2 s.

# "0x1f,0x8b,..." in lines of 32 bytes.
function(bytes_of path out_var)
  file(READ "${path}" hex HEX)
  # 64 hex digits (32 bytes) per line, then each byte as "0x..,".
  string(REGEX REPLACE "(................................................................)" "\\1\n"
         hex "${hex}")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
  set(${out_var} "${body}" PARENT_SCOPE)
endfunction()

bytes_of("${MERGES}" merges)
bytes_of("${LICENSE}" license)
file(WRITE "${OUT}.tmp"
"// Generated at build time by engine/tokenizer/data/embed.cmake from
// clip_merges.txt.gz and LICENSE-CLIP. Do not edit.
#include <cstddef>

namespace daub::clip_data {

extern const unsigned char merges_gz[];
extern const std::size_t merges_gz_size;
extern const unsigned char license_text[];

const unsigned char merges_gz[] = {
${merges}};
const std::size_t merges_gz_size = sizeof(merges_gz);

const unsigned char license_text[] = {
${license}0x00};

} // namespace daub::clip_data
")
file(RENAME "${OUT}.tmp" "${OUT}")
