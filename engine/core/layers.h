// The plain layers the networks are built from — Linear, Conv2d, GroupNorm,
// LayerNorm, Embedding — with the parameter names of torch.nn (weight,
// bias), so checkpoints load name for name.
//
// Unlike torch::nn's, they allocate their parameters uninitialised: every
// value is about to be overwritten by the checkpoint, and torch::nn's random
// initialisation (single-threaded kaiming_uniform_) costs seconds for a
// full-size UNet. Forward is the same ATen call torch::nn makes.
//
// Linear, Conv2d and Embedding may hold their weight (nearly all of a
// network's parameters) in half precision while they compute in fp32:
// load_module_weights does that with LoadOptions::keep_half_weights when
// the file stores fp16 or bf16, which halves the memory of a model on the
// CPU. Each call then converts its weight into a buffer reused from call
// to call (one per thread, as large as the largest weight converted), so
// only one layer's fp32 weight exists at a time. Every half-precision value
// is exactly a float, so the results are those of fp32 weights.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <optional>

namespace daub::nn {

/// A layer whose weight may be kept narrower than the dtype it computes in.
class WeightedLayer : public torch::nn::Module {
public:
    /// The dtype the layer computes in and returns: its weight's, unless
    /// the weight is kept in half precision (set_compute_dtype).
    at::ScalarType compute_dtype() const;
    /// Keeps `weight` as it is (fp16 / bf16) and computes in `dtype` (fp32).
    void set_compute_dtype(at::ScalarType dtype);

    /// Converting the layer converts its weight too: it then computes in
    /// the dtype it was given.
    void to(torch::Device device, torch::Dtype dtype, bool non_blocking = false) override;
    void to(torch::Dtype dtype, bool non_blocking = false) override;
    using torch::nn::Module::to;

    at::Tensor weight;

protected:
    /// `weight` in `dtype`: the weight itself when it already is; else, on
    /// the CPU without autograd, a conversion into this thread's reused
    /// buffer, valid until the next weight_in call on the thread (so use it
    /// in one ATen call); else a converted copy.
    at::Tensor weight_in(at::ScalarType dtype) const;

private:
    std::optional<at::ScalarType> compute_dtype_;
};

/// Frees this calling thread's conversion buffer (the next conversion
/// allocates it again) and gives the memory the C allocator holds free back
/// to the system (malloc_trim). For the boundary between phases whose
/// memory does not overlap: the pipeline calls it after the denoising loop,
/// before the VAE decodes, so the UNet's largest converted weight and its
/// freed activations do not add to the VAE's peak.
void release_cached_memory();

/// y = x Wᵀ + b; weight [out, in], bias [out].
class LinearImpl : public WeightedLayer {
public:
    LinearImpl(int64_t in_features, int64_t out_features, bool bias = true);
    at::Tensor forward(const at::Tensor& x);

    at::Tensor bias;
};
TORCH_MODULE(Linear);

/// 2-D convolution with zero padding; weight [out, in, k, k], bias [out].
class Conv2dImpl : public WeightedLayer {
public:
    Conv2dImpl(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride = 1,
               int64_t padding = 0);
    at::Tensor forward(const at::Tensor& x);
    /// A 1×1 convolution applied to channels-last tokens [..., in] as the
    /// linear layer it is: [..., out].
    at::Tensor forward_as_linear(const at::Tensor& tokens);

    at::Tensor bias;

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

/// Lookup table; weight [count, dim]. Rows come out in compute_dtype().
class EmbeddingImpl : public WeightedLayer {
public:
    EmbeddingImpl(int64_t count, int64_t dim);
    at::Tensor forward(const at::Tensor& ids);
    /// Rows [0, count) in compute_dtype(): [count, dim].
    at::Tensor first_rows(int64_t count);
};
TORCH_MODULE(Embedding);

} // namespace daub::nn
