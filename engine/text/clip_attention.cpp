#include "text/clip_attention.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <cmath>
#include <limits>

namespace daub {

ClipAttentionImpl::ClipAttentionImpl(const ClipTextConfig& config) : config_(config) {
    const int64_t c = config.hidden_size;
    q_proj = register_module("q_proj", nn::Linear(c, c));
    k_proj = register_module("k_proj", nn::Linear(c, c));
    v_proj = register_module("v_proj", nn::Linear(c, c));
    out_proj = register_module("out_proj", nn::Linear(c, c));
}

at::Tensor causal_self_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
#if TORCH_VERSION_MAJOR >= 2
    return at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, /*dropout_p=*/0.0,
                                            /*is_causal=*/true); // [B, H, T, d]
#else
    const int64_t t = q.size(2);
    const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
    at::Tensor scores = at::matmul(q, k.transpose(-1, -2)) * scale;             // [B, H, T, T]
    at::Tensor future = at::ones({t, t}, q.options().dtype(at::kBool)).triu(1); // [T, T]
    scores = scores.masked_fill(future, -std::numeric_limits<double>::infinity());
    const at::ScalarType softmax_dtype = at::promote_types(q.scalar_type(), at::kFloat);
    at::Tensor probs = at::softmax(scores, -1, softmax_dtype).to(q.scalar_type()); // [B, H, T, T]
    return at::matmul(probs, v);                                                   // [B, H, T, d]
#endif
}

at::Tensor ClipAttentionImpl::forward(const at::Tensor& x) {
    const int64_t b = x.size(0), t = x.size(1);
    const int64_t heads = config_.num_attention_heads, d = config_.head_dim();
    auto split = [&](const at::Tensor& y) {
        return y.view({b, t, heads, d}).transpose(1, 2); // [B, H, T, d]
    };
    at::Tensor q = split(q_proj->forward(x));             // [B, H, T, d]
    at::Tensor k = split(k_proj->forward(x));             // [B, H, T, d]
    at::Tensor v = split(v_proj->forward(x));             // [B, H, T, d]
    at::Tensor out = causal_self_attention(q, k, v);      // [B, H, T, d]
    out = out.transpose(1, 2).reshape({b, t, heads * d}); // [B, T, C]
    return out_proj->forward(out);                        // [B, T, C]
}

} // namespace daub
