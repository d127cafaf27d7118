// The plain layers the networks are built from — Linear, Conv2d, GroupNorm,
// LayerNorm, Embedding — with the parameter names of torch.nn (weight,
// bias), so checkpoints load name for name.
//
// Unlike torch::nn's, they allocate their parameters uninitialised: every
// value is about to be overwritten by the checkpoint, and torch::nn's random
// initialisation (single-threaded kaiming_uniform_) costs seconds for a
// full-size UNet. Forward is the same ATen call torch::nn makes.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace daub::nn {

/// y = x Wᵀ + b; weight [out, in], bias [out].
class LinearImpl : public torch::nn::Module {
public:
    LinearImpl(int64_t in_features, int64_t out_features, bool bias = true);
    at::Tensor forward(const at::Tensor& x);

    at::Tensor weight, bias;
};
TORCH_MODULE(Linear);

/// 2-D convolution with zero padding; weight [out, in, k, k], bias [out].
class Conv2dImpl : public torch::nn::Module {
public:
    Conv2dImpl(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride = 1,
               int64_t padding = 0);
    at::Tensor forward(const at::Tensor& x);

    at::Tensor weight, bias;

private:
    int64_t stride_, padding_;
};
TORCH_MODULE(Conv2d);

/// Group normalisation with a per-channel affine; weight and bias [channels].
class GroupNormImpl : public torch::nn::Module {
public:
    GroupNormImpl(int64_t groups, int64_t channels, double eps);
    at::Tensor forward(const at::Tensor& x);

    at::Tensor weight, bias;

private:
    int64_t groups_;
    double eps_;
};
TORCH_MODULE(GroupNorm);

/// Layer normalisation over the last dimension; weight and bias [dim].
class LayerNormImpl : public torch::nn::Module {
public:
    LayerNormImpl(int64_t dim, double eps);
    at::Tensor forward(const at::Tensor& x);

    at::Tensor weight, bias;

private:
    int64_t dim_;
    double eps_;
};
TORCH_MODULE(LayerNorm);

/// Lookup table; weight [count, dim].
class EmbeddingImpl : public torch::nn::Module {
public:
    EmbeddingImpl(int64_t count, int64_t dim);
    at::Tensor forward(const at::Tensor& ids);

    at::Tensor weight;
};
TORCH_MODULE(Embedding);

} // namespace daub::nn
