#include "models/vae_config.h"

#include "core/errors.h"
#include "core/json.h"

#include <nlohmann/json.hpp>

#include <string>

namespace daub {

namespace {

void require_positive(int64_t value, const char* key) {
    if (value <= 0)
        throw ModelError(std::string("VAE config: ") + key + " must be positive, got " +
                         std::to_string(value) + ".");
}

void require_block_types(const nlohmann::json& j, const char* key, const char* expected,
                         size_t levels) {
    const auto types = json_value(j, key, std::vector<std::string>{});
    if (types.empty()) // absent: diffusers' default is one block of the expected type
        return;
    if (types.size() != levels)
        throw ModelError(std::string("VAE config: ") + key + " has " +
                         std::to_string(types.size()) + " entries but block_out_channels has " +
                         std::to_string(levels) + ".");
    for (const auto& type : types)
        if (type != expected)
            throw UnsupportedModelError(std::string("VAE config: ") + key + " entry '" + type +
                                        "' is not supported (expected " + expected + ").");
}

} // namespace

VaeConfig VaeConfig::from_json(const nlohmann::json& j) {
    if (!j.is_object())
        throw ModelError("VAE config: expected a JSON object.");
    VaeConfig c;
    try {
        const auto class_name = json_value<std::string>(j, "_class_name", "AutoencoderKL");
        if (class_name != "AutoencoderKL")
            throw UnsupportedModelError("VAE config: _class_name '" + class_name +
                                        "' is not supported (expected AutoencoderKL).");
        c.in_channels = json_value(j, "in_channels", c.in_channels);
        c.out_channels = json_value(j, "out_channels", c.out_channels);
        c.block_out_channels = json_value(j, "block_out_channels", c.block_out_channels);
        c.layers_per_block = json_value(j, "layers_per_block", c.layers_per_block);
        c.latent_channels = json_value(j, "latent_channels", c.latent_channels);
        c.norm_num_groups = json_value(j, "norm_num_groups", c.norm_num_groups);
        c.scaling_factor = json_value(j, "scaling_factor", c.scaling_factor);
        if (auto it = j.find("shift_factor"); it != j.end() && !it->is_null())
            c.shift_factor = it->get<double>();
        c.force_upcast = json_value(j, "force_upcast", c.force_upcast);
        c.use_quant_conv = json_value(j, "use_quant_conv", c.use_quant_conv);
        c.use_post_quant_conv = json_value(j, "use_post_quant_conv", c.use_post_quant_conv);
        c.mid_block_add_attention =
            json_value(j, "mid_block_add_attention", c.mid_block_add_attention);
        const auto act = json_value<std::string>(j, "act_fn", "silu");
        if (act != "silu")
            throw UnsupportedModelError("VAE config: act_fn '" + act +
                                        "' is not supported (expected silu).");
        if (c.block_out_channels.empty())
            throw ModelError("VAE config: block_out_channels is empty.");
        require_block_types(j, "down_block_types", "DownEncoderBlock2D",
                            c.block_out_channels.size());
        require_block_types(j, "up_block_types", "UpDecoderBlock2D", c.block_out_channels.size());
        for (const char* key : {"latents_mean", "latents_std"})
            if (auto it = j.find(key); it != j.end() && !it->is_null())
                throw UnsupportedModelError(std::string("VAE config: ") + key +
                                            " is set; per-channel latent statistics are not "
                                            "supported.");
    } catch (const nlohmann::json::exception& e) {
        throw ModelError(std::string("VAE config: a value has the wrong type (") + e.what() + ").");
    }
    require_positive(c.in_channels, "in_channels");
    require_positive(c.out_channels, "out_channels");
    require_positive(c.layers_per_block, "layers_per_block");
    require_positive(c.latent_channels, "latent_channels");
    require_positive(c.norm_num_groups, "norm_num_groups");
    for (int64_t width : c.block_out_channels) {
        require_positive(width, "block_out_channels entry");
        if (width % c.norm_num_groups != 0)
            throw ModelError("VAE config: block_out_channels entry " + std::to_string(width) +
                             " is not divisible by norm_num_groups " +
                             std::to_string(c.norm_num_groups) + ".");
    }
    if (c.block_out_channels.size() > 8)
        throw ModelError("VAE config: block_out_channels has more than 8 levels.");
    if (!(c.scaling_factor > 0))
        throw ModelError("VAE config: scaling_factor must be positive.");
    return c;
}

} // namespace daub
