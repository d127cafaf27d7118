#include "upscale/upscaler.h"

#include "core/errors.h"
#include "core/image_tensor.h"
#include "core/safetensors.h"
#include "core/weight_file.h"
#include "image/resample.h"
#include "upscale/device_memory.h"
#include "upscale/rrdbnet.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace daub {

namespace {

namespace F = torch::nn::functional;

std::string lower(std::string s) {
    for (auto& ch : s)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
}

/// "auto" / "cpu" / "cuda[:N]" and "auto" / "fp32" / "fp16" / "bf16".
std::pair<at::Device, at::ScalarType> resolve_placement(const std::string& device,
                                                        const std::string& dtype) {
    at::Device where = at::kCPU;
    const std::string d = lower(device);
    if (d == "auto" || d.empty())
        where = torch::cuda::is_available() ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
    else if (d == "cuda" || d.rfind("cuda:", 0) == 0) {
        if (!torch::cuda::is_available())
            throw RequestError("No CUDA device is available for the upscaler; use the CPU.");
        where = at::Device(d == "cuda" ? "cuda:0" : d);
    } else if (d != "cpu")
        throw RequestError("Unknown device '" + device +
                           "' for the upscaler; use auto, cpu or cuda.");
    const std::string t = lower(dtype);
    at::ScalarType type = at::kFloat;
    if (t == "auto" || t.empty())
        type = where.is_cuda() ? at::kHalf : at::kFloat;
    else if (t == "fp32")
        type = at::kFloat;
    else if (t == "fp16")
        type = at::kHalf;
    else if (t == "bf16")
        type = at::kBFloat16;
    else
        throw RequestError("Unknown precision '" + dtype +
                           "' for the upscaler; use auto, fp32, fp16 or bf16.");
    if (type == at::kHalf && where.is_cpu())
        throw RequestError("fp16 needs a CUDA device; use fp32 or bf16 on the CPU.");
    return {where, type};
}

std::string dtype_name(at::ScalarType t) {
    return t == at::kHalf ? "fp16" : t == at::kBFloat16 ? "bf16" : "fp32";
}

int64_t round_up(int64_t value, int64_t multiple) {
    return (value + multiple - 1) / multiple * multiple;
}

int64_t ceil_div(int64_t a, int64_t b) {
    return (a + b - 1) / b;
}

/// One run of the net over the image: how it is tiled.
struct TilePlan {
    int64_t tile = 0; ///< 0: the whole (padded) image at once
    int64_t pad = 0;
    int64_t tiles_x = 1, tiles_y = 1;
    int64_t count() const { return tiles_x * tiles_y; }
};

/// `image` padded on the right and bottom to multiples of `multiple`, by
/// reflection as Real-ESRGAN's mod pad (edge replication for sides too
/// short to reflect).
at::Tensor pad_to_multiple(const at::Tensor& image, int64_t multiple) {
    const int64_t h = image.size(2), w = image.size(3);
    const int64_t ph = round_up(h, multiple) - h, pw = round_up(w, multiple) - w;
    if (ph == 0 && pw == 0)
        return image;
    auto options = F::PadFuncOptions({0, pw, 0, ph});
    if (ph < h && pw < w)
        options.mode(torch::kReflect);
    else
        options.mode(torch::kReplicate);
    return F::pad(image, options);
}

} // namespace

struct Upscaler::Impl {
    std::string path, name, device_name, dtype_name;
    at::Device device = at::kCPU;
    at::ScalarType dtype = at::kFloat;
    RrdbNetConfig config;
    RrdbNet net{nullptr};

    int64_t unshuffle() const { return config.unshuffle(); }

