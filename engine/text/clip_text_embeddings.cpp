#include "text/clip_text_embeddings.h"

#include <torch/torch.h>

namespace daub {

ClipTextEmbeddingsImpl::ClipTextEmbeddingsImpl(const ClipTextConfig& config) {
    token_embedding = register_module("token_embedding",
                                      nn::Embedding(config.vocab_size, config.hidden_size));
    position_embedding =
        register_module("position_embedding",
                        nn::Embedding(config.max_position_embeddings, config.hidden_size));
}

at::Tensor ClipTextEmbeddingsImpl::forward(const at::Tensor& input_ids) {
    const int64_t t = input_ids.size(1);
    at::Tensor tokens = token_embedding->forward(input_ids);          // [B, T, C]
    at::Tensor positions = position_embedding->first_rows(t);         // [T, C] = ids 0..T-1
    return tokens + positions;                                        // [B, T, C]
}

} // namespace daub
