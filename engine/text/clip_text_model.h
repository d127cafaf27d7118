// A CLIP text encoder as transformers' CLIPTextModel /
// CLIPTextModelWithProjection: the SD 1.5 text encoder and both SDXL ones.
// Parameter names are the state-dict keys (`text_model.*`, and
// `text_projection.weight` with projection), so weights load name for name.
//
//   ClipTextModel te = load_clip_text_model("model/text_encoder", {});
//   torch::InferenceMode guard;
//   ClipTextOutput out = te->forward(ids);                 // [B, 77] int64
//   out.last_hidden_state;                                 // SD 1.5 default
//   te->apply_final_layer_norm(out.hidden_state(-2));      // "CLIP skip 2"
//   out.hidden_state(-2), out.text_embeds;                 // SDXL
#pragma once

#include "core/weights.h"
#include "text/clip_text_config.h"
#include "text/clip_text_transformer.h"

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include "core/layers.h"
#include <torch/nn/pimpl.h>

#include <string>

namespace daub {

class ClipTextModelImpl : public torch::nn::Module {
public:
    explicit ClipTextModelImpl(const ClipTextConfig& config);

    /// input_ids [B, T] (integers, T <= max_position_embeddings). With
    /// projection and a full run, also fills text_embeds [B, P].
    ClipTextOutput forward(const at::Tensor& input_ids, const ClipTextForwardOptions& options = {});

    /// The final LayerNorm applied to any hidden state [B, T, C] (CLIP skip).
    at::Tensor apply_final_layer_norm(const at::Tensor& hidden_state);

    const ClipTextConfig& config() const { return config_; }

    ClipTextTransformer text_model{nullptr};
    nn::Linear text_projection{nullptr}; ///< null unless config.with_projection

private:
    ClipTextConfig config_;
};
TORCH_MODULE(ClipTextModel);

/// Builds a model for `config` and loads its weights from `source` under
/// `prefix` (e.g. "" for a diffusers folder, "cond_stage_model.transformer."
/// for an SD 1.5 single file), in eval mode with gradients off.
ClipTextModel load_clip_text_model(const ClipTextConfig& config, const WeightSource& source,
                                   const std::string& prefix, const LoadOptions& options);

/// Loads a diffusers `text_encoder/` folder: `config.json` and
/// `model.safetensors` (or `model.fp16.safetensors`). ModelError naming the
/// file when one is missing or invalid.
ClipTextModel load_clip_text_model(const std::string& folder, const LoadOptions& options = {});

} // namespace daub
