// Tiled evaluation for the VAE: run a convolutional network on overlapping
// tiles of a large input and blend the results, so a decode or encode that
// does not fit in memory runs in pieces. Each output pixel is the average of
// the tiles that cover it, weighted by a linear ramp over `overlap` at every
// tile edge that borders another tile (weight 1 elsewhere). Tiles see only
// their own neighbourhood (and their own GroupNorm statistics), so the result
// approximates the untiled one; it is exact only for point-wise networks.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <vector>

namespace daub {

/// Start offsets of tiles of length `tile` with at least `overlap` shared
/// between neighbours, covering [0, size); every start is a multiple of
/// `align`, the last tile ends at `size`. One tile [0] when size <= tile.
std::vector<int64_t> tile_starts(int64_t size, int64_t tile, int64_t overlap, int64_t align);

/// Runs `fn` on tiles of `input` [B, C, H, W] (tile and overlap in input
/// pixels) and blends its outputs. `fn` maps a [B, C, h, w] tile to
/// [B, C', h·num/den, w·num/den] (decoder: num = f, den = 1; encoder: num = 1,
/// den = f). tile, overlap, H and W must be multiples of den (RequestError
/// otherwise). Returns [B, C', H·num/den, W·num/den] in fn's output dtype,
/// blended in fp32.
at::Tensor run_tiled(const at::Tensor& input, int64_t tile, int64_t overlap, int64_t num,
                     int64_t den, const std::function<at::Tensor(const at::Tensor&)>& fn);

} // namespace daub
