// The VAE's mid block: diffusers' UNetMidBlock2D without a time embedding
// (src/diffusers/models/unets/unet_2d_blocks.py): resnets.0, then
// attentions.0 (when mid_block_add_attention) and resnets.1.
#pragma once

#include "models/resnet.h"
#include "models/vae_attention.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include <vector>

namespace daub {

class VaeMidBlockImpl : public torch::nn::Module {
public:
    VaeMidBlockImpl(int64_t channels, int64_t groups, bool add_attention);
    /// x [B, C, H, W] -> [B, C, H, W]
    at::Tensor forward(const at::Tensor& x);

private:
    std::vector<ResnetBlock2D> resnet_blocks_;
    VaeAttention attention_{nullptr};
    torch::nn::ModuleList resnets{nullptr}, attentions{nullptr};
};
TORCH_MODULE(VaeMidBlock);

} // namespace daub
