#include "pipelines/model_loader.h"

#include "core/errors.h"
#include "core/json.h"
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
    c.info.default_width = c.info.default_height = static_cast<int>(sample * vae.downscale_factor());
    c.info.device = placement.device.is_cuda() ? "cuda" : "cpu";
    c.info.dtype = dtype_name(placement.dtype);
}

std::string default_scheduler_name(const nlohmann::json& scheduler_config, ModelFamily family) {
    const auto name = scheduler_name_for_class(
        json_value<std::string>(scheduler_config, "_class_name", ""),
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
    c->info.name = root.filename().empty() ? root.parent_path().filename().string()
                                           : root.filename().string();
    c->device = placement.device;
    c->dtype = placement.dtype;
    c->force_zeros_for_empty_prompt =
        json_value<bool>(index, "force_zeros_for_empty_prompt", c->info.family == ModelFamily::SDXL);

    const nlohmann::json unet_cfg = read_json_file((root / "unet" / "config.json").string());
    check_unet_supported(unet_cfg, c->info.family, path);
    const nlohmann::json vae_cfg = read_json_file((root / "vae" / "config.json").string());

    LoadOptions options{placement.dtype, placement.device};
    c->tokenizer = std::make_shared<const ClipTokenizer>(
        ClipTokenizer::from_folder((root / "tokenizer").string()));
    c->text_encoder = load_clip_text_model((root / "text_encoder").string(), options);
    if (c->info.family == ModelFamily::SDXL) {
        c->tokenizer_2 = std::make_shared<const ClipTokenizer>(
            ClipTokenizer::from_folder((root / "tokenizer_2").string()));
        c->text_encoder_2 = load_clip_text_model((root / "text_encoder_2").string(), options);
    }
    c->unet = load_unet((root / "unet").string(), options);
    const VaeConfig vae_config = VaeConfig::from_json(vae_cfg);
    c->vae_dtype = vae_dtype_for(vae_config, placement);
    c->vae = load_vae((root / "vae").string(), LoadOptions{c->vae_dtype, placement.device});

    c->scheduler_config = read_scheduler_config((root / "scheduler" / "scheduler_config.json").string());
    fill_model_info(*c, unet_cfg, vae_config, placement);
    return c;
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
