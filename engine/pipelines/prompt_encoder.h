// Prompt → UNet conditioning, as diffusers' `encode_prompt` of the SD 1.5 and
// SDXL pipelines.
#pragma once

#include "pipelines/components.h"

#include <ATen/core/Tensor.h>

#include <optional>
#include <string>

namespace daub {

struct TextConditioning {
    at::Tensor embeds; ///< [B, 77, C] (B = 2 with guidance: [negative, positive])
    at::Tensor pooled; ///< [B, P] SDXL pooled text embeddings, else undefined
};

/// Encodes prompt (and the negative prompt when `guidance` is on).
/// clip_skip is A1111's: 1 = last layer, 2 = penultimate...
/// SD 1.5: last_hidden_state, or hidden_states[-clip_skip] through the final
/// LayerNorm; an absent negative prompt is "". SDXL: both encoders'
/// hidden_states[-(clip_skip + 1)] (no final LayerNorm) concatenated; pooled =
/// encoder 2's projection at EOS; an absent negative prompt gives zeros when
/// force_zeros_for_empty_prompt. As in the reference, CLIP skip changes the
/// prompt's embeddings only; the negative prompt uses the default layer.
TextConditioning encode_prompt(const Components& c, const std::string& prompt,
                               const std::optional<std::string>& negative_prompt, bool guidance,
                               int clip_skip);

} // namespace daub
