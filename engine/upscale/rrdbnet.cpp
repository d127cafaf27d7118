#include "upscale/rrdbnet.h"

#include "core/cancel.h"
#include "core/errors.h"

#include <torch/torch.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <set>

namespace daub {

namespace {

namespace F = torch::nn::functional;

constexpr double kSlope = 0.2;    // leaky ReLU
constexpr double kResidual = 0.2; // residual scaling of RDBs and RRDBs

// Limits that no real model comes near; they keep a hostile file from
// making Daub allocate what its tensors do not hold.
constexpr int64_t kMaxChannels = 4096;
constexpr int64_t kMaxBlocks = 1000;

bool starts_with(const std::string& s, const std::string& head) {
    return s.rfind(head, 0) == 0;
}

/// Why `source` is not an RRDBNet, in words a user recognises.
std::string what_else_it_is(const WeightSource& source) {
    bool sd = false, swinir = false, compact = false, old_esrgan = false;
    for (const std::string& k : source.keys()) {
        sd = sd || starts_with(k, "model.diffusion_model.") ||
             starts_with(k, "first_stage_model.") || starts_with(k, "conditioner.") ||
             starts_with(k, "cond_stage_model.") || starts_with(k, "down_blocks.") ||
             starts_with(k, "text_model.");
        swinir = swinir || k.find("residual_group") != std::string::npos ||
                 starts_with(k, "conv_after_body.");
        compact = compact || starts_with(k, "body.0.weight");
        old_esrgan = old_esrgan || starts_with(k, "model.1.sub.0.RDB1.");
    }
    if (sd)
        return "it is a Stable Diffusion model";
    if (swinir)
        return "it looks like a SwinIR model";
    if (old_esrgan) // rrdbnet_source() maps its ×4 layout
        return "it is an ESRGAN model with the original key names but not the ×4 layout";
    if (compact)
        return "it looks like a compact Real-ESRGAN (SRVGGNetCompact) model";
    return "it has no tensor 'conv_first.weight'";
}

[[noreturn]] void not_rrdbnet(const WeightSource& source, const std::string& why) {
    throw UnsupportedModelError(source.describe() + " is not an RRDBNet (Real-ESRGAN) upscaler (" +
                                why + "); Daub runs RealESRGAN_x4plus / x2plus-style models.");
}

/// The [out, in, 3, 3] shape of a 3×3 convolution's weight.
std::vector<int64_t> conv3x3_shape(const WeightSource& source, const std::string& key) {
    if (!source.contains(key))
        not_rrdbnet(source, "it has no tensor '" + key + "'");
    auto s = source.shape(key);
    if (s.size() != 4 || s[2] != 3 || s[3] != 3 || s[0] < 1 || s[1] < 1 || s[0] > kMaxChannels ||
        s[1] > kMaxChannels)
        not_rrdbnet(source,
                    "'" + key + "' has shape " + shape_to_string(s) + ", not a 3×3 convolution's");
    return s;
}

/// Checks that `key` exists with `expected` shape, without loading it.
void expect_shape(const WeightSource& source, const std::string& key,
                  const std::vector<int64_t>& expected) {
    if (!source.contains(key))
        throw ModelError(source.describe() + ": tensor '" + key + "' is missing.");
    const auto got = source.shape(key);
    if (got != expected)
        throw ModelError(source.describe() + ": tensor '" + key + "' has shape " +
                         shape_to_string(got) + ", expected " + shape_to_string(expected) + ".");
}

void expect_conv(const WeightSource& source, const std::string& name, int64_t in, int64_t out) {
    expect_shape(source, name + ".weight", {out, in, 3, 3});
    expect_shape(source, name + ".bias", {out});
}

/// How many body.N blocks there are: N = 0, 1, ... with no gap.
int64_t count_blocks(const WeightSource& source) {
    std::set<int64_t> seen;
    for (const std::string& k : source.keys()) {
        if (!starts_with(k, "body."))
            continue;
        const char* begin = k.data() + 5;
        const char* end = k.data() + k.size();
        int64_t n = -1;
        const auto r = std::from_chars(begin, end, n);
        if (r.ec != std::errc() || r.ptr == begin || r.ptr == end || *r.ptr != '.')
            continue;
        if (n < 0 || n >= kMaxBlocks)
            throw ModelError(source.describe() + ": tensor '" + k + "' names block " +
                             std::to_string(n) + "; an RRDBNet has at most " +
                             std::to_string(kMaxBlocks) + " blocks.");
        seen.insert(n);
    }
    if (seen.empty())
        not_rrdbnet(source, "it has no body.N blocks");
    const int64_t count = *seen.rbegin() + 1;
    if (static_cast<int64_t>(seen.size()) != count)
        for (int64_t i = 0; i < count; ++i)
            if (!seen.count(i))
                throw ModelError(source.describe() + ": block body." + std::to_string(i) +
                                 " is missing (the file has blocks up to body." +
                                 std::to_string(count - 1) + ").");
    return count;
}

/// A metadata value that must agree with what the shapes say.
void check_metadata(const WeightSource& source, const std::map<std::string, std::string>& metadata,
                    const char* key, int64_t derived) {
    const auto it = metadata.find(key);
    if (it == metadata.end())
        return;
    const std::string& text = it->second;
    int64_t value = -1;
    const auto r = std::from_chars(text.data(), text.data() + text.size(), value);
    if (r.ec != std::errc() || r.ptr != text.data() + text.size())
        throw ModelError(source.describe() + ": metadata '" + key + "' is '" + text +
                         "', not a whole number.");
    if (value != derived)
        throw ModelError(source.describe() + ": metadata says " + key + " " + text +
                         " but the tensors' shapes say " + std::to_string(derived) + ".");
}

at::Tensor lrelu(at::Tensor x) {
    return torch::leaky_relu_(x, kSlope);
}

/// A whole number at `s[pos]` up to `end_char`; -1 when there is none.
int64_t number_at(const std::string& s, size_t& pos, char end_char) {
    int64_t n = -1;
    const auto r = std::from_chars(s.data() + pos, s.data() + s.size(), n);
    if (r.ec != std::errc() || r.ptr == s.data() + pos || r.ptr == s.data() + s.size() ||
        *r.ptr != end_char || n < 0)
        return -1;
    pos = static_cast<size_t>(r.ptr - s.data()) + 1;
    return n;
}

/// ESRGAN's original key names seen as basicsr's (see rrdbnet_source).
class OldEsrganKeys final : public WeightSource {
public:
    explicit OldEsrganKeys(std::shared_ptr<const WeightSource> source)
        : source_(std::move(source)) {
        static const std::pair<const char*, const char*> fixed[] = {{"model.0.", "conv_first."},
                                                                    {"model.3.", "conv_up1."},
                                                                    {"model.6.", "conv_up2."},
                                                                    {"model.8.", "conv_hr."},
                                                                    {"model.10.", "conv_last."}};
        for (const std::string& key : source_->keys()) {
            for (const auto& [old_prefix, new_prefix] : fixed)
                if (starts_with(key, old_prefix))
                    add(new_prefix + key.substr(std::strlen(old_prefix)), key);
            if (!starts_with(key, "model.1.sub."))
                continue;
            // model.1.sub.N.RDBk.convm.0.weight, or model.1.sub.N.weight
            // (the trunk's last convolution, conv_body).
            size_t pos = 12;
            const int64_t n = number_at(key, pos, '.');
            if (n < 0 || n >= kMaxBlocks)
                continue;
            const std::string rest = key.substr(pos);
            if (rest == "weight" || rest == "bias") {
                add("conv_body." + rest, key);
                continue;
            }
            size_t p = 3;
            if (!starts_with(rest, "RDB"))
                continue;
            const int64_t k = number_at(rest, p, '.');
            if (k < 1 || k > 3 || rest.compare(p, 4, "conv") != 0)
                continue;
            p += 4;
            const int64_t m = number_at(rest, p, '.');
            if (m < 1 || m > 5 || rest.compare(p, 2, "0.") != 0)
                continue;
            add("body." + std::to_string(n) + ".rdb" + std::to_string(k) + ".conv" +
                    std::to_string(m) + "." + rest.substr(p + 2),
                key);
        }
    }

