// daub-bench: how fast the engine runs, and whether it still matches the
// reference on this device.
//
//   daub-bench [--device cuda|cpu] [--dtype fp16|bf16|fp32] [--runs N] [--family sd15|sdxl|all]
//       Full-size SD 1.5 / SDXL architectures (their real configs, written
//       below) with random weights built in-process — timings do not depend
//       on weight values. Reports UNet step (batch 2), VAE decode, txt2img
//       20 steps, img2img strength 0.75, peak memory, extra memory of the
//       img2img wrapper, and load time from a generated safetensors file.
//   daub-bench --tiny --fixtures DIR
//       The same measurements on the tiny fixture models (what CI runs).
//   daub-bench --construct-only [--family ...]
//       How long building the full-size modules takes (no weights loaded),
//       and what a random initialisation would add.
//   daub-bench --check-goldens --fixtures DIR [--device ...]
//       Every pipe_* golden whose sampler and pipeline Daub implements: on
//       CPU fp32 each u8 channel within ±2; in fp16/bf16 the relative L2
//       error of the image within 2e-2.
//   daub-bench --write-checkpoint FILE --family sd15|sdxl [--seed N]
//       A full-size random-weight single-file checkpoint in the original
//       layout (LDM for SD 1.5, SGM for SDXL; fp16; the real models' key
//       names and shapes), which any program that reads such files loads:
//       norm scales near 1, other weights small (activations stay finite in
//       fp16). Written one tensor at a time (memory: one tensor), then
//       opened again to check that every tensor maps onto the engine's
//       modules with its shape.
//
// Each figure is the median of --runs runs after one warm-up run; on CUDA
// the device is synchronised before each clock read.
#include "core/errors.h"
#include "core/image.h"
#include "core/layers.h"
#include "core/runtime.h"
#include "core/safetensors.h"
#include "golden_case.h"
#include "loading/checkpoint.h"
#include "pipelines/model_loader.h"
#include "pipelines/stable_diffusion.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>

namespace fs = std::filesystem;
using namespace daub;

namespace {

// ------------------------------------------------------------ real configs

const char* kSd15Unet = R"({
  "act_fn": "silu", "attention_head_dim": 8, "block_out_channels": [320, 640, 1280, 1280],
  "center_input_sample": false, "cross_attention_dim": 768,
  "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
  "downsample_padding": 1, "flip_sin_to_cos": true, "freq_shift": 0, "in_channels": 4,
  "layers_per_block": 2, "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 32,
  "out_channels": 4, "sample_size": 64,
  "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]})";

const char* kSdxlUnet = R"({
  "act_fn": "silu", "addition_embed_type": "text_time", "addition_time_embed_dim": 256,
  "attention_head_dim": [5, 10, 20], "block_out_channels": [320, 640, 1280],
  "center_input_sample": false, "cross_attention_dim": 2048,
  "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
  "downsample_padding": 1, "flip_sin_to_cos": true, "freq_shift": 0, "in_channels": 4,
  "layers_per_block": 2, "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 32,
  "out_channels": 4, "projection_class_embeddings_input_dim": 2816, "sample_size": 128,
  "transformer_layers_per_block": [1, 2, 10],
  "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
  "use_linear_projection": true})";

const char* kVae = R"({
  "act_fn": "silu", "block_out_channels": [128, 256, 512, 512],
  "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
  "in_channels": 3, "latent_channels": 4, "layers_per_block": 2, "norm_num_groups": 32,
  "out_channels": 3, "sample_size": 512, "scaling_factor": 0.18215, "force_upcast": false,
  "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"]})";

const char* kClipL = R"({
  "architectures": ["CLIPTextModel"], "hidden_act": "quick_gelu", "hidden_size": 768,
  "intermediate_size": 3072, "max_position_embeddings": 77, "num_attention_heads": 12,
  "num_hidden_layers": 12, "vocab_size": 49408, "eos_token_id": 49407, "projection_dim": 768})";

const char* kClipBigG = R"({
  "architectures": ["CLIPTextModelWithProjection"], "hidden_act": "gelu", "hidden_size": 1280,
  "intermediate_size": 5120, "max_position_embeddings": 77, "num_attention_heads": 20,
  "num_hidden_layers": 32, "vocab_size": 49408, "eos_token_id": 49407, "projection_dim": 1280})";

const char* kSd15Scheduler = R"({"_class_name": "PNDMScheduler", "beta_end": 0.012,
  "beta_schedule": "scaled_linear", "beta_start": 0.00085, "num_train_timesteps": 1000,
  "set_alpha_to_one": false, "skip_prk_steps": true, "steps_offset": 1})";

const char* kSdxlScheduler = R"({"_class_name": "EulerDiscreteScheduler", "beta_end": 0.012,
  "beta_schedule": "scaled_linear", "beta_start": 0.00085, "interpolation_type": "linear",
  "num_train_timesteps": 1000, "steps_offset": 1, "timestep_spacing": "leading"})";

