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
#pragma once

#include "core/weights.h"
#include "models/vae_config.h"
#include "models/vae_decoder.h"
#include "models/vae_encoder.h"

#include <torch/nn/module.h>
#include "core/layers.h"

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
    VaePosterior encode(const at::Tensor& image);
    /// Unscaled latents [B, latent_channels, h, w] -> image [B, out_channels,
    /// h·f, w·f], about [-1, 1].
    at::Tensor decode(const at::Tensor& latents);

    /// decode() on overlapping tiles of `tile` latent pixels sharing
    /// `overlap`, blended linearly (see vae_tiling.h): bounded memory for
    /// large images, an approximation of decode(). Latents no larger than
    /// one tile are decoded whole.
    at::Tensor decode_tiled(const at::Tensor& latents, int64_t tile = 64, int64_t overlap = 16);
    /// encode() on overlapping tiles of `tile` image pixels sharing
    /// `overlap` (both multiples of f, as H and W must be), blended linearly.
    VaePosterior encode_tiled(const at::Tensor& image, int64_t tile = 512, int64_t overlap = 128);

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

    VaeConfig config_;
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
