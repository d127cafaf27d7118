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

/// Loads every component; ModelError / UnsupportedModelError with one
/// sentence naming the file and the problem.
std::shared_ptr<Components> load_components(const LoadRequest& request);

/// A diffusers folder.
std::shared_ptr<Components> load_diffusers_folder(const LoadRequest& request,
                                                  const Placement& placement);

/// A single-file checkpoint (SD 1.x LDM or SDXL SGM layout), configured from
/// its tensor shapes, the known model families and request.config_dir.
std::shared_ptr<Components> load_single_file(const LoadRequest& request,
                                             const Placement& placement);

} // namespace daub
