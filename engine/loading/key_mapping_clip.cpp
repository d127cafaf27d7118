// Text encoder keys of single files -> transformers CLIPTextModel /
// CLIPTextModelWithProjection keys (see key_mapping.h).
//
// OpenCLIP (SDXL's second encoder, `conditioner.embedders.1.model.`):
//   token_embedding.weight                  text_model.embeddings.token_embedding.weight
//   positional_embedding                    text_model.embeddings.position_embedding.weight
//   transformer.resblocks.i.ln_1 / ln_2     text_model.encoder.layers.i.layer_norm1 / layer_norm2
//   transformer.resblocks.i.attn.in_proj_weight / _bias   [3C, ...] rows q | k | v
//                                           text_model.encoder.layers.i.self_attn.{q,k,v}_proj
//   transformer.resblocks.i.attn.out_proj   ...self_attn.out_proj
//   transformer.resblocks.i.mlp.c_fc / c_proj   ...mlp.fc1 / fc2
//   ln_final                                text_model.final_layer_norm
//   text_projection [C, P] (x @ W)          text_projection.weight [P, C] (transposed)
// `logit_scale` and the `attn_mask` buffer are not weights of the text model.
#include "loading/key_mapping.h"
#include "loading/key_mapping_util.h"

#include <torch/torch.h>

namespace daub {

using namespace keymap;

KeyMap map_hf_clip_text(const WeightSource& file, const std::string& prefix) {
    const std::string path = file.describe();
    KeyMap map;
    for (const auto& key : file.keys()) {
        if (!starts_with(key, prefix))
            continue;
        std::string rest = key.substr(prefix.size());
        if (!starts_with(rest, "text_model."))
            rest = "text_model." + rest; // written by transformers < 4.x without the level
        if (rest == "text_model.embeddings.position_ids")
            continue; // a buffer the engine computes
        const auto parts = split_dots(rest);
        const std::string& part = parts.size() > 1 ? parts[1] : std::string();
        if (part != "embeddings" && part != "encoder" && part != "final_layer_norm")
            unknown_key(path, key, "CLIP text encoder");
        map.emplace(rest, TensorRecipe{key});
    }
    return map;
}

KeyMap map_open_clip_text(const WeightSource& file, const std::string& prefix) {
    const std::string path = file.describe();
    constexpr const char* kComponent = "OpenCLIP text encoder";
    KeyMap map;
    for (const auto& key : file.keys()) {
        if (!starts_with(key, prefix))
            continue;
        const std::string rest = key.substr(prefix.size());
        if (rest == "logit_scale" || rest == "attn_mask")
            continue;
        if (rest == "token_embedding.weight") {
            map.emplace("text_model.embeddings.token_embedding.weight", TensorRecipe{key});
        } else if (rest == "positional_embedding") {
            map.emplace("text_model.embeddings.position_embedding.weight", TensorRecipe{key});
        } else if (rest == "ln_final.weight" || rest == "ln_final.bias") {
            map.emplace("text_model.final_layer_norm." + rest.substr(9), TensorRecipe{key});
        } else if (rest == "text_projection") {
            map.emplace("text_projection.weight",
                        TensorRecipe{key, TensorTransform::Transpose});
        } else if (starts_with(rest, "transformer.resblocks.")) {
            const auto parts = split_dots(rest); // transformer resblocks i ...
            const int64_t i = parse_index(parts.size() > 2 ? parts[2] : "");
            if (i < 0 || parts.size() < 5)
                unknown_key(path, key, kComponent);
            const std::string layer = "text_model.encoder.layers." + std::to_string(i) + ".";
            const std::string sub = join_from(parts, 3);
            if (sub == "attn.in_proj_weight" || sub == "attn.in_proj_bias") {
                const std::string kind = sub == "attn.in_proj_weight" ? "weight" : "bias";
                const char* names[] = {"q_proj.", "k_proj.", "v_proj."};
                for (int c = 0; c < 3; ++c)
                    map.emplace(layer + "self_attn." + names[c] + kind,
                                TensorRecipe{key, TensorTransform::Chunk, c, 3});
            } else if (starts_with(sub, "attn.out_proj.") && parts.size() == 6) {
                map.emplace(layer + "self_attn.out_proj." + parts[5], TensorRecipe{key});
            } else if ((parts[3] == "ln_1" || parts[3] == "ln_2") && parts.size() == 5) {
                map.emplace(layer + (parts[3] == "ln_1" ? "layer_norm1." : "layer_norm2.") +
                                parts[4],
                            TensorRecipe{key});
            } else if (parts[3] == "mlp" && parts.size() == 6 &&
                       (parts[4] == "c_fc" || parts[4] == "c_proj")) {
                map.emplace(layer + (parts[4] == "c_fc" ? "mlp.fc1." : "mlp.fc2.") + parts[5],
                            TensorRecipe{key});
            } else {
                unknown_key(path, key, kComponent);
            }
        } else {
            unknown_key(path, key, kComponent);
        }
    }
    return map;
}

} // namespace daub
