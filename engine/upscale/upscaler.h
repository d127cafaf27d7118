// Super-resolution of images with an RRDBNet (Real-ESRGAN) model: the
// public API the app and daub-cli use.
//
//   auto up = daub::Upscaler::load("models/RealESRGAN_x4plus.pth");  // or .safetensors
//   daub::UpscaleOptions options;
//   options.level = 2;                                    // ×2 from a ×4 net
//   daub::Image big = up->upscale(image, options, [](const daub::UpscaleProgress& p) {
//       std::printf("tile %d/%d\n", p.tile, p.total);
//   }, &cancel);
//   up->method(2);   // "RealESRGAN_x4plus ×4, Lanczos down to ×2"
//
// Levels: a net's own factor runs it once; a ×4 net gives ×2 by a Lanczos
// downscale of its output, a ×2 net gives ×4 by running twice, a ×1
// (restoration) net is followed by a Lanczos upscale. method() says which.
//
// Tiling: the image is cut into tiles of `tile` pixels, each run with
// `tile_pad` pixels of its neighbours around it that are cropped away
// afterwards (as Real-ESRGAN's tile_process), so memory stays bounded for
// any image size. With tile -1 the size comes from the memory available on
// the device (no tiling when the whole image fits). Progress is reported
// once per tile; the cancel token is checked before each tile and, through
// a CancelScope (core/cancel.h), between the net's blocks inside a tile.
//
// Colour: the engine's Image is RGB (image files are read with alpha
// composited on white), so only RGB is upscaled. An app that keeps an alpha
// channel resizes it separately with a plain filter.
//
// Thread safety: upscale() is const and keeps no state between calls; one
// Upscaler may be shared (std::shared_ptr<const Upscaler>) by a pipeline and
// other callers, one call at a time per device being the efficient use.
#pragma once

#include "core/cancel.h"
#include "core/image.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace daub {

struct UpscaleOptions {
    int level = 4; ///< output size ÷ input size: 2 or 4
    /// Input pixels per tile side: -1 = chosen from the available memory,
    /// 0 = the whole image at once, else at least 8 (rounded up to what the
    /// net needs, a multiple of 2 for ×2 nets and 4 for ×1 nets).
    int tile = -1;
    /// Context pixels around each tile (0..512). Tiles equal the untiled
    /// result exactly once this reaches receptive_radius(); Real-ESRGAN's
    /// default 10 leaves differences that trained nets make invisible.
    int tile_pad = 10;
};

struct UpscaleProgress {
    int tile = 0;  ///< tiles done, 1..total
    int total = 0; ///< tiles of the whole job (both runs when a ×2 net runs twice)
};
using UpscaleProgressFn = std::function<void(const UpscaleProgress&)>;

class Upscaler {
public:
    /// Loads an RRDBNet model: .safetensors, or a PyTorch .pth / .ckpt read
    /// without running any of its code (params_ema / params unwrapped).
    /// `device`: "auto" (CUDA when available), "cpu", "cuda"; `dtype`:
    /// "auto" (fp16 on CUDA, fp32 on the CPU), "fp32", "fp16", "bf16".
    /// Throws UnsupportedModelError for files that are not RRDBNet models
    /// ("… is not an RRDBNet (Real-ESRGAN) upscaler …"), ModelError for
    /// missing or corrupt files, RequestError for a bad device or dtype.
    static std::unique_ptr<Upscaler> load(const std::string& path,
                                          const std::string& device = "auto",
                                          const std::string& dtype = "auto");
    ~Upscaler();
    Upscaler(const Upscaler&) = delete;
    Upscaler& operator=(const Upscaler&) = delete;

    /// The net's own factor: 4, 2 or 1.
    int native_scale() const;
    /// The file name without its extension ("RealESRGAN_x4plus"), as A1111
    /// names upscalers in "Hires upscaler".
    const std::string& name() const;
    const std::string& path() const;
    const std::string& device() const; ///< "cpu" / "cuda"
    const std::string& dtype() const;  ///< "fp32" / "fp16" / "bf16"
    /// Input pixels around a pixel that its output depends on: a tile_pad at
    /// least this large makes tiled results equal untiled ones.
    int receptive_radius() const;

    /// `in` scaled by options.level. Throws what check() throws, ImageError
    /// for an empty image, CancelledError when `cancel` is set (checked
    /// between tiles and between the net's blocks).
    Image upscale(const Image& in, const UpscaleOptions& options = {},
                  const UpscaleProgressFn& progress = {},
                  const CancelToken* cancel = nullptr) const;

    /// Throws what upscale() would for a width × height image, without
    /// running anything: RequestError for a level other than 2 or 4, bad
    /// tile options, or a result (or a ×4 net's output before its downscale
    /// to ×2) over 8192 × 8192 pixels.
    void check(int width, int height, const UpscaleOptions& options) const;

    /// How `level` is reached, for results and logs:
    /// "RealESRGAN_x4plus ×4", "RealESRGAN_x4plus ×4, Lanczos down to ×2",
    /// "RealESRGAN_x2plus ×2 run twice". RequestError for other levels.
    std::string method(int level) const;

    /// The tile side upscale() uses for one run of the net on a
    /// width × height image: options.tile when it is not -1 (rounded as
    /// described there), else from the available memory; 0 = no tiling.
    int tile_size(int width, int height, const UpscaleOptions& options) const;

private:
    struct Impl;
    explicit Upscaler(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

/// Largest image upscale() makes: 8192 × 8192 pixels.
constexpr int64_t kMaxUpscaledPixels = int64_t{8192} * 8192;

} // namespace daub
