// Configuration of a CLIP text encoder, as transformers' CLIPTextConfig
// (the `config.json` of a diffusers `text_encoder/` folder).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>

namespace daub {

/// The MLP activation of a CLIP encoder layer.
enum class ClipActivation {
    QuickGelu, ///< x * sigmoid(1.702 x): OpenAI CLIP ViT-L/14 (SD 1.5, SDXL encoder 1)
    Gelu,      ///< exact (erf) GELU: OpenCLIP ViT-bigG/14 (SDXL encoder 2)
};

struct ClipTextConfig {
    int64_t vocab_size = 49408;           ///< token embedding rows
    int64_t hidden_size = 512;            ///< width of every hidden state
    int64_t intermediate_size = 2048;     ///< MLP inner width
    int64_t num_hidden_layers = 12;       ///< encoder layers
    int64_t num_attention_heads = 8;      ///< heads per self-attention
    int64_t max_position_embeddings = 77; ///< longest sequence (position embedding rows)
    ClipActivation hidden_act = ClipActivation::QuickGelu; ///< MLP activation
    double layer_norm_eps = 1e-5;                          ///< eps of every LayerNorm
    int64_t projection_dim = 512;                          ///< text_projection output width
    int64_t eos_token_id = 49407; ///< pooling position; 2 = legacy "argmax of ids" rule
    bool with_projection = false; ///< CLIPTextModelWithProjection: has text_projection

    int64_t head_dim() const { return hidden_size / num_attention_heads; }

    /// Reads a transformers CLIPTextConfig JSON object; absent keys keep the
    /// defaults above. Unsupported or inconsistent values throw ModelError.
    static ClipTextConfig from_json(const nlohmann::json& j);
};

std::string to_string(ClipActivation act);

} // namespace daub
