#include "models/transformer_2d.h"

#include "core/cancel.h"
#include "models/attention.h"

#include <torch/torch.h>

namespace daub {

namespace F = torch::nn::functional;

// ---- CrossAttention ---------------------------------------------------------

CrossAttentionImpl::CrossAttentionImpl(int64_t query_dim, int64_t context_dim, int64_t heads,
                                       int64_t head_dim)
    : heads_(heads) {
    const int64_t inner = heads * head_dim;
    to_q = register_module("to_q", nn::Linear(query_dim, inner, /*bias=*/false));
    to_k = register_module("to_k", nn::Linear(context_dim, inner, /*bias=*/false));
    to_v = register_module("to_v", nn::Linear(context_dim, inner, /*bias=*/false));
    out_proj_ = nn::Linear(inner, query_dim);
    to_out = register_module("to_out", torch::nn::ModuleList(out_proj_));
}

at::Tensor CrossAttentionImpl::forward(const at::Tensor& x, const at::Tensor& context) {
    const at::Tensor& ctx = context.defined() ? context : x;
    at::Tensor q = split_heads(to_q(x), heads_);          // [B, H, N, d]
    at::Tensor k = split_heads(to_k(ctx), heads_);        // [B, H, M, d]
    at::Tensor v = split_heads(to_v(ctx), heads_);        // [B, H, M, d]
    at::Tensor o = scaled_dot_product_attention(q, k, v); // [B, H, N, d]
    return out_proj_(merge_heads(o));                     // [B, N, query_dim]
}

// ---- FeedForward ------------------------------------------------------------

GegluImpl::GegluImpl(int64_t dim_in, int64_t dim_out) {
    proj = register_module("proj", nn::Linear(dim_in, dim_out * 2));
}

at::Tensor GegluImpl::forward(const at::Tensor& x) {
    auto parts = proj(x).chunk(2, -1);    // 2 × [.., dim_out]
    return parts[0] * at::gelu(parts[1]); // [.., dim_out]
}

FeedForwardImpl::FeedForwardImpl(int64_t dim) {
    const int64_t inner = dim * 4;
    geglu_ = Geglu(dim, inner);
    out_ = nn::Linear(inner, dim);
    // net.1 is diffusers' Dropout: no weights, identity at inference.
    net = register_module("net", torch::nn::ModuleList(geglu_, torch::nn::Identity(), out_));
}

at::Tensor FeedForwardImpl::forward(const at::Tensor& x) {
    return out_(geglu_(x)); // [.., dim]
}

// ---- BasicTransformerBlock --------------------------------------------------

BasicTransformerBlockImpl::BasicTransformerBlockImpl(int64_t dim, int64_t heads, int64_t head_dim,
                                                     int64_t cross_attention_dim) {
    norm1 = register_module("norm1", nn::LayerNorm(dim, 1e-5));
    attn1 = register_module("attn1", CrossAttention(dim, dim, heads, head_dim));
    norm2 = register_module("norm2", nn::LayerNorm(dim, 1e-5));
    attn2 = register_module("attn2", CrossAttention(dim, cross_attention_dim, heads, head_dim));
    norm3 = register_module("norm3", nn::LayerNorm(dim, 1e-5));
    ff = register_module("ff", FeedForward(dim));
}

at::Tensor BasicTransformerBlockImpl::forward(const at::Tensor& x, const at::Tensor& context) {
    throw_if_cancelled();
    at::Tensor h = attn1(norm1(x)) + x; // [B, N, dim]
    throw_if_cancelled();
    h = attn2(norm2(h), context) + h; // [B, N, dim]
    throw_if_cancelled();
    return ff(norm3(h)) + h; // [B, N, dim]
}

// ---- Transformer2DModel -----------------------------------------------------

Transformer2DModelImpl::Transformer2DModelImpl(const Transformer2DConfig& config)
    : config_(config) {
    const int64_t c = config_.channels;
    const int64_t head_dim = config_.head_dim > 0 ? config_.head_dim : c / config_.heads;
    inner_dim_ = config_.heads * head_dim;
    using namespace torch::nn;
    norm = register_module("norm", nn::GroupNorm(config_.groups, c, 1e-6));
    if (config_.use_linear_projection)
        proj_in_linear_ = register_module("proj_in", nn::Linear(c, inner_dim_));
    else
        proj_in_conv_ = register_module("proj_in", nn::Conv2d(c, inner_dim_, 1));
    transformer_blocks = register_module("transformer_blocks", ModuleList());
    for (int64_t i = 0; i < config_.layers; ++i) {
        blocks_.emplace_back(inner_dim_, config_.heads, head_dim, config_.cross_attention_dim);
        transformer_blocks->push_back(blocks_.back());
    }
    if (config_.use_linear_projection)
        proj_out_linear_ = register_module("proj_out", nn::Linear(inner_dim_, c));
    else
        proj_out_conv_ = register_module("proj_out", nn::Conv2d(inner_dim_, c, 1));
}

at::Tensor Transformer2DModelImpl::project_in(const at::Tensor& tokens) {
    if (proj_in_linear_)
        return proj_in_linear_->forward(tokens);
    return proj_in_conv_->forward_as_linear(tokens); // 1x1 conv weight [inner, C, 1, 1]
}

at::Tensor Transformer2DModelImpl::project_out(const at::Tensor& tokens) {
    if (proj_out_linear_)
        return proj_out_linear_->forward(tokens);
    return proj_out_conv_->forward_as_linear(tokens); // 1x1 conv weight [C, inner, 1, 1]
}

at::Tensor Transformer2DModelImpl::forward(const at::Tensor& x, const at::Tensor& context) {
    const int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    at::Tensor t = norm(x).permute({0, 2, 3, 1}).reshape({b, h * w, c}); // [B, HW, C]
    t = project_in(t);                                                   // [B, HW, inner]
    for (auto& block : blocks_)
        t = block(t, context);                                   // [B, HW, inner]
    t = project_out(t).view({b, h, w, c}).permute({0, 3, 1, 2}); // [B, C, H, W] (strided)
    // The residual goes first so that the sum is laid out like x (NCHW).
    return x + t; // [B, C, H, W]
}

} // namespace daub
