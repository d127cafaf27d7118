// One level of the UNet's encoder: diffusers' DownBlock2D, or
// CrossAttnDownBlock2D when the level has attention
// (src/diffusers/models/unets/unet_2d_blocks.py). Keys: resnets.N,
// attentions.N (cross-attention only), downsamplers.0 (all but the last
// level).
#pragma once

#include "models/resnet.h"
#include "models/transformer_2d.h"
#include "models/unet_config.h"

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <vector>

namespace daub {

class UNetDownBlockImpl : public torch::nn::Module {
public:
    /// The down block of `level` (0 = the first, full-resolution one).
    UNetDownBlockImpl(const UNetConfig& config, size_t level);

    /// x [B, Cin, H, W], temb [B, T], context [B, M, D] -> [B, Cout, H', W']
    /// (H' = ceil(H/2) unless last). Appends each resnet/attention output
    /// and the down-sampled result to `skips`, as the up blocks consume them.
    at::Tensor forward(const at::Tensor& x, const at::Tensor& temb, const at::Tensor& context,
                       std::vector<at::Tensor>& skips);

    torch::nn::ModuleList resnets{nullptr}, attentions{nullptr}, downsamplers{nullptr};

private:
    std::vector<ResnetBlock2D> resnets_;
    std::vector<Transformer2DModel> attentions_; ///< empty for DownBlock2D
    Downsample2D downsampler_{nullptr};
};
TORCH_MODULE(UNetDownBlock);

} // namespace daub
