#include "models/vae_encoder.h"

#include <torch/torch.h>

namespace daub {

VaeEncoderImpl::VaeEncoderImpl(const VaeConfig& config) {
    using namespace torch::nn;
    const auto& widths = config.block_out_channels;
    conv_in = register_module(
        "conv_in", nn::Conv2d(config.in_channels, widths.front(), 3, 1, 1));
    down_blocks = register_module("down_blocks", ModuleList());
    int64_t channels = widths.front();
    for (size_t i = 0; i < widths.size(); ++i) {
        VaeDownBlockConfig bc;
        bc.in_channels = channels;
        bc.out_channels = widths[i];
        bc.num_layers = config.layers_per_block;
        bc.groups = config.norm_num_groups;
        bc.add_downsample = i + 1 < widths.size();
        blocks_.emplace_back(bc);
        down_blocks->push_back(blocks_.back());
        channels = widths[i];
    }
    mid_block = register_module(
        "mid_block", VaeMidBlock(channels, config.norm_num_groups, config.mid_block_add_attention));
    conv_norm_out = register_module(
        "conv_norm_out", nn::GroupNorm(config.norm_num_groups, channels, 1e-6));
    conv_out = register_module(
        "conv_out", nn::Conv2d(channels, 2 * config.latent_channels, 3, 1, 1));
}

at::Tensor VaeEncoderImpl::forward(const at::Tensor& image) {
    at::Tensor h = conv_in(image); // [B, C0, H, W]
    for (auto& block : blocks_)
        h = block->forward(h);                      // [B, Ci, H/2^i, W/2^i]
    h = mid_block->forward(h);                      // [B, Clast, h, w]
    return conv_out(torch::silu(conv_norm_out(h))); // [B, 2 × latent, h, w]
}

} // namespace daub
