// Feed-forward block of a CLIP text encoder layer (transformers' CLIPMLP):
// fc1 -> quick_gelu | gelu -> fc2.
#pragma once

#include "text/clip_text_config.h"

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include "core/layers.h"
#include <torch/nn/pimpl.h>

namespace daub {

class ClipMlpImpl : public torch::nn::Module {
public:
    explicit ClipMlpImpl(const ClipTextConfig& config);

    /// x [B, T, C] -> [B, T, C].
    at::Tensor forward(const at::Tensor& x);

    nn::Linear fc1{nullptr}, fc2{nullptr};

private:
    ClipActivation activation_;
};
TORCH_MODULE(ClipMlp);

} // namespace daub