// ------------------------------------------------------------ measuring

struct Options {
    std::string device = "auto";
    std::string dtype = "auto";
    std::string family = "all";
    std::string fixtures;
    std::string write_checkpoint;
    uint64_t seed = 1;
    int runs = 5;
    bool tiny = false;
    bool check_goldens = false;
    bool construct_only = false;
};

void sync(const at::Device& device) {
    if (device.is_cuda())
        torch::cuda::synchronize();
}

/// Median of `runs` timed calls after one warm-up, in milliseconds.
double median_ms(const at::Device& device, int runs, const std::function<void()>& fn) {
    fn();
    sync(device);
    std::vector<double> t;
    for (int i = 0; i < runs; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        fn();
        sync(device);
        t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

double rss_mib() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmRSS:", 0) == 0)
            return std::stod(line.substr(6)) / 1024.0;
    return 0;
}

/// A byte-level tokenizer (256 byte tokens, BOS, EOS) for random-weight
/// models: token values do not change timings.
std::shared_ptr<const ClipTokenizer> synthetic_tokenizer(int64_t vocab_size) {
    std::unordered_map<std::string, int64_t> vocab;
    for (int b = 0; b < 256; ++b) {
        std::string s(1, static_cast<char>(b));
        vocab[s] = b;
        vocab[s + "</w>"] = 256 + b;
    }
    ClipTokenizer::Config cfg;
    vocab[cfg.bos_token] = vocab_size - 2;
    vocab[cfg.eos_token] = vocab_size - 1;
    return std::make_shared<const ClipTokenizer>(std::move(vocab),
                                                 std::vector<std::pair<std::string, std::string>>{},
                                                 cfg, std::vector<ClipAddedToken>{}, "synthetic");
}

/// Random weights, drawn as torch.nn's default init draws them (uniform in
/// ±1/sqrt(fan_in)); the engine's layers allocate uninitialised memory,
/// which could hold NaNs or denormals that would skew CPU timings.
void randomize(torch::nn::Module& m) {
    torch::NoGradGuard no_grad;
    for (auto& t : m.parameters()) {
        const int64_t fan_in = t.dim() > 1 ? t.numel() / t.size(0) : t.numel();
        const double bound = 1.0 / std::sqrt(static_cast<double>(std::max<int64_t>(fan_in, 1)));
        t.uniform_(-bound, bound);
    }
}

template <typename Module>
void place(Module& m, const Placement& p) {
    randomize(*m);
    m->to(p.device, p.dtype);
    m->eval();
    for (auto& t : m->parameters())
        t.set_requires_grad(false);
}

std::shared_ptr<Components> random_components(bool sdxl, const Placement& p) {
    torch::NoGradGuard no_grad;
    auto c = std::make_shared<Components>();
    c->info.family = sdxl ? ModelFamily::SDXL : ModelFamily::SD15;
    c->info.name = sdxl ? "sdxl-random" : "sd15-random";
    c->device = p.device;
    c->dtype = p.dtype;
    c->force_zeros_for_empty_prompt = sdxl;
    c->tokenizer = synthetic_tokenizer(49408);
    c->text_encoder = ClipTextModel(ClipTextConfig::from_json(nlohmann::json::parse(kClipL)));
    place(c->text_encoder, p);
    if (sdxl) {
        c->tokenizer_2 = c->tokenizer;
        c->text_encoder_2 = ClipTextModel(ClipTextConfig::from_json(nlohmann::json::parse(kClipBigG)));
        place(c->text_encoder_2, p);
    }
    const nlohmann::json unet_cfg = nlohmann::json::parse(sdxl ? kSdxlUnet : kSd15Unet);
    c->unet = UNet2DConditionModel(UNetConfig::from_json(unet_cfg));
    place(c->unet, p);
    nlohmann::json vae_cfg = nlohmann::json::parse(kVae);
    if (sdxl) {
        vae_cfg["scaling_factor"] = 0.13025;
        vae_cfg["force_upcast"] = true;
    }
    const VaeConfig vae_config = VaeConfig::from_json(vae_cfg);
    c->vae_dtype = vae_dtype_for(vae_config, p);
    c->vae = AutoencoderKL(vae_config);
    place(c->vae, Placement{p.device, c->vae_dtype});
    c->scheduler_config = nlohmann::json::parse(sdxl ? kSdxlScheduler : kSd15Scheduler);
    fill_model_info(*c, unet_cfg, vae_config, p);
    return c;
}

size_t param_bytes(torch::nn::Module& m) {
    size_t n = 0;
    for (const auto& t : m.parameters())
        n += t.numel() * t.element_size();
    return n;
}

/// How long building the full-size modules takes (uninitialised, as the
/// loaders build them before the checkpoint's tensors arrive), and what
/// torch.nn's random initialisation — which the engine skips — would add.
int construct_only(const Options& o) {
    torch::NoGradGuard no_grad;
    auto ms_since = [](std::chrono::steady_clock::time_point t0) {
        return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    };
    for (const bool sdxl : {false, true}) {
        if ((sdxl && o.family == "sd15") || (!sdxl && o.family == "sdxl"))
            continue;
        const double rss0 = rss_mib();
        auto t0 = std::chrono::steady_clock::now();
        UNet2DConditionModel unet(UNetConfig::from_json(nlohmann::json::parse(sdxl ? kSdxlUnet : kSd15Unet)));
        AutoencoderKL vae(VaeConfig::from_json(nlohmann::json::parse(kVae)));
        ClipTextModel clip(ClipTextConfig::from_json(nlohmann::json::parse(kClipL)));
        std::optional<ClipTextModel> clip2;
        if (sdxl)
            clip2.emplace(ClipTextConfig::from_json(nlohmann::json::parse(kClipBigG)));
        const double build_ms = ms_since(t0);
        const double rss1 = rss_mib();
        t0 = std::chrono::steady_clock::now();
        randomize(*unet);
        randomize(*vae);
        randomize(*clip);
        if (clip2)
            randomize(**clip2);
        const double init_ms = ms_since(t0);
        const size_t bytes = param_bytes(*unet) + param_bytes(*vae) + param_bytes(*clip) +
                             (clip2 ? param_bytes(**clip2) : 0);
        std::printf("%s: build %.0f ms (RSS +%.0f MiB of %.0f MiB parameters); a random init "
                    "as torch::nn does would add %.0f ms\n",
                    sdxl ? "sdxl" : "sd15", build_ms, rss1 - rss0, bytes / 1048576.0, init_ms);
    }
    return 0;
}

std::shared_ptr<Components> fixture_components(const std::string& dir, const Placement& p) {
    LoadRequest r;
    r.path = dir;
    return load_diffusers_folder(r, p);
}

/// One family's rows.
nlohmann::json bench_family(const std::string& label, std::shared_ptr<Components> c, int runs) {
    torch::InferenceMode inference;
    const at::Device dev = c->device;
    const int size = c->info.default_width;
    const int64_t h = size / 8;
    StableDiffusion pipe(c);
    nlohmann::json row = {{"model", label}, {"size", size}};

    // UNet step, batch 2 (both CFG halves).
    {
        const int64_t ctx = c->unet->config().cross_attention_dim.at(0);
        at::Tensor x = torch::randn({2, 4, h, h}, torch::TensorOptions().device(dev).dtype(c->dtype));
        at::Tensor t = torch::full({2}, 500.0, torch::TensorOptions().device(dev));
        at::Tensor text = torch::randn({2, 77, ctx}, x.options());
        UNetAddedCond cond;
        if (c->info.family == ModelFamily::SDXL) {
            cond.text_embeds = torch::randn({2, c->text_encoder_2->config().projection_dim}, x.options());
            cond.time_ids = torch::tensor({double(size), double(size), 0.0, 0.0, double(size), double(size)},
                                          x.options()).repeat({2, 1});
        }
        UNet2DConditionModel unet = c->unet;
        row["unet_step_b2_ms"] = median_ms(dev, runs, [&] { unet->forward(x, t, text, cond); });
    }
    // VAE decode.
    {
        at::Tensor z = torch::randn({1, 4, h, h}, torch::TensorOptions().device(dev).dtype(c->vae_dtype));
        AutoencoderKL vae = c->vae;
        row["vae_decode_ms"] = median_ms(dev, runs, [&] { vae->decode(z); });
    }
    // txt2img 20 steps, CFG 7, prompt → decoded image.
    GenerationRequest req;
    req.prompt = "a photo of a red fox in the snow";
    req.steps = 20;
    req.guidance_scale = 7.0f;
    req.seed = 1;
    row["txt2img_20_ms"] = median_ms(dev, runs, [&] { pipe.generate(req, {}, nullptr); });

    // img2img strength 0.75 (15 of 20 steps); the wrapper's extra memory.
    {
        const double rss0 = rss_mib();
        size_t cuda0 = 0;
        (void)cuda0;
        pipe.img2img();
        row["img2img_wrapper_extra_mib"] = rss_mib() - rss0;
    }
    req.init_image = Image{size, size, std::vector<uint8_t>(size_t(size) * size * 3, 128)};
    req.width = req.height = size;
    req.strength = 0.75f;
    row["img2img_075_ms"] = median_ms(dev, runs, [&] { pipe.generate(req, {}, nullptr); });
    row["params_mib"] = (param_bytes(*c->unet) + param_bytes(*c->vae) + param_bytes(*c->text_encoder) +
                         (c->text_encoder_2 ? param_bytes(*c->text_encoder_2) : 0)) /
                        1048576.0;
    row["rss_mib"] = rss_mib();
    return row;
}

/// Load time of the UNet from a freshly written safetensors file.
double bench_load_ms(const std::shared_ptr<Components>& c, const Placement& p, int runs) {
    const fs::path dir = fs::temp_directory_path() / "daub-bench-unet";
    fs::create_directories(dir);
    std::map<std::string, at::Tensor> tensors;
    for (const auto& item : c->unet->named_parameters())
        tensors[item.key()] = item.value().to(at::kCPU, at::kHalf);
    write_safetensors((dir / "diffusion_pytorch_model.safetensors").string(), tensors);
    {
        std::ofstream cfg(dir / "config.json");
        cfg << (c->info.family == ModelFamily::SDXL ? kSdxlUnet : kSd15Unet);
    }
    const double ms = median_ms(p.device, runs, [&] { load_unet(dir.string(), {p.dtype, p.device}); });
    fs::remove_all(dir);
    return ms;
}

// ------------------------------------------------------------ checkpoint writer

/// How a tensor of a written checkpoint is filled.
enum class Fill {
    NormScale,   ///< GroupNorm / LayerNorm weight: 1 ± 0.1
    NormShift,   ///< their bias: ± 0.05
    Weight,      ///< Linear / Conv2d weight and bias: ± 1/sqrt(fan_in), as torch.nn draws them
    Embedding,   ///< token and position tables: N(0, 0.02²), as CLIP's init
    PositionIds, ///< the [1, T] int64 buffer 0..T-1 the original files carry
    LogitScale,  ///< OpenCLIP's scalar log(1/0.07)
};

struct FileTensor {
    std::vector<int64_t> shape;
    Fill fill = Fill::Weight;
    int64_t fan_in = 1;
    at::ScalarType dtype = at::kHalf;
};

/// Every parameter of `module` (diffusers / transformers names) with how to
/// fill it; Error when a parameter is not part of a daub::nn layer.
std::map<std::string, FileTensor> describe_parameters(torch::nn::Module& module) {
    std::map<std::string, FileTensor> out;
    for (const auto& item : module.named_modules("", /*include_self=*/false)) {
        torch::nn::Module* m = item.value().get();
        const std::string base = item.key() + ".";
        auto put = [&](const std::string& name, const at::Tensor& t, Fill fill, int64_t fan_in) {
            if (t.defined())
                out[base + name] = FileTensor{t.sizes().vec(), fill, std::max<int64_t>(fan_in, 1)};
        };
        if (auto* norm = dynamic_cast<nn::GroupNormImpl*>(m)) {
            put("weight", norm->weight, Fill::NormScale, 1);
            put("bias", norm->bias, Fill::NormShift, 1);
        } else if (auto* ln = dynamic_cast<nn::LayerNormImpl*>(m)) {
            put("weight", ln->weight, Fill::NormScale, 1);
            put("bias", ln->bias, Fill::NormShift, 1);
        } else if (auto* emb = dynamic_cast<nn::EmbeddingImpl*>(m)) {
            put("weight", emb->weight, Fill::Embedding, 1);
        } else if (auto* linear = dynamic_cast<nn::LinearImpl*>(m)) {
            const int64_t fan_in = linear->weight.size(1);
            put("weight", linear->weight, Fill::Weight, fan_in);
            put("bias", linear->bias, Fill::Weight, fan_in);
        } else if (auto* conv = dynamic_cast<nn::Conv2dImpl*>(m)) {
            const int64_t fan_in = conv->weight.numel() / conv->weight.size(0);
            put("weight", conv->weight, Fill::Weight, fan_in);
            put("bias", conv->bias, Fill::Weight, fan_in);
        }
    }
    for (const auto& item : module.named_parameters(/*recurse=*/true))
        if (!out.count(item.key()))
            throw Error("daub-bench cannot fill parameter '" + item.key() +
                        "' (not part of a daub::nn layer).");
    return out;
}

std::vector<std::string> split_key(const std::string& key) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (size_t dot; (dot = key.find('.', start)) != std::string::npos; start = dot + 1)
        parts.push_back(key.substr(start, dot - start));
    parts.push_back(key.substr(start));
    return parts;
}

