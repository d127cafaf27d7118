// The self-attention of the VAE's mid blocks: diffusers' `Attention` as
// UNetMidBlock2D builds it for AutoencoderKL (src/diffusers/models/
// attention_processor.py): GroupNorm, one head spanning all channels,
// biased q/k/v/out projections, residual connection. Keys: group_norm,
// to_q, to_k, to_v, to_out.0.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include "core/layers.h"

namespace daub {

class VaeAttentionImpl : public torch::nn::Module {
public:
    VaeAttentionImpl(int64_t channels, int64_t groups, double eps);
    /// x [B, C, H, W] -> [B, C, H, W]
    at::Tensor forward(const at::Tensor& x);

private:
    nn::GroupNorm group_norm{nullptr};
    nn::Linear to_q{nullptr}, to_k{nullptr}, to_v{nullptr}, out_proj{nullptr};
    torch::nn::ModuleList to_out{nullptr};
};
TORCH_MODULE(VaeAttention);

} // namespace daub
