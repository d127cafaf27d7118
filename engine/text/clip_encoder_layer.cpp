#include "text/clip_encoder_layer.h"

#include <torch/torch.h>

namespace daub {

namespace {
torch::nn::LayerNormOptions layer_norm_options(const ClipTextConfig& config) {
    return torch::nn::LayerNormOptions({config.hidden_size}).eps(config.layer_norm_eps);
}
} // namespace

ClipEncoderLayerImpl::ClipEncoderLayerImpl(const ClipTextConfig& config) {
    self_attn = register_module("self_attn", ClipAttention(config));
    layer_norm1 = register_module("layer_norm1", torch::nn::LayerNorm(layer_norm_options(config)));
    mlp = register_module("mlp", ClipMlp(config));
    layer_norm2 = register_module("layer_norm2", torch::nn::LayerNorm(layer_norm_options(config)));
}

at::Tensor ClipEncoderLayerImpl::forward(const at::Tensor& x) {
    at::Tensor h = x + self_attn->forward(layer_norm1->forward(x)); // [B, T, C]
    return h + mlp->forward(layer_norm2->forward(h));               // [B, T, C]
}

} // namespace daub
