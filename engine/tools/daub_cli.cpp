// daub-cli: generate images from the command line with the engine alone.
//
//   daub-cli generate --model PATH --prompt TEXT [options] --out FILE.png
//
// Prints one JSON line (seed, size, steps run, timings) on stdout and a
// progress bar on stderr when that is a terminal. Errors: one sentence on
// stderr and a non-zero exit status.
#include "core/errors.h"
#include "core/image.h"
#include "core/runtime.h"
#include "pipelines/parameters_text.h"
#include "pipelines/pipeline.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <unistd.h>

namespace {

constexpr const char* kUsage = R"(usage: daub-cli generate --model PATH --prompt TEXT --out FILE.png [options]

  --model PATH          diffusers folder or single-file .safetensors checkpoint
  --config DIR          diffusers-layout folder with configs (single files)
  --tokenizer DIR       folder with vocab.json + merges.txt (single files; default: a
                        tokenizer/ folder beside the file, else the built-in CLIP one)
  --vae PATH            a separate VAE (.safetensors/.ckpt file or diffusers vae folder)
                        instead of the model's own
  --prompt TEXT         what to draw
  --negative TEXT       what to avoid
  --width N --height N  output size, multiples of 8 (default: the model's)
  --steps N             sampling steps (default 20)
  --cfg F               guidance scale (default 7; <= 1 disables guidance)
  --seed N              seed (default 0; -1 picks a random one)
  --scheduler NAME      pndm ddim euler euler_a dpmpp_2m dpmpp_2m_karras lms heun
  --clip-skip N         1 = last CLIP layer (default), 2 = penultimate
  --init IMAGE          start from this image (img2img): PNG, JPEG, WebP, BMP
  --strength F          img2img denoise strength in [0.01, 1] (default 0.75)
  --resize MODE         stretch (default), crop or fit, when the init image's size differs
  --replay-noise FILE   replay recorded noise draws noise_0, noise_1, ...
  --device cpu|cuda     where to run (default: cuda when available)
  --dtype fp32|fp16|bf16  compute precision (default: fp16 on CUDA, fp32 on CPU)
  --out FILE.png        where to write the image
)";

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

int parse_int(const std::string& flag, const std::string& v) {
    try {
        size_t n = 0;
        long long x = std::stoll(v, &n);
        if (n != v.size())
            throw std::invalid_argument(v);
        return static_cast<int>(x);
    } catch (const std::exception&) {
        throw UsageError(flag + " expects a whole number, got '" + v + "'.");
    }
}

int64_t parse_int64(const std::string& flag, const std::string& v) {
    try {
        size_t n = 0;
        long long x = std::stoll(v, &n);
        if (n != v.size())
            throw std::invalid_argument(v);
        return x;
    } catch (const std::exception&) {
        throw UsageError(flag + " expects a whole number, got '" + v + "'.");
    }
}

float parse_float(const std::string& flag, const std::string& v) {
    try {
        size_t n = 0;
        float x = std::stof(v, &n);
        if (n != v.size())
            throw std::invalid_argument(v);
        return x;
    } catch (const std::exception&) {
        throw UsageError(flag + " expects a number, got '" + v + "'.");
    }
}

void draw_progress(int step, int total, double elapsed_ms) {
    const int width = 30;
    const int filled = total > 0 ? step * width / total : width;
    std::fprintf(stderr, "\r[%.*s%*s] %d/%d  %.1f s", filled, "==============================",
                 width - filled, "", step, total, elapsed_ms / 1000.0);
    if (step == total)
        std::fputc('\n', stderr);
    std::fflush(stderr);
}

int run_generate(int argc, char** argv) {
    std::map<std::string, std::string> args;
    static const char* known[] = {"--model", "--config", "--tokenizer", "--vae", "--prompt",
                                  "--negative", "--width", "--height", "--steps", "--cfg", "--seed",
                                  "--scheduler", "--clip-skip", "--init", "--strength", "--resize",
                                  "--replay-noise", "--device", "--dtype", "--out"};
    for (int i = 2; i < argc; ++i) {
        std::string flag = argv[i];
        if (flag == "-h" || flag == "--help") {
            std::fputs(kUsage, stdout);
            return 0;
        }
        bool ok = false;
        for (const char* k : known)
            ok = ok || flag == k;
        if (!ok)
            throw UsageError("unknown option '" + flag + "' (see daub-cli --help).");
        if (i + 1 >= argc)
            throw UsageError(flag + " needs a value.");
        args[flag] = argv[++i];
    }
    auto need = [&](const char* flag) {
        if (!args.count(flag))
            throw UsageError(std::string(flag) + " is required (see daub-cli --help).");
        return args[flag];
    };
    auto get = [&](const char* flag, const std::string& fallback) {
        return args.count(flag) ? args[flag] : fallback;
    };

    daub::LoadRequest load;
    load.path = need("--model");
    load.config_dir = get("--config", "");
    load.tokenizer_dir = get("--tokenizer", "");
    load.vae_path = get("--vae", "");
    load.device = get("--device", "auto");
    load.dtype = get("--dtype", "auto");

    daub::GenerationRequest req;
    req.prompt = need("--prompt");
    if (args.count("--negative"))
        req.negative_prompt = args["--negative"];
    req.width = parse_int("--width", get("--width", "0"));
    req.height = parse_int("--height", get("--height", "0"));
    req.steps = parse_int("--steps", get("--steps", "20"));
    req.guidance_scale = parse_float("--cfg", get("--cfg", "7"));
    req.seed = parse_int64("--seed", get("--seed", "0"));
    req.scheduler = get("--scheduler", "");
    req.clip_skip = parse_int("--clip-skip", get("--clip-skip", "1"));
    req.strength = parse_float("--strength", get("--strength", "0.75"));
    req.resize = daub::resize_mode_from_string(get("--resize", "stretch"));
    req.replay_noise_path = get("--replay-noise", "");
    const std::string out = need("--out");
    if (args.count("--init"))
        req.init_image = daub::read_image_file(args["--init"]);
    else if (args.count("--strength"))
        throw UsageError("--strength only applies with --init IMAGE.");

    daub::init_runtime();
    const auto t0 = std::chrono::steady_clock::now();
    auto pipeline = daub::Pipeline::load(load);
    const double load_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

    const bool tty = ::isatty(STDERR_FILENO);
    auto result = pipeline->generate(req, [&](const daub::Progress& p) {
        if (tty)
            draw_progress(p.step, p.total, p.elapsed_ms);
    });

    daub::write_png_file(out, result.image,
                         {{"parameters", daub::parameters_text(req, result, pipeline->info())}});

    nlohmann::json line = {
        {"out", out},
        {"seed", result.seed},
        {"width", result.width},
        {"height", result.height},
        {"steps_run", result.steps_run},
        {"scheduler", result.scheduler},
        {"device", pipeline->info().device},
        {"dtype", pipeline->info().dtype},
        {"vae", pipeline->info().vae_name},
        {"timings_ms",
         {{"load", load_ms},
          {"init_image", result.timings.load_init_ms},
          {"text_encode", result.timings.text_encode_ms},
          {"steps", result.timings.step_ms},
          {"vae_decode", result.timings.vae_decode_ms},
          {"generate", result.timings.total_ms}}}};
    std::cout << line.dump() << std::endl;
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    try {
        if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
            std::fputs(kUsage, argc < 2 ? stderr : stdout);
            return argc < 2 ? 2 : 0;
        }
        if (std::string(argv[1]) != "generate")
            throw UsageError("unknown command '" + std::string(argv[1]) +
                             "'; the command is 'generate' (see daub-cli --help).");
        const int status = run_generate(argc, argv);
        // Leave without running libtorch's static destructors (tens of
        // milliseconds of operator deregistration): the image is written
        // and stdout is flushed, nothing else needs tearing down.
        std::cout.flush();
        std::fflush(nullptr);
        std::_Exit(status);
    } catch (const UsageError& e) {
        std::fprintf(stderr, "daub-cli: %s\n", e.what());
        return 2;
    } catch (const daub::Error& e) {
        std::fprintf(stderr, "daub-cli: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "daub-cli: unexpected error: %s\n", e.what());
        return 1;
    }
}
