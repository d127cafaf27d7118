// The stack of CLIP text encoder layers (transformers' CLIPEncoder): key
// prefix `layers.N.`.
#pragma once

#include "text/clip_text_config.h"

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <vector>

namespace daub {

class ClipEncoderImpl : public torch::nn::Module {
public:
    explicit ClipEncoderImpl(const ClipTextConfig& config);

    /// Runs the first `num_layers` layers on x [B, T, C] and returns every
    /// hidden state: [0] = x, [i] = output of layer i (each [B, T, C]).
    std::vector<at::Tensor> forward(const at::Tensor& x, int64_t num_layers);

    int64_t num_layers() const { return static_cast<int64_t>(layers->size()); }

    torch::nn::ModuleList layers{nullptr};
};
TORCH_MODULE(ClipEncoder);

} // namespace daub
