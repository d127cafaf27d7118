#include "text/clip_encoder.h"

#include "core/cancel.h"
#include "text/clip_encoder_layer.h"

#include <torch/torch.h>

namespace daub {

ClipEncoderImpl::ClipEncoderImpl(const ClipTextConfig& config) {
    layers = register_module("layers", torch::nn::ModuleList());
    for (int64_t i = 0; i < config.num_hidden_layers; ++i)
        layers->push_back(ClipEncoderLayer(config));
}

std::vector<at::Tensor> ClipEncoderImpl::forward(const at::Tensor& x, int64_t num_layers) {
    TORCH_CHECK(num_layers >= 0 && num_layers <= this->num_layers(), "ClipEncoder: cannot run ",
                num_layers, " of ", this->num_layers(), " layers");
    std::vector<at::Tensor> hidden_states;
    hidden_states.reserve(static_cast<size_t>(num_layers) + 1);
    hidden_states.push_back(x); // [B, T, C]
    for (int64_t i = 0; i < num_layers; ++i) {
        throw_if_cancelled(); // the calling thread's CancelScope, if any
        hidden_states.push_back(
            layers->ptr<ClipEncoderLayerImpl>(i)->forward(hidden_states.back())); // [B, T, C]
    }
    return hidden_states;
}

} // namespace daub
