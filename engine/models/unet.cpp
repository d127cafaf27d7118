#include "models/unet.h"

#include "core/cancel.h"
#include "core/errors.h"
#include "core/json.h"
#include "core/safetensors.h"

#include <torch/torch.h>

#include <filesystem>

namespace daub {

UNet2DConditionModelImpl::UNet2DConditionModelImpl(const UNetConfig& config) : config_(config) {
    config_.validate();
    using torch::nn::ModuleList;
    const int64_t c0 = config_.block_out_channels.front();
    const int64_t temb = config_.time_embed_dim();

    conv_in = register_module("conv_in", nn::Conv2d(config_.in_channels, c0, config_.conv_in_kernel, 1,
                                                    (config_.conv_in_kernel - 1) / 2));
    time_embedding = register_module("time_embedding", TimestepEmbedding(c0, temb));
    if (config_.text_time_embedding)
        add_embedding =
            register_module("add_embedding",
                            TimestepEmbedding(config_.projection_class_embeddings_input_dim, temb));

    down_blocks = register_module("down_blocks", ModuleList());
    for (size_t level = 0; level < config_.levels(); ++level) {
        down_.emplace_back(config_, level);
        down_blocks->push_back(down_.back());
    }
    mid_block = register_module("mid_block", UNetMidBlock(config_));
    up_blocks = register_module("up_blocks", ModuleList());
    for (size_t index = 0; index < config_.levels(); ++index) {
        up_.emplace_back(config_, index);
        up_blocks->push_back(up_.back());
    }

    conv_norm_out =
        register_module("conv_norm_out", nn::GroupNorm(config_.norm_num_groups, c0, config_.norm_eps));
    conv_out = register_module("conv_out", nn::Conv2d(c0, config_.out_channels, config_.conv_out_kernel, 1,
                                                      (config_.conv_out_kernel - 1) / 2));
}

at::Tensor UNet2DConditionModelImpl::embed_time(const at::Tensor& timestep, int64_t batch,
                                                const UNetAddedCond& added) {
    const at::ScalarType dtype = time_embedding->linear_1->compute_dtype();
    const at::Device device = time_embedding->linear_1->weight.device();
    // As diffusers: the sinusoids in fp32, then cast to the weights' dtype.
    at::Tensor t = timestep.to(device, at::kFloat).reshape({-1}).expand({batch}); // [B]
    at::Tensor t_emb = timestep_embedding(t, config_.block_out_channels.front(),
                                          config_.flip_sin_to_cos, config_.freq_shift); // [B, C0]
    at::Tensor emb = time_embedding(t_emb.to(dtype));                                   // [B, T]
    if (!config_.text_time_embedding)
        return emb;

    if (!added.text_embeds.defined() || !added.time_ids.defined())
        throw RequestError(
            "This UNet (SDXL) needs text_embeds and time_ids as added conditioning.");
    if (added.text_embeds.dim() != 2 || added.text_embeds.size(0) != batch ||
        added.time_ids.dim() != 2 || added.time_ids.size(0) != batch)
        throw RequestError("The UNet's text_embeds and time_ids must be [batch, N] tensors with "
                           "the sample's batch size.");
    at::Tensor time_ids = added.time_ids.to(device).reshape({-1}); // [B*6]
    at::Tensor time_embeds = timestep_embedding(time_ids, config_.addition_time_embed_dim,
                                                config_.flip_sin_to_cos, config_.freq_shift)
                                 .view({batch, -1}); // [B, 6*D]
    at::Tensor add =
        at::cat({added.text_embeds.to(device, at::kFloat), time_embeds}, -1); // [B, P+6*D]
    return emb + add_embedding(add.to(dtype));                                // [B, T]
}

at::Tensor UNet2DConditionModelImpl::forward(const at::Tensor& sample, const at::Tensor& timestep,
                                             const at::Tensor& encoder_hidden_states,
                                             const UNetAddedCond& added) {
    if (sample.dim() != 4 || sample.size(1) != config_.in_channels)
        throw RequestError("The UNet's sample must be [batch, " +
                           std::to_string(config_.in_channels) + ", height, width].");
    const int64_t batch = sample.size(0);
    if (timestep.numel() != 1 && timestep.numel() != batch)
        throw RequestError("The UNet needs one timestep, or one per batch item.");
    if (encoder_hidden_states.dim() != 3 || encoder_hidden_states.size(0) != batch)
        throw RequestError("The UNet's encoder_hidden_states must be [batch, tokens, width].");

    // The blocks check the calling thread's CancelScope too (resnets,
    // transformer blocks): one evaluation can take many seconds.
    throw_if_cancelled();
    const at::Tensor emb = embed_time(timestep, batch, added); // [B, T]

    at::Tensor h = config_.center_input_sample ? sample * 2.0 - 1.0 : sample;
    h = conv_in(h); // [B, C0, h, w]
    std::vector<at::Tensor> skips{h};
    for (auto& block : down_) {
        throw_if_cancelled();
        h = block(h, emb, encoder_hidden_states, skips); // [B, Ci, h/2^i, w/2^i]
    }
    throw_if_cancelled();
    h = mid_block(h, emb, encoder_hidden_states); // [B, Cn, ., .]
    for (auto& block : up_) {
        throw_if_cancelled();
        h = block(h, emb, encoder_hidden_states, skips); // back up to [B, C0, h, w]
    }
    throw_if_cancelled();
    h = torch::silu(conv_norm_out(h));
    return conv_out(h); // [B, out_channels, h, w]
}

UNet2DConditionModel load_unet(const UNetConfig& config, const WeightSource& source,
                               const std::string& prefix, const LoadOptions& options) {
    UNet2DConditionModel unet(config);
    load_module_weights(*unet, source, prefix, options);
    for (auto& p : unet->parameters())
        p.requires_grad_(false);
    unet->eval();
    return unet;
}

UNet2DConditionModel load_unet(const std::string& folder, const LoadOptions& options) {
    namespace fs = std::filesystem;
    const fs::path dir(folder);
    const std::string config_path = (dir / "config.json").string();
    if (!fs::exists(config_path))
        throw ModelError(folder + ": the UNet folder has no config.json.");
    const nlohmann::json json = read_json_file(config_path); // names the file on errors
    UNetConfig config;
    try {
        config = UNetConfig::from_json(json);
    } catch (const ModelError& e) {
        throw ModelError(config_path + ": " + e.what());
    }
    fs::path weights = dir / "diffusion_pytorch_model.safetensors";
    if (!fs::exists(weights) && fs::exists(dir / "diffusion_pytorch_model.fp16.safetensors"))
        weights = dir / "diffusion_pytorch_model.fp16.safetensors";
    if (!fs::exists(weights))
        throw ModelError(folder + ": the UNet weights diffusion_pytorch_model.safetensors are "
                                  "missing.");
    const SafeTensorsFile file(weights.string());
    return load_unet(config, file, "", options);
}

} // namespace daub
