// One level of the VAE encoder: diffusers' DownEncoderBlock2D
// (src/diffusers/models/unets/unet_2d_blocks.py): `resnets.j` without time
// embedding, then (except on the last level) `downsamplers.0`, a stride-2
// convolution after the asymmetric (0, 1, 0, 1) pad.
#pragma once

#include "models/resnet.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include <vector>

namespace daub {

struct VaeDownBlockConfig {
    int64_t in_channels = 0;    ///< channels coming in
    int64_t out_channels = 0;   ///< channels of every resnet output
    int64_t num_layers = 1;     ///< resnets (layers_per_block)
    int64_t groups = 32;        ///< GroupNorm groups
    bool add_downsample = true; ///< halve the resolution at the end
};

class VaeDownBlockImpl : public torch::nn::Module {
public:
    explicit VaeDownBlockImpl(const VaeDownBlockConfig& config);
    /// x [B, Cin, H, W] -> [B, Cout, ceil(H/2), ceil(W/2)] (or [B, Cout, H, W])
    at::Tensor forward(const at::Tensor& x);

private:
    std::vector<ResnetBlock2D> resnet_blocks_;
    Downsample2D downsampler_{nullptr};
    torch::nn::ModuleList resnets{nullptr}, downsamplers{nullptr};
};
TORCH_MODULE(VaeDownBlock);

} // namespace daub
