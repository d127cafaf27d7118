#include "models/vae_up_block.h"

#include <torch/torch.h>

namespace daub {

VaeUpBlockImpl::VaeUpBlockImpl(const VaeUpBlockConfig& config) {
    resnets = register_module("resnets", torch::nn::ModuleList());
    for (int64_t j = 0; j < config.num_layers; ++j) {
        resnet_blocks_.emplace_back(vae_resnet_config(j == 0 ? config.in_channels : config.out_channels,
                                                      config.out_channels, config.groups));
        resnets->push_back(resnet_blocks_.back());
    }
    if (config.add_upsample) {
        upsampler_ = Upsample2D(config.out_channels);
        upsamplers = register_module("upsamplers", torch::nn::ModuleList(upsampler_));
    }
}

at::Tensor VaeUpBlockImpl::forward(const at::Tensor& x) {
    at::Tensor h = x;
    for (auto& resnet : resnet_blocks_)
        h = resnet->forward(h); // [B, Cout, H, W]
    if (upsampler_)
        h = upsampler_->forward(h); // [B, Cout, 2H, 2W]
    return h;
}

} // namespace daub
