// The VAE decoder: diffusers' `Decoder` (src/diffusers/models/autoencoders/
// vae.py): conv_in, mid_block, up_blocks.i (widths reversed, each with
// layers_per_block + 1 resnets, upsampling except the last), conv_norm_out,
// SiLU, conv_out.
#pragma once

#include "models/vae_config.h"
#include "models/vae_mid_block.h"
#include "models/vae_up_block.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include "core/layers.h"

#include <vector>

namespace daub {

class VaeDecoderImpl : public torch::nn::Module {
public:
    explicit VaeDecoderImpl(const VaeConfig& config);
    /// z [B, latent_channels, h, w] -> image [B, out_channels, h·f, w·f]
    at::Tensor forward(const at::Tensor& z);
    /// The dtype and device of the weights (what forward expects).
    at::TensorOptions weight_options() const;

private:
    nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
    VaeMidBlock mid_block{nullptr};
    std::vector<VaeUpBlock> blocks_;
    torch::nn::ModuleList up_blocks{nullptr};
    nn::GroupNorm conv_norm_out{nullptr};
};
TORCH_MODULE(VaeDecoder);

} // namespace daub
