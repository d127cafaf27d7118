// Loading a model into Components: a diffusers folder (model_index.json and
// one folder per component) or a single-file checkpoint.
#pragma once

#include "pipelines/components.h"

#include <memory>

namespace daub {

/// Where and in what precision the networks live, from a LoadRequest's
/// "auto" / "cpu" / "cuda" and "auto" / "fp32" / "fp16" / "bf16".
struct Placement {
    at::Device device = at::kCPU;
    at::ScalarType dtype = at::kFloat;
};
Placement resolve_placement(const std::string& device, const std::string& dtype);

/// The Daub scheduler name of a model's scheduler_config.json; the family's
/// usual one (SD 1.5: pndm, SDXL: euler) when the class is not one Daub runs.
std::string default_scheduler_name(const nlohmann::json& scheduler_config, ModelFamily family);

/// fp32 for a VAE that needs upcasting (force_upcast) when computing in fp16.
at::ScalarType vae_dtype_for(const VaeConfig& vae, const Placement& placement);

/// ModelInfo's defaults (size, scheduler) and placement, once the
/// components and scheduler config are set.
void fill_model_info(Components& c, const nlohmann::json& unet_config, const VaeConfig& vae,
                     const Placement& placement);

/// The networks of a model before anything is loaded: each one's config
/// and the source of its weights.
struct NetworkSources {
    ClipTextConfig text_encoder_config;
    std::shared_ptr<const WeightSource> text_encoder;
    ClipTextConfig text_encoder_2_config;               ///< SDXL only
    std::shared_ptr<const WeightSource> text_encoder_2; ///< SDXL only; null for SD 1.5
    UNetConfig unet_config;
    std::shared_ptr<const WeightSource> unet;
    /// The model's own VAE config (config.json style). With a separate VAE
    /// (request.vae_path) it still says how the latents are scaled.
    nlohmann::json vae_config;
    /// The model's own VAE weights; not read, and may be null, when
    /// request.vae_path is set.
    std::shared_ptr<const WeightSource> vae;
};

/// Builds every network of `sources` (with request.vae_path's VAE instead
/// of the model's own, see pipelines/vae_file.h), then loads their weights
/// in `placement` (the VAE in vae_dtype_for()). request.on_progress is
/// called after every tensor with the bytes loaded of the total of all
/// networks, known before the first; request.cancel is checked before every
/// tensor (CancelledError). Sets c's networks, vae_dtype and info.vae_name;
/// returns the VAE config in use.
VaeConfig load_networks(Components& c, const NetworkSources& sources, const LoadRequest& request,
                        const Placement& placement);

/// Loads every component; ModelError / UnsupportedModelError with one
/// sentence naming the file and the problem; CancelledError when
/// request.cancel is set during the load (nothing is kept).
std::shared_ptr<Components> load_components(const LoadRequest& request);
/// What load_components refuses before reading any weight: a missing path,
/// a folder without a readable model_index.json, a file whose header is not
/// a checkpoint Daub knows (or whose configuration cannot be derived).
/// Throws as load_components would; cheap (headers and JSON only).
void check_components(const LoadRequest& request);
/// check_components for a single file (single_file_loader.cpp).
void check_single_file(const LoadRequest& request);

/// A diffusers folder.
std::shared_ptr<Components> load_diffusers_folder(const LoadRequest& request,
                                                  const Placement& placement);

/// A single-file checkpoint (SD 1.x LDM or SDXL SGM layout), configured from
/// its tensor shapes, the known model families and request.config_dir.
std::shared_ptr<Components> load_single_file(const LoadRequest& request,
                                             const Placement& placement);

} // namespace daub
