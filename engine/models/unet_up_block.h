// One level of the UNet's decoder: diffusers' UpBlock2D, or
// CrossAttnUpBlock2D when the level has attention
// (src/diffusers/models/unets/unet_2d_blocks.py). Each resnet takes the
// running features concatenated with one skip connection. Keys: resnets.N,
// attentions.N (cross-attention only), upsamplers.0 (all but the last).
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

class UNetUpBlockImpl : public torch::nn::Module {
public:
    /// The up block at `index` of up_block_types (0 = the deepest level).
    UNetUpBlockImpl(const UNetConfig& config, size_t index);

    /// x [B, Cprev, H, W], temb [B, T], context [B, M, D] -> [B, Cout, H', W'].
    /// Takes (and removes) its skip connections from the back of `skips`;
    /// then up-samples to the size of the next skip connection (2× unless
    /// the encoder rounded an odd size up).
    at::Tensor forward(const at::Tensor& x, const at::Tensor& temb, const at::Tensor& context,
                       std::vector<at::Tensor>& skips);

    torch::nn::ModuleList resnets{nullptr}, attentions{nullptr}, upsamplers{nullptr};

private:
    std::vector<ResnetBlock2D> resnets_;
    std::vector<Transformer2DModel> attentions_; ///< empty for UpBlock2D
    Upsample2D upsampler_{nullptr};
};
TORCH_MODULE(UNetUpBlock);

} // namespace daub
