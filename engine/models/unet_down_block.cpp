#include "models/unet_down_block.h"

#include "models/unet_block_configs.h"

#include <torch/torch.h>

namespace daub {

UNetDownBlockImpl::UNetDownBlockImpl(const UNetConfig& config, size_t level) {
    const auto& channels = config.block_out_channels;
    const int64_t out = channels[level];
    const int64_t in = level == 0 ? channels[0] : channels[level - 1];
    const bool cross_attention = config.down_has_cross_attention(level);

    resnets = register_module("resnets", torch::nn::ModuleList());
    if (cross_attention)
        attentions = register_module("attentions", torch::nn::ModuleList());
    for (int64_t i = 0; i < config.layers_per_block[level]; ++i) {
        resnets_.emplace_back(unet_resnet_config(config, i == 0 ? in : out, out));
        resnets->push_back(resnets_.back());
        if (cross_attention) {
            attentions_.emplace_back(unet_transformer_config(config, level, out));
            attentions->push_back(attentions_.back());
        }
    }
    if (level + 1 < config.levels()) {
        downsampler_ = Downsample2D(out, config.downsample_padding);
        downsamplers = register_module("downsamplers", torch::nn::ModuleList(downsampler_));
    }
}

at::Tensor UNetDownBlockImpl::forward(const at::Tensor& x, const at::Tensor& temb,
                                      const at::Tensor& context, std::vector<at::Tensor>& skips) {
    at::Tensor h = x;
    for (size_t i = 0; i < resnets_.size(); ++i) {
        h = resnets_[i](h, temb); // [B, Cout, H, W]
        if (!attentions_.empty())
            h = attentions_[i](h, context); // [B, Cout, H, W]
        skips.push_back(h);
    }
    if (downsampler_) {
        h = downsampler_(h); // [B, Cout, ceil(H/2), ceil(W/2)]
        skips.push_back(h);
    }
    return h;
}

} // namespace daub
