// Recognising what a single file is, and refusing what Daub does not run,
// from key names and a few shapes (see checkpoint.h).
#include "loading/checkpoint.h"

#include "core/errors.h"
#include "core/weights.h"

#include <torch/torch.h>

#include <filesystem>

namespace daub {

namespace {

bool starts_with(const std::string& s, std::string_view prefix) {
    return std::string_view(s).substr(0, prefix.size()) == prefix;
}

bool contains_text(const std::string& s, std::string_view part) {
    return s.find(part) != std::string::npos;
}

std::string file_name(const std::string& path) {
    return std::filesystem::path(path).filename().string();
}

[[noreturn]] void refuse(const std::string& path, const std::string& what) {
    throw UnsupportedModelError(file_name(path) + " is " + what + ".");
}

/// Key facts gathered in one pass.
struct KeyCensus {
    bool lora = false, sd3 = false, flux = false, controlnet = false;
    bool ldm_unet = false;          ///< model.diffusion_model.input_blocks.*
    bool ldm_vae = false;           ///< first_stage_model.*
    bool ldm_clip = false;          ///< cond_stage_model.transformer.*
    bool ldm_open_clip = false;     ///< cond_stage_model.model.* (SD 2.x)
    bool sgm_clip = false;          ///< conditioner.embedders.0.transformer.*
    bool sgm_open_clip_1 = false;   ///< conditioner.embedders.1.model.*
    bool sgm_open_clip_0 = false;   ///< conditioner.embedders.0.model.* (refiner)
    bool bare_vae = false;          ///< encoder.conv_in.weight + decoder.conv_in.weight
    bool diffusers_unet = false;    ///< conv_in.weight + down_blocks.*
    bool bare_text_encoder = false; ///< text_model.*
    std::string context_key;        ///< first attn2.to_k of the LDM UNet
};

KeyCensus census(const WeightSource& file) {
    KeyCensus c;
    bool top_encoder = false, top_decoder = false, top_conv_in = false, top_down = false;
    for (const auto& key : file.keys()) {
        if (starts_with(key, "lora_unet_") || starts_with(key, "lora_te_") ||
            starts_with(key, "lora_te1_") || starts_with(key, "lora_te2_") ||
            contains_text(key, ".lora_down.") || contains_text(key, ".lora_up.") ||
            contains_text(key, ".lora_A.") || contains_text(key, ".lora_B.") ||
            contains_text(key, ".hada_w1_") || contains_text(key, ".lokr_w1"))
            c.lora = true;
        if (starts_with(key, "joint_blocks.") ||
            starts_with(key, "model.diffusion_model.joint_blocks."))
            c.sd3 = true;
        if (starts_with(key, "double_blocks.") || starts_with(key, "single_blocks.") ||
            starts_with(key, "model.diffusion_model.double_blocks.") ||
            starts_with(key, "model.diffusion_model.single_blocks."))
            c.flux = true;
        if (starts_with(key, "control_model.") || starts_with(key, "controlnet_cond_embedding."))
            c.controlnet = true;
        if (starts_with(key, "model.diffusion_model.input_blocks."))
            c.ldm_unet = true;
        if (starts_with(key, "first_stage_model."))
            c.ldm_vae = true;
        if (starts_with(key, "cond_stage_model.transformer."))
            c.ldm_clip = true;
        if (starts_with(key, "cond_stage_model.model."))
            c.ldm_open_clip = true;
        if (starts_with(key, "conditioner.embedders.0.transformer."))
            c.sgm_clip = true;
        if (starts_with(key, "conditioner.embedders.1.model."))
            c.sgm_open_clip_1 = true;
        if (starts_with(key, "conditioner.embedders.0.model."))
            c.sgm_open_clip_0 = true;
        if (key == "encoder.conv_in.weight")
            top_encoder = true;
        if (key == "decoder.conv_in.weight")
            top_decoder = true;
        if (key == "conv_in.weight")
            top_conv_in = true;
        if (starts_with(key, "down_blocks."))
            top_down = true;
        if (starts_with(key, "text_model."))
            c.bare_text_encoder = true;
        if (c.context_key.empty() && starts_with(key, "model.diffusion_model.") &&
            contains_text(key, ".attn2.to_k.weight"))
            c.context_key = key;
    }
    c.bare_vae = top_encoder && top_decoder;
    c.diffusers_unet = top_conv_in && top_down;
    return c;
}

} // namespace

CheckpointLayout detect_checkpoint_layout(const WeightSource& file) {
    const std::string path = file.describe();
    const KeyCensus c = census(file);

    if (c.lora)
        refuse(path, "a LoRA (a small add-on that modifies a base model), not a model: load a "
                     "Stable Diffusion 1.5 or SDXL checkpoint as the model");
    if (c.sd3)
        refuse(path, "a Stable Diffusion 3 model (MMDiT joint_blocks), which Daub does not run");
    if (c.flux)
        refuse(path, "a Flux model (double_blocks / single_blocks), which Daub does not run");
    if (c.controlnet)
        refuse(path, "a ControlNet, not a model Daub runs: load a Stable Diffusion 1.5 or SDXL "
                     "checkpoint as the model");

    const bool sdxl = c.sgm_clip || c.sgm_open_clip_1;
    const char* family = sdxl ? "SDXL" : "Stable Diffusion 1.x";
    if (c.ldm_unet) {
        const std::string conv_in = "model.diffusion_model.input_blocks.0.0.weight";
        const int64_t in_channels =
            file.contains(conv_in) && file.shape(conv_in).size() == 4 ? file.shape(conv_in)[1] : 4;
        const int64_t context = c.context_key.empty() || file.shape(c.context_key).size() != 2
                                    ? 0
                                    : file.shape(c.context_key)[1];
        const bool sd2 = c.ldm_open_clip || (!sdxl && context == 1024);
        if (in_channels == 9)
            refuse(path, std::string("an inpainting UNet (") +
                             (sd2 ? "Stable Diffusion 2.x" : family) +
                             ", 9 input channels: latents, mask and masked image), which Daub "
                             "does not run");
        if (sd2)
            refuse(path, "a Stable Diffusion 2.x checkpoint (OpenCLIP-H text encoder, 1024-wide "
                         "cross-attention context), which Daub does not run");
        if (c.sgm_open_clip_0 && !c.sgm_open_clip_1)
            refuse(path, "an SDXL refiner, which Daub does not run: load an SDXL base model");
        if (in_channels != 4)
            refuse(path, std::string("a ") + family + " variant whose UNet takes " +
                             std::to_string(in_channels) +
                             " input channels (instruct-pix2pix, depth or upscaler models), which "
                             "Daub does not run");
        if (!c.ldm_vae)
            throw ModelError(path + " has a UNet but no VAE (first_stage_model.*): Daub needs "
                                    "the full checkpoint.");
        if (sdxl) {
            if (!c.sgm_clip || !c.sgm_open_clip_1)
                throw ModelError(path + " is an SDXL checkpoint without both text encoders "
                                        "(conditioner.embedders.0.transformer.* and "
                                        "conditioner.embedders.1.model.*).");
            return CheckpointLayout::SDXL_SGM;
        }
        if (!c.ldm_clip)
            throw ModelError(path + " has a UNet but no text encoder "
                                    "(cond_stage_model.transformer.*): Daub needs the full "
                                    "checkpoint.");
        return CheckpointLayout::SD15_LDM;
    }
    if (c.ldm_open_clip)
        refuse(path, "a Stable Diffusion 2.x checkpoint (OpenCLIP-H text encoder), which Daub "
                     "does not run");
    if (c.bare_vae)
        refuse(path, "a standalone VAE, not a whole model: load a Stable Diffusion 1.5 or SDXL "
                     "checkpoint as the model");
    if (c.diffusers_unet)
        refuse(path, "a single diffusers UNet file, not a whole model: load the diffusers model "
                     "folder it belongs to");
    if (c.bare_text_encoder)
        refuse(path, "a text encoder alone, not a whole model: load a Stable Diffusion 1.5 or "
                     "SDXL checkpoint as the model");
    refuse(path, "not a Stable Diffusion 1.5 or SDXL checkpoint that Daub recognises (it has no "
                 "model.diffusion_model.* UNet)");
}

} // namespace daub