    std::vector<std::string> keys() const override {
        std::vector<std::string> out;
        out.reserve(names_.size());
        for (const auto& [name, old] : names_)
            out.push_back(name);
        return out;
    }
    bool contains(const std::string& key) const override { return names_.count(key) != 0; }
    std::vector<int64_t> shape(const std::string& key) const override {
        return source_->shape(old(key));
    }
    at::ScalarType stored_dtype(const std::string& key) const override {
        return source_->stored_dtype(old(key));
    }
    at::Tensor load(const std::string& key, at::ScalarType dtype,
                    at::Device device) const override {
        return source_->load(old(key), dtype, device);
    }
    std::string describe() const override { return source_->describe(); }

private:
    void add(const std::string& name, const std::string& old) { names_.emplace(name, old); }
    const std::string& old(const std::string& key) const {
        const auto it = names_.find(key);
        if (it == names_.end())
            throw ModelError(describe() + ": tensor '" + key + "' is missing.");
        return it->second;
    }

    std::shared_ptr<const WeightSource> source_;
    std::map<std::string, std::string> names_; ///< basicsr name → the file's
};

} // namespace

std::shared_ptr<const WeightSource> rrdbnet_source(std::shared_ptr<const WeightSource> source) {
    if (source->contains("conv_first.weight") || !source->contains("model.0.weight") ||
        !source->contains("model.1.sub.0.RDB1.conv1.0.weight"))
        return source;
    if (!source->contains("model.10.weight"))
        not_rrdbnet(*source, "it is an ESRGAN model in the original layout with an upsampler "
                             "other than the ×4 one (model.3, model.6, model.8, model.10)");
    return std::make_shared<const OldEsrganKeys>(std::move(source));
}

RrdbNetConfig RrdbNetConfig::from_weights(const WeightSource& source,
                                          const std::map<std::string, std::string>& metadata) {
    if (const auto arch = metadata.find("arch"); arch != metadata.end()) {
        std::string a = arch->second;
        std::transform(a.begin(), a.end(), a.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (a != "rrdbnet")
            not_rrdbnet(source, "its metadata says arch '" + arch->second + "'");
    }
    if (!source.contains("conv_first.weight") || !source.contains("body.0.rdb1.conv1.weight"))
        not_rrdbnet(source, what_else_it_is(source));

    RrdbNetConfig c;
    const auto first = conv3x3_shape(source, "conv_first.weight");
    const auto last = conv3x3_shape(source, "conv_last.weight");
    const auto grow = conv3x3_shape(source, "body.0.rdb1.conv1.weight");
    c.num_feat = first[0];
    c.num_out_ch = last[0];
    c.num_grow_ch = grow[0];
    c.num_block = count_blocks(source);

    // conv_first takes num_in_ch · u² channels; the image has as many
    // channels as the output unless the metadata says otherwise.
    c.num_in_ch = c.num_out_ch;
    if (const auto it = metadata.find("num_in_ch"); it != metadata.end()) {
        int64_t v = 0;
        const auto r = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
        if (r.ec == std::errc() && v > 0 && v <= kMaxChannels)
            c.num_in_ch = v;
    }
    const int64_t packed = first[1];
    if (packed == c.num_in_ch)
        c.scale = 4;
    else if (packed == c.num_in_ch * 4)
        c.scale = 2;
    else if (packed == c.num_in_ch * 16)
        c.scale = 1;
    else
        not_rrdbnet(source, "conv_first takes " + std::to_string(packed) + " channels for a " +
                                std::to_string(c.num_in_ch) +
                                "-channel image, which is neither ×4, ×2 nor ×1");

    check_metadata(source, metadata, "scale", c.scale);
    check_metadata(source, metadata, "num_in_ch", c.num_in_ch);
    check_metadata(source, metadata, "num_out_ch", c.num_out_ch);
    check_metadata(source, metadata, "num_feat", c.num_feat);
    check_metadata(source, metadata, "num_block", c.num_block);
    check_metadata(source, metadata, "num_grow_ch", c.num_grow_ch);

    // Every tensor the network will hold, checked before anything is
    // allocated: the file pays for the memory it asks for.
    const int64_t nf = c.num_feat, gc = c.num_grow_ch;
    expect_conv(source, "conv_first", packed, nf);
    for (int64_t n = 0; n < c.num_block; ++n)
        for (int k = 1; k <= 3; ++k)
            for (int m = 1; m <= 5; ++m)
                expect_conv(source,
                            "body." + std::to_string(n) + ".rdb" + std::to_string(k) + ".conv" +
                                std::to_string(m),
                            nf + (m - 1) * gc, m < 5 ? gc : nf);
    for (const char* name : {"conv_body", "conv_up1", "conv_up2", "conv_hr"})
        expect_conv(source, name, nf, nf);
    expect_conv(source, "conv_last", nf, c.num_out_ch);
    return c;
}

ResidualDenseBlockImpl::ResidualDenseBlockImpl(int64_t nf, int64_t gc) {
    conv1 = register_module("conv1", nn::Conv2d(nf, gc, 3, 1, 1));
    conv2 = register_module("conv2", nn::Conv2d(nf + gc, gc, 3, 1, 1));
    conv3 = register_module("conv3", nn::Conv2d(nf + 2 * gc, gc, 3, 1, 1));
    conv4 = register_module("conv4", nn::Conv2d(nf + 3 * gc, gc, 3, 1, 1));
    conv5 = register_module("conv5", nn::Conv2d(nf + 4 * gc, nf, 3, 1, 1));
}

at::Tensor ResidualDenseBlockImpl::forward(const at::Tensor& x) {
    at::Tensor x1 = lrelu(conv1(x));
    at::Tensor x2 = lrelu(conv2(torch::cat({x, x1}, 1)));
    at::Tensor x3 = lrelu(conv3(torch::cat({x, x1, x2}, 1)));
    at::Tensor x4 = lrelu(conv4(torch::cat({x, x1, x2, x3}, 1)));
    at::Tensor x5 = conv5(torch::cat({x, x1, x2, x3, x4}, 1));
    return x5 * kResidual + x;
}

RrdbImpl::RrdbImpl(int64_t nf, int64_t gc) {
    rdb1 = register_module("rdb1", ResidualDenseBlock(nf, gc));
    rdb2 = register_module("rdb2", ResidualDenseBlock(nf, gc));
    rdb3 = register_module("rdb3", ResidualDenseBlock(nf, gc));
}

at::Tensor RrdbImpl::forward(const at::Tensor& x) {
    return rdb3(rdb2(rdb1(x))) * kResidual + x;
}

RrdbNetImpl::RrdbNetImpl(const RrdbNetConfig& config) : config_(config) {
    const int64_t nf = config.num_feat;
    const int64_t u = config.unshuffle();
    conv_first = register_module("conv_first", nn::Conv2d(config.num_in_ch * u * u, nf, 3, 1, 1));
    body = register_module("body", torch::nn::ModuleList());
    for (int64_t i = 0; i < config.num_block; ++i)
        body->push_back(Rrdb(nf, config.num_grow_ch));
    conv_body = register_module("conv_body", nn::Conv2d(nf, nf, 3, 1, 1));
    conv_up1 = register_module("conv_up1", nn::Conv2d(nf, nf, 3, 1, 1));
    conv_up2 = register_module("conv_up2", nn::Conv2d(nf, nf, 3, 1, 1));
    conv_hr = register_module("conv_hr", nn::Conv2d(nf, nf, 3, 1, 1));
    conv_last = register_module("conv_last", nn::Conv2d(nf, config.num_out_ch, 3, 1, 1));
}

namespace {

/// Nearest-neighbour ×2 (F.interpolate(scale_factor=2, mode='nearest')).
at::Tensor upsample2(const at::Tensor& x) {
    // Older torch has no bf16 kernel for nearest upsampling: go through fp32.
    const bool upcast = x.scalar_type() == at::kBFloat16;
    at::Tensor h = upcast ? x.to(at::kFloat) : x;
    h = F::interpolate(h.contiguous(), F::InterpolateFuncOptions()
                                           .mode(torch::kNearest)
                                           .scale_factor(std::vector<double>{2.0, 2.0}));
    return upcast ? h.to(x.scalar_type()) : h;
}

} // namespace

at::Tensor RrdbNetImpl::forward(const at::Tensor& image) {
    const int64_t u = config_.unshuffle();
    if (image.dim() != 4 || image.size(1) != config_.num_in_ch || image.size(2) % u ||
        image.size(3) % u)
        throw RequestError("The upscaler expects [B, " + std::to_string(config_.num_in_ch) +
                           ", H, W] with H and W multiples of " + std::to_string(u) + ", got " +
                           shape_to_string(image.sizes().vec()) + ".");
    at::Tensor x = image.to(conv_first->weight.options());
    if (u > 1)
        x = torch::pixel_unshuffle(x, u);
    at::Tensor feat = conv_first(x);
    at::Tensor trunk = feat;
    // A large tile takes seconds: the calling thread's CancelScope is
    // checked between blocks.
    for (const auto& block : *body) {
        throw_if_cancelled();
        trunk = block->as<Rrdb>()->forward(trunk);
    }
    feat = feat + conv_body(trunk);
    trunk = at::Tensor();
    throw_if_cancelled();
    feat = lrelu(conv_up1(upsample2(feat)));
    throw_if_cancelled();
    feat = lrelu(conv_up2(upsample2(feat)));
    throw_if_cancelled();
    return conv_last(lrelu(conv_hr(feat)));
}

RrdbNet load_rrdbnet(const WeightSource& source, const std::map<std::string, std::string>& metadata,
                     const LoadOptions& options) {
    const RrdbNetConfig config = RrdbNetConfig::from_weights(source, metadata);
    RrdbNet net(config);
    load_module_weights(*net, source, "", options);
    net->eval();
    for (auto& parameter : net->parameters())
        parameter.set_requires_grad(false);
    return net;
}

} // namespace daub