std::string join_key(const std::vector<std::string>& parts, size_t from) {
    std::string out;
    for (size_t i = from; i < parts.size(); ++i)
        out += (i > from ? "." : "") + parts[i];
    return out;
}

[[noreturn]] void no_original_name(const std::string& key) {
    throw Error("daub-bench has no original-layout name for '" + key + "'.");
}

/// diffusers resnet sub-key -> LDM UNet ResBlock sub-key (the inverse of
/// loading/key_mapping_unet.cpp's renaming).
std::string ldm_resnet(const std::vector<std::string>& parts, size_t from, const std::string& key) {
    static const std::pair<const char*, const char*> names[] = {
        {"norm1", "in_layers.0"},   {"conv1", "in_layers.2"},   {"time_emb_proj", "emb_layers.1"},
        {"norm2", "out_layers.0"},  {"conv2", "out_layers.3"},  {"conv_shortcut", "skip_connection"}};
    for (const auto& [diffusers, ldm] : names)
        if (parts.size() == from + 2 && parts[from] == diffusers)
            return std::string(ldm) + "." + parts[from + 1];
    no_original_name(key);
}

/// A diffusers UNet key -> its LDM name (inverse of map_ldm_unet): N
/// resnets per down level; `up_attention` says which up levels have
/// transformers (their up-sampler then sits at index 2, else 1).
std::string ldm_unet_key(const std::string& key, int64_t n, const std::set<int64_t>& up_attention) {
    const auto p = split_key(key);
    auto at = [&](size_t i) -> const std::string& {
        if (i >= p.size())
            no_original_name(key);
        return p[i];
    };
    const std::string last = p.back();
    if (at(0) == "conv_in")
        return "input_blocks.0.0." + last;
    if (at(0) == "time_embedding")
        return std::string("time_embed.") + (at(1) == "linear_1" ? "0." : "2.") + last;
    if (at(0) == "add_embedding")
        return std::string("label_emb.0.") + (at(1) == "linear_1" ? "0." : "2.") + last;
    if (at(0) == "conv_norm_out")
        return "out.0." + last;
    if (at(0) == "conv_out")
        return "out.2." + last;
    if (at(0) == "mid_block") {
        if (at(1) == "resnets")
            return std::string("middle_block.") + (at(2) == "0" ? "0." : "2.") + ldm_resnet(p, 3, key);
        if (at(1) == "attentions")
            return "middle_block.1." + join_key(p, 3);
        no_original_name(key);
    }
    if (at(0) != "down_blocks" && at(0) != "up_blocks")
        no_original_name(key);
    const bool down = at(0) == "down_blocks";
    const int64_t level = std::stoll(at(1));
    const std::string& kind = at(2);
    const int64_t first = down ? 1 + level * (n + 1) : level * (n + 1);
    const std::string block = down ? "input_blocks." : "output_blocks.";
    if (kind == "resnets")
        return block + std::to_string(first + std::stoll(at(3))) + ".0." + ldm_resnet(p, 4, key);
    if (kind == "attentions")
        return block + std::to_string(first + std::stoll(at(3))) + ".1." + join_key(p, 4);
    if (kind == "downsamplers")
        return block + std::to_string(first + n) + ".0.op." + last;
    if (kind == "upsamplers")
        return block + std::to_string(first + n) + (up_attention.count(level) ? ".2" : ".1") +
               ".conv." + last;
    no_original_name(key);
}

