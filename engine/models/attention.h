// Scaled dot-product attention shared by the UNet's transformer blocks and
// the VAE's mid-block attention. Uses torch's fused kernels (flash /
// memory-efficient) on libtorch >= 2.0 and a plain softmax(QKᵀ/√d)V on 1.13.
#pragma once

#include <ATen/core/Tensor.h>

namespace daub {

/// q [B, H, Nq, d], k/v [B, H, Nk, d] -> [B, H, Nq, d]. No mask.
at::Tensor scaled_dot_product_attention(const at::Tensor& q, const at::Tensor& k,
                                        const at::Tensor& v);

/// Splits [B, N, H*d] into [B, H, N, d].
at::Tensor split_heads(const at::Tensor& x, int64_t heads);
/// Merges [B, H, N, d] into [B, N, H*d].
at::Tensor merge_heads(const at::Tensor& x);

} // namespace daub
