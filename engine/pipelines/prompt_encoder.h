// Prompt → UNet conditioning: diffusers' `encode_prompt` of the SD 1.5 and
// SDXL pipelines, with the AUTOMATIC1111 web UI's prompt syntax
// (metadata/prompt_syntax.h) and length (pipelines/prompt_chunks.h):
//
//   - each 77-token chunk goes through the text encoder(s) on its own; the
//     outputs are joined along the sequence: [B, 77·k, C];
//   - weights as A1111's "Original" emphasis, per chunk and per encoder:
//     z *= weight of each token, then z *= mean(z before) / mean(z after);
//     a chunk whose weights are all 1 is left untouched, so a plain prompt
//     of up to 75 tokens encodes exactly as diffusers does;
//   - the prompt and the negative prompt are padded with empty chunks to the
//     same length;
//   - SDXL: the pooled embedding is the first chunk's.
#pragma once

#include "pipelines/components.h"

#include <ATen/core/Tensor.h>

#include <optional>
#include <string>

namespace daub {

struct TextConditioning {
    at::Tensor embeds; ///< [B, 77·k, C] (B = 2 with guidance: [negative, positive])
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
/// RequestError for a weight that is not a number or a prompt over
/// kMaxPromptChunks chunks.
TextConditioning encode_prompt(const Components& c, const std::string& prompt,
                               const std::optional<std::string>& negative_prompt, bool guidance,
                               int clip_skip);

} // namespace daub
