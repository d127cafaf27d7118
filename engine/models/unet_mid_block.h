// The UNet's bottleneck: diffusers' UNetMidBlock2DCrossAttn
// (src/diffusers/models/unets/unet_2d_blocks.py): resnet, transformer,
// resnet at the deepest level's width. Keys: resnets.0-1, attentions.0.
#pragma once

#include "models/resnet.h"
#include "models/transformer_2d.h"
#include "models/unet_config.h"

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

namespace daub {

class UNetMidBlockImpl : public torch::nn::Module {
public:
    explicit UNetMidBlockImpl(const UNetConfig& config);
    /// x [B, C, H, W], temb [B, T], context [B, M, D] -> [B, C, H, W]
    at::Tensor forward(const at::Tensor& x, const at::Tensor& temb, const at::Tensor& context);

    torch::nn::ModuleList resnets{nullptr}, attentions{nullptr};

private:
    ResnetBlock2D resnet_0_{nullptr}, resnet_1_{nullptr};
    Transformer2DModel attention_{nullptr};
};
TORCH_MODULE(UNetMidBlock);

} // namespace daub
