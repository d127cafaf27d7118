// The UNet's spatial transformer as in diffusers
// (src/diffusers/models/transformers/transformer_2d.py, attention.py,
// attention_processor.py), with the checkpoint's key names:
//
//   Transformer2DModel      norm (GroupNorm, eps 1e-6), proj_in,
//                           transformer_blocks.N, proj_out
//   BasicTransformerBlock   norm1 + attn1 (self), norm2 + attn2 (cross),
//                           norm3 + ff (LayerNorms, eps 1e-5)
//   CrossAttention          to_q, to_k, to_v (no bias), to_out.0 (bias)
//   FeedForward (GEGLU)     net.0.proj (dim -> 2*4*dim), net.2 (4*dim -> dim)
//
// These four are the parts of one module and are only used together.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include "core/layers.h"
#include <torch/nn/pimpl.h>

#include <vector>

namespace daub {

/// diffusers' Attention with the default processor: multi-head attention of
/// x over `context` (or over x itself when context is undefined).
class CrossAttentionImpl : public torch::nn::Module {
public:
    /// query_dim: width of x; context_dim: width of the context (= query_dim
    /// for self-attention); heads × head_dim: the inner width.
    CrossAttentionImpl(int64_t query_dim, int64_t context_dim, int64_t heads, int64_t head_dim);
    /// x [B, N, query_dim], context [B, M, context_dim] or undefined -> [B, N, query_dim]
    at::Tensor forward(const at::Tensor& x, const at::Tensor& context = {});

    nn::Linear to_q{nullptr}, to_k{nullptr}, to_v{nullptr};
    torch::nn::ModuleList to_out{nullptr}; ///< [0]: the output Linear

private:
    int64_t heads_;
    nn::Linear out_proj_{nullptr}; ///< to_out[0], typed
};
TORCH_MODULE(CrossAttention);

/// diffusers' GEGLU: proj to 2×inner, then value * gelu(gate).
class GegluImpl : public torch::nn::Module {
public:
    GegluImpl(int64_t dim_in, int64_t dim_out);
    at::Tensor forward(const at::Tensor& x); // [.., dim_in] -> [.., dim_out]

    nn::Linear proj{nullptr};
};
TORCH_MODULE(Geglu);

/// diffusers' FeedForward with activation "geglu" and mult 4; net.1 is a
/// weightless dropout, so the keys are net.0.proj and net.2.
class FeedForwardImpl : public torch::nn::Module {
public:
    explicit FeedForwardImpl(int64_t dim);
    at::Tensor forward(const at::Tensor& x); // [.., dim] -> [.., dim]

    torch::nn::ModuleList net{nullptr};

private:
    Geglu geglu_{nullptr};
    nn::Linear out_{nullptr};
};
TORCH_MODULE(FeedForward);

/// Pre-norm block: self-attention, cross-attention, feed-forward, each
/// added to its input.
class BasicTransformerBlockImpl : public torch::nn::Module {
public:
    BasicTransformerBlockImpl(int64_t dim, int64_t heads, int64_t head_dim,
                              int64_t cross_attention_dim);
    /// x [B, N, dim], context [B, M, cross_attention_dim] -> [B, N, dim]
    at::Tensor forward(const at::Tensor& x, const at::Tensor& context);

    nn::LayerNorm norm1{nullptr}, norm2{nullptr}, norm3{nullptr};
    CrossAttention attn1{nullptr}, attn2{nullptr};
    FeedForward ff{nullptr};
};
TORCH_MODULE(BasicTransformerBlock);

struct Transformer2DConfig {
    int64_t channels = 0;               ///< in_channels = out_channels of the block
    int64_t heads = 8;                  ///< num_attention_heads
    int64_t head_dim = 0;               ///< attention_head_dim (0 = channels / heads)
    int64_t layers = 1;                 ///< num_layers: BasicTransformerBlocks in a row
    int64_t cross_attention_dim = 0;    ///< width of encoder_hidden_states
    int64_t groups = 32;                ///< norm_num_groups of the input GroupNorm
    bool use_linear_projection = false; ///< proj_in/proj_out Linear (true) or 1×1 Conv2d
};

/// Transformer2DModel on continuous input: GroupNorm, project to tokens,
/// transformer blocks, project back, add the input.
class Transformer2DModelImpl : public torch::nn::Module {
public:
    explicit Transformer2DModelImpl(const Transformer2DConfig& config);
    /// x [B, C, H, W], context [B, M, cross_attention_dim] -> [B, C, H, W]
    at::Tensor forward(const at::Tensor& x, const at::Tensor& context);

    nn::GroupNorm norm{nullptr};
    torch::nn::ModuleList transformer_blocks{nullptr};

private:
    Transformer2DConfig config_;
    int64_t inner_dim_ = 0;
    // Exactly one pair is registered (as proj_in / proj_out), per
    // use_linear_projection. A 1×1 convolution on [B, C, H, W] is a Linear on
    // the [B, H*W, C] tokens, so both run as a matmul on the tokens.
    nn::Linear proj_in_linear_{nullptr}, proj_out_linear_{nullptr};
    nn::Conv2d proj_in_conv_{nullptr}, proj_out_conv_{nullptr};
    std::vector<BasicTransformerBlock> blocks_;

    at::Tensor project_in(const at::Tensor& tokens);
    at::Tensor project_out(const at::Tensor& tokens);
};
TORCH_MODULE(Transformer2DModel);

} // namespace daub
