#include "text/clip_text_transformer.h"

#include "core/errors.h"

#include <torch/torch.h>

namespace daub {

int64_t resolve_hidden_state_index(int64_t index, int64_t num_layers) {
    const int64_t resolved = index < 0 ? index + num_layers + 1 : index;
    if (resolved < 0 || resolved > num_layers)
        throw RequestError("CLIP hidden state " + std::to_string(index) + " does not exist in a " +
                           std::to_string(num_layers) +
                           "-layer text encoder (valid: " + std::to_string(-num_layers - 1) +
                           " to " + std::to_string(num_layers) + ").");
    return resolved;
}

const at::Tensor& ClipTextOutput::hidden_state(int64_t index) const {
    const int64_t i = resolve_hidden_state_index(index, num_layers);
    if (i >= static_cast<int64_t>(hidden_states.size()))
        throw RequestError("CLIP hidden state " + std::to_string(index) +
                           " was not computed: the forward pass stopped at hidden state " +
                           std::to_string(static_cast<int64_t>(hidden_states.size()) - 1) + ".");
    return hidden_states[static_cast<size_t>(i)];
}

ClipTextTransformerImpl::ClipTextTransformerImpl(const ClipTextConfig& config) : config_(config) {
    embeddings = register_module("embeddings", ClipTextEmbeddings(config));
    encoder = register_module("encoder", ClipEncoder(config));
    final_layer_norm = register_module(
        "final_layer_norm",
        nn::LayerNorm(config.hidden_size, config.layer_norm_eps));
}

at::Tensor ClipTextTransformerImpl::eos_positions(const at::Tensor& input_ids) const {
    if (config_.eos_token_id == 2)   // configs from before transformers PR #24773
        return input_ids.argmax(-1); // [B]
    return input_ids.eq(config_.eos_token_id).to(at::kInt).argmax(-1); // [B] first EOS
}

ClipTextOutput ClipTextTransformerImpl::forward(const at::Tensor& input_ids,
                                                const ClipTextForwardOptions& options) {
    if (input_ids.dim() != 2 || input_ids.size(1) < 1 ||
        input_ids.size(1) > config_.max_position_embeddings)
        throw RequestError("CLIP input ids must be [batch, tokens] with 1 to " +
                           std::to_string(config_.max_position_embeddings) + " tokens, got " +
                           c10::str(input_ids.sizes()) + ".");
    if (at::isFloatingType(input_ids.scalar_type()) || input_ids.scalar_type() == at::kBool)
        throw RequestError("CLIP input ids must be integers.");

    ClipTextOutput out;
    out.num_layers = encoder->num_layers();
    const int64_t stop = resolve_hidden_state_index(options.stop_at_hidden_state, out.num_layers);
    const at::Tensor ids = input_ids.to(embeddings->token_embedding->weight.device(), at::kLong);

    out.hidden_states = encoder->forward(embeddings->forward(ids), stop); // (stop+1) x [B, T, C]
    if (stop < out.num_layers)
        return out;

    const at::Tensor& last = out.hidden_states.back();
    out.last_hidden_state = final_layer_norm->forward(last); // [B, T, C]
    const int64_t b = last.size(0), c = last.size(2);
    const at::Tensor index = eos_positions(ids).view({b, 1, 1}).expand({b, 1, c}); // [B, 1, C]
    out.pooled_output = out.last_hidden_state.gather(1, index).squeeze(1);         // [B, C]
    return out;
}

} // namespace daub
