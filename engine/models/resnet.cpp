#include "models/resnet.h"

#include "core/cancel.h"

#include <torch/torch.h>

namespace daub {

namespace F = torch::nn::functional;

ResnetBlock2DImpl::ResnetBlock2DImpl(const ResnetBlock2DConfig& config) : config_(config) {
    if (config_.out_channels == 0)
        config_.out_channels = config_.in_channels;
    const int64_t cin = config_.in_channels, cout = config_.out_channels;
    norm1 = register_module("norm1", nn::GroupNorm(config_.groups, cin, config_.eps));
    conv1 = register_module("conv1", nn::Conv2d(cin, cout, 3, 1, 1));
    if (config_.temb_channels > 0)
        time_emb_proj = register_module("time_emb_proj", nn::Linear(config_.temb_channels, cout));
    norm2 = register_module("norm2", nn::GroupNorm(config_.groups, cout, config_.eps));
    conv2 = register_module("conv2", nn::Conv2d(cout, cout, 3, 1, 1));
    if (cin != cout)
        conv_shortcut = register_module("conv_shortcut", nn::Conv2d(cin, cout, 1));
}

at::Tensor ResnetBlock2DImpl::forward(const at::Tensor& x, const at::Tensor& temb) {
    // Two cancellation points: at full resolution one convolution of a VAE
    // decode takes seconds on a CPU.
    throw_if_cancelled();
    at::Tensor h = conv1(torch::silu(norm1(x))); // [B, Cout, H, W]
    if (time_emb_proj && temb.defined())
        h = h + time_emb_proj(torch::silu(temb)).unsqueeze(-1).unsqueeze(-1); // + [B, Cout, 1, 1]
    throw_if_cancelled();
    h = conv2(torch::silu(norm2(h)));
    at::Tensor shortcut = conv_shortcut ? conv_shortcut(x) : x;
    at::Tensor out = shortcut + h;
    if (config_.output_scale_factor != 1.0)
        out = out / config_.output_scale_factor;
    return out;
}

Downsample2DImpl::Downsample2DImpl(int64_t channels, int64_t padding) : padding_(padding) {
    conv = register_module(
        "conv", nn::Conv2d(channels, channels, 3, 2, padding));
}

at::Tensor Downsample2DImpl::forward(const at::Tensor& x) {
    throw_if_cancelled();
    if (padding_ == 0)
        return conv(F::pad(x, F::PadFuncOptions({0, 1, 0, 1}).mode(torch::kConstant).value(0)));
    return conv(x);
}

Upsample2DImpl::Upsample2DImpl(int64_t channels) {
    conv = register_module("conv",
                           nn::Conv2d(channels, channels, 3, 1, 1));
}

at::Tensor Upsample2DImpl::forward(const at::Tensor& x, std::optional<std::array<int64_t, 2>> size) {
    auto options = F::InterpolateFuncOptions().mode(torch::kNearest);
    if (size)
        options.size(std::vector<int64_t>{(*size)[0], (*size)[1]});
    else
        options.scale_factor(std::vector<double>{2.0, 2.0});
    throw_if_cancelled();
    at::Tensor h = x;
    // Nearest upsampling has no bf16 kernel on older torch: go through fp32.
    const bool upcast = x.scalar_type() == at::kBFloat16;
    if (upcast)
        h = h.to(at::kFloat);
    h = F::interpolate(h.contiguous(), options);
    if (upcast)
        h = h.to(x.scalar_type());
    return conv(h);
}

} // namespace daub
