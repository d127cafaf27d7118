// Scaled dot-product attention shared by the UNet's transformer blocks and
// the VAE's mid-block attention. Uses torch's fused kernels (flash /
// memory-efficient) on libtorch >= 2.0 and a plain softmax(QKᵀ/√d)V on 1.13,
// which builds the [B, H, Nq, Nk] score matrix: there, large calls run in
// chunks of queries so that the scores stay within a memory budget (SD 1.5
// at 1024² would otherwise need about 17 GB per call).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>

namespace daub {

/// q [B, H, Nq, d], k/v [B, H, Nk, d] -> [B, H, Nq, d]. No mask. On
/// libtorch 1.13, calls whose scores exceed 16 MiB run as chunked_attention
/// with chunks of attention_score_budget(q.device()) bytes.
at::Tensor scaled_dot_product_attention(const at::Tensor& q, const at::Tensor& k,
                                        const at::Tensor& v);

/// The plain softmax(QKᵀ/√d)V for `query_chunk` queries at a time, so that at
/// most [B, H, query_chunk, Nk] scores (and their fp32 softmax) exist at once,
/// in buffers reused from chunk to chunk. fp32 on the CPU runs (head, piece of
/// queries) tasks on libtorch's threads instead, each thread with one buffer
/// of at most 8 MiB (cache-sized) and within the same bound, softmax in
/// place. Exact: each query's softmax spans all keys; query_chunk >= Nq
/// computes it in one piece. Any libtorch. Checks the calling thread's
/// cancellation token between pieces.
at::Tensor chunked_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                             int64_t query_chunk);

/// Queries per chunk whose scores and their softmax fit in `budget_bytes`:
/// between 1 and Nq.
int64_t attention_query_chunk(const at::Tensor& q, const at::Tensor& k, uint64_t budget_bytes);

/// Bytes the scores of one attention chunk may take on `device`: a quarter of
/// its free memory, at most 64 MiB (larger chunks are no faster) and at least
/// 8 MiB.
uint64_t attention_score_budget(const c10::Device& device);

/// Splits [B, N, H*d] into [B, H, N, d].
at::Tensor split_heads(const at::Tensor& x, int64_t heads);
/// Merges [B, H, N, d] into [B, N, H*d].
at::Tensor merge_heads(const at::Tensor& x);

} // namespace daub
