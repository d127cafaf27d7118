// One level of the VAE decoder: diffusers' UpDecoderBlock2D
// (src/diffusers/models/unets/unet_2d_blocks.py): `resnets.j` without time
// embedding (layers_per_block + 1 of them), then (except on the last level)
// `upsamplers.0`, nearest ×2 and a 3×3 convolution.
#pragma once

#include "models/resnet.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include <vector>

namespace daub {

struct VaeUpBlockConfig {
    int64_t in_channels = 0;  ///< channels coming in
    int64_t out_channels = 0; ///< channels of every resnet output
    int64_t num_layers = 2;   ///< resnets (layers_per_block + 1)
    int64_t groups = 32;      ///< GroupNorm groups
    bool add_upsample = true; ///< double the resolution at the end
};

class VaeUpBlockImpl : public torch::nn::Module {
public:
    explicit VaeUpBlockImpl(const VaeUpBlockConfig& config);
    /// x [B, Cin, H, W] -> [B, Cout, 2H, 2W] (or [B, Cout, H, W])
    at::Tensor forward(const at::Tensor& x);

private:
    std::vector<ResnetBlock2D> resnet_blocks_;
    Upsample2D upsampler_{nullptr};
    torch::nn::ModuleList resnets{nullptr}, upsamplers{nullptr};
};
TORCH_MODULE(VaeUpBlock);

} // namespace daub
