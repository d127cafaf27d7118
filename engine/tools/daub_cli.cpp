// daub-cli: generate images from the command line with the engine alone.
//
//   daub-cli generate --model PATH --prompt TEXT [options] --out FILE.png
//   daub-cli upscale --upscaler FILE --in IMAGE [--scale 2|4] --out FILE.png
//
// Prints one JSON line (seed, size, steps run, timings) on stdout and a
// progress bar on stderr when that is a terminal. Errors: one sentence on
// stderr and a non-zero exit status.
#include "core/errors.h"
#include "core/image.h"
#include "core/runtime.h"
#include "metadata/prompt_syntax.h"
#include "pipelines/parameters_text.h"
#include "pipelines/pipeline.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
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
  --upscaler FILE       Real-ESRGAN (RRDBNet) model, .safetensors or .pth, for --superres
  --superres 2|4        upscale the image after decoding
  --refine F            then refine the upscaled image (img2img, same prompt and seed) at
                        this strength in [0.01, 1], as A1111's hires fix
  --tile N              upscaler tile size in pixels (default: from free memory; 0 = none)

usage: daub-cli upscale --upscaler FILE --in IMAGE --out FILE.png [options]

  --upscaler FILE       Real-ESRGAN (RRDBNet) model, .safetensors or .pth
  --in IMAGE            the image to upscale: PNG, JPEG, WebP, BMP
  --scale 2|4           the factor (default 4)
  --tile N              tile size in pixels (default: from free memory; 0 = none)
  --tile-pad N          context pixels around each tile (default 10)
  --device cpu|cuda     where to run (default: cuda when available)
  --dtype fp32|fp16|bf16  precision (default: fp16 on CUDA, fp32 on CPU)
  --out FILE.png        where to write the image

       daub-cli prompt --parse TEXT

  prints TEXT's A1111 prompt syntax (weights, BREAK) as one JSON line of
  [text, weight] pairs: [["an ",1.0],["important",1.1],[" word",1.0]]
)";

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// A command's `--flag value` pairs, checked against the flags it knows.
class CliArgs {
public:
    /// Parses argv[2..]; nullopt after printing the usage for -h/--help.
    static std::optional<CliArgs> parse(int argc, char** argv,
                                        std::initializer_list<const char*> known,
                                        const char* command) {
        CliArgs args;
        for (int i = 2; i < argc; ++i) {
            const std::string flag = argv[i];
            if (flag == "-h" || flag == "--help") {
                std::fputs(kUsage, stdout);
                return std::nullopt;
            }
            if (std::find_if(known.begin(), known.end(), [&](const char* k) { return flag == k; }) ==
                known.end())
                throw UsageError("unknown option '" + flag + "' for " + command +
                                 " (see daub-cli --help).");
            if (i + 1 >= argc)
                throw UsageError(flag + " needs a value.");
            args.values_[flag] = argv[++i];
        }
        return args;
    }
    bool has(const char* flag) const { return values_.count(flag) > 0; }
    const std::string& need(const char* flag) const {
        auto it = values_.find(flag);
        if (it == values_.end())
            throw UsageError(std::string(flag) + " is required (see daub-cli --help).");
        return it->second;
    }
    std::string get(const char* flag, const std::string& fallback) const {
        auto it = values_.find(flag);
        return it == values_.end() ? fallback : it->second;
    }

private:
    std::map<std::string, std::string> values_;
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

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

void draw_progress(int step, int total, double elapsed_ms, const char* what = "") {
    const int width = 30;
    const int filled = total > 0 ? step * width / total : width;
    std::fprintf(stderr, "\r%s[%.*s%*s] %d/%d  %.1f s", what, filled,
                 "==============================", width - filled, "", step, total,
                 elapsed_ms / 1000.0);
    if (step == total)
        std::fputc('\n', stderr);
    std::fflush(stderr);
}

int run_generate(int argc, char** argv) {
    const std::optional<CliArgs> parsed = CliArgs::parse(
        argc, argv,
        {"--model", "--config", "--tokenizer", "--vae", "--prompt", "--negative", "--width",
         "--height", "--steps", "--cfg", "--seed", "--scheduler", "--clip-skip", "--init",
         "--strength", "--resize", "--replay-noise", "--device", "--dtype", "--out", "--upscaler",
         "--superres", "--refine", "--tile"},
        "generate");
    if (!parsed)
        return 0;
    const CliArgs& args = *parsed;
    auto need = [&](const char* flag) { return args.need(flag); };
    auto get = [&](const char* flag, const std::string& fallback) {
        return args.get(flag, fallback);
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
    if (args.has("--negative"))
        req.negative_prompt = args.need("--negative");
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
    if (args.has("--init"))
        req.init_image = daub::read_image_file(args.need("--init"));
    else if (args.has("--strength"))
        throw UsageError("--strength only applies with --init IMAGE.");
    if (args.has("--superres")) {
        req.superres_level = parse_int("--superres", args.need("--superres"));
        if (!args.has("--upscaler"))
            throw UsageError("--superres needs --upscaler FILE.");
    } else if (args.has("--upscaler") || args.has("--refine") || args.has("--tile")) {
        throw UsageError("--upscaler, --refine and --tile apply with --superres 2|4.");
    }
    if (args.has("--refine"))
        req.refine_strength = parse_float("--refine", args.need("--refine"));
    if (args.has("--tile"))
        req.upscale_options.tile = parse_int("--tile", args.need("--tile"));

    daub::init_runtime();
    const auto t0 = std::chrono::steady_clock::now();
    if (req.superres_level) // first: a wrong file is found before the model loads
        req.upscaler = daub::Upscaler::load(args.need("--upscaler"), load.device, load.dtype);
    const double upscaler_load_ms = ms_since(t0);
    auto pipeline = daub::Pipeline::load(load);
    const double load_ms = ms_since(t0) - upscaler_load_ms;

    const bool tty = ::isatty(STDERR_FILENO);
    auto result = pipeline->generate(req, [&](const daub::Progress& p) {
        using Phase = daub::Progress::Phase;
        if (tty)
            draw_progress(p.step, p.total, p.elapsed_ms,
                          p.phase == Phase::Upscale  ? "upscale "
                          : p.phase == Phase::Refine ? "refine "
                                                     : "");
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
    if (result.upscale) {
        const daub::UpscaleReport& u = *result.upscale;
        line["upscale"] = {{"upscaler", u.upscaler},
                           {"level", u.level},
                           {"method", u.method},
                           {"base_width", u.base_width},
                           {"base_height", u.base_height},
                           {"refine_steps_run", u.refine_steps_run}};
        if (u.refine_strength)
            line["upscale"]["refine_strength"] = *u.refine_strength;
        line["timings_ms"]["upscaler_load"] = upscaler_load_ms;
        line["timings_ms"]["upscale"] = result.timings.upscale_ms;
        line["timings_ms"]["refine"] = result.timings.refine_ms;
    }
    std::cout << line.dump() << std::endl;
    return 0;
}

/// daub-cli upscale: one image through an RRDBNet upscaler.
int run_upscale(int argc, char** argv) {
    const std::optional<CliArgs> parsed = CliArgs::parse(
        argc, argv,
        {"--upscaler", "--in", "--out", "--scale", "--tile", "--tile-pad", "--device", "--dtype"},
        "upscale");
    if (!parsed)
        return 0;
    const CliArgs& args = *parsed;
    auto need = [&](const char* flag) { return args.need(flag); };
    auto get = [&](const char* flag, const std::string& fallback) {
        return args.get(flag, fallback);
    };
    daub::UpscaleOptions options;
    options.level = parse_int("--scale", get("--scale", "4"));
    options.tile = parse_int("--tile", get("--tile", "-1"));
    options.tile_pad = parse_int("--tile-pad", get("--tile-pad", "10"));
    const std::string upscaler_path = need("--upscaler");
    const std::string in = need("--in");
    const std::string out = need("--out");

    daub::init_runtime();
    const auto t0 = std::chrono::steady_clock::now();
    const daub::Image image = daub::read_image_file(in);
    const double read_ms = ms_since(t0);
    const auto t1 = std::chrono::steady_clock::now();
    auto upscaler = daub::Upscaler::load(upscaler_path, get("--device", "auto"),
                                         get("--dtype", "auto"));
    const double load_ms = ms_since(t1);
    const std::string method = upscaler->method(options.level); // checks --scale
    const int tile = upscaler->tile_size(image.width, image.height, options);

    const bool tty = ::isatty(STDERR_FILENO);
    const auto t2 = std::chrono::steady_clock::now();
    int tiles = 0;
    const daub::Image result =
        upscaler->upscale(image, options, [&](const daub::UpscaleProgress& p) {
            tiles = p.total;
            if (tty)
                draw_progress(p.tile, p.total, ms_since(t2), "upscale ");
        });
    const double upscale_ms = ms_since(t2);
    const auto t3 = std::chrono::steady_clock::now();
    daub::write_png_file(out, result);
    const double write_ms = ms_since(t3);

    const nlohmann::json line = {{"out", out},
                                 {"width", result.width},
                                 {"height", result.height},
                                 {"input_width", image.width},
                                 {"input_height", image.height},
                                 {"scale", options.level},
                                 {"upscaler", upscaler->name()},
                                 {"native_scale", upscaler->native_scale()},
                                 {"method", method},
                                 {"tile", tile},
                                 {"tiles", tiles},
                                 {"device", upscaler->device()},
                                 {"dtype", upscaler->dtype()},
                                 {"timings_ms",
                                  {{"read", read_ms},
                                   {"load", load_ms},
                                   {"upscale", upscale_ms},
                                   {"write", write_ms}}}};
    std::cout << line.dump() << std::endl;
    return 0;
}

/// daub-cli prompt --parse TEXT: the attention pairs as one JSON line.
int run_prompt(int argc, char** argv) {
    if (argc != 4 || std::string(argv[2]) != "--parse")
        throw UsageError("the prompt command is: daub-cli prompt --parse TEXT.");
    std::cout << daub::prompt_weights_json(daub::parse_prompt_attention(argv[3])) << std::endl;
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    try {
        if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
            std::fputs(kUsage, argc < 2 ? stderr : stdout);
            return argc < 2 ? 2 : 0;
        }
        const std::string command = argv[1];
        if (command != "generate" && command != "upscale" && command != "prompt")
            throw UsageError("unknown command '" + command +
                             "'; the commands are 'generate', 'upscale' and 'prompt' (see "
                             "daub-cli --help).");
        const int status = command == "prompt"    ? run_prompt(argc, argv)
                           : command == "upscale" ? run_upscale(argc, argv)
                                                  : run_generate(argc, argv);
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
