// The recipe of an image as the AUTOMATIC1111 web UI writes it into a PNG's
// `parameters` text chunk (and ComfyUI, InvokeAI and image sites read it):
//
//   a red fox in the snow
//   Negative prompt: blurry
//   Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 512x512, Model: sd15, VAE: vae-ft-mse-840000-ema-pruned.safetensors, Denoising strength: 0.75, Version: Daub 0.1.0
//
// Plain C++ (no torch, no Qt): daub-cli writes it, the app writes and reads it.
// Numbers are written and read independently of the C locale.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace daub {

/// What a parameters text records.
struct ImageParameters {
    std::string prompt;
    std::string negative_prompt;
    int steps = 20;
    std::string scheduler; ///< Daub's name ("euler_a"); "" when unknown
    double cfg_scale = 7.0;
    int64_t seed = -1;
    int width = 0;
    int height = 0;
    std::string model;                        ///< model name; "" when unknown
    std::string vae;                          ///< separate VAE's file name; "" = the model's own
    int clip_skip = 1;                        ///< A1111's meaning: 1 = last CLIP layer
    std::optional<double> denoising_strength; ///< set for img2img
    /// Super-resolution after generating: the upscaler's name and the factor
    /// (0 = none). Size stays the first pass's, as in A1111's hires fix.
    /// Written as A1111 does: with a refine pass "Hires upscale: 2, Hires
    /// upscaler: NAME" (the refine strength as "Denoising strength", or as
    /// "Hires denoising strength" after an img2img first pass), without one
    /// as A1111's Extras tab: "Postprocess upscale by: 2, Postprocess
    /// upscaler: NAME".
    std::string upscaler;
    double upscale = 0;
    std::optional<double> refine_strength; ///< the refine (hires) pass's denoising strength

    bool operator==(const ImageParameters&) const = default;
};

/// A Daub scheduler and the sampler label A1111 uses for it.
struct SamplerName {
    const char* scheduler; ///< "euler_a"
    const char* label;     ///< "Euler a"
};
/// Every scheduler Daub offers, in the order a sampler picker lists them.
const std::vector<SamplerName>& sampler_names();

/// A1111's label for a Daub scheduler ("euler_a" → "Euler a"); the name
/// itself when there is none.
std::string sampler_label(const std::string& scheduler);
/// Daub's scheduler for an A1111 sampler label (case-insensitive; Daub's
/// own names are accepted too), with A1111 1.9+'s separate "Schedule type"
/// ("DPM++ 2M" + "Karras" → "dpmpp_2m_karras"); "" when unknown.
std::string scheduler_from_label(const std::string& label, const std::string& schedule_type = "");

/// The text: prompt line(s), "Negative prompt: …" when there is one, then
/// one line of comma-separated settings ending in "Version: Daub x.y.z".
/// Values that would break that line (commas, colons, line breaks) are
/// quoted JSON-style, as A1111 does.
std::string format_parameters_text(const ImageParameters& parameters);

/// Parses a parameters text written by Daub or A1111; std::nullopt when it
/// is not one (fewer than three "Key: value" settings, no setting Daub
/// knows, or a known setting whose value is not a number where one is due).
/// Settings Daub does not know are ignored.
std::optional<ImageParameters> parse_parameters_text(const std::string& text);

} // namespace daub
