// The A1111-compatible "parameters" text that PNGs carry:
//
//   a red fox in the snow
//   Negative prompt: blurry
//   Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 512x512, Model: sd15, Denoising strength: 0.75
#pragma once

#include "pipelines/pipeline.h"

#include <map>
#include <optional>
#include <string>

namespace daub {

/// A1111's sampler label for a Daub scheduler name ("euler_a" → "Euler a").
std::string sampler_label(const std::string& scheduler);
/// Daub's scheduler name for an A1111 sampler label, "" when unknown.
std::string scheduler_from_label(const std::string& label);

std::string parameters_text(const GenerationRequest& request, const GenerationResult& result,
                            const ModelInfo& model);

/// What a parameters text says. Fields it does not state stay unset.
struct ParsedParameters {
    std::string prompt;
    std::optional<std::string> negative_prompt;
    std::optional<int> steps;
    std::optional<std::string> scheduler; ///< Daub name
    std::optional<float> cfg;
    std::optional<int64_t> seed;
    std::optional<int> width, height;
    std::optional<std::string> model;
    std::optional<float> strength;
    std::optional<int> clip_skip;
};
/// Parses A1111 / Daub parameters text; std::nullopt when it is not one.
std::optional<ParsedParameters> parse_parameters_text(const std::string& text);

} // namespace daub
