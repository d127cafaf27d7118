#include "pipelines/prompt_encoder.h"

#include "core/errors.h"

#include <torch/torch.h>

namespace daub {

namespace {

at::Tensor token_ids(const ClipTokenizer& tokenizer, const std::string& text, at::Device device) {
    const std::vector<int64_t> ids = tokenizer.encode_padded(text, 77);
    return torch::tensor(ids, torch::kLong).unsqueeze(0).to(device); // [1, 77]
}

void check_clip_skip(int clip_skip, int64_t layers) {
    if (clip_skip < 1 || clip_skip >= layers)
        throw RequestError("CLIP skip must be between 1 and " + std::to_string(layers - 1) +
                           " for this model (got " + std::to_string(clip_skip) + ").");
}

/// SD 1.5: one prompt → [1, 77, C].
at::Tensor encode_sd15(const Components& c, const std::string& text, int clip_skip) {
    ClipTextModel te = c.text_encoder;
    at::Tensor ids = token_ids(*c.tokenizer, text, c.device);
    if (clip_skip == 1)
        return te->forward(ids).last_hidden_state;
    ClipTextForwardOptions options;
    options.stop_at_hidden_state = -clip_skip;
    ClipTextOutput out = te->forward(ids, options);
    return te->apply_final_layer_norm(out.hidden_state(-clip_skip));
}

/// SDXL: one prompt → ([1, 77, C1 + C2], [1, P]).
std::pair<at::Tensor, at::Tensor> encode_sdxl(const Components& c, const std::string& text,
                                              int clip_skip) {
    const int64_t index = -(clip_skip + 1);
    ClipTextForwardOptions options;
    options.stop_at_hidden_state = index;
    ClipTextModel te1 = c.text_encoder, te2 = c.text_encoder_2;
    ClipTextOutput out1 = te1->forward(token_ids(*c.tokenizer, text, c.device), options);
    // Encoder 2 always runs to the end: the pooled embedding needs its last layer.
    ClipTextOutput out2 = te2->forward(token_ids(*c.tokenizer_2, text, c.device));
    at::Tensor embeds = torch::cat({out1.hidden_state(index), out2.hidden_state(index)}, -1);
    return {embeds, out2.text_embeds};
}

} // namespace

TextConditioning encode_prompt(const Components& c, const std::string& prompt,
                               const std::optional<std::string>& negative_prompt, bool guidance,
                               int clip_skip) {
    torch::InferenceMode inference;
    TextConditioning result;
    if (c.info.family == ModelFamily::SD15) {
        check_clip_skip(clip_skip, c.text_encoder->config().num_hidden_layers);
        at::Tensor pos = encode_sd15(c, prompt, clip_skip);
        if (!guidance) {
            result.embeds = pos;
            return result;
        }
        // As the reference: CLIP skip applies to the prompt, not the negative prompt.
        at::Tensor neg = encode_sd15(c, negative_prompt.value_or(""), 1);
        result.embeds = torch::cat({neg, pos}, 0); // [2, 77, C]
        return result;
    }

    check_clip_skip(clip_skip, c.text_encoder->config().num_hidden_layers - 1);
    auto [pos, pos_pooled] = encode_sdxl(c, prompt, clip_skip);
    if (!guidance) {
        result.embeds = pos;
        result.pooled = pos_pooled;
        return result;
    }
    at::Tensor neg, neg_pooled;
    if (!negative_prompt && c.force_zeros_for_empty_prompt) {
        neg = torch::zeros_like(pos);
        neg_pooled = torch::zeros_like(pos_pooled);
    } else {
        // As the reference: CLIP skip applies to the prompt, not the negative prompt.
        std::tie(neg, neg_pooled) = encode_sdxl(c, negative_prompt.value_or(""), 1);
    }
    result.embeds = torch::cat({neg, pos}, 0);
    result.pooled = torch::cat({neg_pooled, pos_pooled}, 0);
    return result;
}

} // namespace daub
