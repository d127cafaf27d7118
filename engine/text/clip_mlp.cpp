#include "text/clip_mlp.h"

#include <torch/torch.h>

namespace daub {

ClipMlpImpl::ClipMlpImpl(const ClipTextConfig& config) : activation_(config.hidden_act) {
    fc1 = register_module("fc1", nn::Linear(config.hidden_size, config.intermediate_size));
    fc2 = register_module("fc2", nn::Linear(config.intermediate_size, config.hidden_size));
}

at::Tensor ClipMlpImpl::forward(const at::Tensor& x) {
    at::Tensor h = fc1->forward(x); // [B, T, I]
    switch (activation_) {
    case ClipActivation::QuickGelu:
        h = h * at::sigmoid(h * 1.702); // [B, T, I]
        break;
    case ClipActivation::Gelu:
        h = at::gelu(h); // [B, T, I] exact (erf) form
        break;
    }
    return fc2->forward(h); // [B, T, C]
}

} // namespace daub
