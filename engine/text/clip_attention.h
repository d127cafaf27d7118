// Causal multi-head self-attention of a CLIP text encoder layer
// (transformers' CLIPAttention): keys q_proj, k_proj, v_proj, out_proj.
#pragma once

#include "text/clip_text_config.h"

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include "core/layers.h"
#include <torch/nn/pimpl.h>

namespace daub {

class ClipAttentionImpl : public torch::nn::Module {
public:
    explicit ClipAttentionImpl(const ClipTextConfig& config);

    /// x [B, T, C] -> [B, T, C]; token t attends to tokens 0..t.
    at::Tensor forward(const at::Tensor& x);

    nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};

private:
    ClipTextConfig config_;
};
TORCH_MODULE(ClipAttention);

/// Causal attention over q, k, v [B, H, T, d] -> [B, H, T, d], scaled by
/// 1/sqrt(d), softmax in at least fp32. Fused kernel on libtorch >= 2.0.
at::Tensor causal_self_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);

} // namespace daub
