// The SD 1.5 / SDXL txt2img and img2img pipelines. The call bodies follow
// diffusers' pipeline_stable_diffusion(_img2img).py and
// pipeline_stable_diffusion_xl(_img2img).py step by step.
#include "pipelines/stable_diffusion.h"

#include "core/errors.h"
#include "core/image_tensor.h"
#include "core/layers.h"
#include "metadata/img2img_steps.h"
#include "pipelines/prompt_chunks.h"
#include "pipelines/prompt_encoder.h"
#include "schedulers/scheduler.h"
#include "schedulers/scheduler_factory.h"

#include <torch/torch.h>

#include <algorithm>

#include <chrono>
#include <cmath>

namespace daub {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

/// The scheduler a request asks for, configured as diffusers'
/// `Class.from_config(model config)` plus the SD pipelines' forced keys.
std::unique_ptr<Scheduler> scheduler_for(const Components& c, const std::string& name) {
    nlohmann::json overrides = {{"clip_sample", false}, {"steps_offset", 1}};
    return make_scheduler(name, c.scheduler_config, overrides);
}

/// SDXL's added conditioning for a batch of `batch`: time ids
/// (orig H, orig W, crop top, crop left, target H, target W).
UNetAddedCond added_cond(const Components& c, const TextConditioning& text, int orig_h,
                         int orig_w, int h, int w) {
    UNetAddedCond cond;
    if (c.info.family != ModelFamily::SDXL)
        return cond;
    const int64_t batch = text.embeds.size(0);
    cond.text_embeds = text.pooled;
    cond.time_ids = torch::tensor({static_cast<double>(orig_h), static_cast<double>(orig_w), 0.0,
                                   0.0, static_cast<double>(h), static_cast<double>(w)},
                                  torch::TensorOptions().dtype(c.dtype))
                        .to(c.device)
                        .unsqueeze(0)
                        .repeat({batch, 1}); // [B, 6]
    return cond;
}

/// The denoising loop shared by both pipelines: `timesteps` from the
/// scheduler's begin index on; `steps` is how many denoising steps they
/// make (fewer than timesteps for PNDM and Heun).
at::Tensor denoise(const Components& c, Scheduler& scheduler, at::Tensor latents,
                   const TextConditioning& text, const UNetAddedCond& cond,
                   const ResolvedRequest& r, NoiseSource& noise, const ProgressFn& progress,
                   const CancelToken* cancel, Timings& timings, Clock::time_point t_start,
                   int steps) {
    const std::vector<double>& all = scheduler.timestep_values();
    const std::vector<double> timesteps(all.begin() + scheduler.begin_index().value_or(0), all.end());
    const float g = r.request->guidance_scale;
    auto draw = [&](at::IntArrayRef shape) {
        return noise.draw(shape).to(latents.device(), latents.scalar_type());
    };
    const int total = static_cast<int>(timesteps.size());
    for (int i = 0; i < total; ++i) {
        if (cancel && cancel->cancelled())
            throw CancelledError();
        const auto t_step = Clock::now();
        const double t = timesteps[i];
        at::Tensor input = r.guidance ? torch::cat({latents, latents}, 0) : latents; // [B, 4, h, w]
        input = scheduler.scale_model_input(input, t);
        at::Tensor timestep =
            torch::full({input.size(0)}, t, torch::TensorOptions().dtype(torch::kFloat).device(c.device));
        UNet2DConditionModel unet = c.unet; // holders are shared pointers
        at::Tensor eps = unet->forward(input.to(c.dtype), timestep, text.embeds, cond)
                             .to(latents.scalar_type());
        if (r.guidance) {
            auto halves = eps.chunk(2, 0);
            eps = halves[0] + g * (halves[1] - halves[0]);
        }
        latents = scheduler.step(eps, t, latents, draw);
        timings.step_ms.push_back(ms_since(t_step));
        if (progress) {
            Progress p;
            // In denoising steps, not model evaluations: PNDM's warm-up and
            // Heun's second evaluation fall inside a step.
            p.step = std::clamp(((i + 1) * steps + total / 2) / total, 1, steps);
            p.total = steps;
            p.latents = &latents;
            p.elapsed_ms = ms_since(t_start);
            progress(p);
        }
    }
    return latents;
}

/// latents → RGB8: decoded = vae.decode(latents / scaling_factor),
/// image = clamp(decoded / 2 + 0.5, 0, 1), u8 = round(image · 255).
Image decode_latents(const Components& c, const at::Tensor& latents, Timings& timings) {
    const auto t0 = Clock::now();
    nn::release_cached_memory(); // the UNet's buffers: not part of the VAE's peak
    at::Tensor z = latents.to(c.vae_dtype) / c.vae->scaling_factor();
    AutoencoderKL vae = c.vae;
    at::Tensor decoded = vae->decode(z).to(torch::kFloat);            // [1, 3, H, W]
    at::Tensor image = (decoded / 2 + 0.5).clamp(0, 1);
    Image out = tensor_to_image(image);
    timings.vae_decode_ms = ms_since(t0);
    return out;
}

GenerationResult finish(const ResolvedRequest& r, Image image, int steps_run, Timings timings,
                        Clock::time_point t_start) {
    GenerationResult result;
    result.image = std::move(image);
    result.seed = r.seed;
    result.steps_run = steps_run;
    result.width = r.width;
    result.height = r.height;
    result.scheduler = r.scheduler;
    timings.total_ms = ms_since(t_start);
    result.timings = std::move(timings);
    return result;
}

} // namespace

