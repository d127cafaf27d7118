#include "core/layers.h"

#include <c10/core/CPUAllocator.h>
#include <torch/torch.h>

#include <malloc.h>

namespace daub::nn {

namespace {

/// This thread's buffer for weights converted on the fly: grown to the
/// largest weight it has held, reused by every later conversion.
struct ConversionBuffer {
    c10::DataPtr data;
    size_t bytes = 0;

    void* reserve(size_t need) {
        if (need > bytes) {
            data = c10::DataPtr(); // the old one first: never two at once
            bytes = 0;
            data = c10::GetCPUAllocator()->allocate(need);
            bytes = need;
        }
        return data.get();
    }
};

thread_local ConversionBuffer t_buffer;

} // namespace

void release_cached_memory() {
    t_buffer.data = c10::DataPtr();
    t_buffer.bytes = 0;
    ::malloc_trim(0);
}

at::ScalarType WeightedLayer::compute_dtype() const {
    return compute_dtype_.value_or(weight.scalar_type());
}

void WeightedLayer::set_compute_dtype(at::ScalarType dtype) {
    if (dtype == weight.scalar_type())
        compute_dtype_.reset();
    else
        compute_dtype_ = dtype;
}

void WeightedLayer::to(torch::Device device, torch::Dtype dtype, bool non_blocking) {
    torch::nn::Module::to(device, dtype, non_blocking);
    compute_dtype_.reset();
}

void WeightedLayer::to(torch::Dtype dtype, bool non_blocking) {
    torch::nn::Module::to(dtype, non_blocking);
    compute_dtype_.reset();
}

at::Tensor WeightedLayer::weight_in(at::ScalarType dtype) const {
    if (weight.scalar_type() == dtype)
        return weight;
    if (!weight.device().is_cpu() || (at::GradMode::is_enabled() && weight.requires_grad()))
        return weight.to(dtype);
    const size_t bytes = static_cast<size_t>(weight.numel()) * c10::elementSize(dtype);
    at::Tensor out =
        at::from_blob(t_buffer.reserve(bytes), weight.sizes(), at::TensorOptions().dtype(dtype));
    out.copy_(weight);
    return out;
}

LinearImpl::LinearImpl(int64_t in_features, int64_t out_features, bool with_bias) {
    weight = register_parameter("weight", torch::empty({out_features, in_features}));
    if (with_bias)
        bias = register_parameter("bias", torch::empty({out_features}));
}

at::Tensor LinearImpl::forward(const at::Tensor& x) {
    return torch::linear(x, weight_in(x.scalar_type()), bias);
}

Conv2dImpl::Conv2dImpl(int64_t in_channels, int64_t out_channels, int64_t kernel_size,
                       int64_t stride, int64_t padding)
    : stride_(stride), padding_(padding) {
    weight = register_parameter(
        "weight", torch::empty({out_channels, in_channels, kernel_size, kernel_size}));
    bias = register_parameter("bias", torch::empty({out_channels}));
}

at::Tensor Conv2dImpl::forward(const at::Tensor& x) {
    return torch::conv2d(x, weight_in(x.scalar_type()), bias, {stride_, stride_},
                         {padding_, padding_});
}

at::Tensor Conv2dImpl::forward_as_linear(const at::Tensor& tokens) {
    const at::Tensor w = weight_in(tokens.scalar_type()); // [out, in, 1, 1]
    return at::linear(tokens, w.view({w.size(0), w.size(1)}), bias);
}

GroupNormImpl::GroupNormImpl(int64_t groups, int64_t channels, double eps)
    : groups_(groups), eps_(eps) {
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

at::Tensor EmbeddingImpl::forward(const at::Tensor& ids) {
    return torch::embedding(weight, ids).to(compute_dtype());
}

at::Tensor EmbeddingImpl::first_rows(int64_t count) {
    return weight.slice(0, 0, count).to(compute_dtype());
}

} // namespace daub::nn
