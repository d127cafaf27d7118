#include "models/vae.h"

#include "core/errors.h"
#include "core/json.h"
#include "core/safetensors.h"
#include "models/vae_tiling.h"

#include <torch/torch.h>

#include <array>
#include <filesystem>
#include <utility>

namespace daub {

namespace {

/// Presents a WeightSource under today's diffusers names when it uses the
/// VAE attention names of diffusers < 0.14 (query, key, value, proj_attn;
/// still found in hub VAEs). Mid-block attention projections stored as 1×1
/// convolutions [C, C, 1, 1] are seen as linear weights [C, C].
class LegacyVaeKeys final : public WeightSource {
public:
    explicit LegacyVaeKeys(const WeightSource& source) : source_(source) {}

    std::vector<std::string> keys() const override { return source_.keys(); }
    bool contains(const std::string& key) const override { return source_.contains(resolve(key)); }
    std::vector<int64_t> shape(const std::string& key) const override {
        auto shape = source_.shape(resolve(key));
        if (is_projection_weight(key) && shape.size() == 4 && shape[2] == 1 && shape[3] == 1)
            shape.resize(2);
        return shape;
    }
    at::ScalarType stored_dtype(const std::string& key) const override {
        return source_.stored_dtype(resolve(key));
    }
    at::Tensor load(const std::string& key, at::ScalarType dtype,
                    at::Device device) const override {
        at::Tensor t = source_.load(resolve(key), dtype, device);
        if (is_projection_weight(key) && t.dim() == 4)
            t = t.flatten(1); // [C, C, 1, 1] -> [C, C]
        return t;
    }
    std::string describe() const override { return source_.describe(); }

private:
    static constexpr const char* kAttention = "mid_block.attentions.0.";

    static bool is_projection_weight(const std::string& key) {
        const auto pos = key.find(kAttention);
        return pos != std::string::npos && key.ends_with(".weight") &&
               key.find("group_norm", pos) == std::string::npos;
    }

    std::string resolve(const std::string& key) const {
        if (source_.contains(key))
            return key;
        const auto pos = key.find(kAttention);
        if (pos == std::string::npos)
            return key;
        const size_t tail = pos + std::char_traits<char>::length(kAttention);
        static const std::array<std::pair<const char*, const char*>, 4> renames{{
            {"to_q.", "query."},
            {"to_k.", "key."},
            {"to_v.", "value."},
            {"to_out.0.", "proj_attn."},
        }};
        for (const auto& [now, old] : renames)
            if (key.compare(tail, std::char_traits<char>::length(now), now) == 0) {
                std::string legacy = key.substr(0, tail) + old +
                                     key.substr(tail + std::char_traits<char>::length(now));
                if (source_.contains(legacy))
                    return legacy;
            }
        return key;
    }

    const WeightSource& source_;
};

} // namespace

at::Tensor VaePosterior::sample(const at::Tensor& noise) const {
    return mean + torch::exp(0.5 * logvar) * noise.to(mean.options()); // [B, C, h, w]
}

AutoencoderKLImpl::AutoencoderKLImpl(const VaeConfig& config) : config_(config) {
    using namespace torch::nn;
    const int64_t latent = config_.latent_channels;
    encoder = register_module("encoder", VaeEncoder(config_));
    decoder = register_module("decoder", VaeDecoder(config_));
    if (config_.use_quant_conv)
        quant_conv =
            register_module("quant_conv", nn::Conv2d(2 * latent, 2 * latent, 1));
    if (config_.use_post_quant_conv)
        post_quant_conv =
            register_module("post_quant_conv", nn::Conv2d(latent, latent, 1));
}

at::Tensor AutoencoderKLImpl::encode_moments(const at::Tensor& image) {
    at::Tensor moments = encoder->forward(image.to(weight_options())); // [B, 2 × latent, h, w]
    if (quant_conv)
        moments = quant_conv(moments);
    return moments;
}

VaePosterior AutoencoderKLImpl::split_moments(const at::Tensor& moments) const {
    auto halves = moments.chunk(2, 1); // 2 × [B, latent, h, w]
    return {halves[0], halves[1].clamp(-30.0, 20.0)};
}

VaePosterior AutoencoderKLImpl::encode(const at::Tensor& image) {
    torch::NoGradGuard no_grad;
    return split_moments(encode_moments(image));
}

at::Tensor AutoencoderKLImpl::decode(const at::Tensor& latents) {
    torch::NoGradGuard no_grad;
    at::Tensor z = latents.to(weight_options()); // [B, latent, h, w]
    if (post_quant_conv)
        z = post_quant_conv(z);
    return decoder->forward(z); // [B, out_channels, h·f, w·f]
}

at::Tensor AutoencoderKLImpl::decode_tiled(const at::Tensor& latents, int64_t tile,
                                           int64_t overlap) {
    torch::NoGradGuard no_grad;
    return run_tiled(latents, tile, overlap, downscale_factor(), 1,
                     [this](const at::Tensor& part) { return decode(part); });
}

VaePosterior AutoencoderKLImpl::encode_tiled(const at::Tensor& image, int64_t tile,
                                             int64_t overlap) {
    torch::NoGradGuard no_grad;
    // quant_conv is 1×1, so blending its output equals blending the encoder's.
    return split_moments(
        run_tiled(image, tile, overlap, 1, downscale_factor(),
                  [this](const at::Tensor& part) { return encode_moments(part); }));
}

size_t load_vae_weights(AutoencoderKLImpl& module, const WeightSource& source,
                        const std::string& prefix, const LoadOptions& options) {
    return load_module_weights(module, LegacyVaeKeys(source), prefix, options);
}

AutoencoderKL load_vae(const std::string& folder, const LoadOptions& options) {
    namespace fs = std::filesystem;
    const fs::path dir(folder);
    if (!fs::is_directory(dir))
        throw ModelError(folder + ": the VAE folder is missing.");

    const std::string config_path = (dir / "config.json").string();
    const nlohmann::json config_json = read_json_file(config_path);
    VaeConfig config;
    try {
        config = VaeConfig::from_json(config_json);
    } catch (const UnsupportedModelError& e) {
        throw UnsupportedModelError(config_path + ": " + e.what());
    } catch (const ModelError& e) {
        throw ModelError(config_path + ": " + e.what());
    }

    fs::path weights;
    for (const char* name :
         {"diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors"})
        if (fs::is_regular_file(dir / name)) {
            weights = dir / name;
            break;
        }
    if (weights.empty()) {
        const fs::path expected = dir / "diffusion_pytorch_model.safetensors";
        if (fs::exists(dir / "diffusion_pytorch_model.bin"))
            throw UnsupportedModelError(
                expected.string() +
                " is missing; the folder has only pickle (.bin) weights, which Daub does not "
                "load (convert them to safetensors).");
        throw ModelError(expected.string() + " is missing (the VAE weights).");
    }

    SafeTensorsFile file(weights.string());
    AutoencoderKL vae(config);
    load_vae_weights(*vae, file, "", options);
    vae->eval();
    for (auto& parameter : vae->parameters())
        parameter.set_requires_grad(false);
    return vae;
}

} // namespace daub