void check_superres(const GenerationRequest& request, int width, int height) {
    const int level = request.superres_level;
    if (level == 0) {
        if (request.refine_strength)
            throw RequestError("Refining needs super-resolution: set the upscale level to 2 or 4.");
        return;
    }
    if (level != 2 && level != 4)
        throw RequestError("The super-resolution level must be 2 or 4 (got " +
                           std::to_string(level) + ").");
    if (!request.upscaler)
        throw RequestError("Super-resolution needs an upscaler model (a Real-ESRGAN .pth or "
                           ".safetensors file).");
    UpscaleOptions options = request.upscale_options;
    options.level = level;
    request.upscaler->check(width, height, options); // sizes and tile options
    if (!request.refine_strength)
        return;
    const int64_t w = int64_t{width} * level, h = int64_t{height} * level;
    const float s = *request.refine_strength;
    if (!(s >= 0.01f && s <= 1.0f))
        throw RequestError("The refine strength must be between 0.01 and 1 (got " +
                           std::to_string(s) + ").");
    if (w > 4096 || h > 4096)
        throw RequestError("Refining works up to 4096 pixels a side, and " +
                           std::to_string(width) + "×" + std::to_string(height) + " upscaled ×" +
                           std::to_string(level) + " is " + std::to_string(w) + "×" +
                           std::to_string(h) + "; lower the size or the level, or upscale without "
                                               "refining.");
}


// ---------------------------------------------------------------- Txt2Img

Txt2Img::Txt2Img(std::shared_ptr<const Components> components)
    : components_(std::move(components)) {}

GenerationResult Txt2Img::run(const ResolvedRequest& r, NoiseSource& noise,
                              const ProgressFn& progress, const CancelToken* cancel) const {
    const CancelScope cancel_scope(cancel); // checked inside the networks too
    torch::InferenceMode inference;
    const Components& c = *components_;
    const auto t_start = Clock::now();
    Timings timings;

    // 1. Encode the prompt.
    auto t0 = Clock::now();
    TextConditioning text = encode_prompt(c, r.request->prompt, r.request->negative_prompt,
                                          r.guidance, r.request->clip_skip);
    timings.text_encode_ms = ms_since(t0);

    // 2. Timesteps.
    auto scheduler = scheduler_for(c, r.scheduler);
    scheduler->set_timesteps(r.request->steps);

    // 3. Initial latents: noise · init_noise_sigma (noise_0).
    const int64_t h = r.height / 8, w = r.width / 8;
    at::Tensor latents = noise.draw({1, 4, h, w}).to(c.device) * scheduler->init_noise_sigma();

    // 4. Denoise.
    UNetAddedCond cond = added_cond(c, text, r.height, r.width, r.height, r.width);
    latents = denoise(c, *scheduler, latents, text, cond, r, noise, progress, cancel, timings,
                      t_start, r.request->steps);

    // 5. Decode.
    Image image = decode_latents(c, latents, timings);
    return finish(r, std::move(image), r.request->steps, std::move(timings), t_start);
}

// ---------------------------------------------------------------- Img2Img

Img2Img::Img2Img(const Txt2Img& txt2img) : components_(txt2img.shared_components()) {}

int Img2Img::kept_steps(int steps, float strength) {
    if (!(strength >= 0.01f && strength <= 1.0f))
        throw RequestError("Denoise strength must be between 0.01 and 1 (got " +
                           std::to_string(strength) + ").");
    return img2img_steps(steps, strength);
}

