#include "text/clip_text_model.h"

#include "core/errors.h"
#include "core/json.h"
#include "core/safetensors.h"

#include <torch/torch.h>

#include <filesystem>

namespace daub {

ClipTextModelImpl::ClipTextModelImpl(const ClipTextConfig& config) : config_(config) {
    text_model = register_module("text_model", ClipTextTransformer(config));
    if (config.with_projection)
        text_projection = register_module(
            "text_projection",
            nn::Linear(config.hidden_size, config.projection_dim, /*bias=*/false));
}

ClipTextOutput ClipTextModelImpl::forward(const at::Tensor& input_ids,
                                          const ClipTextForwardOptions& options) {
    ClipTextOutput out = text_model->forward(input_ids, options);
    if (text_projection && out.pooled_output.defined())
        out.text_embeds = text_projection->forward(out.pooled_output); // [B, P]
    return out;
}

at::Tensor ClipTextModelImpl::apply_final_layer_norm(const at::Tensor& hidden_state) {
    return text_model->final_layer_norm->forward(hidden_state); // [B, T, C]
}

ClipTextModel load_clip_text_model(const ClipTextConfig& config, const WeightSource& source,
                                   const std::string& prefix, const LoadOptions& options) {
    ClipTextModel model(config);
    load_module_weights(*model, source, prefix, options);
    for (auto& p : model->parameters())
        p.set_requires_grad(false);
    model->eval();
    return model;
}

ClipTextModel load_clip_text_model(const std::string& folder, const LoadOptions& options) {
    namespace fs = std::filesystem;
    const fs::path dir(folder);
    if (!fs::is_directory(dir))
        throw ModelError(folder + ": the text encoder folder is missing.");

    const fs::path config_path = dir / "config.json";
    if (!fs::exists(config_path))
        throw ModelError(config_path.string() + ": the text encoder's config.json is missing.");
    const nlohmann::json json = read_json_file(config_path.string());
    ClipTextConfig config;
    try {
        config = ClipTextConfig::from_json(json);
    } catch (const ModelError& e) {
        throw ModelError(config_path.string() + ": " + e.what());
    }

    fs::path weights = dir / "model.safetensors";
    if (!fs::exists(weights) && fs::exists(dir / "model.fp16.safetensors"))
        weights = dir / "model.fp16.safetensors";
    if (!fs::exists(weights)) {
        if (fs::exists(dir / "pytorch_model.bin"))
            throw UnsupportedModelError(
                folder + ": the text encoder weights are a pickle file (pytorch_model.bin); "
                         "only model.safetensors is supported, convert the model first.");
        throw ModelError(weights.string() + ": the text encoder weights are missing.");
    }
    const SafeTensorsFile file(weights.string());
    return load_clip_text_model(config, file, "", options);
}

} // namespace daub
