#include "models/unet_block_configs.h"

namespace daub {

ResnetBlock2DConfig unet_resnet_config(const UNetConfig& config, int64_t in_channels,
                                       int64_t out_channels) {
    ResnetBlock2DConfig rc;
    rc.in_channels = in_channels;
    rc.out_channels = out_channels;
    rc.temb_channels = config.time_embed_dim();
    rc.groups = config.norm_num_groups;
    rc.eps = config.norm_eps;
    return rc;
}

Transformer2DConfig unet_transformer_config(const UNetConfig& config, size_t level, int64_t channels) {
    Transformer2DConfig tc;
    tc.channels = channels;
    tc.heads = config.attention_heads[level];
    tc.layers = config.transformer_layers_per_block[level];
    tc.cross_attention_dim = config.cross_attention_dim[level];
    tc.groups = config.norm_num_groups;
    tc.use_linear_projection = config.use_linear_projection;
    return tc;
}

} // namespace daub
