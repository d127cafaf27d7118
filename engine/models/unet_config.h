// The configuration of diffusers' UNet2DConditionModel (its config.json),
// restricted to what Stable Diffusion 1.x and SDXL use. Per-level fields
// are stored expanded (one value per entry of block_out_channels), in the
// down-block order. Defaults are those of diffusers.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace daub {

struct UNetConfig {
    int64_t in_channels = 4;          ///< latent channels in
    int64_t out_channels = 4;         ///< latent channels out
    bool center_input_sample = false; ///< sample = 2·sample − 1 first
    bool flip_sin_to_cos = true;      ///< timestep embedding is [cos, sin] (true) or [sin, cos]
    double freq_shift = 0;            ///< downscale_freq_shift of the timestep embedding
    /// "CrossAttnDownBlock2D" or "DownBlock2D", one per level
    std::vector<std::string> down_block_types = {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                                                 "CrossAttnDownBlock2D", "DownBlock2D"};
    std::string mid_block_type = "UNetMidBlock2DCrossAttn"; ///< the only mid block supported
    /// "UpBlock2D" or "CrossAttnUpBlock2D", one per level, deepest first
    std::vector<std::string> up_block_types = {"UpBlock2D", "CrossAttnUpBlock2D",
                                               "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"};
    std::vector<int64_t> block_out_channels = {320, 640, 1280, 1280}; ///< channels per level
    std::vector<int64_t> layers_per_block = {2, 2, 2, 2}; ///< resnets per down block (up: +1)
    int64_t downsample_padding = 1;    ///< padding of the down-sampling convolutions
    double mid_block_scale_factor = 1; ///< output_scale_factor of the mid block's resnets
    int64_t norm_num_groups = 32;      ///< GroupNorm groups everywhere
    double norm_eps = 1e-5;            ///< GroupNorm eps of resnets and conv_norm_out
    std::vector<int64_t> cross_attention_dim = {1280, 1280, 1280, 1280}; ///< text width per level
    /// BasicTransformerBlocks per Transformer2DModel, per level
    std::vector<int64_t> transformer_layers_per_block = {1, 1, 1, 1};
    /// Attention heads per level: diffusers' `attention_head_dim`, which
    /// (with `num_attention_heads` null) is really the number of heads.
    std::vector<int64_t> attention_heads = {8, 8, 8, 8};
    bool use_linear_projection = false;  ///< proj_in/proj_out Linear (SDXL) or 1×1 Conv (SD 1.5)
    int64_t conv_in_kernel = 3;          ///< kernel of conv_in (odd)
    int64_t conv_out_kernel = 3;         ///< kernel of conv_out (odd)
    int64_t time_embedding_dim = 0;      ///< 0 = block_out_channels[0] · 4
    bool text_time_embedding = false;    ///< addition_embed_type "text_time" (SDXL)
    int64_t addition_time_embed_dim = 0; ///< width of each of the 6 time-id embeddings
    /// input width of add_embedding: text_embeds width + 6 · addition_time_embed_dim
    int64_t projection_class_embeddings_input_dim = 0;

    size_t levels() const { return block_out_channels.size(); }
    int64_t time_embed_dim() const {
        return time_embedding_dim > 0 ? time_embedding_dim : block_out_channels.at(0) * 4;
    }
    bool down_has_cross_attention(size_t level) const;
    bool up_has_cross_attention(size_t index) const; ///< index into up_block_types

    /// Parses a diffusers UNet config.json. Any value Daub does not run
    /// (other block types, class embeddings, ...) throws ModelError naming
    /// the key.
    static UNetConfig from_json(const nlohmann::json& j);
    /// Checks consistency (level counts, divisibility); throws ModelError.
    void validate() const;
};

} // namespace daub
