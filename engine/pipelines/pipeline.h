// The engine's public API: load a model, generate images, unload.
//
//   daub::init_runtime();
//   auto pipe = daub::Pipeline::load({.path = "models/sd15"});   // folder or .safetensors
//   daub::GenerationRequest req;
//   req.prompt = "a red fox in the snow";
//   auto result = pipe->generate(req, [](const daub::Progress& p) { ... }, &cancel);
//   daub::write_png_file("fox.png", result.image);
//
// Thread safety: a Pipeline is used by one thread at a time (the app's
// engine thread). `CancelToken::cancel()` may be called from any thread;
// the loop checks it between steps, and the networks inside each step (the
// text encoders' layers, the UNet's and the VAE's blocks, VAE tiles:
// generate() installs it as the thread's CancelScope), and throws
// CancelledError, after which the pipeline is ready for the next job.
//
// Errors are typed exceptions from core/errors.h, each with one sentence.
#pragma once

#include "core/cancel.h"
#include "core/image.h"
#include "upscale/upscaler.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace at {
class Tensor;
}

namespace daub {

enum class ModelFamily { SD15, SDXL };
const char* to_string(ModelFamily family);

/// How far a model load is: bytes of weights loaded of all it loads
/// (counted as loaded, i.e. in the dtype they are loaded in).
struct LoadProgress {
    int64_t bytes_done = 0;  ///< grows with every tensor; ends equal to bytes_total
    int64_t bytes_total = 0; ///< known before the first tensor is read
};
using LoadProgressFn = std::function<void(const LoadProgress&)>;

/// What to load.
struct LoadRequest {
    std::string path;            ///< diffusers folder or single-file .safetensors
    std::string config_dir;      ///< optional diffusers-layout folder with configs
    std::string tokenizer_dir;   ///< optional folder with vocab.json + merges.txt
    std::string device = "auto"; ///< "auto", "cpu", "cuda"
    std::string dtype = "auto";  ///< "auto" (fp16 on CUDA, fp32 on CPU), "fp32", "fp16", "bf16"
    /// Optional separate VAE that replaces the model's own (which is then not
    /// loaded): a .safetensors / .ckpt / .pth file with diffusers or original
    /// (LDM) key names, a whole checkpoint (its first_stage_model.*), or a
    /// diffusers vae folder.
    std::string vae_path;
    /// Optional: called after every tensor loaded, on the loading thread.
    LoadProgressFn on_progress;
    /// Optional: checked between tensors; when cancelled, load() throws
    /// CancelledError and nothing stays loaded.
    const CancelToken* cancel = nullptr;
};

struct GenerationRequest {
    std::string prompt;
    /// Unset means "no negative prompt" (SDXL then uses zero embeddings);
    /// an empty string is encoded like any prompt.
    std::optional<std::string> negative_prompt;
    int width = 0;  ///< 0 = the model's default size; else a multiple of 8
    int height = 0;
    int steps = 20;
    float guidance_scale = 7.0f; ///< <= 1: no classifier-free guidance
    int64_t seed = -1;           ///< -1: random; the seed used is returned
    std::string scheduler;       ///< "" = the model's own; or pndm ddim euler euler_a
                                 ///< dpmpp_2m dpmpp_2m_karras lms heun
    int clip_skip = 1;           ///< A1111 meaning: 1 = last layer, 2 = penultimate
    std::optional<Image> init_image; ///< set: img2img
    float strength = 0.75f;          ///< img2img denoise strength in [0.01, 1]
    ResizeMode resize = ResizeMode::Stretch;
    /// Test hook: replay recorded noise draws (noise_0, noise_1, ... of a
    /// safetensors file) instead of the seeded CPU generator.
    std::string replay_noise_path;

