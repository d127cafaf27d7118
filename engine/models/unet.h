// diffusers' UNet2DConditionModel
// (src/diffusers/models/unets/unet_2d_condition.py) for Stable Diffusion 1.x
// and SDXL, built from its config.json (UNetConfig); parameter names are the
// keys of diffusion_pytorch_model.safetensors.
//
//   time_proj (sinusoidal) -> time_embedding.linear_1/2 (+ add_embedding for SDXL)
//   conv_in -> down_blocks.N -> mid_block -> up_blocks.N -> conv_norm_out -> conv_out
//
// Usage:
//   UNet2DConditionModel unet = load_unet("model/unet", {at::kHalf, at::kCUDA});
//   at::Tensor eps = unet->forward(latents, t, text_states, {pooled, time_ids});
#pragma once

#include "core/weights.h"
#include "models/embeddings.h"
#include "models/unet_config.h"
#include "models/unet_down_block.h"
#include "models/unet_mid_block.h"
#include "models/unet_up_block.h"

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include "core/layers.h"
#include <torch/nn/pimpl.h>

#include <string>
#include <vector>

namespace daub {

/// SDXL's added conditioning (addition_embed_type "text_time").
struct UNetAddedCond {
    at::Tensor text_embeds; ///< [B, P] pooled text embedding of the second encoder
    at::Tensor time_ids;    ///< [B, 6] original size, crop top-left, target size
};

class UNet2DConditionModelImpl : public torch::nn::Module {
public:
    explicit UNet2DConditionModelImpl(const UNetConfig& config);

    /// Predicts the noise (or v) of `sample` [B, in_channels, h, w] at
    /// `timestep` ([B], or one value for the whole batch; any dtype),
    /// conditioned on `encoder_hidden_states` [B, M, cross_attention_dim]
    /// and, for SDXL, `added`. Returns [B, out_channels, h, w] in the
    /// weights' dtype. Any h, w (odd sizes up-sample to the skip's size).
    at::Tensor forward(const at::Tensor& sample, const at::Tensor& timestep,
                       const at::Tensor& encoder_hidden_states, const UNetAddedCond& added = {});

    const UNetConfig& config() const { return config_; }

    nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
    TimestepEmbedding time_embedding{nullptr};
    TimestepEmbedding add_embedding{nullptr}; ///< SDXL only
    torch::nn::ModuleList down_blocks{nullptr}, up_blocks{nullptr};
    UNetMidBlock mid_block{nullptr};
    nn::GroupNorm conv_norm_out{nullptr};

private:
    UNetConfig config_;
    std::vector<UNetDownBlock> down_;
    std::vector<UNetUpBlock> up_;

    at::Tensor embed_time(const at::Tensor& timestep, int64_t batch, const UNetAddedCond& added);
};
TORCH_MODULE(UNet2DConditionModel);

/// Builds the UNet of `config` and loads its weights from `source` (keys
/// `prefix` + diffusers name), converted to options.dtype on
/// options.device. Parameters do not require grad. Throws ModelError.
UNet2DConditionModel load_unet(const UNetConfig& config, const WeightSource& source,
                               const std::string& prefix, const LoadOptions& options);

/// Loads a diffusers `unet/` folder: config.json and
/// diffusion_pytorch_model.safetensors (or its .fp16 variant). Throws
/// ModelError naming the file when one is missing or does not fit.
UNet2DConditionModel load_unet(const std::string& folder, const LoadOptions& options = {});

} // namespace daub