/// A diffusers AutoencoderKL key -> its LDM name (inverse of map_ldm_vae);
/// `squeezed`: the key is a mid-block attention projection, stored in the
/// original layout as a 1x1 convolution.
std::string ldm_vae_key(const std::string& key, int64_t levels, bool& squeezed) {
    const auto p = split_key(key);
    squeezed = false;
    if (p.size() == 2)
        return key; // quant_conv, post_quant_conv
    const std::string side = p[0] + ".";
    auto resnet = [&](size_t from) -> std::string {
        if (p.size() != from + 2)
            no_original_name(key);
        return (p[from] == "conv_shortcut" ? std::string("nin_shortcut") : p[from]) + "." +
               p[from + 1];
    };
    if (p.size() == 3 && (p[1] == "conv_in" || p[1] == "conv_out"))
        return key;
    if (p.size() == 3 && p[1] == "conv_norm_out")
        return side + "norm_out." + p[2];
    if (p[1] == "mid_block" && p.size() > 4) {
        if (p[2] == "resnets")
            return side + "mid.block_" + (p[3] == "0" ? "1." : "2.") + resnet(4);
        const std::string& layer = p[4];
        std::string name = layer == "group_norm" ? "norm"
                           : layer == "to_q"     ? "q"
                           : layer == "to_k"     ? "k"
                           : layer == "to_v"     ? "v"
                           : layer == "to_out"   ? "proj_out"
                                                 : "";
        if (name.empty())
            no_original_name(key);
        squeezed = name != "norm" && p.back() == "weight";
        return side + "mid.attn_1." + name + "." + p.back();
    }
    if (p.size() > 4 && (p[1] == "down_blocks" || p[1] == "up_blocks")) {
        const bool down = p[1] == "down_blocks";
        const int64_t level = down ? std::stoll(p[2]) : levels - 1 - std::stoll(p[2]);
        const std::string block = side + (down ? "down." : "up.") + std::to_string(level) + ".";
        if (p[3] == "resnets")
            return block + "block." + p[4] + "." + resnet(5);
        if (p[3] == "downsamplers" || p[3] == "upsamplers")
            return block + (down ? "downsample" : "upsample") + ".conv." + p.back();
    }
    no_original_name(key);
}