GenerationResult Img2Img::run(const ResolvedRequest& r, NoiseSource& noise,
                              const ProgressFn& progress, const CancelToken* cancel) const {
    const CancelScope cancel_scope(cancel); // checked inside the networks too
    torch::InferenceMode inference;
    const Components& c = *components_;
    const GenerationRequest& req = *r.request;
    const auto t_start = Clock::now();
    Timings timings;

    // 1. Check inputs.
    const int kept = kept_steps(req.steps, req.strength);
    const Image& init = *req.init_image;
    if (init.empty())
        throw RequestError("The init image is empty.");

    // 2. Encode the prompt.
    auto t0 = Clock::now();
    TextConditioning text =
        encode_prompt(c, req.prompt, req.negative_prompt, r.guidance, req.clip_skip);
    timings.text_encode_ms = ms_since(t0);

    // 3. Timesteps: skip the first steps − kept (× order); begin index there.
    auto scheduler = scheduler_for(c, r.scheduler);
    scheduler->set_timesteps(req.steps);
    const int t_start_index = (req.steps - kept) * scheduler->order();
    scheduler->set_begin_index(t_start_index);
    if (t_start_index >= static_cast<int>(scheduler->timestep_values().size()))
        throw RequestError("No timestep is left to run for this strength.");
    const double first_t = scheduler->timestep_values()[t_start_index];

    // 4. Prepare latents: encode the resized image (noise_0 samples the
    //    posterior), scale, then add noise_1 at the first kept timestep.
    t0 = Clock::now();
    const Image sized = (init.width == r.width && init.height == r.height)
                            ? init
                            : resize_image(init, r.width, r.height, req.resize);
    at::Tensor pixels = image_to_tensor(sized).to(c.device, c.vae_dtype); // [1, 3, H, W] in [-1, 1]
    AutoencoderKL vae = c.vae;
    VaePosterior posterior = vae->encode(pixels);
    at::Tensor eps0 = noise.draw(posterior.mean.sizes()).to(c.device, c.vae_dtype);
    at::Tensor latents = posterior.sample(eps0) * c.vae->scaling_factor();
    latents = latents.to(torch::kFloat);
    at::Tensor eps1 = noise.draw(latents.sizes()).to(c.device);
    latents = scheduler->add_noise(latents, eps1, first_t);
    timings.load_init_ms = ms_since(t0);

    // 5. Denoise.
    UNetAddedCond cond = added_cond(c, text, init.height, init.width, r.height, r.width);
    latents = denoise(c, *scheduler, latents, text, cond, r, noise, progress, cancel, timings,
                      t_start, kept);

    // 6. Decode.
    Image image = decode_latents(c, latents, timings);
    return finish(r, std::move(image), kept, std::move(timings), t_start);
}

// ---------------------------------------------------------- StableDiffusion

StableDiffusion::StableDiffusion(std::shared_ptr<const Components> components)
    : components_(components), txt2img_(std::move(components)) {}

PromptTokenCount StableDiffusion::count_tokens(const std::string& prompt) const {
    return token_counter()(prompt);
}

PromptTokenCounter StableDiffusion::token_counter() const {
    // Reads only immutable state: the tokenizer's word cache has its own mutex.
    return [tokenizer = components_->tokenizer](const std::string& prompt) {
        const int tokens = count_prompt_tokens(*tokenizer, prompt);
        return PromptTokenCount{tokens, prompt_token_limit(tokens)};
    };
}

const Img2Img& StableDiffusion::img2img() {
    if (!img2img_)
        img2img_ = std::make_unique<Img2Img>(txt2img_);
    return *img2img_;
}

ResolvedRequest StableDiffusion::resolve(const GenerationRequest& request) const {
    const ModelInfo& info = components_->info;
    ResolvedRequest r;
    r.request = &request;
    r.width = request.width > 0 ? request.width : info.default_width;
    r.height = request.height > 0 ? request.height : info.default_height;
    if (request.width < 0 || request.height < 0 || r.width % 8 || r.height % 8)
        throw RequestError("Width and height must be positive multiples of 8 (got " +
                           std::to_string(r.width) + "×" + std::to_string(r.height) + ").");
    if (r.width > 4096 || r.height > 4096)
        throw RequestError("Width and height can be at most 4096 pixels.");
    if (request.steps < 1 || request.steps > 1000)
        throw RequestError("Steps must be between 1 and 1000 (got " +
                           std::to_string(request.steps) + ").");
    if (!std::isfinite(request.guidance_scale) || request.guidance_scale < 0 ||
        request.guidance_scale > 100)
        throw RequestError("The guidance scale (CFG) must be between 0 and 100.");
    if (request.seed < -1)
        throw RequestError("The seed must be -1 (random) or a non-negative number.");
    r.seed = request.seed == -1 ? random_seed() : request.seed;
    r.scheduler = request.scheduler.empty() ? info.default_scheduler : request.scheduler;
    bool known = false;
    for (const auto& n : scheduler_names())
        known = known || n == r.scheduler;
    if (!known)
        throw RequestError("Unknown sampler '" + r.scheduler +
                           "'; choose one of pndm, ddim, euler, euler_a, dpmpp_2m, "
                           "dpmpp_2m_karras, lms, heun.");
    r.guidance = request.guidance_scale > 1.0f;
    if (request.init_image)
        Img2Img::kept_steps(request.steps, request.strength); // range check up front
    check_superres(request, r.width, r.height);
    return r;
}

