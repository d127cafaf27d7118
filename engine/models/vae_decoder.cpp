#include "models/vae_decoder.h"

#include <torch/torch.h>

namespace daub {

VaeDecoderImpl::VaeDecoderImpl(const VaeConfig& config) {
    using namespace torch::nn;
    const std::vector<int64_t> widths(config.block_out_channels.rbegin(),
                                      config.block_out_channels.rend());
    conv_in = register_module(
        "conv_in", nn::Conv2d(config.latent_channels, widths.front(), 3, 1, 1));
    mid_block = register_module("mid_block", VaeMidBlock(widths.front(), config.norm_num_groups,
                                                         config.mid_block_add_attention));
    up_blocks = register_module("up_blocks", ModuleList());
    int64_t channels = widths.front();
    for (size_t i = 0; i < widths.size(); ++i) {
        VaeUpBlockConfig bc;
        bc.in_channels = channels;
        bc.out_channels = widths[i];
        bc.num_layers = config.layers_per_block + 1;
        bc.groups = config.norm_num_groups;
        bc.add_upsample = i + 1 < widths.size();
        blocks_.emplace_back(bc);
        up_blocks->push_back(blocks_.back());
        channels = widths[i];
    }
    conv_norm_out = register_module(
        "conv_norm_out", nn::GroupNorm(config.norm_num_groups, channels, 1e-6));
    conv_out = register_module("conv_out",
                               nn::Conv2d(channels, config.out_channels, 3, 1, 1));
}

at::Tensor VaeDecoderImpl::forward(const at::Tensor& z) {
    at::Tensor h = conv_in(z); // [B, Clast, h, w]
    h = mid_block->forward(h); // [B, Clast, h, w]
    for (auto& block : blocks_)
        h = block->forward(h);                      // [B, Ci, h·2^i, w·2^i]
    return conv_out(torch::silu(conv_norm_out(h))); // [B, out_channels, H, W]
}

at::TensorOptions VaeDecoderImpl::weight_options() const {
    return conv_in->weight.options().dtype(conv_in->compute_dtype());
}

} // namespace daub
