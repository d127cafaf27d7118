#include "core/layers.h"

#include <torch/torch.h>

namespace daub::nn {

LinearImpl::LinearImpl(int64_t in_features, int64_t out_features, bool with_bias) {
    weight = register_parameter("weight", torch::empty({out_features, in_features}));
    if (with_bias)
        bias = register_parameter("bias", torch::empty({out_features}));
}

at::Tensor LinearImpl::forward(const at::Tensor& x) { return torch::linear(x, weight, bias); }

Conv2dImpl::Conv2dImpl(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride,
                       int64_t padding)
    : stride_(stride), padding_(padding) {
    weight = register_parameter("weight", torch::empty({out_channels, in_channels, kernel_size, kernel_size}));
    bias = register_parameter("bias", torch::empty({out_channels}));
}

at::Tensor Conv2dImpl::forward(const at::Tensor& x) {
    return torch::conv2d(x, weight, bias, {stride_, stride_}, {padding_, padding_});
}

GroupNormImpl::GroupNormImpl(int64_t groups, int64_t channels, double eps) : groups_(groups), eps_(eps) {
    weight = register_parameter("weight", torch::ones({channels}));
    bias = register_parameter("bias", torch::zeros({channels}));
}

at::Tensor GroupNormImpl::forward(const at::Tensor& x) {
    return torch::group_norm(x, groups_, weight, bias, eps_);
}

LayerNormImpl::LayerNormImpl(int64_t dim, double eps) : dim_(dim), eps_(eps) {
    weight = register_parameter("weight", torch::ones({dim}));
    bias = register_parameter("bias", torch::zeros({dim}));
}

at::Tensor LayerNormImpl::forward(const at::Tensor& x) {
    return torch::layer_norm(x, {dim_}, weight, bias, eps_);
}

EmbeddingImpl::EmbeddingImpl(int64_t count, int64_t dim) {
    weight = register_parameter("weight", torch::empty({count, dim}));
}

at::Tensor EmbeddingImpl::forward(const at::Tensor& ids) { return torch::embedding(weight, ids); }

} // namespace daub::nn
