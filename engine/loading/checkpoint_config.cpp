// What the shapes of a single file say about its architecture, and the
// diffusers config.json of every component derived from them (see
// checkpoint.h). All shapes are read through the diffusers-keyed views, so
// this code speaks diffusers names only.
#include "loading/checkpoint.h"

#include "core/errors.h"
#include "core/json.h"

#include <torch/torch.h>

#include <algorithm>

namespace daub {

namespace {

using json = nlohmann::json;

/// The largest size a shape may give a config (a width, a vocabulary): real
/// models stay far below (CLIP's 49,408 tokens, 1,280-wide levels).
constexpr int64_t kMaxDimension = int64_t{1} << 20;

bool starts_with(const std::string& s, const std::string& prefix) {
    return s.compare(0, prefix.size(), prefix) == 0;
}

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// One more than the largest index `i` among keys "<prefix><i>.…"; 0 if none.
int64_t count_blocks(const WeightSource& s, const std::string& prefix) {
    int64_t n = 0;
    for (const auto& key : s.keys()) {
        if (!starts_with(key, prefix))
            continue;
        const size_t dot = key.find('.', prefix.size());
        const std::string index = key.substr(prefix.size(), dot - prefix.size());
        if (index.empty() || index.size() > 6 ||
            !std::all_of(index.begin(), index.end(), [](char c) { return c >= '0' && c <= '9'; }))
            continue;
        n = std::max<int64_t>(n, std::stoll(index) + 1);
    }
    return n;
}

std::vector<int64_t> need_shape(const WeightSource& s, const std::string& key, size_t rank) {
    if (!s.contains(key))
        throw ModelError(s.describe() + ": tensor '" + key + "' is missing.");
    auto shape = s.shape(key);
    if (shape.size() != rank)
        throw ModelError(s.describe() + ": tensor '" + key + "' has shape " +
                         shape_to_string(shape) + ", expected " + std::to_string(rank) +
                         " dimensions.");
    // The configs are sums and multiples of these sizes (two encoders'
    // widths, 4 × a level's width): bounded, no arithmetic on them overflows.
    // A zero dimension lets the others be anything at no cost in bytes.
    for (const int64_t d : shape)
        if (d < 1 || d > kMaxDimension)
            throw ModelError(s.describe() + ": tensor '" + key + "' has shape " +
                             shape_to_string(shape) + ", a dimension outside 1 to " +
                             std::to_string(kMaxDimension) + ".");
    return shape;
}

TextEncoderFacts text_encoder_facts(const WeightSource& s) {
    TextEncoderFacts f;
    const auto tokens = need_shape(s, "text_model.embeddings.token_embedding.weight", 2);
    f.vocab_size = tokens[0];
    f.hidden_size = tokens[1];
    f.max_positions = need_shape(s, "text_model.embeddings.position_embedding.weight", 2)[0];
    f.num_layers = count_blocks(s, "text_model.encoder.layers.");
    if (f.num_layers < 1)
        throw ModelError(s.describe() + " has no encoder layers.");
    f.intermediate_size = need_shape(s, "text_model.encoder.layers.0.mlp.fc1.weight", 2)[0];
    if (s.contains("text_projection.weight"))
        f.projection_dim = need_shape(s, "text_projection.weight", 2)[0];
    return f;
}

/// Heads of a CLIP text encoder of width `hidden`: the real models use
/// 64-wide heads (CLIP-L 768 -> 12, OpenCLIP bigG 1280 -> 20).
int64_t clip_heads(int64_t hidden, const std::string& path, const char* which) {
    if (hidden > 0 && hidden % 64 == 0)
        return hidden / 64;
    throw ModelError(path + ": the " + std::string(which) + " is " + std::to_string(hidden) +
                     " wide, not a multiple of 64 like every real CLIP, so its number of "
                     "attention heads is unknown: give the model's diffusers config folder "
                     "(--config DIR).");
}

std::string dump(const json& j) { return j.dump(); }

/// `folder[key]`, or `fallback` (diffusers' default) when absent or null.
json folder_value(const json& folder, const char* key, const json& fallback) {
    auto it = folder.find(key);
    return it == folder.end() || it->is_null() ? fallback : *it;
}

[[noreturn]] void mismatch(const std::string& path, const char* component, const char* key,
                           const json& given, const json& derived) {
    throw ModelError(path + ": the " + component + " config says " + key + " = " + dump(given) +
                     ", but the weights have " + dump(derived) + ".");
}

void check_same(const std::string& path, const char* component, const json& folder,
                const json& derived, const char* key, const json& fallback) {
    const json given = folder_value(folder, key, fallback);
    const json& have = derived.at(key);
    // 1 and 1.0 compare equal; integers stored as floats are fine.
    if (given != have && !(given.is_number() && have.is_number() &&
                           given.get<double>() == have.get<double>()))
        mismatch(path, component, key, given, have);
}

/// A diffusers per-level field (int or list) expanded to `levels` values;
/// ModelError naming the key when it is neither (a config file's value, so
/// any JSON at all).
std::vector<int64_t> per_level(const json& v, size_t levels, const std::string& path,
                               const char* component, const char* key) {
    if (v.is_number_integer())
        return std::vector<int64_t>(levels, v.get<int64_t>());
    if (v.is_array() && std::all_of(v.begin(), v.end(),
                                    [](const json& e) { return e.is_number_integer(); }))
        return v.get<std::vector<int64_t>>();
    throw ModelError(path + ": the " + component + " config's " + key + " is " + dump(v) +
                     ", not a whole number or a list of them.");
}

} // namespace

void Checkpoint::inspect() {
    CheckpointInspection& in = inspection_;
    in.layout = layout_;
    const WeightSource& unet = *unet_;
    const WeightSource& vae = *vae_;

    // Text encoders first: SDXL's UNet conditioning widths depend on them.
    in.text_encoder = text_encoder_facts(*text_encoder_);
    if (text_encoder_2_) {
        in.text_encoder_2 = text_encoder_facts(*text_encoder_2_);
        if (in.text_encoder_2.projection_dim == 0)
            throw ModelError(path_ + ": the second text encoder has no text_projection.");
    }

    // UNet
    const auto conv_in = need_shape(unet, "conv_in.weight", 4);
    const auto conv_out = need_shape(unet, "conv_out.weight", 4);
    in.unet_in_channels = conv_in[1];
    in.conv_in_kernel = conv_in[2];
    in.unet_out_channels = conv_out[0];
    in.conv_out_kernel = conv_out[2];
    const int64_t levels = count_blocks(unet, "down_blocks.");
    if (levels < 1 || count_blocks(unet, "up_blocks.") != levels)
        throw ModelError(path_ + ": the UNet has " + std::to_string(levels) + " down levels and " +
                         std::to_string(count_blocks(unet, "up_blocks.")) + " up levels.");
    in.layers_per_block = count_blocks(unet, "down_blocks.0.resnets.");
    for (int64_t l = 0; l < levels; ++l) {
        const std::string down = "down_blocks." + std::to_string(l) + ".";
        const std::string up = "up_blocks." + std::to_string(l) + ".";
        in.block_out_channels.push_back(need_shape(unet, down + "resnets.0.conv1.weight", 4)[0]);
        if (count_blocks(unet, down + "resnets.") != in.layers_per_block ||
            count_blocks(unet, up + "resnets.") != in.layers_per_block + 1)
            throw ModelError(path_ + ": the UNet's levels do not all have " +
                             std::to_string(in.layers_per_block) + " resnets (down) and " +
                             std::to_string(in.layers_per_block + 1) + " (up).");
        const bool down_attn = count_blocks(unet, down + "attentions.") > 0;
        in.down_attention.push_back(down_attn);
        in.up_attention.push_back(count_blocks(unet, up + "attentions.") > 0);
        in.transformer_depth.push_back(
            down_attn ? count_blocks(unet, down + "attentions.0.transformer_blocks.") : 0);
    }
    in.mid_transformer_depth = count_blocks(unet, "mid_block.attentions.0.transformer_blocks.");
    for (const auto& key : unet.keys()) {
        if (in.cross_attention_dim == 0 && ends_with(key, ".attn2.to_k.weight"))
            in.cross_attention_dim = need_shape(unet, key, 2)[1];
        if (ends_with(key, ".proj_in.weight"))
            in.use_linear_projection = unet.shape(key).size() == 2;
    }
    in.time_embed_dim = need_shape(unet, "time_embedding.linear_1.weight", 2)[0];
    if (unet.contains("add_embedding.linear_1.weight"))
        in.projection_class_embeddings_input_dim =
            need_shape(unet, "add_embedding.linear_1.weight", 2)[1];

    if (layout_ == CheckpointLayout::SDXL_SGM) {
        const int64_t context = in.text_encoder.hidden_size + in.text_encoder_2.hidden_size;
        if (in.cross_attention_dim != context)
            throw ModelError(path_ + ": the UNet's cross-attention takes " +
                             std::to_string(in.cross_attention_dim) +
                             "-wide text, but the two text encoders give " +
                             std::to_string(context) + ".");
        // add_embedding input = pooled text (encoder 2's projection) + 6 time ids.
        const int64_t time_ids = in.projection_class_embeddings_input_dim -
                                 in.text_encoder_2.projection_dim;
        if (in.projection_class_embeddings_input_dim == 0 || time_ids <= 0 || time_ids % 6 != 0)
            throw ModelError(path_ + ": the UNet's add_embedding takes " +
                             std::to_string(in.projection_class_embeddings_input_dim) +
                             " inputs, which is not the " +
                             std::to_string(in.text_encoder_2.projection_dim) +
                             "-wide pooled text plus 6 time-id embeddings.");
        in.addition_time_embed_dim = time_ids / 6;
    } else if (in.cross_attention_dim != in.text_encoder.hidden_size) {
        throw ModelError(path_ + ": the UNet's cross-attention takes " +
                         std::to_string(in.cross_attention_dim) +
                         "-wide text, but the text encoder gives " +
                         std::to_string(in.text_encoder.hidden_size) + ".");
    }

    inspect_vae(vae, path_, in);
}

void inspect_vae(const WeightSource& vae, const std::string& path, CheckpointInspection& in) {
    const auto vae_in = need_shape(vae, "encoder.conv_in.weight", 4);
    in.vae_in_channels = vae_in[1];
    in.vae_out_channels = need_shape(vae, "decoder.conv_out.weight", 4)[0];
    in.latent_channels = need_shape(vae, "decoder.conv_in.weight", 4)[1];
    const int64_t vae_levels = count_blocks(vae, "encoder.down_blocks.");
    if (vae_levels < 1 || count_blocks(vae, "decoder.up_blocks.") != vae_levels)
        throw ModelError(path + ": the VAE's encoder and decoder have different level counts.");
    in.vae_block_out_channels.clear();
    for (int64_t l = 0; l < vae_levels; ++l)
        in.vae_block_out_channels.push_back(need_shape(
            vae, "encoder.down_blocks." + std::to_string(l) + ".resnets.0.conv1.weight", 4)[0]);
    in.vae_layers_per_block = count_blocks(vae, "encoder.down_blocks.0.resnets.");
    in.vae_mid_attention = vae.contains("encoder.mid_block.attentions.0.to_q.weight");
    in.vae_quant_conv = vae.contains("quant_conv.weight");
    in.vae_post_quant_conv = vae.contains("post_quant_conv.weight");
}

nlohmann::json Checkpoint::unet_config(const nlohmann::json* folder) const {
    const CheckpointInspection& in = inspection_;
    const bool sdxl = layout_ == CheckpointLayout::SDXL_SGM;
    const size_t levels = in.block_out_channels.size();

    json down = json::array(), up = json::array();
    for (size_t l = 0; l < levels; ++l) {
        down.push_back(in.down_attention[l] ? "CrossAttnDownBlock2D" : "DownBlock2D");
        up.push_back(in.up_attention[l] ? "CrossAttnUpBlock2D" : "UpBlock2D");
    }
    // Transformer depth: one number when every attention level agrees (SD
    // 1.5), else one per level (SDXL; 1 where a level has no attention).
    std::vector<int64_t> depth_list;
    int64_t common_depth = -1;
    bool all_same = true;
    for (size_t l = 0; l < levels; ++l) {
        const int64_t d = in.down_attention[l] ? in.transformer_depth[l] : 1;
        depth_list.push_back(d);
        if (in.down_attention[l]) {
            all_same = all_same && (common_depth < 0 || common_depth == d);
            common_depth = d;
        }
    }
    if (in.mid_transformer_depth > 0 && in.mid_transformer_depth != depth_list.back())
        throw ModelError(path_ + ": the UNet's mid block has " +
                         std::to_string(in.mid_transformer_depth) +
                         " transformer layers but its deepest level " +
                         std::to_string(depth_list.back()) +
                         ", which diffusers' UNet cannot express.");
    json depth = all_same && common_depth > 0 && depth_list.back() == common_depth
                     ? json(common_depth)
                     : json(depth_list);

    json derived = {
        {"_class_name", "UNet2DConditionModel"},
        {"act_fn", "silu"},
        {"addition_embed_type", sdxl ? json("text_time") : json(nullptr)},
        {"addition_embed_type_num_heads", 64},
        {"addition_time_embed_dim", sdxl ? json(in.addition_time_embed_dim) : json(nullptr)},
        {"attention_type", "default"},
        {"block_out_channels", in.block_out_channels},
        {"center_input_sample", false},
        {"class_embed_type", nullptr},
        {"class_embeddings_concat", false},
        {"conv_in_kernel", in.conv_in_kernel},
        {"conv_out_kernel", in.conv_out_kernel},
        {"cross_attention_dim", in.cross_attention_dim},
        {"cross_attention_norm", nullptr},
        {"down_block_types", down},
        {"downsample_padding", 1},
        {"dropout", 0.0},
        {"dual_cross_attention", false},
        {"encoder_hid_dim", nullptr},
        {"encoder_hid_dim_type", nullptr},
        {"flip_sin_to_cos", true},
        {"freq_shift", 0},
        {"in_channels", in.unet_in_channels},
        {"layers_per_block", in.layers_per_block},
        {"mid_block_only_cross_attention", nullptr},
        {"mid_block_scale_factor", 1},
        {"mid_block_type",
         in.mid_transformer_depth > 0 ? json("UNetMidBlock2DCrossAttn") : json(nullptr)},
        {"norm_eps", 1e-05},
        {"norm_num_groups", 32},
        {"num_attention_heads", nullptr},
        {"num_class_embeds", nullptr},
        {"only_cross_attention", false},
        {"out_channels", in.unet_out_channels},
        {"projection_class_embeddings_input_dim",
         in.projection_class_embeddings_input_dim > 0
             ? json(in.projection_class_embeddings_input_dim)
             : json(nullptr)},
        {"resnet_out_scale_factor", 1.0},
        {"resnet_skip_time_act", false},
        {"resnet_time_scale_shift", "default"},
        {"reverse_transformer_layers_per_block", nullptr},
        {"sample_size", sdxl ? 128 : 64},
        {"time_cond_proj_dim", nullptr},
        {"time_embedding_act_fn", nullptr},
        {"time_embedding_dim", in.time_embed_dim == 4 * in.block_out_channels.at(0)
                                   ? json(nullptr)
                                   : json(in.time_embed_dim)},
        {"time_embedding_type", "positional"},
        {"timestep_post_act", nullptr},
        {"transformer_layers_per_block", depth},
        {"up_block_types", up},
        {"upcast_attention", false},
        {"use_linear_projection", in.use_linear_projection},
    };

    if (folder) {
        const char* c = "UNet";
        for (const char* key : {"in_channels", "out_channels", "cross_attention_dim",
                                "use_linear_projection", "addition_embed_type",
                                "addition_time_embed_dim", "projection_class_embeddings_input_dim",
                                "mid_block_type", "conv_in_kernel", "conv_out_kernel"}) {
            static const json defaults = {
                {"in_channels", 4}, {"out_channels", 4}, {"cross_attention_dim", 1280},
                {"use_linear_projection", false}, {"addition_embed_type", nullptr},
                {"addition_time_embed_dim", nullptr},
                {"projection_class_embeddings_input_dim", nullptr},
                {"mid_block_type", "UNetMidBlock2DCrossAttn"}, {"conv_in_kernel", 3},
                {"conv_out_kernel", 3}};
            check_same(path_, c, *folder, derived, key, defaults.at(key));
        }
        check_same(path_, c, *folder, derived, "block_out_channels",
                   json({320, 640, 1280, 1280}));
        check_same(path_, c, *folder, derived, "down_block_types",
                   json({"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                         "DownBlock2D"}));
        check_same(path_, c, *folder, derived, "up_block_types",
                   json({"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D",
                         "CrossAttnUpBlock2D"}));
        const json layers = folder_value(*folder, "layers_per_block", 2);
        if (per_level(layers, levels, path_, c, "layers_per_block") !=
            std::vector<int64_t>(levels, in.layers_per_block))
            mismatch(path_, c, "layers_per_block", layers, in.layers_per_block);
        // Transformer depth matters only where there is attention.
        const json given_depth = folder_value(*folder, "transformer_layers_per_block", 1);
        const auto given =
            per_level(given_depth, levels, path_, c, "transformer_layers_per_block");
        bool same = given.size() == levels;
        for (size_t l = 0; same && l < levels; ++l)
            same = !in.down_attention[l] || given[l] == depth_list[l];
        if (!same)
            mismatch(path_, c, "transformer_layers_per_block", given_depth, depth);
        const json time_dim = folder_value(*folder, "time_embedding_dim", nullptr);
        if (!time_dim.is_null() &&
            (!time_dim.is_number_integer() || time_dim.get<int64_t>() != in.time_embed_dim))
            mismatch(path_, c, "time_embedding_dim", time_dim, in.time_embed_dim);
        return *folder;
    }

    // Heads: SD 1.5 has 8 per level; SDXL 64-wide heads.
    json heads;
    if (!sdxl) {
        for (size_t l = 0; l < levels; ++l)
            if (in.block_out_channels[l] % 8 != 0)
                throw ModelError(path_ + ": the UNet's level width " +
                                 std::to_string(in.block_out_channels[l]) +
                                 " does not split into SD 1.5's 8 attention heads: give the "
                                 "model's diffusers config folder (--config DIR).");
        heads = 8;
    } else {
        heads = json::array();
        for (size_t l = 0; l < levels; ++l) {
            const int64_t ch = in.block_out_channels[l];
            if (ch % 64 != 0)
                throw ModelError(path_ + ": the UNet's level widths " +
                                 dump(json(in.block_out_channels)) +
                                 " are not multiples of SDXL's 64-wide attention heads, so its "
                                 "head counts are unknown: give the model's diffusers config "
                                 "folder (--config DIR).");
            heads.push_back(ch / 64);
        }
    }
    derived["attention_head_dim"] = heads;
    return derived;
}

nlohmann::json derived_vae_config(const CheckpointInspection& in, CheckpointLayout layout) {
    const bool sdxl = layout == CheckpointLayout::SDXL_SGM;
    const size_t levels = in.vae_block_out_channels.size();
    json derived = {
        {"_class_name", "AutoencoderKL"},
        {"act_fn", "silu"},
        {"block_out_channels", in.vae_block_out_channels},
        {"down_block_types", std::vector<std::string>(levels, "DownEncoderBlock2D")},
        // SDXL's VAE overflows in fp16 and runs upcast; SD 1.5's does not.
        {"force_upcast", sdxl},
        {"in_channels", in.vae_in_channels},
        {"latent_channels", in.latent_channels},
        {"latents_mean", nullptr},
        {"latents_std", nullptr},
        {"layers_per_block", in.vae_layers_per_block},
        {"mid_block_add_attention", in.vae_mid_attention},
        {"norm_num_groups", 32},
        {"out_channels", in.vae_out_channels},
        {"sample_size", sdxl ? 1024 : 512},
        {"scaling_factor", sdxl ? 0.13025 : 0.18215},
        {"shift_factor", nullptr},
        {"up_block_types", std::vector<std::string>(levels, "UpDecoderBlock2D")},
        {"use_post_quant_conv", in.vae_post_quant_conv},
        {"use_quant_conv", in.vae_quant_conv},
    };
    return derived;
}

nlohmann::json Checkpoint::vae_config(const nlohmann::json* folder) const {
    const json derived = derived_vae_config(inspection_, layout_);
    if (!folder)
        return derived;
    const char* c = "VAE";
    check_same(path_, c, *folder, derived, "in_channels", 3);
    check_same(path_, c, *folder, derived, "out_channels", 3);
    check_same(path_, c, *folder, derived, "latent_channels", 4);
    check_same(path_, c, *folder, derived, "block_out_channels", json({64}));
    check_same(path_, c, *folder, derived, "layers_per_block", 1);
    check_same(path_, c, *folder, derived, "mid_block_add_attention", true);
    check_same(path_, c, *folder, derived, "use_quant_conv", true);
    check_same(path_, c, *folder, derived, "use_post_quant_conv", true);
    check_same(path_, c, *folder, derived, "down_block_types", json({"DownEncoderBlock2D"}));
    check_same(path_, c, *folder, derived, "up_block_types", json({"UpDecoderBlock2D"}));
    return *folder;
}

namespace {

json clip_config(const TextEncoderFacts& f, bool second, const std::string& path,
                 const json* folder) {
    json derived = {
        {"architectures",
         json::array({second ? "CLIPTextModelWithProjection" : "CLIPTextModel"})},
        {"attention_dropout", 0.0},
        // The CLIP vocabulary ends with <|startoftext|>, <|endoftext|>.
        {"bos_token_id", f.vocab_size - 2},
        {"eos_token_id", f.vocab_size - 1},
        {"hidden_act", second ? "gelu" : "quick_gelu"}, // OpenCLIP bigG: gelu; CLIP-L: quick_gelu
        {"hidden_size", f.hidden_size},
        {"initializer_factor", 1.0},
        {"initializer_range", 0.02},
        {"intermediate_size", f.intermediate_size},
        {"layer_norm_eps", 1e-05},
        {"max_position_embeddings", f.max_positions},
        {"model_type", "clip_text_model"},
        {"num_hidden_layers", f.num_layers},
        {"pad_token_id", second ? 0 : f.vocab_size - 1}, // "!" is token 0
        {"projection_dim", second ? f.projection_dim : f.hidden_size},
        {"vocab_size", f.vocab_size},
    };
    const char* c = second ? "text encoder 2" : "text encoder";
    if (!folder) {
        derived["num_attention_heads"] = clip_heads(f.hidden_size, path, c);
        return derived;
    }
    check_same(path, c, *folder, derived, "hidden_size", 512);
    check_same(path, c, *folder, derived, "intermediate_size", 2048);
    check_same(path, c, *folder, derived, "num_hidden_layers", 12);
    check_same(path, c, *folder, derived, "vocab_size", 49408);
    check_same(path, c, *folder, derived, "max_position_embeddings", 77);
    if (second)
        check_same(path, c, *folder, derived, "projection_dim", 512);
    const json heads = folder_value(*folder, "num_attention_heads", 8);
    if (!heads.is_number_integer() || heads.get<int64_t>() < 1 ||
        f.hidden_size % heads.get<int64_t>() != 0)
        throw ModelError(path + ": the " + c + " config's num_attention_heads " + dump(heads) +
                         " does not divide its width " + std::to_string(f.hidden_size) + ".");
    return *folder;
}

} // namespace

nlohmann::json Checkpoint::text_encoder_config(const nlohmann::json* folder) const {
    return clip_config(inspection_.text_encoder, false, path_, folder);
}

nlohmann::json Checkpoint::text_encoder_2_config(const nlohmann::json* folder) const {
    if (layout_ != CheckpointLayout::SDXL_SGM)
        throw ModelError(path_ + " is an SD 1.5 checkpoint; it has no second text encoder.");
    return clip_config(inspection_.text_encoder_2, true, path_, folder);
}

nlohmann::json Checkpoint::scheduler_config(const nlohmann::json* folder) const {
    if (folder)
        return *folder;
    // The real models' scheduler/scheduler_config.json.
    json common = {{"beta_end", 0.012},
                   {"beta_schedule", "scaled_linear"},
                   {"beta_start", 0.00085},
                   {"num_train_timesteps", 1000},
                   {"steps_offset", 1}};
    if (layout_ == CheckpointLayout::SDXL_SGM) {
        common["_class_name"] = "EulerDiscreteScheduler";
        common["interpolation_type"] = "linear";
        common["timestep_spacing"] = "leading";
    } else {
        common["_class_name"] = "PNDMScheduler";
        common["set_alpha_to_one"] = false;
        common["skip_prk_steps"] = true;
    }
    return common;
}

} // namespace daub
