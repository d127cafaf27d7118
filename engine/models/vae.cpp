#include "models/vae.h"

#include "core/errors.h"
#include "core/json.h"
#include "core/safetensors.h"
#include "models/vae_tiling.h"
#include "upscale/device_memory.h"

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <utility>

namespace daub {

namespace {

/// Peak bytes of a whole VAE pass: kPeakActivations × its largest activation
/// (the widest level at its resolution: the activation, GroupNorm and SiLU
/// outputs, convolution buffers, the next layer's input) plus kPassOverhead
/// (temporary weight layouts, the mid-block attention's chunks). Measured
/// peaks (libtorch 1.13 CPU, fp32; test_memory's vae_estimates_bound_peaks):
/// 4.9–7.0 × the largest activation at 1024² (tiny) and 256² (SD-sized), up
/// to 9–15 × at small sizes where the fixed part dominates.
constexpr double kPeakActivations = 8.0;
constexpr uint64_t kPassOverhead = uint64_t{256} << 20;
/// memory_budget() when the device's free memory is unknown.
constexpr uint64_t kUnknownBudget = uint64_t{4} << 30;
/// The smallest tile edge, in latent pixels (256 image pixels).
constexpr int64_t kMinTile = 32;

uint64_t saturated_bytes(double bytes) {
    return bytes >= 1.8e19 ? UINT64_MAX : static_cast<uint64_t>(bytes);
}

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
    const int64_t tile = encode_tile_size(image.size(0), image.size(2), image.size(3));
    if (tile > 0)
        return encode_tiled(image, tile, tile / 4);
    return split_moments(encode_moments(image));
}

at::Tensor AutoencoderKLImpl::decode(const at::Tensor& latents) {
    torch::NoGradGuard no_grad;
    const int64_t tile = decode_tile_size(latents.size(0), latents.size(2), latents.size(3));
    if (tile > 0)
        return decode_tiled(latents, tile, tile / 4);
    return decode_whole(latents);
}

at::Tensor AutoencoderKLImpl::decode_whole(const at::Tensor& latents) {
    at::Tensor z = latents.to(weight_options()); // [B, latent, h, w]
    if (post_quant_conv)
        z = post_quant_conv(z);
    return decoder->forward(z); // [B, out_channels, h·f, w·f]
}

at::Tensor AutoencoderKLImpl::decode_tiled(const at::Tensor& latents, int64_t tile,
                                           int64_t overlap) {
    torch::NoGradGuard no_grad;
    return run_tiled(latents, tile, overlap, downscale_factor(), 1,
                     [this](const at::Tensor& part) { return decode_whole(part); });
}

VaePosterior AutoencoderKLImpl::encode_tiled(const at::Tensor& image, int64_t tile,
                                             int64_t overlap) {
    torch::NoGradGuard no_grad;
    // quant_conv is 1×1, so blending its output equals blending the encoder's.
    return split_moments(
        run_tiled(image, tile, overlap, 1, downscale_factor(),
                  [this](const at::Tensor& part) { return encode_moments(part); }));
}

uint64_t AutoencoderKLImpl::memory_budget() const {
    if (memory_budget_ > 0)
        return memory_budget_;
    const uint64_t available = available_memory(weight_options().device());
    return available > 0 ? available / 2 : kUnknownBudget;
}

uint64_t AutoencoderKLImpl::decode_bytes(int64_t batch, int64_t h, int64_t w) const {
    // Decoder level i has the widths reversed and runs at 2^i × the latent
    // size; its first resnet takes the previous level's (upsampled) width.
    const std::vector<int64_t>& widths = config_.block_out_channels;
    const size_t levels = widths.size();
    double largest = 0;
    for (size_t i = 0; i < levels; ++i) {
        const double channels = static_cast<double>(
            std::max(widths[levels - 1 - i], widths[levels - 1 - (i > 0 ? i - 1 : 0)]));
        const double scale = std::ldexp(1.0, static_cast<int>(i));
        largest = std::max(largest, channels * (h * scale) * (w * scale));
    }
    const double item = static_cast<double>(weight_options().dtype().itemsize());
    return saturated_bytes(kPeakActivations * largest * static_cast<double>(batch) * item +
                           static_cast<double>(kPassOverhead));
}

uint64_t AutoencoderKLImpl::encode_bytes(int64_t batch, int64_t h, int64_t w) const {
    // Encoder level i runs at the image size / 2^i; its first resnet takes
    // the previous level's width (conv_in's at level 0).
    const std::vector<int64_t>& widths = config_.block_out_channels;
    const double f = static_cast<double>(downscale_factor());
    double largest = 0;
    for (size_t i = 0; i < widths.size(); ++i) {
        const double channels = static_cast<double>(std::max(widths[i], widths[i > 0 ? i - 1 : 0]));
        const double scale = f / std::ldexp(1.0, static_cast<int>(i));
        largest = std::max(largest, channels * (h * scale) * (w * scale));
    }
    const double item = static_cast<double>(weight_options().dtype().itemsize());
    return saturated_bytes(kPeakActivations * largest * static_cast<double>(batch) * item +
                           static_cast<double>(kPassOverhead));
}

int64_t AutoencoderKLImpl::fitting_tile(int64_t batch, int64_t h, int64_t w, bool encoder) const {
    auto bytes = [&](int64_t th, int64_t tw) {
        return encoder ? encode_bytes(batch, th, tw) : decode_bytes(batch, th, tw);
    };
    const uint64_t budget = memory_budget();
    if (bytes(h, w) <= budget)
        return 0;
    const int64_t side = std::max(h, w);
    int64_t tile = (side - 1) / 8 * 8; // smaller than the image, so it is cut
    while (tile > kMinTile && bytes(std::min(tile, h), std::min(tile, w)) > budget)
        tile -= 8;
    tile = std::max(tile, kMinTile);
    return tile < side ? tile : 0;
}

int64_t AutoencoderKLImpl::decode_tile_size(int64_t batch, int64_t h, int64_t w) const {
    return fitting_tile(batch, h, w, /*encoder=*/false);
}

int64_t AutoencoderKLImpl::encode_tile_size(int64_t batch, int64_t height, int64_t width) const {
    const int64_t f = downscale_factor();
    if (height % f != 0 || width % f != 0)
        return 0;
    return fitting_tile(batch, height / f, width / f, /*encoder=*/true) * f;
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