/// A transformers CLIPTextModelWithProjection key -> OpenCLIP's name (inverse
/// of map_open_clip_text); `part`: which third of the fused in_proj it is
/// (-1 when not fused).
std::string open_clip_key(const std::string& key, int& part) {
    part = -1;
    if (key == "text_model.embeddings.token_embedding.weight")
        return "token_embedding.weight";
    if (key == "text_model.embeddings.position_embedding.weight")
        return "positional_embedding";
    if (key == "text_projection.weight")
        return "text_projection";
    const auto p = split_key(key);
    if (p.size() == 3 && p[1] == "final_layer_norm")
        return "ln_final." + p[2];
    if (p.size() < 6 || p[1] != "encoder" || p[2] != "layers")
        no_original_name(key);
    const std::string layer = "transformer.resblocks." + p[3] + ".";
    const std::string sub = join_key(p, 4);
    static const std::pair<const char*, const char*> names[] = {
        {"self_attn.out_proj.", "attn.out_proj."},
        {"layer_norm1.", "ln_1."},
        {"layer_norm2.", "ln_2."},
        {"mlp.fc1.", "mlp.c_fc."},
        {"mlp.fc2.", "mlp.c_proj."}};
    for (const auto& [from, to] : names)
        if (sub.rfind(from, 0) == 0)
            return layer + to + sub.substr(std::strlen(from));
    static const char* qkv[] = {"self_attn.q_proj.", "self_attn.k_proj.", "self_attn.v_proj."};
    for (int i = 0; i < 3; ++i)
        if (sub.rfind(qkv[i], 0) == 0) {
            part = i;
            return layer + "attn.in_proj_" + sub.substr(std::strlen(qkv[i]));
        }
    no_original_name(key);
}

