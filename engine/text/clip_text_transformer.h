// The CLIP text transformer (transformers' CLIPTextTransformer, key prefix
// `text_model.`): embeddings, causal encoder layers, final LayerNorm and
// pooling at the EOS token. ClipTextModel wraps it.
#pragma once

#include "text/clip_encoder.h"
#include "text/clip_text_config.h"
#include "text/clip_text_embeddings.h"

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include "core/layers.h"
#include <torch/nn/pimpl.h>

#include <vector>

namespace daub {

/// What a CLIP text forward computes.
struct ClipTextForwardOptions {
    /// The deepest hidden state the caller needs, indexed like
    /// ClipTextOutput::hidden_state (-1 = last layer, -2 = penultimate, 0 =
    /// embeddings). Layers after it are not run; unless it is the last layer,
    /// last_hidden_state, pooled_output and text_embeds stay undefined.
    int64_t stop_at_hidden_state = -1;
};

struct ClipTextOutput {
    /// [0] = embeddings, [i] = output of layer i (no final LayerNorm), each
    /// [B, T, C]; only up to the requested hidden state.
    std::vector<at::Tensor> hidden_states;
    at::Tensor last_hidden_state; ///< [B, T, C] final LayerNorm of the last layer's output
    at::Tensor pooled_output;     ///< [B, C] last_hidden_state at each sequence's EOS token
    at::Tensor text_embeds;       ///< [B, P] text_projection(pooled_output), with projection only
    int64_t num_layers = 0;       ///< layers of the model (not only those run)

    /// hidden_states[index], negative indices counting from the end as in
    /// Python: -1 = last layer, -2 = penultimate. RequestError when the index
    /// is out of range or forward stopped before that layer.
    const at::Tensor& hidden_state(int64_t index) const;
};

/// `index` (negative from the end) as 0..num_layers; RequestError otherwise.
int64_t resolve_hidden_state_index(int64_t index, int64_t num_layers);

class ClipTextTransformerImpl : public torch::nn::Module {
public:
    explicit ClipTextTransformerImpl(const ClipTextConfig& config);

    /// input_ids [B, T] (integer ids, 1 <= T <= max_position_embeddings).
    /// Fills everything of ClipTextOutput but text_embeds.
    ClipTextOutput forward(const at::Tensor& input_ids, const ClipTextForwardOptions& options = {});

    /// Per sequence, the position pooled_output is taken from [B]: the first
    /// id equal to eos_token_id; for legacy configs with eos_token_id 2, the
    /// position of the largest id (as transformers does).
    at::Tensor eos_positions(const at::Tensor& input_ids) const;

    ClipTextEmbeddings embeddings{nullptr};
    ClipEncoder encoder{nullptr};
    nn::LayerNorm final_layer_norm{nullptr};

private:
    ClipTextConfig config_;
};
TORCH_MODULE(ClipTextTransformer);

} // namespace daub
