#include "pipelines/model_loader.h"

#include "core/errors.h"
#include "core/json.h"
#include "core/weight_file.h"
#include "pipelines/vae_file.h"
#include "schedulers/scheduler_factory.h"

#include <torch/torch.h>

#include <filesystem>

namespace daub {

namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
    for (auto& ch : s)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
}

std::string dtype_name(at::ScalarType t) {
    return t == at::kHalf ? "fp16" : t == at::kBFloat16 ? "bf16" : "fp32";
}

/// Family from model_index.json's pipeline class; refuses the others.
ModelFamily family_from_index(const nlohmann::json& index, const std::string& path) {
    const std::string cls = json_value<std::string>(index, "_class_name", "");
    if (cls == "StableDiffusionPipeline" || cls == "StableDiffusionImg2ImgPipeline")
        return ModelFamily::SD15;
    if (cls == "StableDiffusionXLPipeline" || cls == "StableDiffusionXLImg2ImgPipeline")
        return ModelFamily::SDXL;
    if (cls.find("Inpaint") != std::string::npos)
        throw UnsupportedModelError(path + " is an inpainting model (" + cls +
                                    "); Daub runs text-to-image SD 1.5 and SDXL models.");
    if (cls.empty())
        throw ModelError(path + "/model_index.json does not name a pipeline class.");
    throw UnsupportedModelError(path + " is a " + cls +
                                " model; Daub runs Stable Diffusion 1.5 and SDXL models.");
}

/// Inference only: eval mode, no gradients.
void freeze(torch::nn::Module& module) {
    for (auto& p : module.parameters())
        p.set_requires_grad(false);
    module.eval();
}

/// A config parsed into T, errors naming where it came from.
template <typename T> T parse_config(const nlohmann::json& j, const fs::path& where) {
    try {
        return T::from_json(j);
    } catch (const UnsupportedModelError& e) {
        throw UnsupportedModelError(where.string() + ": " + e.what());
    } catch (const ModelError& e) {
        throw ModelError(where.string() + ": " + e.what());
    }
}

ClipTextConfig text_encoder_config(const fs::path& dir) {
    if (!fs::is_directory(dir))
        throw ModelError(dir.string() + ": the text encoder folder is missing.");
    const fs::path config = dir / "config.json";
    if (!fs::exists(config))
        throw ModelError(config.string() + ": the text encoder's config.json is missing.");
    return parse_config<ClipTextConfig>(read_json_file(config.string()), config);
}

/// A diffusers component's weights: <dir>/<stem>.safetensors, else its
/// .fp16 variant. Pickle-only folders are refused (saying to convert).
std::shared_ptr<const WeightSource>
open_component_weights(const fs::path& dir, const std::string& stem, const char* what) {
    for (const std::string& name : {stem + ".safetensors", stem + ".fp16.safetensors"})
        if (fs::is_regular_file(dir / name))
            return open_weight_file((dir / name).string());
    const fs::path expected = dir / (stem + ".safetensors");
    const std::string pickle = stem == "model" ? "pytorch_model.bin" : stem + ".bin";
    if (fs::exists(dir / pickle))
        throw UnsupportedModelError(
            expected.string() + " is missing; the folder has only pickle (" + pickle + ") " + what +
            " weights, which Daub does not load (convert them to safetensors).");
    throw ModelError(expected.string() + " is missing (the " + what + " weights).");
}

/// How a family's VAE scales its latents (the real models' vae/config.json),
/// for a model folder without vae/ that is given a separate VAE.
nlohmann::json family_vae_config(ModelFamily family) {
    const bool sdxl = family == ModelFamily::SDXL;
    return {{"_class_name", "AutoencoderKL"},
            {"block_out_channels", {128, 256, 512, 512}},
            {"down_block_types", std::vector<std::string>(4, "DownEncoderBlock2D")},
            {"up_block_types", std::vector<std::string>(4, "UpDecoderBlock2D")},
            {"layers_per_block", 2},
            {"latent_channels", 4},
            {"scaling_factor", sdxl ? 0.13025 : 0.18215},
            {"force_upcast", sdxl}};
}

void check_unet_supported(const nlohmann::json& cfg, ModelFamily family, const std::string& path) {
    const int64_t in = json_value<int64_t>(cfg, "in_channels", 4);
    if (in != 4)
        throw UnsupportedModelError(path + " has a UNet with " + std::to_string(in) +
                                    " input channels (an inpainting or depth model); Daub runs "
                                    "text-to-image models with 4 latent channels.");
    if (family == ModelFamily::SD15 && json_value<int64_t>(cfg, "cross_attention_dim", 768) == 1024)
        throw UnsupportedModelError(path + " is a Stable Diffusion 2.x model (1024-wide text "
                                           "context); Daub runs SD 1.5 and SDXL models.");
}

} // namespace

