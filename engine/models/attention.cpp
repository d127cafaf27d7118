#include "models/attention.h"

#include "core/cancel.h"
#include "upscale/device_memory.h"

#include <ATen/Parallel.h>
#include <ATen/ThreadLocalState.h>

#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <vector>

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
/// Bytes of one thread's score buffer on the CPU: pieces this size stay in
/// the cache between the product with K, the softmax and the product with V
/// (on a 2-core EPYC, 8 MiB pieces per head took 30–37 % less CPU time than
/// 64 MiB chunks over every head, which go to memory three times).
constexpr uint64_t kCacheScoreBytes = uint64_t{8} << 20;

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
    if (queries == 0 || heads == 0)
        return out.view(out_shape);

    if (q.device().is_cpu() && q.scalar_type() == at::kFloat) {
        // Tasks of (head, piece of queries) over libtorch's threads, each with
        // one score buffer of its own that stays in the CPU's cache (pieces of
        // kCacheScoreBytes): the softmax runs in place and the product with V
        // writes into the output, so nothing is allocated per piece. The
        // [B·H, query_chunk, Nk] budget bounds the buffers of all threads.
        const int64_t threads = std::max<int64_t>(1, at::get_num_threads());
        const int64_t by_budget = std::max<int64_t>(1, heads * query_chunk / threads);
        const int64_t by_cache = std::max<int64_t>(
            1, static_cast<int64_t>(kCacheScoreBytes / sizeof(float)) / std::max<int64_t>(keys, 1));
        const int64_t rows = std::min({by_budget, by_cache, queries});
        const int64_t pieces = (queries + rows - 1) / rows;
        std::vector<at::Tensor> buffers(static_cast<size_t>(threads));
        // Worker threads see the caller's grad/inference mode and its
        // cancellation token.
        const at::ThreadLocalState state;
        const CancelToken* const token = current_cancel_token();
        at::parallel_for(0, heads * pieces, 1, [&](int64_t begin, int64_t end) {
            at::ThreadLocalStateGuard state_guard(state);
            CancelScope scope(token);
            const auto slot =
                static_cast<size_t>(std::min<int64_t>(at::get_thread_num(), threads - 1));
            at::Tensor& buffer = buffers[slot];
            if (!buffer.defined())
                buffer = at::empty({rows, keys}, q.options());
            for (int64_t task = begin; task < end; ++task) {
                throw_if_cancelled();
                const int64_t h = task / pieces, start = (task % pieces) * rows;
                const int64_t n = std::min(rows, queries - start);
                at::Tensor scores = buffer.narrow(0, 0, n);            // [n, Nk]
                at::mm_out(scores, q3[h].narrow(0, start, n), k3t[h]); // scaled QKᵀ
                at::_softmax_out(scores, scores, -1, /*half_to_float=*/false);
                at::Tensor o = out[h].narrow(0, start, n); // [n, dv], rows of the output
                at::mm_out(o, scores, v3[h]);
            }
        });
        return out.view(out_shape);
    }

    // Other devices and dtypes: chunks of queries over every head, one score
    // buffer (and for fp32 one softmax buffer) for every chunk.
    const bool fp32 = q.scalar_type() == at::kFloat;
    at::Tensor scores_buffer = at::empty({heads * query_chunk * keys}, q.options());
    at::Tensor probs_buffer = fp32 ? at::empty_like(scores_buffer) : at::Tensor();
    for (int64_t start = 0; start < queries; start += query_chunk) {
        throw_if_cancelled();
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
    return out.view(out_shape);
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
