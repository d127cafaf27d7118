#include "models/attention.h"

#include "upscale/device_memory.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>

namespace daub {

namespace {

/// Bounds of a chunk's score bytes: pieces of 16–64 MiB ran fastest here
/// (reused buffers; fresh large ones cost page faults), so larger free memory
/// buys nothing.
constexpr uint64_t kMinScoreBudget = uint64_t{8} << 20;
constexpr uint64_t kMaxScoreBudget = uint64_t{64} << 20;
/// Bytes per score while a piece is computed: the scores and their fp32
/// softmax live together.
constexpr uint64_t kBytesPerScore = 8;

/// Bytes of the [B, H, queries, Nk] scores of q and k, saturating.
uint64_t score_bytes(const at::Tensor& q, const at::Tensor& k, int64_t queries) {
    uint64_t bytes = kBytesPerScore;
    auto times = [&bytes](int64_t n) {
        if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(std::max<int64_t>(n, 0)), &bytes))
            bytes = UINT64_MAX;
    };
    for (int64_t i = 0; i + 2 < q.dim(); ++i)
        times(q.size(i)); // B, H
    times(queries);
    times(k.size(-2));
    return bytes;
}

#if TORCH_VERSION_MAJOR < 2
/// Up to this many score bytes a call runs whole, as it always did.
constexpr uint64_t kWholeLimit = uint64_t{16} << 20;

/// softmax(QKᵀ/√d)V in one piece: the libtorch 1.13 path for small calls.
at::Tensor plain_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
    const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
    at::Tensor scores = at::matmul(q, k.transpose(-1, -2)) * scale; // [B, H, Nq, Nk]
    at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
    return at::matmul(probs, v); // [B, H, Nq, d]
}
#endif

} // namespace

uint64_t attention_score_budget(const c10::Device& device) {
    const uint64_t available = available_memory(device);
    if (available == 0)
        return kMaxScoreBudget;
    return std::clamp(available / 4, kMinScoreBudget, kMaxScoreBudget);
}

int64_t attention_query_chunk(const at::Tensor& q, const at::Tensor& k, uint64_t budget_bytes) {
    const int64_t queries = q.size(-2);
    const uint64_t per_query = std::max<uint64_t>(1, score_bytes(q, k, 1));
    return std::clamp<int64_t>(static_cast<int64_t>(std::min<uint64_t>(
                                   budget_bytes / per_query, static_cast<uint64_t>(queries))),
                               1, std::max<int64_t>(queries, 1));
}

at::Tensor chunked_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                             int64_t query_chunk) {
    const int64_t queries = q.size(-2), keys = k.size(-2), d = q.size(-1), dv = v.size(-1);
    query_chunk = std::clamp<int64_t>(query_chunk, 1, std::max<int64_t>(queries, 1));
    const double scale = 1.0 / std::sqrt(static_cast<double>(d));
    const int64_t heads = q.numel() / std::max<int64_t>(1, queries * d); // B·H
    auto out_shape = q.sizes().vec();
    out_shape.back() = dv;
    // [B·H, N, d] views; the scale goes on the queries (N·d products, not N·Nk).
    const at::Tensor q3 = (q * scale).reshape({heads, queries, d});
    const at::Tensor k3t = k.reshape({heads, keys, d}).transpose(1, 2); // [B·H, d, Nk]
    const at::Tensor v3 = v.reshape({heads, keys, dv});
    at::Tensor out = at::empty({heads, queries, dv}, q.options());
    // One score buffer and one softmax buffer for every chunk: no allocation
    // (and no page faults on fresh memory) per chunk.
    const bool fp32 = q.scalar_type() == at::kFloat;
    at::Tensor scores_buffer = at::empty({heads * query_chunk * keys}, q.options());
    at::Tensor probs_buffer = fp32 ? at::empty_like(scores_buffer) : at::Tensor();
    for (int64_t start = 0; start < queries; start += query_chunk) {
        const int64_t n = std::min(query_chunk, queries - start);
        at::Tensor scores = scores_buffer.narrow(0, 0, heads * n * keys).view({heads, n, keys});
        at::bmm_out(scores, q3.narrow(1, start, n), k3t); // [B·H, n, Nk]
        at::Tensor probs;
        if (fp32) {
            probs = probs_buffer.narrow(0, 0, heads * n * keys).view({heads, n, keys});
            at::_softmax_out(probs, scores, -1, /*half_to_float=*/false);
        } else {
            probs = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
        }
        out.narrow(1, start, n).copy_(at::bmm(probs, v3)); // [B·H, n, dv]
    }
    return out.view(out_shape); // [B, H, Nq, dv]
}

at::Tensor scaled_dot_product_attention(const at::Tensor& q, const at::Tensor& k,
                                        const at::Tensor& v) {
#if TORCH_VERSION_MAJOR >= 2
    return at::scaled_dot_product_attention(q, k, v);
#else
    if (score_bytes(q, k, q.size(-2)) <= kWholeLimit)
        return plain_attention(q, k, v);
    return chunked_attention(q, k, v,
                             attention_query_chunk(q, k, attention_score_budget(q.device())));
#endif
}

at::Tensor split_heads(const at::Tensor& x, int64_t heads) {
    const int64_t b = x.size(0), n = x.size(1), c = x.size(2);
    return x.view({b, n, heads, c / heads}).transpose(1, 2); // [B, H, N, d]
}

at::Tensor merge_heads(const at::Tensor& x) {
    const int64_t b = x.size(0), h = x.size(1), n = x.size(2), d = x.size(3);
    return x.transpose(1, 2).reshape({b, n, h * d}); // [B, N, H*d]
}

} // namespace daub