at::ScalarType vae_dtype_for(const VaeConfig& vae, const Placement& placement) {
    return vae.force_upcast && placement.dtype == at::kHalf ? at::kFloat : placement.dtype;
}

void fill_model_info(Components& c, const nlohmann::json& unet_config, const VaeConfig& vae,
                     const Placement& placement) {
    c.info.default_scheduler = default_scheduler_name(c.scheduler_config, c.info.family);
    const int64_t sample = json_value<int64_t>(unet_config, "sample_size",
                                               c.info.family == ModelFamily::SDXL ? 128 : 64);
    c.info.default_width = c.info.default_height =
        static_cast<int>(sample * vae.downscale_factor());
    c.info.device = placement.device.is_cuda() ? "cuda" : "cpu";
    c.info.dtype = dtype_name(placement.dtype);
}

std::string default_scheduler_name(const nlohmann::json& scheduler_config, ModelFamily family) {
    const auto name =
        scheduler_name_for_class(json_value<std::string>(scheduler_config, "_class_name", ""),
                                 json_value<bool>(scheduler_config, "use_karras_sigmas", false));
    if (name)
        return *name;
    return family == ModelFamily::SDXL ? "euler" : "pndm";
}

Placement resolve_placement(const std::string& device, const std::string& dtype) {
    Placement p;
    const std::string d = lower(device);
    if (d == "auto" || d.empty())
        p.device = torch::cuda::is_available() ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
    else if (d == "cpu")
        p.device = at::kCPU;
    else if (d == "cuda" || d.rfind("cuda:", 0) == 0) {
        if (!torch::cuda::is_available())
            throw RequestError("No CUDA device is available; use --device cpu.");
        p.device = at::Device(d == "cuda" ? "cuda:0" : d);
    } else
        throw RequestError("Unknown device '" + device + "'; use auto, cpu or cuda.");

    const std::string t = lower(dtype);
    if (t == "auto" || t.empty())
        p.dtype = p.device.is_cuda() ? at::kHalf : at::kFloat;
    else if (t == "fp32" || t == "float32")
        p.dtype = at::kFloat;
    else if (t == "fp16" || t == "float16")
        p.dtype = at::kHalf;
    else if (t == "bf16" || t == "bfloat16")
        p.dtype = at::kBFloat16;
    else
        throw RequestError("Unknown precision '" + dtype + "'; use auto, fp32, fp16 or bf16.");
    if (p.dtype == at::kHalf && p.device.is_cpu())
        throw RequestError("fp16 needs a CUDA device; use fp32 or bf16 on the CPU.");
    return p;
}

std::shared_ptr<Components> load_diffusers_folder(const LoadRequest& request,
                                                  const Placement& placement) {
    const fs::path root(request.path);
    const std::string path = root.string();
    if (!fs::exists(root / "model_index.json"))
        throw ModelError(path + " has no model_index.json: pick a diffusers model folder or a "
                                ".safetensors checkpoint file.");
    const nlohmann::json index = read_json_file((root / "model_index.json").string());

    auto c = std::make_shared<Components>();
    c->info.family = family_from_index(index, path);
    c->info.path = path;
    c->info.name =
        root.filename().empty() ? root.parent_path().filename().string() : root.filename().string();
    c->device = placement.device;
    c->dtype = placement.dtype;
    c->force_zeros_for_empty_prompt = json_value<bool>(index, "force_zeros_for_empty_prompt",
                                                       c->info.family == ModelFamily::SDXL);

    const fs::path unet_dir = root / "unet";
    if (!fs::exists(unet_dir / "config.json"))
        throw ModelError(unet_dir.string() + ": the UNet folder has no config.json.");
    const nlohmann::json unet_cfg = read_json_file((unet_dir / "config.json").string());
    check_unet_supported(unet_cfg, c->info.family, path);

    const bool sdxl = c->info.family == ModelFamily::SDXL;
    NetworkSources s;
    s.text_encoder_config = text_encoder_config(root / "text_encoder");
    s.text_encoder = open_component_weights(root / "text_encoder", "model", "text encoder");
    if (sdxl) {
        s.text_encoder_2_config = text_encoder_config(root / "text_encoder_2");
        s.text_encoder_2 =
            open_component_weights(root / "text_encoder_2", "model", "second text encoder");
    }
    s.unet_config = parse_config<UNetConfig>(unet_cfg, unet_dir / "config.json");
    s.unet = open_component_weights(unet_dir, "diffusion_pytorch_model", "UNet");
    const fs::path vae_dir = root / "vae";
    if (request.vae_path.empty()) {
        s.vae_config = read_json_file((vae_dir / "config.json").string());
        s.vae = open_component_weights(vae_dir, "diffusion_pytorch_model", "VAE");
    } else {
        // A separate VAE: the model's own weights are not needed, only how
        // its latents are scaled (its config, else the family's).
        s.vae_config = fs::exists(vae_dir / "config.json")
                           ? read_json_file((vae_dir / "config.json").string())
                           : family_vae_config(c->info.family);
    }

    c->tokenizer = std::make_shared<const ClipTokenizer>(
        ClipTokenizer::from_folder((root / "tokenizer").string()));
    if (sdxl)
        c->tokenizer_2 = std::make_shared<const ClipTokenizer>(
            ClipTokenizer::from_folder((root / "tokenizer_2").string()));

    const VaeConfig vae_config = load_networks(*c, s, request, placement);
    c->scheduler_config =
        read_scheduler_config((root / "scheduler" / "scheduler_config.json").string());
    fill_model_info(*c, unet_cfg, vae_config, placement);
    return c;
}

