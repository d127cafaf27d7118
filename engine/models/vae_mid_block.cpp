#include "models/vae_mid_block.h"

#include <torch/torch.h>

namespace daub {

namespace {
constexpr double kVaeNormEps = 1e-6;
}

VaeMidBlockImpl::VaeMidBlockImpl(int64_t channels, int64_t groups, bool add_attention) {
    resnets = register_module("resnets", torch::nn::ModuleList());
    for (int i = 0; i < 2; ++i) {
        resnet_blocks_.emplace_back(vae_resnet_config(channels, channels, groups));
        resnets->push_back(resnet_blocks_.back());
    }
    if (add_attention) {
        attention_ = VaeAttention(channels, groups, kVaeNormEps);
        attentions = register_module("attentions", torch::nn::ModuleList(attention_));
    }
}

at::Tensor VaeMidBlockImpl::forward(const at::Tensor& x) {
    at::Tensor h = resnet_blocks_[0]->forward(x); // [B, C, H, W]
    if (attention_)
        h = attention_->forward(h);
    return resnet_blocks_[1]->forward(h);
}

} // namespace daub
