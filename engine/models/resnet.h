// ResnetBlock2D, Downsample2D and Upsample2D as in diffusers
// (src/diffusers/models/resnet.py, src/diffusers/models/downsampling.py,
// src/diffusers/models/upsampling.py). Shared by the UNet and the VAE.
// Submodules carry the checkpoint's key names (norm1, conv1, time_emb_proj,
// norm2, conv2, conv_shortcut; conv).
#pragma once

#include <torch/nn/module.h>
#include "core/layers.h"

#include <optional>

namespace daub {

struct ResnetBlock2DConfig {
    int64_t in_channels = 0;
    int64_t out_channels = 0;   ///< 0 = in_channels
    int64_t temb_channels = 0;  ///< 0 = no time embedding (VAE)
    int64_t groups = 32;        ///< GroupNorm groups (norm_num_groups)
    double eps = 1e-6;          ///< GroupNorm eps (UNet: norm_eps 1e-5; VAE: 1e-6)
    double output_scale_factor = 1.0;
};

/// The VAE's resnets: no time embedding, GroupNorm eps 1e-6.
inline ResnetBlock2DConfig vae_resnet_config(int64_t in_channels, int64_t out_channels, int64_t groups) {
    ResnetBlock2DConfig rc;
    rc.in_channels = in_channels;
    rc.out_channels = out_channels;
    rc.groups = groups;
    rc.eps = 1e-6;
    return rc;
}

class ResnetBlock2DImpl : public torch::nn::Module {
public:
    explicit ResnetBlock2DImpl(const ResnetBlock2DConfig& config);
    /// x [B, Cin, H, W], temb [B, temb_channels] or undefined → [B, Cout, H, W]
    at::Tensor forward(const at::Tensor& x, const at::Tensor& temb = {});

private:
    ResnetBlock2DConfig config_;
    nn::GroupNorm norm1{nullptr}, norm2{nullptr};
    nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv_shortcut{nullptr};
    nn::Linear time_emb_proj{nullptr};
};
TORCH_MODULE(ResnetBlock2D);

/// Stride-2 3×3 convolution. padding > 0: symmetric conv padding (UNet);
/// padding == 0: the VAE encoder's asymmetric (0, 1, 0, 1) pad first.
class Downsample2DImpl : public torch::nn::Module {
public:
    Downsample2DImpl(int64_t channels, int64_t padding);
    at::Tensor forward(const at::Tensor& x); // [B, C, H, W] -> [B, C, ceil(H/2), ceil(W/2)]

private:
    int64_t padding_;
    nn::Conv2d conv{nullptr};
};
TORCH_MODULE(Downsample2D);

/// Nearest ×2 (or to `size`, the skip connection's size) then a 3×3 conv.
class Upsample2DImpl : public torch::nn::Module {
public:
    explicit Upsample2DImpl(int64_t channels);
    at::Tensor forward(const at::Tensor& x, std::optional<std::array<int64_t, 2>> size = {});

private:
    nn::Conv2d conv{nullptr};
};
TORCH_MODULE(Upsample2D);

} // namespace daub
