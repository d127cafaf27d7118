// The configs of the ResnetBlock2D and Transformer2DModel inside the UNet's
// down, mid and up blocks, taken from the UNet's config in one place.
#pragma once

#include "models/resnet.h"
#include "models/transformer_2d.h"
#include "models/unet_config.h"

namespace daub {

/// A UNet resnet: in → out channels with the UNet's time embedding, groups and eps.
ResnetBlock2DConfig unet_resnet_config(const UNetConfig& config, int64_t in_channels,
                                       int64_t out_channels);

/// The transformer of UNet level `level` over `channels` (the mid block's is
/// the last level's).
Transformer2DConfig unet_transformer_config(const UNetConfig& config, size_t level, int64_t channels);

} // namespace daub