/// Every tensor of a full-size original-layout checkpoint, by its name in the file.
std::map<std::string, FileTensor> checkpoint_layout(bool sdxl) {
    std::map<std::string, FileTensor> file;
    auto add = [&](const std::string& key, FileTensor t) {
        if (!file.emplace(key, std::move(t)).second)
            throw Error("daub-bench would write '" + key + "' twice.");
    };

    const UNetConfig unet_config =
        UNetConfig::from_json(nlohmann::json::parse(sdxl ? kSdxlUnet : kSd15Unet));
    const int64_t n = unet_config.layers_per_block.at(0);
    UNet2DConditionModel unet(unet_config);
    const auto unet_params = describe_parameters(*unet);
    std::set<int64_t> up_attention;
    for (const auto& [key, t] : unet_params) {
        const auto p = split_key(key);
        if (p[0] == "up_blocks" && p[2] == "attentions")
            up_attention.insert(std::stoll(p[1]));
    }
    for (const auto& [key, t] : unet_params)
        add("model.diffusion_model." + ldm_unet_key(key, n, up_attention), t);

    nlohmann::json vae_json = nlohmann::json::parse(kVae);
    AutoencoderKL vae(VaeConfig::from_json(vae_json));
    const auto levels = static_cast<int64_t>(vae->config().block_out_channels.size());
    for (auto [key, t] : describe_parameters(*vae)) {
        bool squeezed = false;
        const std::string name = ldm_vae_key(key, levels, squeezed);
        if (squeezed)
            t.shape = {t.shape.at(0), t.shape.at(1), 1, 1};
        add("first_stage_model." + name, t);
    }

    ClipTextModel clip(ClipTextConfig::from_json(nlohmann::json::parse(kClipL)));
    const std::string clip_prefix =
        sdxl ? "conditioner.embedders.0.transformer." : "cond_stage_model.transformer.";
    for (const auto& [key, t] : describe_parameters(*clip))
        add(clip_prefix + key, t);
    add(clip_prefix + "text_model.embeddings.position_ids",
        FileTensor{{1, clip->config().max_position_embeddings}, Fill::PositionIds, 1, at::kLong});

    if (sdxl) {
        ClipTextModel big_g(ClipTextConfig::from_json(nlohmann::json::parse(kClipBigG)));
        const std::string prefix = "conditioner.embedders.1.model.";
        for (const auto& [key, t] : describe_parameters(*big_g)) {
            int part = -1;
            const std::string name = prefix + open_clip_key(key, part);
            if (part < 0) {
                FileTensor stored = t;
                if (name == prefix + "text_projection")
                    stored.shape = {t.shape.at(1), t.shape.at(0)}; // OpenCLIP stores x @ W
                add(name, stored);
            } else if (part == 0) { // q, k and v rows in one tensor
                FileTensor fused = t;
                fused.shape.at(0) *= 3;
                add(name, fused);
            }
        }
        add(prefix + "logit_scale", FileTensor{{}, Fill::LogitScale, 1, at::kHalf});
    }
    return file;
}

