// A separate VAE that replaces a model's own: vae-ft-mse-840000 for SD 1.5
// models, sdxl-vae-fp16-fix for SDXL, and the like.
//
//   VaeFile vae = open_vae_file("vae-ft-mse-840000-ema-pruned.safetensors", model_vae_config,
//                               ModelFamily::SD15);
//   AutoencoderKL module(vae.config);
//   load_vae_weights(*module, *vae.weights, "", options);
//
// A file (.safetensors, or a PyTorch .ckpt / .pth read by open_weight_file
// without running anything) is recognised by its key names: diffusers (`encoder.down_blocks.0...`),
// the original LDM names without prefix (`encoder.down.0.block.0...`,
// attention as 1x1 convolutions), or a whole checkpoint whose
// `first_stage_model.*` part is used. Its structure comes from its shapes
// (the same derivation as a single-file checkpoint's VAE); a file does not
// say how its latents are scaled, so scaling_factor, shift_factor and
// force_upcast are the model's. When the shapes agree with the model's own
// VAE config, that config is used as it is.
//
// A diffusers vae folder (config.json + diffusion_pytorch_model.safetensors,
// or a model folder's vae/) keeps its own config (its structure must match
// its shapes) and its own force_upcast (sdxl-vae-fp16-fix says false: it
// runs in fp16); scaling_factor and shift_factor are still the model's.
//
// A VAE whose latents do not fit the model (other latent channels, another
// down-sampling factor) and a file that holds no VAE are refused with
// UnsupportedModelError naming the file.
#pragma once

#include "core/weights.h"
#include "models/vae_config.h"
#include "pipelines/pipeline.h"

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string>

namespace daub {

/// How the tensors of a VAE file are named.
enum class VaeKeyNaming {
    Diffusers,     ///< encoder.down_blocks.0.resnets.0.norm1.weight
    Ldm,           ///< encoder.down.0.block.0.norm1.weight (vae-ft-mse-840000 and the like)
    LdmCheckpoint, ///< first_stage_model.encoder.down.0... (a whole checkpoint's VAE)
};
const char* to_string(VaeKeyNaming naming);

/// The naming of `file`'s VAE tensors; UnsupportedModelError (naming the
/// file) when it holds no Stable Diffusion VAE.
VaeKeyNaming detect_vae_naming(const WeightSource& file);

/// A separate VAE, opened and configured for one model.
struct VaeFile {
    std::string path;
    std::string name; ///< what ModelInfo::vae_name and the "VAE:" field show
    VaeKeyNaming naming = VaeKeyNaming::Diffusers; ///< a folder: Diffusers
    VaeConfig config; ///< structure from the file, latent scaling from the model
    /// The VAE with diffusers keys, for load_vae_weights(); keeps the file open.
    std::shared_ptr<const WeightSource> weights;
};

/// Opens `path` (a file or a diffusers vae folder) as the VAE of a
/// `family` model whose own VAE config is `model_vae` (config.json style).
/// Reads shapes only, no tensor data.
VaeFile open_vae_file(const std::string& path, const nlohmann::json& model_vae, ModelFamily family);

/// The name a VAE path is shown by: the file name with its extension, as
/// A1111 writes it; for diffusers' generic `diffusion_pytorch_model*` file
/// names and for folders, the name of the folder that says which VAE it is
/// (a model folder's `vae/` is named after the model).
std::string vae_display_name(const std::string& path);

} // namespace daub
