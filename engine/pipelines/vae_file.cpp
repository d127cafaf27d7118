#include "pipelines/vae_file.h"

#include "core/errors.h"
#include "core/json.h"
#include "core/weight_file.h"
#include "loading/checkpoint.h"
#include "loading/key_mapping.h"

#include <torch/torch.h>

#include <filesystem>

namespace daub {

namespace fs = std::filesystem;

namespace {

constexpr const char* kCheckpointPrefix = "first_stage_model.";

bool starts_with(const std::string& s, const char* prefix) {
    return s.rfind(prefix, 0) == 0;
}

/// The keys of an LDM VAE without prefix: the tensors under encoder.,
/// decoder., quant_conv. and post_quant_conv.; the rest of the file (the
/// training discriminator's loss.*, model_ema.decay, ...) is not seen.
class LdmVaePart final : public WeightSource {
public:
    explicit LdmVaePart(std::shared_ptr<const WeightSource> file) : file_(std::move(file)) {}

    static bool selected(const std::string& key) {
        return starts_with(key, "encoder.") || starts_with(key, "decoder.") ||
               starts_with(key, "quant_conv.") || starts_with(key, "post_quant_conv.");
    }
    std::vector<std::string> keys() const override {
        std::vector<std::string> out;
        for (auto& key : file_->keys())
            if (selected(key))
                out.push_back(std::move(key));
        return out;
    }
    bool contains(const std::string& key) const override {
        return selected(key) && file_->contains(key);
    }
    std::vector<int64_t> shape(const std::string& key) const override { return file_->shape(key); }
    at::ScalarType stored_dtype(const std::string& key) const override {
        return file_->stored_dtype(key);
    }
    at::Tensor load(const std::string& key, at::ScalarType dtype,
                    at::Device device) const override {
        return file_->load(key, dtype, device);
    }
    std::string describe() const override { return file_->describe(); }

private:
    std::shared_ptr<const WeightSource> file_;
};

CheckpointLayout layout_of(ModelFamily family) {
    return family == ModelFamily::SDXL ? CheckpointLayout::SDXL_SGM : CheckpointLayout::SD15_LDM;
}

/// The first structural field in which two VAE configs differ; "" when none.
std::string structure_difference(const VaeConfig& a, const VaeConfig& b) {
    if (a.in_channels != b.in_channels)
        return "in_channels";
    if (a.out_channels != b.out_channels)
        return "out_channels";
    if (a.latent_channels != b.latent_channels)
        return "latent_channels";
    if (a.block_out_channels != b.block_out_channels)
        return "block_out_channels";
    if (a.layers_per_block != b.layers_per_block)
        return "layers_per_block";
    if (a.mid_block_add_attention != b.mid_block_add_attention)
        return "mid_block_add_attention";
    if (a.use_quant_conv != b.use_quant_conv)
        return "use_quant_conv";
    if (a.use_post_quant_conv != b.use_post_quant_conv)
        return "use_post_quant_conv";
    return "";
}

VaeConfig parse_config(const nlohmann::json& j, const std::string& where) {
    try {
        return VaeConfig::from_json(j);
    } catch (const UnsupportedModelError& e) {
        throw UnsupportedModelError(where + ": " + e.what());
    } catch (const ModelError& e) {
        throw ModelError(where + ": " + e.what());
    }
}

/// The VAE's structure from the shapes of its diffusers-keyed weights
/// (scaling etc. are filled in by the caller), refusing what cannot be the
/// VAE of this model before anything is allocated for it.
VaeConfig structure_from_shapes(const WeightSource& vae, const std::string& path,
                                const VaeConfig& model, ModelFamily family) {
    CheckpointInspection in;
    inspect_vae(vae, path, in);
    // Files from diffusers < 0.14 name the mid-block attention query/key/value.
    if (!in.vae_mid_attention && vae.contains("encoder.mid_block.attentions.0.query.weight"))
        in.vae_mid_attention = true;
    const VaeConfig found = parse_config(derived_vae_config(in, layout_of(family)), path);

    const std::string model_name = to_string(family);
    if (found.latent_channels != model.latent_channels)
        throw UnsupportedModelError(
            path + " is a VAE with " + std::to_string(found.latent_channels) +
            " latent channels, but this " + model_name + " model works with " +
            std::to_string(model.latent_channels) + ": pick a VAE made for " + model_name + ".");
    if (found.block_out_channels.size() != model.block_out_channels.size() || // scale factor
        found.in_channels != model.in_channels || found.out_channels != model.out_channels)
        throw UnsupportedModelError(
            path + " is a VAE with " + std::to_string(found.block_out_channels.size()) +
            " levels and " + std::to_string(found.in_channels) +
            " image channels, which does not fit this " + model_name + " model's " +
            std::to_string(model.block_out_channels.size()) + " levels and " +
            std::to_string(model.in_channels) + " image channels.");

    // Every resnet the structure implies must be in the file (so the
    // module built from it is no larger than the file's tensors).
    const int64_t levels = static_cast<int64_t>(found.block_out_channels.size());
    for (int64_t l = 0; l < levels; ++l) {
        const std::string level = std::to_string(l);
        for (int64_t j = 0; j <= found.layers_per_block; ++j) {
            std::vector<std::string> keys = {"decoder.up_blocks." + level + ".resnets." +
                                             std::to_string(j) + ".conv1.weight"};
            if (j < found.layers_per_block)
                keys.push_back("encoder.down_blocks." + level + ".resnets." + std::to_string(j) +
                               ".conv1.weight");
            for (const auto& key : keys)
                if (!vae.contains(key))
                    throw ModelError(vae.describe() + ": tensor '" + key + "' is missing.");
        }
    }
    return found;
}

/// A diffusers vae folder, or a model folder's vae/.
VaeFile open_vae_folder(const fs::path& given, const VaeConfig& model, ModelFamily family) {
    fs::path dir = given;
    if (!fs::exists(dir / "config.json") && fs::exists(dir / "model_index.json"))
        dir = dir / "vae";
    const fs::path config_path = dir / "config.json";
    if (!fs::exists(config_path))
        throw ModelError(given.string() + " is a folder without a VAE config.json: pick a VAE "
                                          "file or a diffusers vae folder.");
    fs::path weights_path;
    for (const char* name :
         {"diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors"})
        if (fs::is_regular_file(dir / name)) {
            weights_path = dir / name;
            break;
        }
    if (weights_path.empty())
        throw ModelError((dir / "diffusion_pytorch_model.safetensors").string() +
                         " is missing (the VAE weights).");

    VaeFile out;
    out.path = given.string();
    out.name = vae_display_name(given.string());
    out.naming = VaeKeyNaming::Diffusers;
    out.weights = open_weight_file(weights_path.string());
    if (detect_vae_naming(*out.weights) != VaeKeyNaming::Diffusers)
        throw ModelError(weights_path.string() +
                         " does not use diffusers key names, unlike the rest of its folder.");
    const VaeConfig found =
        structure_from_shapes(*out.weights, weights_path.string(), model, family);
    out.config = parse_config(read_json_file(config_path.string()), config_path.string());
    const std::string differs = structure_difference(out.config, found);
    if (!differs.empty())
        throw ModelError(config_path.string() + ": its " + differs +
                         " does not match the shapes of " + weights_path.string() + ".");
    // The latents belong to the model: its scaling. Whether the VAE needs
    // fp32 is the VAE's own (config.json's force_upcast).
    out.config.scaling_factor = model.scaling_factor;
    out.config.shift_factor = model.shift_factor;
    return out;
}

} // namespace

const char* to_string(VaeKeyNaming naming) {
    switch (naming) {
    case VaeKeyNaming::Diffusers:
        return "diffusers";
    case VaeKeyNaming::Ldm:
        return "original (LDM)";
    case VaeKeyNaming::LdmCheckpoint:
        return "checkpoint (first_stage_model)";
    }
    return "?";
}

VaeKeyNaming detect_vae_naming(const WeightSource& file) {
    bool diffusers = false, ldm = false, checkpoint = false, unet = false;
    for (const auto& key : file.keys()) {
        if (starts_with(key, "first_stage_model.encoder.") ||
            starts_with(key, "first_stage_model.decoder."))
            checkpoint = true;
        else if (starts_with(key, "encoder.down_blocks.") || starts_with(key, "decoder.up_blocks."))
            diffusers = true;
        else if (starts_with(key, "encoder.down.") || starts_with(key, "decoder.up."))
            ldm = true;
        else if (starts_with(key, "model.diffusion_model."))
            unet = true;
    }
    if (checkpoint)
        return VaeKeyNaming::LdmCheckpoint;
    if (diffusers && !ldm)
        return VaeKeyNaming::Diffusers;
    if (ldm && !diffusers)
        return VaeKeyNaming::Ldm;
    if (diffusers && ldm)
        throw ModelError(file.describe() + " mixes diffusers and original VAE key names, so it "
                                           "is not one VAE.");
    if (unet)
        throw UnsupportedModelError(file.describe() + " is a model checkpoint without a VAE "
                                                      "(no first_stage_model.* tensors).");
    throw UnsupportedModelError(file.describe() +
                                " holds no Stable Diffusion VAE (no encoder.* and decoder.* "
                                "tensors): pick a VAE file such as "
                                "vae-ft-mse-840000-ema-pruned.safetensors.");
}

std::string vae_display_name(const std::string& path) {
    fs::path p = fs::path(path).lexically_normal();
    if (p.filename().empty())
        p = p.parent_path(); // "folder/"
    const bool folder = fs::is_directory(p);
    std::string name = p.filename().string();
    if (!folder && name.rfind("diffusion_pytorch_model", 0) != 0)
        return name;
    if (!folder)
        p = p.parent_path();
    // A model folder's vae/ is named after the model.
    if (p.filename() == "vae" && !p.parent_path().filename().empty())
        p = p.parent_path();
    name = p.filename().string();
    return name.empty() ? fs::path(path).filename().string() : name;
}

VaeFile open_vae_file(const std::string& path, const nlohmann::json& model_vae,
                      ModelFamily family) {
    if (path.empty())
        throw ModelError("No VAE file was given.");
    std::error_code ec;
    if (!fs::exists(path, ec))
        throw ModelError(path + " does not exist.");
    const VaeConfig model = parse_config(model_vae, "the model's VAE config");
    if (fs::is_directory(path, ec))
        return open_vae_folder(path, model, family);

    VaeFile out;
    out.path = path;
    out.name = vae_display_name(path);
    const std::shared_ptr<const WeightSource> file = open_weight_file(path);
    out.naming = detect_vae_naming(*file);
    switch (out.naming) {
    case VaeKeyNaming::Diffusers:
        out.weights = file;
        break;
    case VaeKeyNaming::Ldm: {
        auto part = std::make_shared<const LdmVaePart>(file);
        out.weights =
            std::make_shared<const MappedWeightSource>(part, map_ldm_vae(*part, ""), "VAE");
        break;
    }
    case VaeKeyNaming::LdmCheckpoint:
        out.weights = std::make_shared<const MappedWeightSource>(
            file, map_ldm_vae(*file, kCheckpointPrefix), "VAE");
        break;
    }

    const VaeConfig found = structure_from_shapes(*out.weights, path, model, family);
    if (structure_difference(found, model).empty()) {
        out.config = model; // the model's own VAE config fits: every detail as the model says
    } else {
        out.config = found;
        out.config.scaling_factor = model.scaling_factor;
        out.config.shift_factor = model.shift_factor;
        out.config.force_upcast = model.force_upcast;
    }
    return out;
}

} // namespace daub