at::Tensor fill_tensor(const FileTensor& t) {
    const auto f32 = at::TensorOptions().dtype(at::kFloat);
    at::Tensor v;
    switch (t.fill) {
    case Fill::NormScale:
        v = torch::empty(t.shape, f32).uniform_(0.9, 1.1);
        break;
    case Fill::NormShift:
        v = torch::empty(t.shape, f32).uniform_(-0.05, 0.05);
        break;
    case Fill::Weight: {
        const double bound = 1.0 / std::sqrt(static_cast<double>(t.fan_in));
        v = torch::empty(t.shape, f32).uniform_(-bound, bound);
        break;
    }
    case Fill::Embedding:
        v = torch::randn(t.shape, f32) * 0.02;
        break;
    case Fill::PositionIds:
        return torch::arange(t.shape.back(), at::TensorOptions().dtype(at::kLong)).reshape(t.shape);
    case Fill::LogitScale:
        v = torch::full(t.shape, std::log(1.0 / 0.07), f32);
        break;
    }
    return v.to(t.dtype);
}

/// Opens the written file as the engine does and checks that each
/// component's tensors are exactly its module's parameters, shape for shape.
void check_written_checkpoint(const std::string& path, bool sdxl) {
    const auto ckpt = Checkpoint::open(path);
    if ((ckpt->layout() == CheckpointLayout::SDXL_SGM) != sdxl)
        throw Error(path + " was detected as " + to_string(ckpt->layout()) + ".");
    const CheckpointConfigs cfg = ckpt->configs();
    auto same = [&](const char* what, torch::nn::Module& module, const WeightSource& source) {
        size_t count = 0;
        for (const auto& item : module.named_parameters(/*recurse=*/true)) {
            if (!source.contains(item.key()) || source.shape(item.key()) != item.value().sizes().vec())
                throw Error(path + ": the " + what + " tensor '" + item.key() +
                            "' is missing or has another shape.");
            ++count;
        }
        if (count != source.keys().size())
            throw Error(path + ": the " + what + " has " + std::to_string(source.keys().size()) +
                        " tensors, its module " + std::to_string(count) + ".");
        std::printf("  %-15s %5zu tensors, as the engine's module\n", what, count);
    };
    UNet2DConditionModel unet(UNetConfig::from_json(cfg.unet));
    same("UNet", *unet, *ckpt->unet());
    AutoencoderKL vae(VaeConfig::from_json(cfg.vae));
    same("VAE", *vae, *ckpt->vae());
    ClipTextModel clip(ClipTextConfig::from_json(cfg.text_encoder));
    same("text encoder", *clip, *ckpt->text_encoder());
    if (sdxl) {
        ClipTextModel big_g(ClipTextConfig::from_json(cfg.text_encoder_2));
        same("text encoder 2", *big_g, *ckpt->text_encoder_2());
    }
}

int write_checkpoint(const Options& o) {
    if (o.family != "sd15" && o.family != "sdxl")
        throw RequestError("--write-checkpoint needs --family sd15 or --family sdxl.");
    const bool sdxl = o.family == "sdxl";
    torch::NoGradGuard no_grad;
    torch::manual_seed(o.seed);
    const auto t0 = std::chrono::steady_clock::now();
    const std::map<std::string, FileTensor> layout = checkpoint_layout(sdxl);
    std::vector<StTensorSpec> specs;
    std::vector<const FileTensor*> tensors;
    uint64_t bytes = 0;
    for (const auto& [key, t] : layout) {
        specs.push_back({key, t.dtype, t.shape});
        tensors.push_back(&t);
        int64_t numel = 1;
        for (const int64_t d : t.shape)
            numel *= d;
        bytes += static_cast<uint64_t>(numel) * c10::elementSize(t.dtype);
    }
    write_safetensors(
        o.write_checkpoint, specs, [&](size_t i) { return fill_tensor(*tensors[i]); },
        {{"format", "pt"}});
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s: %s, %zu tensors, %.2f GiB of tensors, written in %.1f s\n",
                o.write_checkpoint.c_str(), sdxl ? "SDXL (SGM layout)" : "SD 1.5 (LDM layout)",
                specs.size(), bytes / 1073741824.0, seconds);
    check_written_checkpoint(o.write_checkpoint, sdxl);
    return 0;
}

// ------------------------------------------------------------ golden check

