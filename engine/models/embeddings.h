// Timestep embeddings of the UNet as in diffusers
// (src/diffusers/models/embeddings.py): the sinusoidal projection
// `get_timestep_embedding` (module `Timesteps`, which has no weights) and the
// two-layer MLP `TimestepEmbedding` (keys linear_1, linear_2).
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include "core/layers.h"
#include <torch/nn/pimpl.h>

namespace daub {

/// Sinusoidal embedding of `timesteps` [N] (any dtype) -> [N, dim], always
/// float32 (callers cast to the weights' dtype, as diffusers does).
/// freq_i = exp(-ln(max_period) * i / (dim/2 - freq_shift)); the result is
/// [sin(t*freq), cos(t*freq)], or [cos, sin] when flip_sin_to_cos.
at::Tensor timestep_embedding(const at::Tensor& timesteps, int64_t dim, bool flip_sin_to_cos,
                              double freq_shift, double max_period = 10000.0);

/// linear_2(silu(linear_1(x))): [N, in_channels] -> [N, time_embed_dim].
class TimestepEmbeddingImpl : public torch::nn::Module {
public:
    TimestepEmbeddingImpl(int64_t in_channels, int64_t time_embed_dim);
    at::Tensor forward(const at::Tensor& x);

    nn::Linear linear_1{nullptr}, linear_2{nullptr};
};
TORCH_MODULE(TimestepEmbedding);

} // namespace daub
