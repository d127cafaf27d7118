#include "pipelines/prompt_encoder.h"

#include "core/errors.h"
#include "pipelines/prompt_chunks.h"

#include <torch/torch.h>

#include <algorithm>

namespace daub {

namespace {

constexpr int64_t kChunkIds = kPromptChunkTokens + 2; // 77

/// The chunks' ids as [k, 77] on `device`.
at::Tensor chunk_ids(const std::vector<PromptChunk>& chunks, at::Device device) {
    std::vector<int64_t> flat;
    flat.reserve(chunks.size() * kChunkIds);
    for (const PromptChunk& chunk : chunks)
        flat.insert(flat.end(), chunk.ids.begin(), chunk.ids.end());
    const auto k = static_cast<int64_t>(chunks.size());
    return torch::tensor(flat, torch::kLong).view({k, kChunkIds}).to(device);
}

/// A1111's emphasis on each chunk's output z [k, 77, C]: z *= weights, then
/// rescaled so that its mean is the mean before weighting (in fp32). Chunks
/// without weights are left as they are.
at::Tensor apply_weights(const at::Tensor& z, const std::vector<PromptChunk>& chunks) {
    if (std::none_of(chunks.begin(), chunks.end(),
                     [](const PromptChunk& c) { return c.weighted(); }))
        return z;
    std::vector<at::Tensor> out;
    out.reserve(chunks.size());
    for (std::size_t i = 0; i < chunks.size(); ++i) {
        const at::Tensor zi = z[static_cast<int64_t>(i)];
        if (!chunks[i].weighted()) {
            out.push_back(zi);
            continue;
        }
        const std::vector<float> w(chunks[i].weights.begin(), chunks[i].weights.end());
        const at::Tensor weights = torch::tensor(w, torch::kFloat).to(z.device()).unsqueeze(-1);
        const at::Tensor original = zi.to(at::kFloat);
        const at::Tensor original_mean = original.mean();
        const at::Tensor weighted = original * weights; // [77, C]
        out.push_back((weighted * (original_mean / weighted.mean())).to(z.scalar_type()));
    }
    return torch::stack(out);
}

/// [k, 77, C] → [1, 77·k, C].
at::Tensor join_chunks(const at::Tensor& z) {
    return z.reshape({1, z.size(0) * z.size(1), z.size(2)});
}

void check_clip_skip(int clip_skip, int64_t layers) {
    if (clip_skip < 1 || clip_skip >= layers)
        throw RequestError("CLIP skip must be between 1 and " + std::to_string(layers - 1) +
                           " for this model (got " + std::to_string(clip_skip) + ").");
}

/// SD 1.5: one prompt's chunks → [1, 77·k, C].
at::Tensor encode_sd15(const Components& c, const std::vector<PromptChunk>& chunks, int clip_skip) {
    ClipTextModel te = c.text_encoder;
    at::Tensor ids = chunk_ids(chunks, c.device);
    at::Tensor z;
    if (clip_skip == 1) {
        z = te->forward(ids).last_hidden_state;
    } else {
        ClipTextForwardOptions options;
        options.stop_at_hidden_state = -clip_skip;
        ClipTextOutput out = te->forward(ids, options);
        z = te->apply_final_layer_norm(out.hidden_state(-clip_skip));
    }
    return join_chunks(apply_weights(z, chunks));
}

/// SDXL: one prompt's chunks of both tokenizers → ([1, 77·k, C1 + C2], [1, P]).
std::pair<at::Tensor, at::Tensor> encode_sdxl(const Components& c,
                                              const std::vector<PromptChunk>& chunks_1,
                                              const std::vector<PromptChunk>& chunks_2,
                                              int clip_skip) {
    const int64_t index = -(clip_skip + 1);
    ClipTextForwardOptions options;
    options.stop_at_hidden_state = index;
    ClipTextModel te1 = c.text_encoder, te2 = c.text_encoder_2;
    ClipTextOutput out1 = te1->forward(chunk_ids(chunks_1, c.device), options);
    // Encoder 2 always runs to the end: the pooled embedding needs its last layer.
    ClipTextOutput out2 = te2->forward(chunk_ids(chunks_2, c.device));
    // Each encoder's output is weighted on its own, as A1111's two embedders.
    at::Tensor embeds = torch::cat({apply_weights(out1.hidden_state(index), chunks_1),
                                    apply_weights(out2.hidden_state(index), chunks_2)},
                                   -1);
    return {join_chunks(embeds), out2.text_embeds.slice(0, 0, 1)}; // the first chunk's pooled
}

/// Pads every prompt to the longest one's chunk count.
void pad_to_same_length(
    std::initializer_list<std::pair<ChunkedPrompt*, const ClipTokenizer*>> all) {
    std::size_t count = 0;
    for (const auto& [prompt, tokenizer] : all)
        count = std::max(count, prompt->chunks.size());
    for (const auto& [prompt, tokenizer] : all)
        pad_prompt_chunks(*prompt, count, *tokenizer);
}

} // namespace

TextConditioning encode_prompt(const Components& c, const std::string& prompt,
                               const std::optional<std::string>& negative_prompt, bool guidance,
                               int clip_skip) {
    torch::InferenceMode inference;
    TextConditioning result;
    const std::vector<PromptWeight> parsed = parse_prompt_attention(prompt);
    if (c.info.family == ModelFamily::SD15) {
        check_clip_skip(clip_skip, c.text_encoder->config().num_hidden_layers);
        const ClipTokenizer& tok = *c.tokenizer;
        ChunkedPrompt pos = chunk_prompt(tok, parsed);
        if (!guidance) {
            result.embeds = encode_sd15(c, pos.chunks, clip_skip);
            return result;
        }
        ChunkedPrompt neg = chunk_prompt(tok, negative_prompt.value_or(""));
        pad_to_same_length({{&pos, &tok}, {&neg, &tok}});
        // As the reference: CLIP skip applies to the prompt, not the negative prompt.
        at::Tensor neg_embeds = encode_sd15(c, neg.chunks, 1);
        result.embeds = torch::cat({neg_embeds, encode_sd15(c, pos.chunks, clip_skip)}, 0);
        return result; // [2, 77·k, C]
    }

    check_clip_skip(clip_skip, c.text_encoder->config().num_hidden_layers - 1);
    const ClipTokenizer &tok1 = *c.tokenizer, &tok2 = *c.tokenizer_2;
    ChunkedPrompt pos1 = chunk_prompt(tok1, parsed), pos2 = chunk_prompt(tok2, parsed);
    const bool zero_negative = !negative_prompt && c.force_zeros_for_empty_prompt;
    ChunkedPrompt neg1, neg2;
    if (guidance && !zero_negative) {
        const std::vector<PromptWeight> neg_parsed =
            parse_prompt_attention(negative_prompt.value_or(""));
        neg1 = chunk_prompt(tok1, neg_parsed);
        neg2 = chunk_prompt(tok2, neg_parsed);
        pad_to_same_length({{&pos1, &tok1}, {&pos2, &tok2}, {&neg1, &tok1}, {&neg2, &tok2}});
    } else {
        pad_to_same_length({{&pos1, &tok1}, {&pos2, &tok2}});
    }
    auto [pos, pos_pooled] = encode_sdxl(c, pos1.chunks, pos2.chunks, clip_skip);
    if (!guidance) {
        result.embeds = pos;
        result.pooled = pos_pooled;
        return result;
    }
    at::Tensor neg, neg_pooled;
    if (zero_negative) {
        neg = torch::zeros_like(pos);
        neg_pooled = torch::zeros_like(pos_pooled);
    } else {
        // As the reference: CLIP skip applies to the prompt, not the negative prompt.
        std::tie(neg, neg_pooled) = encode_sdxl(c, neg1.chunks, neg2.chunks, 1);
    }
    result.embeds = torch::cat({neg, pos}, 0);
    result.pooled = torch::cat({neg_pooled, pos_pooled}, 0);
    return result;
}

} // namespace daub
