#include "models/vae_tiling.h"

#include "core/cancel.h"
#include "core/errors.h"

#include <torch/torch.h>

#include <algorithm>
#include <string>

namespace daub {

namespace {

/// Blend weights [n] of a tile covering [begin, begin + n) of an axis of
/// length `size`: a ramp of `ramp` samples at each edge that has a neighbour.
at::Tensor edge_ramp(int64_t begin, int64_t n, int64_t size, int64_t ramp,
                     const at::TensorOptions& options) {
    at::Tensor w = torch::ones({n}, options);
    if (ramp <= 0)
        return w;
    at::Tensor pos = torch::arange(n, options) + 0.5; // [n] sample centres
    if (begin > 0)
        w = torch::minimum(w, pos / static_cast<double>(ramp));
    if (begin + n < size)
        w = torch::minimum(w, (static_cast<double>(n) - pos) / static_cast<double>(ramp));
    return w; // [n], in (0, 1]
}

} // namespace

std::vector<int64_t> tile_starts(int64_t size, int64_t tile, int64_t overlap, int64_t align) {
    std::vector<int64_t> starts{0};
    if (size <= tile)
        return starts;
    if (align <= 0 || overlap < 0 || overlap >= tile)
        throw RequestError("Tiled VAE: tile " + std::to_string(tile) + " and overlap " +
                           std::to_string(overlap) + " are invalid (need 0 <= overlap < tile).");
    const int64_t stride = tile - overlap;
    const int64_t last = (size - tile) / align * align;
    for (int64_t s = stride; s < last; s += stride)
        starts.push_back(s);
    if (starts.back() != last)
        starts.push_back(last);
    return starts;
}

at::Tensor run_tiled(const at::Tensor& input, int64_t tile, int64_t overlap, int64_t num,
                     int64_t den, const std::function<at::Tensor(const at::Tensor&)>& fn) {
    const int64_t height = input.size(2), width = input.size(3);
    if (height <= tile && width <= tile)
        return fn(input);
    if (num <= 0 || den <= 0 || tile <= 0 || overlap < 0 || overlap >= tile)
        throw RequestError("Tiled VAE: tile " + std::to_string(tile) + " and overlap " +
                           std::to_string(overlap) + " are invalid (need 0 <= overlap < tile).");
    if (tile % den || overlap % den || height % den || width % den)
        throw RequestError("Tiled VAE: tile " + std::to_string(tile) + ", overlap " +
                           std::to_string(overlap) + " and the input size " +
                           std::to_string(height) + "×" + std::to_string(width) +
                           " must all be multiples of " + std::to_string(den) + ".");
    const auto ys = tile_starts(height, tile, overlap, den);
    const auto xs = tile_starts(width, tile, overlap, den);
    const int64_t out_h = height * num / den, out_w = width * num / den;
    const int64_t ramp = overlap * num / den;
    const auto f32 = input.options().dtype(at::kFloat);

    at::Tensor sum, weight_sum; // [B, C', H', W'], [H', W']
    at::ScalarType out_dtype = input.scalar_type();
    for (int64_t y : ys) {
        const int64_t th = std::min(tile, height - y);
        for (int64_t x : xs) {
            const int64_t tw = std::min(tile, width - x);
            throw_if_cancelled();
            at::Tensor part = fn(input.slice(2, y, y + th).slice(3, x, x + tw)); // [B, C', h', w']
            const int64_t oy = y * num / den, ox = x * num / den;
            const int64_t oh = part.size(2), ow = part.size(3);
            if (!sum.defined()) {
                out_dtype = part.scalar_type();
                sum = torch::zeros({part.size(0), part.size(1), out_h, out_w}, f32);
                weight_sum = torch::zeros({out_h, out_w}, f32);
            }
            at::Tensor w = edge_ramp(oy, oh, out_h, ramp, f32).unsqueeze(1) *
                           edge_ramp(ox, ow, out_w, ramp, f32).unsqueeze(0); // [h', w']
            sum.slice(2, oy, oy + oh).slice(3, ox, ox + ow).add_(part.to(at::kFloat) * w);
            weight_sum.slice(0, oy, oy + oh).slice(1, ox, ox + ow).add_(w);
        }
    }
    return (sum / weight_sum).to(out_dtype); // [B, C', H', W']
}

} // namespace daub
