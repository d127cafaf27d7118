#include "models/unet_config.h"

#include "core/errors.h"

#include <nlohmann/json.hpp>

#include <initializer_list>

namespace daub {

namespace {

using nlohmann::json;

[[noreturn]] void config_error(const std::string& key, const std::string& what) {
    throw ModelError("UNet config: '" + key + "' " + what + ".");
}

/// j[key] as T; `fallback` when absent or null; ModelError on a wrong type.
template <typename T> T get(const json& j, const char* key, const T& fallback) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null())
        return fallback;
    try {
        return it->template get<T>();
    } catch (const json::exception&) {
        config_error(key, "has a value of the wrong type (" + it->dump() + ")");
    }
}

/// An absent key takes diffusers' default, which is supported; a present
/// one must equal one of `allowed`.
void require_one_of(const json& j, const char* key, std::initializer_list<json> allowed) {
    auto it = j.find(key);
    if (it == j.end())
        return;
    for (const json& a : allowed)
        if (*it == a)
            return;
    std::string supported;
    for (const json& a : allowed)
        supported += (supported.empty() ? "" : " or ") + a.dump();
    config_error(key, "is " + it->dump() +
                          ", which Daub does not support (supported: " + supported + ")");
}

/// A scalar or a list with one value per level (expanded to `levels`).
std::vector<int64_t> per_level(const json& j, const char* key, size_t levels,
                               const std::vector<int64_t>& fallback) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
        if (fallback.size() == levels)
            return fallback;
        return std::vector<int64_t>(levels, fallback.empty() ? 0 : fallback.front());
    }
    if (it->is_number_integer())
        return std::vector<int64_t>(levels, it->get<int64_t>());
    if (!it->is_array())
        config_error(key, "must be a number or a list of numbers, not " + it->dump());
    if (it->size() != levels)
        config_error(key, "has " + std::to_string(it->size()) + " values for " +
                              std::to_string(levels) + " levels of block_out_channels");
    std::vector<int64_t> values;
    for (const json& v : *it) {
        if (!v.is_number_integer())
            config_error(key, "holds " + v.dump() +
                                  ", but Daub supports only one whole number per level");
        values.push_back(v.get<int64_t>());
    }
    return values;
}

std::vector<std::string> block_types(const json& j, const char* key,
                                     const std::vector<std::string>& fallback,
                                     std::initializer_list<const char*> supported) {
    const auto types = get<std::vector<std::string>>(j, key, fallback);
    for (const auto& type : types) {
        bool ok = false;
        std::string names;
        for (const char* s : supported) {
            ok = ok || type == s;
            names += (names.empty() ? "" : " and ") + std::string(s);
        }
        if (!ok)
            config_error(key, "contains \"" + type + "\", which Daub does not support (only " +
                                  names + ")");
    }
    return types;
}

} // namespace

bool UNetConfig::down_has_cross_attention(size_t level) const {
    return down_block_types.at(level) == "CrossAttnDownBlock2D";
}

bool UNetConfig::up_has_cross_attention(size_t index) const {
    return up_block_types.at(index) == "CrossAttnUpBlock2D";
}