VaeConfig load_networks(Components& c, const NetworkSources& s, const LoadRequest& request,
                        const Placement& placement) {
    WeightLoadMonitor monitor;
    monitor.cancel = request.cancel;
    monitor.check_cancelled();

    // The VAE: a separate one replaces the model's, whose weights are never read.
    std::shared_ptr<const WeightSource> vae_weights = s.vae;
    VaeConfig vae_config;
    if (!request.vae_path.empty()) {
        VaeFile file = open_vae_file(request.vae_path, s.vae_config, c.info.family);
        vae_config = file.config;
        vae_weights = std::move(file.weights);
        c.info.vae_name = file.name;
    } else {
        if (!vae_weights)
            throw ModelError(c.info.path + " has no VAE weights.");
        vae_config = parse_config<VaeConfig>(s.vae_config, c.info.path + " (VAE config)");
    }
    c.vae_dtype = vae_dtype_for(vae_config, placement);

    // Build every network first (parameters uninitialised: no memory is
    // touched), so the total is known before the first tensor is read.
    const bool sdxl = static_cast<bool>(s.text_encoder_2);
    c.text_encoder = ClipTextModel(s.text_encoder_config);
    if (sdxl)
        c.text_encoder_2 = ClipTextModel(s.text_encoder_2_config);
    c.unet = UNet2DConditionModel(s.unet_config);
    c.vae = AutoencoderKL(vae_config);
    monitor.bytes_total = module_weight_bytes(*c.text_encoder, placement.dtype) +
                          (sdxl ? module_weight_bytes(*c.text_encoder_2, placement.dtype) : 0) +
                          module_weight_bytes(*c.unet, placement.dtype) +
                          module_weight_bytes(*c.vae, c.vae_dtype);
    if (request.on_progress)
        monitor.on_progress = [&request](int64_t done, int64_t total) {
            request.on_progress(LoadProgress{done, total});
        };

    // On the CPU, fp16 / bf16 weights stay so and are converted layer by
    // layer as the networks compute in fp32: half the memory, same results.
    const bool keep_half = placement.device.is_cpu();
    const LoadOptions options{placement.dtype, placement.device, &monitor, keep_half};
    load_module_weights(*c.text_encoder, *s.text_encoder, "", options);
    freeze(*c.text_encoder);
    if (sdxl) {
        load_module_weights(*c.text_encoder_2, *s.text_encoder_2, "", options);
        freeze(*c.text_encoder_2);
    }
    load_module_weights(*c.unet, *s.unet, "", options);
    freeze(*c.unet);
    load_vae_weights(*c.vae, *vae_weights, "",
                     LoadOptions{c.vae_dtype, placement.device, &monitor, keep_half});
    freeze(*c.vae);
    return vae_config;
}

void check_components(const LoadRequest& request) {
    const fs::path p(request.path);
    if (request.path.empty())
        throw ModelError("No model was given: pick a model folder or a .safetensors file.");
    if (!fs::exists(p))
        throw ModelError(request.path + " does not exist.");
    if (fs::is_directory(p)) {
        if (!fs::exists(p / "model_index.json"))
            throw ModelError(request.path + " has no model_index.json: pick a diffusers model "
                                            "folder or a .safetensors checkpoint file.");
        (void)family_from_index(read_json_file((p / "model_index.json").string()), request.path);
        return;
    }
    check_single_file(request);
}

std::shared_ptr<Components> load_components(const LoadRequest& request) {
    const fs::path p(request.path);
    if (request.path.empty())
        throw ModelError("No model was given: pick a model folder or a .safetensors file.");
    if (!fs::exists(p))
        throw ModelError(request.path + " does not exist.");
    const Placement placement = resolve_placement(request.device, request.dtype);
    if (fs::is_directory(p))
        return load_diffusers_folder(request, placement);
    return load_single_file(request, placement);
}

} // namespace daub
