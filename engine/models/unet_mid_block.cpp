#include "models/unet_mid_block.h"

#include "models/unet_block_configs.h"

#include <torch/torch.h>

namespace daub {

UNetMidBlockImpl::UNetMidBlockImpl(const UNetConfig& config) {
    const int64_t channels = config.block_out_channels.back();
    ResnetBlock2DConfig rc = unet_resnet_config(config, channels, channels);
    rc.output_scale_factor = config.mid_block_scale_factor;
    resnet_0_ = ResnetBlock2D(rc);
    resnet_1_ = ResnetBlock2D(rc);

    attention_ = Transformer2DModel(unet_transformer_config(config, config.levels() - 1, channels));

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
