#include "models/vae_attention.h"

#include "core/cancel.h"
#include "models/attention.h"

#include <torch/torch.h>

namespace daub {

namespace {

/// Queries per attention call: bounds the [N, N] score matrix of a math
/// fallback of libtorch >= 2's fused attention to 4096 × N elements at large
/// image sizes (on 1.13, scaled_dot_product_attention chunks each part
/// further to its memory budget).
constexpr int64_t kQueryChunk = 4096;

} // namespace

VaeAttentionImpl::VaeAttentionImpl(int64_t channels, int64_t groups, double eps) {
    using namespace torch::nn;
    group_norm =
        register_module("group_norm", nn::GroupNorm(groups, channels, eps));
    to_q = register_module("to_q", nn::Linear(channels, channels));
    to_k = register_module("to_k", nn::Linear(channels, channels));
    to_v = register_module("to_v", nn::Linear(channels, channels));
    out_proj = nn::Linear(channels, channels);
    to_out = register_module("to_out", ModuleList(out_proj)); // to_out.0 (to_out.1 is dropout)
}

at::Tensor VaeAttentionImpl::forward(const at::Tensor& x) {
    throw_if_cancelled();
    const int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    at::Tensor tokens = group_norm(x).view({b, c, h * w}).transpose(1, 2); // [B, N, C]
    at::Tensor q = to_q(tokens).unsqueeze(1);                              // [B, 1, N, C]
    at::Tensor k = to_k(tokens).unsqueeze(1);                              // [B, 1, N, C]
    at::Tensor v = to_v(tokens).unsqueeze(1);                              // [B, 1, N, C]
    at::Tensor attended;
    if (q.size(2) <= kQueryChunk) {
        attended = scaled_dot_product_attention(q, k, v); // [B, 1, N, C]
    } else {
        std::vector<at::Tensor> parts;
        for (const at::Tensor& q_part : q.split(kQueryChunk, 2))
            parts.push_back(scaled_dot_product_attention(q_part, k, v)); // [B, 1, n, C]
        attended = at::cat(parts, 2);                                    // [B, 1, N, C]
    }
    at::Tensor out = out_proj(attended.squeeze(1));  // [B, N, C]
    out = out.transpose(1, 2).reshape({b, c, h, w}); // [B, C, H, W]
    return out + x;
}

} // namespace daub
