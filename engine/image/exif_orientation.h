// The EXIF orientation tag of a JPEG, and turning pixels upright by it (as
// cameras and phones store portrait photos: landscape pixels plus a tag).
#pragma once

#include "image/pixels.h"

#include <cstddef>
#include <cstdint>

namespace daub::image {

/// The JPEG's EXIF orientation (1..8), or 1 when it has none or the EXIF
/// block is malformed (a bad tag never stops an image from loading).
int jpeg_exif_orientation(const uint8_t* data, size_t size);

/// The pixels as displayed under EXIF `orientation` (1 = as stored;
/// 5..8 swap width and height).
Pixels apply_exif_orientation(Pixels pixels, int orientation);

} // namespace daub::image