    /// Working memory of one forward per input pixel, estimated: the last ×2
    /// stage holds about four num_feat-channel tensors at the output size
    /// (upsampled input, convolution output and the convolution's own
    /// buffers), the body a dense block's concatenations. For the fixtures'
    /// nets on the CPU the measured peak is within 5 % of it; tiles use half
    /// the free memory, which leaves the margin.
    double bytes_per_pixel() const {
        const double s2 = static_cast<double>(config.scale * config.scale);
        const double u2 = static_cast<double>(unshuffle() * unshuffle());
        const double elements =
            4.0 * config.num_feat * s2 + 3.0 * (config.num_feat + 4.0 * config.num_grow_ch) / u2;
        const double element_size = static_cast<double>(c10::elementSize(dtype));
        // Plus the float32 copy of each tile's output on the CPU.
        return elements * element_size + 3.0 * s2 * 4.0;
    }

    TilePlan plan(int64_t width, int64_t height, const UpscaleOptions& options) const {
        if (options.tile < -1)
            throw RequestError("The upscaler's tile size must be -1 (automatic), 0 (no tiles) or "
                               "at least 8, not " +
                               std::to_string(options.tile) + ".");
        if (options.tile_pad < 0 || options.tile_pad > 512)
            throw RequestError(
                "The upscaler's tile padding must be between 0 and 512 pixels, not " +
                std::to_string(options.tile_pad) + ".");
        const int64_t u = unshuffle();
        const int64_t w = round_up(width, u), h = round_up(height, u);
        TilePlan p;
        p.pad = round_up(options.tile_pad, u);
        int64_t tile = options.tile;
        if (tile == -1)
            tile = automatic_tile(w, h, p.pad);
        else if (tile > 0)
            tile = round_up(std::max<int64_t>(tile, 8), u);
        if (tile == 0 || (tile >= w && tile >= h))
            return p; // one run over the whole image
        p.tile = tile;
        p.tiles_x = ceil_div(w, tile);
        p.tiles_y = ceil_div(h, tile);
        return p;
    }

    /// A tile (multiple of 8) whose run fits in half the free memory, as
    /// large as that allows but evened out over the image (512 pixels with
    /// room for 448 make two tiles of 256, not 448 + 64); 0 when the whole
    /// image fits.
    int64_t automatic_tile(int64_t w, int64_t h, int64_t pad) const {
        const double per_pixel = bytes_per_pixel();
        uint64_t free = available_memory(device);
        if (free == 0)
            free = uint64_t{2} << 30; // unknown: assume 2 GiB
        const double budget = static_cast<double>(free) / 2;
        if (static_cast<double>(w) * static_cast<double>(h) * per_pixel <= budget)
            return 0;
        const auto room = static_cast<int64_t>(std::sqrt(budget / per_pixel)) - 2 * pad;
        const int64_t side = std::clamp<int64_t>(room / 8 * 8, 32, 2048);
        const int64_t longest = std::max(w, h);
        return round_up(ceil_div(longest, ceil_div(longest, side)), 8);
    }