int check_goldens(const Options& o, const Placement& p) {
    const auto cases = pipeline_golden_names(o.fixtures);
    std::map<std::string, std::unique_ptr<StableDiffusion>> models;
    int failures = 0;
    const bool exact = p.dtype == at::kFloat;
    for (const auto& name : cases) {
        const GoldenCase c = read_golden_case(o.fixtures, name);
        if (!models.count(c.model))
            models[c.model] = std::make_unique<StableDiffusion>(
                fixture_components((fs::path(o.fixtures) / c.model).string(), p));
        const GenerationResult r = models[c.model]->generate(c.request, {}, nullptr);
        const GoldenDiff d = compare_with_golden(o.fixtures, name, r.image);
        const bool ok = d.same_size && (exact ? d.max_u8 <= 2 : d.rel_l2 <= 2e-2);
        failures += ok ? 0 : 1;
        std::printf("%-34s max|u8| %3d  rel L2 %.2e  %s\n", name.c_str(), d.max_u8, d.rel_l2,
                    ok ? "ok" : "FAIL");
    }
    std::printf("%s: %zu goldens on %s %s, %d failed\n", failures ? "FAIL" : "ok", cases.size(),
                p.device.str().c_str(), exact ? "fp32" : "fp16/bf16", failures);
    return failures ? 1 : 0;
}

void print_table(const nlohmann::json& rows) {
    std::printf("%-14s %6s %12s %10s %12s %12s %10s %10s\n", "model", "size", "unet b2 ms",
                "vae ms", "txt2img ms", "img2img ms", "load ms", "i2i +MiB");
    for (const auto& r : rows)
        std::printf("%-14s %6d %12.2f %10.2f %12.1f %12.1f %10.1f %10.2f\n",
                    r["model"].get<std::string>().c_str(), r["size"].get<int>(),
                    r["unet_step_b2_ms"].get<double>(), r["vae_decode_ms"].get<double>(),
                    r["txt2img_20_ms"].get<double>(), r["img2img_075_ms"].get<double>(),
                    r["unet_load_ms"].get<double>(), r["img2img_wrapper_extra_mib"].get<double>());
}

} // namespace

int main(int argc, char** argv) {
    Options o;
    try {
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            auto value = [&]() -> std::string {
                if (i + 1 >= argc)
                    throw RequestError(a + " needs a value.");
                return argv[++i];
            };
            if (a == "--device") o.device = value();
            else if (a == "--dtype") o.dtype = value();
            else if (a == "--family") o.family = value();
            else if (a == "--fixtures") o.fixtures = value();
            else if (a == "--runs") o.runs = std::max(1, std::stoi(value()));
            else if (a == "--tiny") o.tiny = true;
            else if (a == "--check-goldens") o.check_goldens = true;
            else if (a == "--construct-only") o.construct_only = true;
            else if (a == "--write-checkpoint") o.write_checkpoint = value();
            else if (a == "--seed") o.seed = std::stoull(value());
            else if (a == "-h" || a == "--help") {
                std::puts("usage: daub-bench [--device cpu|cuda] [--dtype fp32|fp16|bf16] [--runs N]\n"
                          "                  [--family sd15|sdxl|all] [--tiny --fixtures DIR]\n"
                          "                  [--check-goldens --fixtures DIR] [--construct-only]\n"
                          "                  [--write-checkpoint FILE --family sd15|sdxl [--seed N]]");
                return 0;
            } else
                throw RequestError("unknown option '" + a + "'.");
        }
        if ((o.tiny || o.check_goldens) && o.fixtures.empty())
            throw RequestError("--tiny and --check-goldens need --fixtures DIR.");
        init_runtime();
        if (!o.write_checkpoint.empty())
            return write_checkpoint(o);
        const Placement p = resolve_placement(o.device, o.dtype);
        if (o.check_goldens)
            return check_goldens(o, p);
        if (o.construct_only)
            return construct_only(o);

        nlohmann::json rows = nlohmann::json::array();
        for (const bool sdxl : {false, true}) {
            if ((sdxl && o.family == "sd15") || (!sdxl && o.family == "sdxl"))
                continue;
            const std::string label = std::string(sdxl ? "sdxl" : "sd15") + (o.tiny ? "-tiny" : "");
            auto c = o.tiny ? fixture_components(
                                  (fs::path(o.fixtures) / (sdxl ? "tiny-sdxl" : "tiny-sd15")).string(), p)
                            : random_components(sdxl, p);
            nlohmann::json row = bench_family(label, c, o.runs);
            row["unet_load_ms"] = bench_load_ms(c, p, std::min(o.runs, 3));
            row["device"] = p.device.str();
            row["dtype"] = c->info.dtype;
            rows.push_back(row);
        }
        print_table(rows);
        std::cout << nlohmann::json({{"daub_bench", rows}}).dump() << std::endl;
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "daub-bench: %s\n", e.what());
        return 1;
    }
}
