// One pre-norm transformer layer of a CLIP text encoder (transformers'
// CLIPEncoderLayer): x + attn(ln1(x)), then x + mlp(ln2(x)).
#pragma once

#include "text/clip_attention.h"
#include "text/clip_mlp.h"
#include "text/clip_text_config.h"

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include "core/layers.h"
#include <torch/nn/pimpl.h>

namespace daub {

class ClipEncoderLayerImpl : public torch::nn::Module {
public:
    explicit ClipEncoderLayerImpl(const ClipTextConfig& config);

    /// x [B, T, C] -> [B, T, C].
    at::Tensor forward(const at::Tensor& x);

    ClipAttention self_attn{nullptr};
    nn::LayerNorm layer_norm1{nullptr};
    ClipMlp mlp{nullptr};
    nn::LayerNorm layer_norm2{nullptr};
};
TORCH_MODULE(ClipEncoderLayer);

} // namespace daub