    /// One run of the net: [1, 3, H, W] float CPU in [0, 1] → [1, 3, sH, sW]
    /// float CPU, clamped to [0, 1]. `done` counts tiles across runs.
    at::Tensor run(const at::Tensor& image, const TilePlan& plan, int& done, int total,
                   const UpscaleProgressFn& progress, const CancelToken* cancel) const {
        const int64_t s = config.scale;
        const int64_t height = image.size(2), width = image.size(3);
        const at::Tensor x = pad_to_multiple(image, unshuffle());
        const int64_t h = x.size(2), w = x.size(3);
        RrdbNet model = net; // holders are shared pointers
        auto forward = [&](const at::Tensor& tile) {
            return model->forward(tile.to(device, dtype)).to(at::kCPU, at::kFloat);
        };
        auto tick = [&] {
            ++done;
            if (progress)
                progress(UpscaleProgress{done, total});
        };
        at::Tensor out;
        if (plan.tile == 0) {
            if (cancel && cancel->cancelled())
                throw CancelledError();
            out = forward(x);
            tick();
        } else {
            out = torch::empty({1, config.num_out_ch, h * s, w * s}, torch::kFloat);
            using torch::indexing::Slice;
            for (int64_t ty = 0; ty < plan.tiles_y; ++ty) {
                for (int64_t tx = 0; tx < plan.tiles_x; ++tx) {
                    if (cancel && cancel->cancelled())
                        throw CancelledError();
                    // The tile, and the tile with its context around it.
                    const int64_t x0 = tx * plan.tile, x1 = std::min(x0 + plan.tile, w);
                    const int64_t y0 = ty * plan.tile, y1 = std::min(y0 + plan.tile, h);
                    const int64_t px0 = std::max<int64_t>(x0 - plan.pad, 0);
                    const int64_t px1 = std::min(x1 + plan.pad, w);
                    const int64_t py0 = std::max<int64_t>(y0 - plan.pad, 0);
                    const int64_t py1 = std::min(y1 + plan.pad, h);
                    const at::Tensor result =
                        forward(x.index({Slice(), Slice(), Slice(py0, py1), Slice(px0, px1)}));
                    // Crop the context away and put the tile in its place.
                    out.index({Slice(), Slice(), Slice(y0 * s, y1 * s), Slice(x0 * s, x1 * s)})
                        .copy_(
                            result.index({Slice(), Slice(), Slice((y0 - py0) * s, (y1 - py0) * s),
                                          Slice((x0 - px0) * s, (x1 - px0) * s)}));
                    tick();
                }
            }
        }
        // Remove the mod pad.
        if (h != height || w != width)
            out = out.index({torch::indexing::Slice(), torch::indexing::Slice(),
                             torch::indexing::Slice(0, height * s),
                             torch::indexing::Slice(0, width * s)});
        return out.clamp_(0, 1);
    }
};

