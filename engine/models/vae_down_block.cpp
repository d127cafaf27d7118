#include "models/vae_down_block.h"

#include <torch/torch.h>

namespace daub {

VaeDownBlockImpl::VaeDownBlockImpl(const VaeDownBlockConfig& config) {
    resnets = register_module("resnets", torch::nn::ModuleList());
    for (int64_t j = 0; j < config.num_layers; ++j) {
        resnet_blocks_.emplace_back(vae_resnet_config(j == 0 ? config.in_channels : config.out_channels,
                                                      config.out_channels, config.groups));
        resnets->push_back(resnet_blocks_.back());
    }
    if (config.add_downsample) {
        downsampler_ = Downsample2D(config.out_channels, /*padding=*/0);
        downsamplers = register_module("downsamplers", torch::nn::ModuleList(downsampler_));
    }
}

at::Tensor VaeDownBlockImpl::forward(const at::Tensor& x) {
    at::Tensor h = x;
    for (auto& resnet : resnet_blocks_)
        h = resnet->forward(h); // [B, Cout, H, W]
    if (downsampler_)
        h = downsampler_->forward(h); // [B, Cout, ceil(H/2), ceil(W/2)]
    return h;
}

} // namespace daub
