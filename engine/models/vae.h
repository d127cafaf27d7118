// diffusers' AutoencoderKL (src/diffusers/models/autoencoders/
// autoencoder_kl.py): the Stable Diffusion VAE. encode() gives the diagonal
// Gaussian posterior of an image, decode() turns *unscaled* latents back
// into an image; the pipeline applies scaling_factor()/shift_factor().
//
//   auto vae = load_vae("model/vae", {at::kFloat, at::kCPU});
//   VaePosterior p = vae->encode(image);                        // image in [-1, 1]
//   at::Tensor z = p.sample(noise) * vae->scaling_factor();     // to the UNet
//   at::Tensor out = vae->decode(z / vae->scaling_factor());    // about [-1, 1]
//
// Keys: encoder.*, quant_conv.*, post_quant_conv.*, decoder.* as diffusers
// stores them. Inputs are converted to the weights' dtype and device; the
// SDXL VAE (force_upcast) should be loaded in fp32.
//
// Memory: decode() and encode() estimate the memory a whole pass needs (a
// measured multiple of its largest activation) and, above the budget (half
// the free memory of the weights' device), run in overlapping tiles of the
// largest size that fits (decode_tiled / encode_tiled: an approximation, so
// only where the whole would not fit).
#pragma once

#include "core/weights.h"
#include "models/vae_config.h"
#include "models/vae_decoder.h"
#include "models/vae_encoder.h"

#include <torch/nn/module.h>
#include "core/layers.h"

#include <cstdint>
#include <string>

namespace daub {

/// The encoder's diagonal Gaussian over latents (unscaled).
struct VaePosterior {
    at::Tensor mean;   ///< [B, latent_channels, h, w]
    at::Tensor logvar; ///< [B, latent_channels, h, w], clamped to [-30, 20]
    /// mean + exp(logvar / 2) · noise, noise like mean.
    at::Tensor sample(const at::Tensor& noise) const;
};

class AutoencoderKLImpl : public torch::nn::Module {
public:
    explicit AutoencoderKLImpl(const VaeConfig& config);

    /// image [B, in_channels, H, W] in [-1, 1] -> posterior over
    /// [B, latent_channels, ceil(H/f), ceil(W/f)] (f = downscale_factor()).
    /// In tiles of encode_tile_size() when that is not 0.
    VaePosterior encode(const at::Tensor& image);
    /// Unscaled latents [B, latent_channels, h, w] -> image [B, out_channels,
    /// h·f, w·f], about [-1, 1]. In tiles of decode_tile_size() when that is
    /// not 0.
    at::Tensor decode(const at::Tensor& latents);

    /// decode() on overlapping tiles of `tile` latent pixels sharing
    /// `overlap`, blended linearly (see vae_tiling.h): bounded memory for
    /// large images, an approximation of decode(). Latents no larger than
    /// one tile are decoded whole.
    at::Tensor decode_tiled(const at::Tensor& latents, int64_t tile = 64, int64_t overlap = 16);
    /// encode() on overlapping tiles of `tile` image pixels sharing
    /// `overlap` (both multiples of f, as H and W must be), blended linearly.
    VaePosterior encode_tiled(const at::Tensor& image, int64_t tile = 512, int64_t overlap = 128);

    /// Bytes a decode or encode may use: `bytes`, or 0 (the default) for half
    /// the free memory of the weights' device (4 GiB when unknown).
    void set_memory_budget(uint64_t bytes) { memory_budget_ = bytes; }
    uint64_t memory_budget() const;
    /// Estimated peak bytes of decode() or encode() in one piece, for
    /// latents of h×w (images of h·f × w·f), `batch` items.
    uint64_t decode_bytes(int64_t batch, int64_t h, int64_t w) const;
    uint64_t encode_bytes(int64_t batch, int64_t h, int64_t w) const;
    /// The tile edge decode() uses for [batch, ·, h, w] latents, in latent
    /// pixels (overlap tile / 4): 0 when the whole fits memory_budget().
    int64_t decode_tile_size(int64_t batch, int64_t h, int64_t w) const;
    /// The tile edge encode() uses for [batch, ·, H, W] images, in image
    /// pixels (a multiple of 4·f; overlap tile / 4): 0 when the whole fits
    /// memory_budget() or H or W is not a multiple of f.
    int64_t encode_tile_size(int64_t batch, int64_t height, int64_t width) const;

    const VaeConfig& config() const { return config_; }
    double scaling_factor() const { return config_.scaling_factor; }
    /// 0 when the config has none (SD 1.5, SDXL).
    double shift_factor() const { return config_.shift_factor.value_or(0.0); }
    bool force_upcast() const { return config_.force_upcast; }
    /// Pixels per latent along each axis (8 for SD).
    int64_t downscale_factor() const { return config_.downscale_factor(); }
    /// dtype and device of the weights.
    at::TensorOptions weight_options() const { return decoder->weight_options(); }

private:
    at::Tensor encode_moments(const at::Tensor& image); // [B, 2 × latent, h, w]
    VaePosterior split_moments(const at::Tensor& moments) const;
    at::Tensor decode_whole(const at::Tensor& latents);
    /// The largest tile edge (latent pixels, a multiple of 8, at least 32)
    /// whose encoder or decoder pass fits memory_budget(); 0 when the whole
    /// h×w latents fit.
    int64_t fitting_tile(int64_t batch, int64_t h, int64_t w, bool encoder) const;

    VaeConfig config_;
    uint64_t memory_budget_ = 0;
    VaeEncoder encoder{nullptr};
    VaeDecoder decoder{nullptr};
    nn::Conv2d quant_conv{nullptr}, post_quant_conv{nullptr};
};
TORCH_MODULE(AutoencoderKL);

/// Builds an AutoencoderKL from a diffusers `vae/` folder: `config.json` and
/// `diffusion_pytorch_model.safetensors` (or its `.fp16.safetensors`
/// variant), weights converted to options.dtype on options.device, in eval
/// mode without gradients. Older files with the pre-0.14 attention names
/// (query, key, value, proj_attn) load too. Missing or broken files throw
/// ModelError naming the file.
AutoencoderKL load_vae(const std::string& folder, const LoadOptions& options = {});

/// Loads `module`'s weights from `source[prefix + key]`, accepting the
/// pre-0.14 VAE attention names for the mid-block attention keys.
size_t load_vae_weights(AutoencoderKLImpl& module, const WeightSource& source,
                        const std::string& prefix, const LoadOptions& options);

} // namespace daub