Upscaler::Upscaler(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Upscaler::~Upscaler() = default;

std::unique_ptr<Upscaler> Upscaler::load(const std::string& path, const std::string& device,
                                         const std::string& dtype) {
    namespace fs = std::filesystem;
    const auto [where, type] = resolve_placement(device, dtype);
    std::error_code ec;
    if (!fs::exists(path, ec))
        throw ModelError("The upscaler file " + path + " does not exist.");
    if (fs::is_directory(path, ec))
        throw ModelError(path + " is a folder; the upscaler is one .safetensors or .pth file.");

    auto impl = std::make_unique<Impl>();
    impl->path = path;
    impl->name = fs::path(path).stem().string();
    impl->device = where;
    impl->dtype = type;
    impl->device_name = where.is_cuda() ? "cuda" : "cpu";
    impl->dtype_name = dtype_name(type);

    // The format comes from the content: safetensors (whose metadata may
    // state the config) or a PyTorch checkpoint read without running it.
    const std::shared_ptr<const WeightSource> file = open_weight_file(path);
    static const std::map<std::string, std::string> no_metadata;
    const auto* safetensors = dynamic_cast<const SafeTensorsFile*>(file.get());
    const std::shared_ptr<const WeightSource> weights = rrdbnet_source(file);
    impl->net = load_rrdbnet(*weights, safetensors ? safetensors->metadata() : no_metadata,
                             LoadOptions{type, where});
    impl->config = impl->net->config();
    if (impl->config.num_in_ch != 3 || impl->config.num_out_ch != 3)
        throw UnsupportedModelError(path + " is an RRDBNet for " +
                                    std::to_string(impl->config.num_in_ch) +
                                    "-channel images; "
                                    "Daub upscales RGB images (3 channels).");
    return std::unique_ptr<Upscaler>(new Upscaler(std::move(impl)));
}

int Upscaler::native_scale() const {
    return static_cast<int>(impl_->config.scale);
}
const std::string& Upscaler::name() const {
    return impl_->name;
}
const std::string& Upscaler::path() const {
    return impl_->path;
}
const std::string& Upscaler::device() const {
    return impl_->device_name;
}
const std::string& Upscaler::dtype() const {
    return impl_->dtype_name;
}

int Upscaler::receptive_radius() const {
    // In the net's own resolution (after pixel-unshuffle): conv_first, 15
    // convolutions per RRDB and conv_body reach one pixel each; conv_up1
    // reaches half a pixel, conv_up2, conv_hr and conv_last a quarter each.
    const RrdbNetConfig& c = impl_->config;
    const double inner = 2.0 + 15.0 * static_cast<double>(c.num_block) + 0.5 + 3 * 0.25;
    return static_cast<int>(std::ceil(inner * static_cast<double>(c.unshuffle())));
}

std::string Upscaler::method(int level) const {
    if (level != 2 && level != 4)
        throw RequestError("The super-resolution level must be 2 or 4, not " +
                           std::to_string(level) + ".");
    const int native = native_scale();
    const std::string net = impl_->name + " ×" + std::to_string(native);
    if (native == level)
        return net;
    if (native > level)
        return net + ", Lanczos down to ×" + std::to_string(level);
    if (native * native == level)
        return net + " run twice";
    return net + ", Lanczos up to ×" + std::to_string(level);
}

void Upscaler::check(int width, int height, const UpscaleOptions& options) const {
    method(options.level); // the level
    if (width < 1 || height < 1)
        throw ImageError("The image to upscale is empty.");
    // The result, and a ×4 net's own output before its Lanczos downscale.
    const int64_t scale = std::max(options.level, native_scale());
    const int64_t w = int64_t{width} * scale, h = int64_t{height} * scale;
    if (w * h > kMaxUpscaledPixels)
        throw RequestError("Upscaling " + std::to_string(width) + "×" + std::to_string(height) +
                           " with " + method(options.level) + " makes " + std::to_string(w) + "×" +
                           std::to_string(h) +
                           " pixels, more than 8192 × 8192; upscale a smaller image.");
    impl_->plan(width, height, options); // the tile options
}

int Upscaler::tile_size(int width, int height, const UpscaleOptions& options) const {
    return static_cast<int>(impl_->plan(width, height, options).tile);
}

Image Upscaler::upscale(const Image& in, const UpscaleOptions& options,
                        const UpscaleProgressFn& progress, const CancelToken* cancel) const {
    if (in.empty() || in.rgb.size() != static_cast<size_t>(in.width) * in.height * 3)
        throw ImageError("The image to upscale is empty or inconsistent.");
    check(in.width, in.height, options);
    const CancelScope cancel_scope(cancel); // checked inside the net too
    const int level = options.level;
    const int64_t out_w = int64_t{in.width} * level, out_h = int64_t{in.height} * level;

    // The runs of the net: twice for a ×2 net at level 4, else once.
    const int native = native_scale();
    const int runs = native * native == level ? 2 : 1;
    std::vector<TilePlan> plans;
    int total = 0;
    for (int i = 0, w = in.width, h = in.height; i < runs; ++i, w *= native, h *= native) {
        plans.push_back(impl_->plan(w, h, options));
        total += static_cast<int>(plans.back().count());
    }

    torch::InferenceMode inference;
    // [1, 3, H, W] = u8 / 255, as Real-ESRGAN feeds the net.
    at::Tensor x = torch::from_blob(const_cast<uint8_t*>(in.rgb.data()), {in.height, in.width, 3},
                                    torch::kUInt8)
                       .permute({2, 0, 1})
                       .unsqueeze(0)
                       .to(torch::kFloat)
                       .div_(255.0f);
    int done = 0;
    for (const TilePlan& plan : plans)
        x = impl_->run(x, plan, done, total, progress, cancel);
    Image out = tensor_to_image(x);

    if (out.width != out_w || out.height != out_h) { // Lanczos to the level
        Image sized;
        sized.width = static_cast<int>(out_w);
        sized.height = static_cast<int>(out_h);
        sized.rgb = image::resample_lanczos(out.rgb.data(), out.width, out.height,
                                            {0, 0, double(out.width), double(out.height)},
                                            sized.width, sized.height);
        out = std::move(sized);
    }
    return out;
}

} // namespace daub
