// Token + learned position embeddings of a CLIP text encoder (transformers'
// CLIPTextEmbeddings). The position ids 0..T-1 are computed, not stored.
#pragma once

#include "text/clip_text_config.h"

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include "core/layers.h"
#include <torch/nn/pimpl.h>

namespace daub {

class ClipTextEmbeddingsImpl : public torch::nn::Module {
public:
    explicit ClipTextEmbeddingsImpl(const ClipTextConfig& config);

    /// input_ids [B, T] (int64, T <= max_position_embeddings) -> [B, T, C].
    at::Tensor forward(const at::Tensor& input_ids);

    nn::Embedding token_embedding{nullptr};
    nn::Embedding position_embedding{nullptr};
};
TORCH_MODULE(ClipTextEmbeddings);

} // namespace daub
