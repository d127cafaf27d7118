#include "text/clip_encoder_layer.h"

#include <torch/torch.h>

namespace daub {

ClipEncoderLayerImpl::ClipEncoderLayerImpl(const ClipTextConfig& config) {
    self_attn = register_module("self_attn", ClipAttention(config));
    layer_norm1 = register_module("layer_norm1", nn::LayerNorm(config.hidden_size, config.layer_norm_eps));
    mlp = register_module("mlp", ClipMlp(config));
    layer_norm2 = register_module("layer_norm2", nn::LayerNorm(config.hidden_size, config.layer_norm_eps));
}

at::Tensor ClipEncoderLayerImpl::forward(const at::Tensor& x) {
    at::Tensor h = x + self_attn->forward(layer_norm1->forward(x)); // [B, T, C]
    return h + mlp->forward(layer_norm2->forward(h));               // [B, T, C]
}

} // namespace daub
