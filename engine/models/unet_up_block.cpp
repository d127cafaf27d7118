#include "models/unet_up_block.h"

#include "core/errors.h"

#include "models/unet_block_configs.h"

#include <torch/torch.h>

#include <algorithm>

namespace daub {

UNetUpBlockImpl::UNetUpBlockImpl(const UNetConfig& config, size_t index) {
    const size_t n = config.levels();
    const size_t level = n - 1 - index; // the down level this block mirrors
    const auto& channels = config.block_out_channels;
    auto reversed = [&](size_t i) { return channels[n - 1 - i]; };
    const int64_t prev_out = reversed(index == 0 ? 0 : index - 1);
    const int64_t out = reversed(index);
    const int64_t in = reversed(std::min(index + 1, n - 1));
    const int64_t layers = config.layers_per_block[level] + 1;
    const bool cross_attention = config.up_has_cross_attention(index);

    resnets = register_module("resnets", torch::nn::ModuleList());
    if (cross_attention)
        attentions = register_module("attentions", torch::nn::ModuleList());
    for (int64_t i = 0; i < layers; ++i) {
        const int64_t skip_channels = i == layers - 1 ? in : out;
        resnets_.emplace_back(unet_resnet_config(config, (i == 0 ? prev_out : out) + skip_channels, out));
        resnets->push_back(resnets_.back());
        if (cross_attention) {
            attentions_.emplace_back(unet_transformer_config(config, level, out));
            attentions->push_back(attentions_.back());
        }
    }
    if (index + 1 < n) {
        upsampler_ = Upsample2D(out);
        upsamplers = register_module("upsamplers", torch::nn::ModuleList(upsampler_));
    }
}

at::Tensor UNetUpBlockImpl::forward(const at::Tensor& x, const at::Tensor& temb,
                                    const at::Tensor& context, std::vector<at::Tensor>& skips) {
    const size_t needed = resnets_.size() + (upsampler_ ? 1 : 0);
    if (skips.size() < needed)
        throw ModelError("UNet: the up blocks need more skip connections than the down blocks "
                         "made; the configuration is inconsistent.");
    at::Tensor h = x;
    for (size_t i = 0; i < resnets_.size(); ++i) {
        h = at::cat({h, skips.back()}, 1); // [B, C + Cskip, H, W]
        skips.pop_back();
        h = resnets_[i](h, temb); // [B, Cout, H, W]
        if (!attentions_.empty())
            h = attentions_[i](h, context); // [B, Cout, H, W]
    }
    if (upsampler_) {
        const at::Tensor& next = skips.back();
        h = upsampler_(h, std::array<int64_t, 2>{next.size(2), next.size(3)}); // [B, Cout, H2, W2]
    }
    return h;
}

} // namespace daub
