// Antialiased resampling of 8-bit RGB, as PIL's Image.resize with BILINEAR
// or LANCZOS: a separable filter (triangle, or Lanczos with a = 3) whose
// support widens by the shrink factor, so shrinking averages every source
// pixel instead of skipping some.
#pragma once

#include <cstdint>
#include <vector>

namespace daub::image {

/// A rectangle of the source in pixel units (edges, not centres), like PIL's
/// `box`: (0, 0, width, height) is the whole image.
struct SourceBox {
    double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
};

/// Resamples `box` of the RGB `src` (src_w × src_h × 3) to out_w × out_h.
/// The filter may read a pixel or two outside the box (never outside the
/// image), as PIL does.
std::vector<uint8_t> resample_bilinear(const uint8_t* src, int src_w, int src_h, SourceBox box,
                                       int out_w, int out_h);

/// resample_bilinear with PIL's LANCZOS filter (sinc windowed by sinc, a = 3):
/// sharper, for the downscale after a super-resolution net. Results are
/// clamped to 0..255 (the filter has negative lobes).
std::vector<uint8_t> resample_lanczos(const uint8_t* src, int src_w, int src_h, SourceBox box,
                                      int out_w, int out_h);

} // namespace daub::image
