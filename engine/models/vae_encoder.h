// The VAE encoder: diffusers' `Encoder` (src/diffusers/models/autoencoders/
// vae.py) with double_z: conv_in, down_blocks.i, mid_block, conv_norm_out,
// SiLU, conv_out to 2 × latent_channels (mean and log-variance).
#pragma once

#include "models/vae_config.h"
#include "models/vae_down_block.h"
#include "models/vae_mid_block.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include "core/layers.h"

#include <vector>

namespace daub {

class VaeEncoderImpl : public torch::nn::Module {
public:
    explicit VaeEncoderImpl(const VaeConfig& config);
    /// image [B, in_channels, H, W] -> moments [B, 2 × latent_channels, H/f, W/f]
    at::Tensor forward(const at::Tensor& image);

private:
    nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
    std::vector<VaeDownBlock> blocks_;
    torch::nn::ModuleList down_blocks{nullptr};
    VaeMidBlock mid_block{nullptr};
    nn::GroupNorm conv_norm_out{nullptr};
};
TORCH_MODULE(VaeEncoder);

} // namespace daub
