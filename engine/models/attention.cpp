#include "models/attention.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <cmath>

namespace daub {

at::Tensor scaled_dot_product_attention(const at::Tensor& q, const at::Tensor& k,
                                        const at::Tensor& v) {
#if TORCH_VERSION_MAJOR >= 2
    return at::scaled_dot_product_attention(q, k, v);
#else
    const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
    at::Tensor scores = at::matmul(q, k.transpose(-1, -2)) * scale;  // [B, H, Nq, Nk]
    at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
    return at::matmul(probs, v);                                   // [B, H, Nq, d]
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