GenerationResult StableDiffusion::generate(const GenerationRequest& request,
                                           const ProgressFn& on_progress,
                                           const CancelToken* cancel) {
    const CancelScope cancel_scope(cancel); // checked inside the networks too
    const ResolvedRequest r = resolve(request);
    std::unique_ptr<NoiseSource> noise =
        request.replay_noise_path.empty() ? make_seeded_noise(static_cast<uint64_t>(r.seed))
                                          : make_replayed_noise(request.replay_noise_path);
    GenerationResult result = request.init_image ? img2img().run(r, *noise, on_progress, cancel)
                                                 : txt2img_.run(r, *noise, on_progress, cancel);
    if (request.superres_level > 0)
        upscale_and_refine(request, result, on_progress, cancel);
    return result;
}

void StableDiffusion::upscale_and_refine(const GenerationRequest& request,
                                         GenerationResult& result, const ProgressFn& on_progress,
                                         const CancelToken* cancel) {
    const auto t_start = Clock::now();
    const Upscaler& upscaler = *request.upscaler;
    UpscaleReport report;
    report.upscaler = upscaler.name();
    report.level = request.superres_level;
    report.method = upscaler.method(report.level);
    report.base_width = result.image.width;
    report.base_height = result.image.height;

    // 1. Upscale, reported as its own phase (one call per tile).
    UpscaleOptions options = request.upscale_options;
    options.level = report.level;
    Image image = upscaler.upscale(
        result.image, options,
        [&](const UpscaleProgress& u) {
            if (!on_progress)
                return;
            Progress p;
            p.phase = Progress::Phase::Upscale;
            p.step = u.tile;
            p.total = u.total;
            p.elapsed_ms = ms_since(t_start);
            on_progress(p);
        },
        cancel);
    result.timings.upscale_ms = ms_since(t_start);

    // 2. Refine: the img2img pipeline (shared components) on the upscaled
    //    image at its size, with the same prompt, sampler, steps and seed.
    if (request.refine_strength) {
        const auto t_refine = Clock::now();
        GenerationRequest refine = request;
        refine.width = image.width;
        refine.height = image.height;
        refine.init_image = std::move(image);
        refine.strength = *request.refine_strength;
        refine.resize = ResizeMode::Stretch; // same size: no resize happens
        refine.seed = result.seed;
        refine.replay_noise_path.clear();
        refine.upscaler.reset();
        refine.superres_level = 0;
        refine.refine_strength.reset();
        const ResolvedRequest rr = resolve(refine);
        std::unique_ptr<NoiseSource> noise = make_seeded_noise(static_cast<uint64_t>(rr.seed));
        ProgressFn refine_progress;
        if (on_progress)
            refine_progress = [&](const Progress& step) {
                Progress p = step;
                p.phase = Progress::Phase::Refine;
                on_progress(p);
            };
        GenerationResult refined = img2img().run(rr, *noise, refine_progress, cancel);
        image = std::move(refined.image);
        report.refine_strength = refine.strength;
        report.refine_steps_run = refined.steps_run;
        result.timings.refine_ms = ms_since(t_refine);
    }

    result.image = std::move(image);
    result.width = result.image.width;
    result.height = result.image.height;
    result.upscale = std::move(report);
    result.timings.total_ms += ms_since(t_start);
}

Image StableDiffusion::preview(const at::Tensor& latents) const {
    // Linear latent → RGB approximations (the same factors A1111 and ComfyUI
    // use for their fast previews), then [-1, 1] → [0, 1].
    static const float sd15[4][3] = {
        {0.298f, 0.207f, 0.208f}, {0.187f, 0.286f, 0.173f}, {-0.158f, 0.189f, 0.264f},
        {-0.184f, -0.271f, -0.473f}};
    static const float sdxl[4][3] = {
        {0.3651f, 0.4232f, 0.4341f}, {-0.2533f, -0.0042f, 0.1068f}, {0.1076f, 0.1111f, -0.0362f},
        {-0.3165f, -0.2492f, -0.2188f}};
    const auto& m = components_->info.family == ModelFamily::SDXL ? sdxl : sd15;
    torch::InferenceMode inference;
    at::Tensor factors = torch::from_blob(const_cast<float*>(&m[0][0]), {4, 3}).clone();
    at::Tensor z = latents.detach()[0].to(torch::kCPU, torch::kFloat);   // [4, h, w]
    at::Tensor rgb = torch::einsum("chw,cr->rhw", {z, factors});          // [3, h, w]
    return tensor_to_image(((rgb + 1) / 2).clamp(0, 1).unsqueeze(0));
}

const char* to_string(ModelFamily family) {
    return family == ModelFamily::SDXL ? "SDXL" : "SD 1.5";
}

} // namespace daub
