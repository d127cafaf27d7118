// Configuration of diffusers' AutoencoderKL (the `config.json` of a
// diffusers `vae/` folder). Defaults are diffusers' own.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <vector>

namespace daub {

struct VaeConfig {
    int64_t in_channels = 3;                     ///< image channels the encoder takes
    int64_t out_channels = 3;                    ///< image channels the decoder returns
    std::vector<int64_t> block_out_channels{64}; ///< width of each encoder/decoder level
    int64_t layers_per_block = 1;                ///< resnets per down block (up blocks: one more)
    int64_t latent_channels = 4;                 ///< channels of the latent space
    int64_t norm_num_groups = 32;                ///< GroupNorm groups everywhere (eps 1e-6)
    double scaling_factor = 0.18215;             ///< latents × this before the UNet
    std::optional<double> shift_factor;          ///< subtracted before scaling (null for SD/SDXL)
    bool force_upcast = true;            ///< the VAE must run in fp32 (SDXL's overflows fp16)
    bool use_quant_conv = true;          ///< 1×1 conv after the encoder
    bool use_post_quant_conv = true;     ///< 1×1 conv before the decoder
    bool mid_block_add_attention = true; ///< mid blocks have a self-attention

    /// Pixels per latent along each axis: 2^(levels - 1).
    int64_t downscale_factor() const { return int64_t{1} << (block_out_channels.size() - 1); }

    /// Reads a diffusers AutoencoderKL config; absent keys keep the defaults
    /// above. Unsupported block types, activations or inconsistent widths
    /// throw ModelError.
    static VaeConfig from_json(const nlohmann::json& j);
};

} // namespace daub
