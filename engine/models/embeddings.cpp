#include "models/embeddings.h"

#include <torch/torch.h>

#include <cmath>

namespace daub {

at::Tensor timestep_embedding(const at::Tensor& timesteps, int64_t dim, bool flip_sin_to_cos,
                              double freq_shift, double max_period) {
    const int64_t half = dim / 2;
    const auto f32 = timesteps.options().dtype(at::kFloat);
    // Same operation order as diffusers, so fp32 results match bit for bit.
    at::Tensor exponent = at::arange(0, half, f32) * (-std::log(max_period)); // [half]
    exponent = exponent / (static_cast<double>(half) - freq_shift);
    at::Tensor freqs = at::exp(exponent);                                         // [half]
    at::Tensor args = timesteps.to(at::kFloat).unsqueeze(1) * freqs.unsqueeze(0); // [N, half]
    at::Tensor emb = flip_sin_to_cos ? at::cat({at::cos(args), at::sin(args)}, -1)
                                     : at::cat({at::sin(args), at::cos(args)}, -1); // [N, 2*half]
    if (dim % 2 == 1)
        emb = at::constant_pad_nd(emb, {0, 1}); // [N, dim]
    return emb;
}

TimestepEmbeddingImpl::TimestepEmbeddingImpl(int64_t in_channels, int64_t time_embed_dim) {
    linear_1 = register_module("linear_1", nn::Linear(in_channels, time_embed_dim));
    linear_2 = register_module("linear_2", nn::Linear(time_embed_dim, time_embed_dim));
}

at::Tensor TimestepEmbeddingImpl::forward(const at::Tensor& x) {
    return linear_2(torch::silu(linear_1(x))); // [N, time_embed_dim]
}

} // namespace daub