UNetConfig UNetConfig::from_json(const nlohmann::json& j) {
    if (!j.is_object())
        throw ModelError("UNet config: expected a JSON object.");
    require_one_of(j, "_class_name", {"UNet2DConditionModel"});

    // Features of UNet2DConditionModel that SD 1.x / SDXL checkpoints do
    // not use: refuse them by name rather than compute something else.
    require_one_of(j, "act_fn", {"silu"});
    require_one_of(j, "attention_type", {"default"});
    require_one_of(j, "class_embed_type", {nullptr});
    require_one_of(j, "num_class_embeds", {nullptr});
    require_one_of(j, "class_embeddings_concat", {false});
    require_one_of(j, "cross_attention_norm", {nullptr});
    require_one_of(j, "dual_cross_attention", {false});
    require_one_of(j, "encoder_hid_dim", {nullptr});
    require_one_of(j, "encoder_hid_dim_type", {nullptr});
    require_one_of(j, "mid_block_only_cross_attention", {nullptr, false});
    require_one_of(j, "num_attention_heads", {nullptr}); // diffusers refuses it too
    require_one_of(j, "resnet_out_scale_factor", {1.0});
    require_one_of(j, "resnet_skip_time_act", {false});
    require_one_of(j, "resnet_time_scale_shift", {"default"});
    require_one_of(j, "reverse_transformer_layers_per_block", {nullptr});
    require_one_of(j, "time_cond_proj_dim", {nullptr});
    require_one_of(j, "time_embedding_act_fn", {nullptr});
    require_one_of(j, "time_embedding_type", {"positional"});
    require_one_of(j, "timestep_post_act", {nullptr});
    require_one_of(j, "upcast_attention", {nullptr, false});
    require_one_of(j, "addition_embed_type", {nullptr, "text_time"});
    if (auto it = j.find("only_cross_attention"); it != j.end() && !it->is_null()) {
        bool any = it->is_boolean() && it->get<bool>();
        if (it->is_array())
            for (const json& v : *it)
                any = any || (v.is_boolean() && v.get<bool>());
        if (any || !(it->is_boolean() || it->is_array()))
            config_error("only_cross_attention",
                         "is " + it->dump() + ", which Daub does not support (supported: false)");
    }

    UNetConfig c;
    c.in_channels = get(j, "in_channels", c.in_channels);
    c.out_channels = get(j, "out_channels", c.out_channels);
    c.center_input_sample = get(j, "center_input_sample", c.center_input_sample);
    c.flip_sin_to_cos = get(j, "flip_sin_to_cos", c.flip_sin_to_cos);
    c.freq_shift = get(j, "freq_shift", c.freq_shift);
    c.down_block_types = block_types(j, "down_block_types", c.down_block_types,
                                     {"CrossAttnDownBlock2D", "DownBlock2D"});
    c.mid_block_type = get(j, "mid_block_type", c.mid_block_type);
    if (c.mid_block_type != "UNetMidBlock2DCrossAttn")
        config_error("mid_block_type", "is \"" + c.mid_block_type +
                                           "\", which Daub does not support (only "
                                           "UNetMidBlock2DCrossAttn)");
    c.up_block_types =
        block_types(j, "up_block_types", c.up_block_types, {"UpBlock2D", "CrossAttnUpBlock2D"});
    c.block_out_channels = get(j, "block_out_channels", c.block_out_channels);
    const size_t levels = c.block_out_channels.size();
    if (levels == 0)
        config_error("block_out_channels", "is empty");
    if (c.down_block_types.size() != levels)
        config_error("down_block_types", "has " + std::to_string(c.down_block_types.size()) +
                                             " entries for " + std::to_string(levels) +
                                             " levels of block_out_channels");
    if (c.up_block_types.size() != levels)
        config_error("up_block_types", "has " + std::to_string(c.up_block_types.size()) +
                                           " entries for " + std::to_string(levels) +
                                           " levels of block_out_channels");
    c.layers_per_block = per_level(j, "layers_per_block", levels, c.layers_per_block);
    c.downsample_padding = get(j, "downsample_padding", c.downsample_padding);
    c.mid_block_scale_factor = get(j, "mid_block_scale_factor", c.mid_block_scale_factor);
    c.norm_num_groups = get(j, "norm_num_groups", c.norm_num_groups);
    c.norm_eps = get(j, "norm_eps", c.norm_eps);
    c.cross_attention_dim = per_level(j, "cross_attention_dim", levels, c.cross_attention_dim);
    c.transformer_layers_per_block =
        per_level(j, "transformer_layers_per_block", levels, c.transformer_layers_per_block);
    c.attention_heads = per_level(j, "attention_head_dim", levels, c.attention_heads);
    c.use_linear_projection = get(j, "use_linear_projection", c.use_linear_projection);
    c.conv_in_kernel = get(j, "conv_in_kernel", c.conv_in_kernel);
    c.conv_out_kernel = get(j, "conv_out_kernel", c.conv_out_kernel);
    c.time_embedding_dim = get(j, "time_embedding_dim", c.time_embedding_dim);
    c.text_time_embedding = get<std::string>(j, "addition_embed_type", "") == "text_time";
    c.addition_time_embed_dim = get(j, "addition_time_embed_dim", c.addition_time_embed_dim);
    c.projection_class_embeddings_input_dim =
        get(j, "projection_class_embeddings_input_dim", c.projection_class_embeddings_input_dim);
    c.validate();
    return c;
}

void UNetConfig::validate() const {
    const size_t n = levels();
    auto positive = [](const char* key, int64_t v) {
        if (v <= 0)
            config_error(key, "must be positive, not " + std::to_string(v));
    };
    if (n == 0)
        config_error("block_out_channels", "is empty");
    if (down_block_types.size() != n || up_block_types.size() != n ||
        layers_per_block.size() != n || cross_attention_dim.size() != n ||
        transformer_layers_per_block.size() != n || attention_heads.size() != n)
        config_error("block_out_channels", "does not have as many levels as the per-level fields");
    positive("in_channels", in_channels);
    positive("out_channels", out_channels);
    positive("norm_num_groups", norm_num_groups);
    if (downsample_padding < 0)
        config_error("downsample_padding", "must not be negative");
    if (conv_in_kernel <= 0 || conv_in_kernel % 2 == 0)
        config_error("conv_in_kernel", "must be a positive odd number");
    if (conv_out_kernel <= 0 || conv_out_kernel % 2 == 0)
        config_error("conv_out_kernel", "must be a positive odd number");
    for (size_t i = 0; i < n; ++i) {
        positive("block_out_channels", block_out_channels[i]);
        positive("layers_per_block", layers_per_block[i]);
        positive("cross_attention_dim", cross_attention_dim[i]);
        positive("transformer_layers_per_block", transformer_layers_per_block[i]);
        positive("attention_head_dim", attention_heads[i]);
        if (block_out_channels[i] % norm_num_groups != 0)
            config_error("norm_num_groups", std::to_string(norm_num_groups) +
                                                " does not divide block_out_channels " +
                                                std::to_string(block_out_channels[i]));
        const bool has_attention =
            down_has_cross_attention(i) || up_has_cross_attention(n - 1 - i) || i == n - 1;
        if (has_attention && block_out_channels[i] % attention_heads[i] != 0)
            config_error("attention_head_dim",
                         std::to_string(attention_heads[i]) + " heads do not divide " +
                             std::to_string(block_out_channels[i]) + " channels");
    }
    if (time_embedding_dim < 0)
        config_error("time_embedding_dim", "must not be negative");
    if (text_time_embedding) {
        positive("addition_time_embed_dim", addition_time_embed_dim);
        positive("projection_class_embeddings_input_dim", projection_class_embeddings_input_dim);
        if (projection_class_embeddings_input_dim <= 6 * addition_time_embed_dim)
            config_error("projection_class_embeddings_input_dim",
                         "must exceed 6 × addition_time_embed_dim (it also holds the pooled "
                         "text embedding)");
    }
}

} // namespace daub
