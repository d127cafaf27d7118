#include "text/clip_text_config.h"

#include "core/errors.h"
#include "core/json.h"

#include <nlohmann/json.hpp>

namespace daub {

namespace {

ClipActivation parse_activation(const std::string& name) {
    if (name == "quick_gelu")
        return ClipActivation::QuickGelu;
    if (name == "gelu")
        return ClipActivation::Gelu;
    throw ModelError("CLIP text config: hidden_act '" + name +
                     "' is not supported (expected quick_gelu or gelu).");
}

void require_positive(int64_t value, const char* key) {
    if (value <= 0)
        throw ModelError(std::string("CLIP text config: ") + key + " must be positive, got " +
                         std::to_string(value) + ".");
}

} // namespace

std::string to_string(ClipActivation act) {
    return act == ClipActivation::QuickGelu ? "quick_gelu" : "gelu";
}

ClipTextConfig ClipTextConfig::from_json(const nlohmann::json& j) {
    if (!j.is_object())
        throw ModelError("CLIP text config: expected a JSON object.");
    ClipTextConfig c;
    try {
        c.vocab_size = json_value(j, "vocab_size", c.vocab_size);
        c.hidden_size = json_value(j, "hidden_size", c.hidden_size);
        c.intermediate_size = json_value(j, "intermediate_size", c.intermediate_size);
        c.num_hidden_layers = json_value(j, "num_hidden_layers", c.num_hidden_layers);
        c.num_attention_heads = json_value(j, "num_attention_heads", c.num_attention_heads);
        c.max_position_embeddings =
            json_value(j, "max_position_embeddings", c.max_position_embeddings);
        c.hidden_act = parse_activation(json_value<std::string>(j, "hidden_act", "quick_gelu"));
        c.layer_norm_eps = json_value(j, "layer_norm_eps", c.layer_norm_eps);
        c.projection_dim = json_value(j, "projection_dim", c.projection_dim);
        c.eos_token_id = json_value(j, "eos_token_id", c.eos_token_id);
        const auto archs = json_value(j, "architectures", std::vector<std::string>{});
        for (const auto& arch : archs)
            if (arch == "CLIPTextModelWithProjection")
                c.with_projection = true;
    } catch (const nlohmann::json::exception& e) {
        throw ModelError(std::string("CLIP text config: a value has the wrong type (") + e.what() +
                         ").");
    }
    require_positive(c.vocab_size, "vocab_size");
    require_positive(c.hidden_size, "hidden_size");
    require_positive(c.intermediate_size, "intermediate_size");
    require_positive(c.num_hidden_layers, "num_hidden_layers");
    require_positive(c.num_attention_heads, "num_attention_heads");
    require_positive(c.max_position_embeddings, "max_position_embeddings");
    if (c.with_projection)
        require_positive(c.projection_dim, "projection_dim");
    if (c.hidden_size % c.num_attention_heads != 0)
        throw ModelError("CLIP text config: hidden_size " + std::to_string(c.hidden_size) +
                         " is not divisible by num_attention_heads " +
                         std::to_string(c.num_attention_heads) + ".");
    if (!(c.layer_norm_eps > 0))
        throw ModelError("CLIP text config: layer_norm_eps must be positive.");
    return c;
}

} // namespace daub
