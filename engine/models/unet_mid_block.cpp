#include "models/unet_mid_block.h"

#include <torch/torch.h>

namespace daub {

UNetMidBlockImpl::UNetMidBlockImpl(const UNetConfig& config) {
    const int64_t channels = config.block_out_channels.back();
    ResnetBlock2DConfig rc;
    rc.in_channels = channels;
    rc.out_channels = channels;
    rc.temb_channels = config.time_embed_dim();
    rc.groups = config.norm_num_groups;
    rc.eps = config.norm_eps;
    rc.output_scale_factor = config.mid_block_scale_factor;
    resnet_0_ = ResnetBlock2D(rc);
    resnet_1_ = ResnetBlock2D(rc);

    Transformer2DConfig tc;
    tc.channels = channels;
    tc.heads = config.attention_heads.back();
    tc.layers = config.transformer_layers_per_block.back();
    tc.cross_attention_dim = config.cross_attention_dim.back();
    tc.groups = config.norm_num_groups;
    tc.use_linear_projection = config.use_linear_projection;
    attention_ = Transformer2DModel(tc);

    attentions = register_module("attentions", torch::nn::ModuleList(attention_));
    resnets = register_module("resnets", torch::nn::ModuleList(resnet_0_, resnet_1_));
}

at::Tensor UNetMidBlockImpl::forward(const at::Tensor& x, const at::Tensor& temb,
                                     const at::Tensor& context) {
    at::Tensor h = resnet_0_(x, temb); // [B, C, H, W]
    h = attention_(h, context);        // [B, C, H, W]
    return resnet_1_(h, temb);         // [B, C, H, W]
}

} // namespace daub