    /// Super-resolution after decoding: the image is upscaled by
    /// `superres_level` (0 = off, 2 or 4) with `upscaler` (loaded once with
    /// Upscaler::load and shared between requests). upscale_options gives the
    /// tiling; its `level` is ignored in favour of superres_level.
    std::shared_ptr<const Upscaler> upscaler;
    int superres_level = 0;
    UpscaleOptions upscale_options;
    /// Set (with superres_level): upscale, then refine, as A1111's "hires
    /// fix": img2img on the upscaled image at its size, with the same prompt,
    /// seed, sampler and steps, at this denoise strength in [0.01, 1] (the
    /// app's default is 0.35). It runs int(steps × strength) steps, and the
    /// upscaled size may be at most 4096 pixels a side.
    std::optional<float> refine_strength;
};

struct Progress {
    /// What is running: the denoising of the image, its super-resolution,
    /// or the refine pass on the upscaled image.
    enum class Phase { Denoise, Upscale, Refine };
    Phase phase = Phase::Denoise;
    /// Denoise and Refine: denoising steps done, 1..total; total = the steps
    /// that run (GenerationResult::steps_run, UpscaleReport::refine_steps_run).
    /// Called once per model evaluation, so PNDM's warm-up and Heun's second
    /// evaluation repeat a step number. Upscale: tiles done, 1..total.
    int step = 0;
    int total = 0;
    /// Current latents (valid during the call); null while upscaling.
    const at::Tensor* latents = nullptr;
    double elapsed_ms = 0;
};
using ProgressFn = std::function<void(const Progress&)>;

struct Timings {
    double load_init_ms = 0;   ///< img2img: resize + VAE encode
    double text_encode_ms = 0;
    std::vector<double> step_ms;
    double vae_decode_ms = 0;
    double upscale_ms = 0;     ///< super-resolution, when requested
    double refine_ms = 0;      ///< the refine pass (a whole img2img run), when requested
    double total_ms = 0;
};

/// What super-resolution did to a result (GenerationRequest::superres_level).
struct UpscaleReport {
    std::string upscaler; ///< Upscaler::name()
    int level = 0;        ///< 2 or 4
    std::string method;   ///< Upscaler::method(level), e.g. "RealESRGAN_x4plus ×4"
    int base_width = 0;   ///< the image's size before upscaling
    int base_height = 0;
    std::optional<float> refine_strength; ///< set when the refine pass ran
    int refine_steps_run = 0;
};

struct GenerationResult {
    Image image;
    int64_t seed = 0;
    int steps_run = 0; ///< denoising steps of the first pass
    int width = 0;     ///< the image's size (after super-resolution, when requested)
    int height = 0;
    std::string scheduler;
    Timings timings;
    std::optional<UpscaleReport> upscale; ///< set when the image was upscaled
};

struct ModelInfo {
    ModelFamily family = ModelFamily::SD15;
    std::string name;              ///< file or folder name
    std::string path;
    int default_width = 512;
    int default_height = 512;
    std::string default_scheduler; ///< e.g. "pndm"
    std::string device;            ///< "cpu" / "cuda"
    std::string dtype;             ///< "fp32" / "fp16" / "bf16"
    std::string vae_name;          ///< the separate VAE's file name; "" = the model's own
};

/// A prompt's length as the A1111 web UI's counter shows it ("42/75", then
/// "90/150"): `tokens` (a BREAK counts the rest of its chunk of 75) of
/// `limit`, the next multiple of 75.
struct PromptTokenCount {
    int tokens = 0;
    int limit = 75;
};
using PromptTokenCounter = std::function<PromptTokenCount(const std::string& prompt)>;

class Pipeline {
public:
    /// Loads a model (throws ModelError / UnsupportedModelError).
    static std::unique_ptr<Pipeline> load(const LoadRequest& request);
    /// Throws what load() would for a path that is no model Daub can load,
    /// reading only headers and JSON: a caller can refuse such a file
    /// before letting go of the model it has.
    static void check(const LoadRequest& request);
    virtual ~Pipeline() = default;

    virtual const ModelInfo& info() const = 0;

    /// Runs txt2img, or img2img when request.init_image is set (the img2img
    /// pipeline is created on first use from the txt2img components); then,
    /// when request.superres_level is set, upscales the decoded image and
    /// optionally refines it with that same img2img pipeline.
    virtual GenerationResult generate(const GenerationRequest& request,
                                      const ProgressFn& on_progress = {},
                                      const CancelToken* cancel = nullptr) = 0;

    /// A small RGB preview of latents (fast linear approximation, no VAE).
    virtual Image preview(const at::Tensor& latents) const = 0;

    /// The prompt's token count for the composer's counter, with the first
    /// text encoder's tokenizer and the prompt syntax of generate() (weights,
    /// BREAK, chunks of 75). Thread-safe: may run on any thread, also while
    /// generate() runs. RequestError for a prompt generate() would refuse
    /// in the same way (a weight that is not a number, over 1 MiB).
    virtual PromptTokenCount count_tokens(const std::string& prompt) const = 0;
    /// count_tokens as a function that stays valid after the Pipeline is
    /// gone: it holds the tokenizer only (a few megabytes, no weights), so a
    /// UI thread can keep it while the engine thread loads the next model.
    /// Thread-safe like count_tokens.
    virtual PromptTokenCounter token_counter() const = 0;
};

/// The super-resolution and refine settings of `request` for an image of
/// width × height, checked before anything runs (a refused refine should
/// not cost a whole first pass or upscale): level 2 or 4 with an upscaler,
/// sizes within the upscaler's limits, a refine strength in [0.01, 1] and
/// an upscaled size a refine pass can take (4096 a side). RequestError.
void check_superres(const GenerationRequest& request, int width, int height);

/// Scheduler names a request may give.
const std::vector<std::string>& scheduler_names();

} // namespace daub
