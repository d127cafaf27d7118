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
