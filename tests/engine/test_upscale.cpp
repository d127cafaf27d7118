// Super-resolution: RRDBNet against basicsr's goldens (from .safetensors and
// from PyTorch .pth files), the Upscaler's tiling, levels, progress, cancel
// and refusals, upscale-then-refine in the pipeline, the A1111 "Hires" /
// "Postprocess" parameters, and daub-cli's upscale command and flags.
#include "golden.h"

#include "core/errors.h"
#include "core/runtime.h"
#include "core/safetensors.h"
#include "core/weight_file.h"
#include "image/resample.h"
#include "metadata/image_parameters.h"
#include "pipelines/parameters_text.h"
#include "pipelines/stable_diffusion.h"
#include "upscale/rrdbnet.h"
#include "upscale/upscaler.h"

#include <QtTest/QtTest>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>

using namespace daub;
namespace fs = std::filesystem;

namespace {

std::shared_ptr<const Upscaler> load_upscaler(const std::string& relative) {
    return Upscaler::load(test::fixture(relative), "cpu", "fp32");
}

/// A deterministic test picture: gradients, a disc and some fine texture,
/// so that every tile holds structure the net responds to.
Image pattern_image(int w, int h, uint32_t seed = 1) {
    Image img;
    img.width = w;
    img.height = h;
    img.rgb.resize(static_cast<size_t>(w) * h * 3);
    uint32_t state = seed;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            state = state * 1664525u + 1013904223u;
            const int noise = static_cast<int>(state >> 27) - 16; // -16..15
            const double dx = x - w * 0.4, dy = y - h * 0.6;
            const bool disc = dx * dx + dy * dy < (w * h) / 10.0;
            const int v[3] = {x * 255 / std::max(1, w - 1), y * 255 / std::max(1, h - 1),
                              disc ? 220 : 40};
            for (int c = 0; c < 3; ++c)
                img.rgb[(static_cast<size_t>(y) * w + x) * 3 + c] =
                    static_cast<uint8_t>(std::clamp(v[c] + noise, 0, 255));
        }
    return img;
}

int max_u8_diff(const Image& a, const Image& b) {
    if (a.width != b.width || a.height != b.height)
        return 256;
    int m = 0;
    for (size_t i = 0; i < a.rgb.size(); ++i)
        m = std::max(m, std::abs(int(a.rgb[i]) - int(b.rgb[i])));
    return m;
}

double mean_u8(const Image& a) {
    double s = 0;
    for (uint8_t v : a.rgb)
        s += v;
    return a.rgb.empty() ? 0 : s / a.rgb.size();
}

/// The net's own result on `img`: round(clamp(net(u8 / 255), 0, 1) · 255).
Image direct_net(const std::string& relative, const Image& img) {
    SafeTensorsFile file(test::fixture(relative));
    RrdbNet net = load_rrdbnet(file, file.metadata(), {});
    torch::InferenceMode guard;
    at::Tensor x = torch::from_blob(const_cast<uint8_t*>(img.rgb.data()),
                                    {img.height, img.width, 3}, torch::kUInt8)
                       .permute({2, 0, 1})
                       .unsqueeze(0)
                       .to(torch::kFloat) /
                   255.0;
    at::Tensor y = net->forward(x).clamp(0, 1)[0].permute({1, 2, 0}).contiguous();
    y = (y * 255).round().to(torch::kUInt8);
    Image out;
    out.width = static_cast<int>(y.size(1));
    out.height = static_cast<int>(y.size(0));
    out.rgb.assign(y.data_ptr<uint8_t>(), y.data_ptr<uint8_t>() + y.numel());
    return out;
}

std::shared_ptr<StableDiffusion> load_sd15() {
    LoadRequest r;
    r.path = test::fixture("tiny-sd15");
    r.device = "cpu";
    return std::shared_ptr<StableDiffusion>(
        static_cast<StableDiffusion*>(Pipeline::load(r).release()));
}

GenerationRequest small_request() {
    GenerationRequest req;
    req.prompt = "a photo of a red fox in the snow";
    req.width = 64;
    req.height = 48;
    req.steps = 4;
    req.guidance_scale = 7.5f;
    req.seed = 7;
    req.scheduler = "euler";
    return req;
}

/// A safetensors file of named tensors (zeros of the given shapes).
std::string write_fake(const std::string& name,
                       const std::vector<std::pair<std::string, std::vector<int64_t>>>& tensors) {
    std::map<std::string, at::Tensor> map;
    for (const auto& [key, shape] : tensors)
        map[key] = torch::zeros(shape);
    const fs::path dir = fs::path(DAUB_BINARY_DIR) / "test_upscale_scratch";
    fs::create_directories(dir);
    const std::string path = (dir / name).string();
    write_safetensors(path, map);
    return path;
}

const QString kCli = QStringLiteral(DAUB_BINARY_DIR "/engine/tools/daub-cli");

QString fixture_q(const char* relative) {
    return QString::fromStdString(test::fixture(relative));
}

} // namespace

class TestUpscale : public QObject {
    Q_OBJECT

    std::shared_ptr<const Upscaler> x4_, x2_, x1_;
    std::shared_ptr<StableDiffusion> sd15_;

    /// A ×1 RRDBNet (pixel-unshuffle by 4): the ×4 fixture's weights with a
    /// conv_first for 48 channels, seeded random.
    std::shared_ptr<const Upscaler> make_x1() {
        SafeTensorsFile x4(test::fixture("tiny-rrdbnet-x4.safetensors"));
        std::map<std::string, at::Tensor> tensors;
        for (const auto& k : x4.keys())
            tensors[k] = x4.load(k);
        torch::manual_seed(5);
        tensors["conv_first.weight"] = torch::randn({8, 48, 3, 3}) * 0.05;
        const fs::path dir = fs::path(DAUB_BINARY_DIR) / "test_upscale_scratch";
        fs::create_directories(dir);
        const std::string path = (dir / "tiny-rrdbnet-x1.safetensors").string();
        write_safetensors(path, tensors); // no metadata: the shapes say ×1
        return Upscaler::load(path, "cpu", "fp32");
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY2(test::fixtures_present(), "fixtures folder missing: set DAUB_FIXTURES");
        init_runtime();
        x4_ = load_upscaler("tiny-rrdbnet-x4.safetensors");
        x2_ = load_upscaler("tiny-rrdbnet-x2.safetensors");
        x1_ = make_x1();
    }

    // ------------------------------------------------------------- the net

    void golden_data() {
        QTest::addColumn<QString>("golden");
        QTest::addColumn<QString>("file");
        QTest::newRow("x4 safetensors") << "rrdbnet_x4"
                                        << "tiny-rrdbnet-x4.safetensors";
        QTest::newRow("x2 safetensors") << "rrdbnet_x2"
                                        << "tiny-rrdbnet-x2.safetensors";
        QTest::newRow("x4 pth (params_ema)") << "rrdbnet_x4"
                                             << "pickles/tiny-rrdbnet-x4.pth";
        QTest::newRow("x2 pth (bare state dict)") << "rrdbnet_x2"
                                                  << "pickles/tiny-rrdbnet-x2.pth";
    }
    void golden() {
        QFETCH(QString, golden);
        QFETCH(QString, file);
        const auto weights = open_weight_file(test::fixture(file.toStdString()));
        const auto* st = dynamic_cast<const SafeTensorsFile*>(weights.get());
        RrdbNet net =
            load_rrdbnet(*weights, st ? st->metadata() : std::map<std::string, std::string>{}, {});
        SafeTensorsFile g(test::fixture("golden/" + golden.toStdString() + ".safetensors"));
        torch::InferenceMode guard;
        const at::Tensor out = net->forward(g.load("input"));
        DAUB_VERIFY_GOLDEN((golden + " from " + file).toUtf8().constData(), out, g.load("out"));
    }

    /// The .pth twins hold the same weights: Upscaler results are identical.
    void pth_equals_safetensors() {
        const Image img = pattern_image(20, 16);
        for (const char* scale : {"x4", "x2"}) {
            auto st = load_upscaler(std::string("tiny-rrdbnet-") + scale + ".safetensors");
            auto pth = load_upscaler(std::string("pickles/tiny-rrdbnet-") + scale + ".pth");
            QCOMPARE(pth->native_scale(), st->native_scale());
            UpscaleOptions o;
            o.level = st->native_scale();
            o.tile = 0;
            QCOMPARE(max_u8_diff(pth->upscale(img, o), st->upscale(img, o)), 0);
        }
    }

    void config_from_metadata_and_shapes() {
        for (const char* scale : {"x4", "x2"}) {
            SafeTensorsFile file(
                test::fixture(std::string("tiny-rrdbnet-") + scale + ".safetensors"));
            const RrdbNetConfig with = RrdbNetConfig::from_weights(file, file.metadata());
            const RrdbNetConfig without = RrdbNetConfig::from_weights(file, {}); // shapes only
            for (const RrdbNetConfig& c : {with, without}) {
                QCOMPARE(c.scale, std::string(scale) == "x4" ? int64_t{4} : int64_t{2});
                QCOMPARE(c.num_feat, int64_t{8});
                QCOMPARE(c.num_block, int64_t{2});
                QCOMPARE(c.num_grow_ch, int64_t{4});
                QCOMPARE(c.num_in_ch, int64_t{3});
                QCOMPARE(c.num_out_ch, int64_t{3});
            }
        }
        // Metadata that contradicts the shapes is an error naming both.
        SafeTensorsFile x4(test::fixture("tiny-rrdbnet-x4.safetensors"));
        try {
            RrdbNetConfig::from_weights(x4, {{"scale", "2"}});
            QFAIL("contradicting metadata accepted");
        } catch (const ModelError& e) {
            QVERIFY2(std::string(e.what()).find("metadata says scale 2") != std::string::npos,
                     e.what());
        }
        QVERIFY_THROWS_EXCEPTION(UnsupportedModelError,
                                 RrdbNetConfig::from_weights(x4, {{"arch", "SRVGGNetCompact"}}));
    }

    /// upscale() is the net on u8 / 255, clamped and rounded.
    void upscale_is_the_net() {
        const Image img = pattern_image(24, 20);
        UpscaleOptions o;
        o.tile = 0;
        o.level = 4;
        const Image a = x4_->upscale(img, o);
        QCOMPARE(a.width, 96);
        QCOMPARE(a.height, 80);
        QCOMPARE(max_u8_diff(a, direct_net("tiny-rrdbnet-x4.safetensors", img)), 0);
        o.level = 2;
        const Image b = x2_->upscale(img, o);
        QCOMPARE(max_u8_diff(b, direct_net("tiny-rrdbnet-x2.safetensors", img)), 0);
    }

    // ------------------------------------------------------------- tiling

    /// An image of several tiles: with a pad that covers the receptive
    /// field the seams vanish (max |u8 diff| <= 1); Real-ESRGAN's default
    /// pad 10 is measured and printed.
    void tiling_equals_untiled_data() {
        QTest::addColumn<QString>("net");
        QTest::addColumn<int>("width");
        QTest::addColumn<int>("height");
        QTest::newRow("x4 96x80") << "x4" << 96 << 80;
        QTest::newRow("x2 80x64") << "x2" << 80 << 64;
        QTest::newRow("x2 odd 45x37 (mod pad)") << "x2" << 45 << 37;
        QTest::newRow("x1 odd 70x45 (unshuffle 4)") << "x1" << 70 << 45;
    }
    void tiling_equals_untiled() {
        QFETCH(QString, net);
        QFETCH(int, width);
        QFETCH(int, height);
        const Upscaler& up = net == "x4" ? *x4_ : net == "x2" ? *x2_ : *x1_;
        const Image img = pattern_image(width, height, 3);
        UpscaleOptions whole;
        whole.level = std::max(up.native_scale(), 2);
        whole.tile = 0;
        const Image reference = up.upscale(img, whole);
        QCOMPARE(reference.width, width * whole.level);
        QCOMPARE(reference.height, height * whole.level);

        UpscaleOptions tiled = whole;
        tiled.tile = 32;
        tiled.tile_pad = up.receptive_radius();
        int calls = 0;
        const Image t = up.upscale(img, tiled, [&](const UpscaleProgress&) { ++calls; });
        const int expected_tiles = ((width + 31) / 32) * ((height + 31) / 32);
        QCOMPARE(calls, expected_tiles);
        QVERIFY(expected_tiles >= 4);
        const int diff = max_u8_diff(t, reference);
        qInfo("%s %dx%d, tile 32, pad %d (receptive radius): max |u8 diff| %d", qPrintable(net),
              width, height, tiled.tile_pad, diff);
        QVERIFY2(diff <= 1, qPrintable(QString("tiled differs by %1").arg(diff)));

        tiled.tile_pad = 10;
        qInfo("  with Real-ESRGAN's pad 10: max |u8 diff| %d",
              max_u8_diff(up.upscale(img, tiled), reference));
    }

    void receptive_radius() {
        // (2 + 15 · 2 blocks + 1/2 + 3/4) pixels of the net's own grid,
        // × the pixel-unshuffle factor.
        QCOMPARE(x4_->receptive_radius(), 34);
        QCOMPARE(x2_->receptive_radius(), 67);
        QCOMPARE(x1_->receptive_radius(), 133);
    }

    void progress_once_per_tile_monotonic() {
        const Image img = pattern_image(40, 24);
        UpscaleOptions o;
        o.level = 4;
        o.tile = 16; // x2 net run twice: 3×2 tiles, then 5×3 on the ×2 image
        std::vector<UpscaleProgress> seen;
        const Image out =
            x2_->upscale(img, o, [&](const UpscaleProgress& p) { seen.push_back(p); });
        QCOMPARE(out.width, 160);
        QCOMPARE(out.height, 96);
        QCOMPARE(int(seen.size()), 6 + 15);
        for (size_t i = 0; i < seen.size(); ++i) {
            QCOMPARE(seen[i].tile, int(i) + 1);
            QCOMPARE(seen[i].total, 21);
        }
    }

    void cancel_between_tiles() {
        const Image img = pattern_image(64, 64);
        UpscaleOptions o;
        o.tile = 16; // 16 tiles
        CancelToken cancel;
        int calls = 0;
        QVERIFY_THROWS_EXCEPTION(CancelledError, x4_->upscale(
                                                     img, o,
                                                     [&](const UpscaleProgress& p) {
                                                         ++calls;
                                                         if (p.tile == 3)
                                                             cancel.cancel();
                                                     },
                                                     &cancel));
        QCOMPARE(calls, 3);
        cancel.reset();
        QCOMPARE(x4_->upscale(img, o, {}, &cancel).width, 256); // usable afterwards
    }

    void automatic_tile_size() {
        UpscaleOptions o;                       // tile -1
        QCOMPARE(x4_->tile_size(64, 64, o), 0); // fits: no tiling
        // 8192 × 8192 at ×4 needs far more than any machine here has free.
        const int t = x4_->tile_size(8192, 8192, o);
        qInfo("automatic tile for 8192x8192 (x4 tiny net): %d", t);
        QVERIFY(t >= 32 && t <= 2048 && t % 8 == 0);
        // Evened out: the last tile is nearly as large as the others.
        for (const int side : {8192, 5000}) {
            const int tile = x4_->tile_size(side, 3000, o);
            const int n = (side + tile - 1) / tile;
            qInfo("automatic tile for %dx3000: %d (%d across)", side, tile, n);
            QVERIFY(tile % 8 == 0 && n * tile - side < 8 * n);
        }
        o.tile = 5;
        QCOMPARE(x2_->tile_size(100, 100, o), 8); // at least 8
        o.tile = 33;
        QCOMPARE(x2_->tile_size(100, 100, o), 34); // a multiple of the unshuffle
        o.tile = 0;
        QCOMPARE(x4_->tile_size(5000, 5000, o), 0);
    }

    // -------------------------------------------------------------- levels

    void levels_and_methods() {
        const Image img = pattern_image(21, 13); // odd on purpose
        UpscaleOptions o;
        o.tile = 0;
        struct Case {
            const Upscaler* up;
            int level;
            std::string method;
        };
        const Case cases[] = {
            {x4_.get(), 4, "tiny-rrdbnet-x4 ×4"},
            {x4_.get(), 2, "tiny-rrdbnet-x4 ×4, Lanczos down to ×2"},
            {x2_.get(), 2, "tiny-rrdbnet-x2 ×2"},
            {x2_.get(), 4, "tiny-rrdbnet-x2 ×2 run twice"},
            {x1_.get(), 2, "tiny-rrdbnet-x1 ×1, Lanczos up to ×2"},
            {x1_.get(), 4, "tiny-rrdbnet-x1 ×1, Lanczos up to ×4"},
        };
        for (const Case& c : cases) {
            o.level = c.level;
            const Image out = c.up->upscale(img, o);
            QCOMPARE(out.width, 21 * c.level);
            QCOMPARE(out.height, 13 * c.level);
            QCOMPARE(c.up->method(c.level), c.method);
        }
        // ×2 from the ×4 net keeps the ×4 result's colours (a downscale of it).
        o.level = 4;
        const Image four = x4_->upscale(img, o);
        o.level = 2;
        const Image two = x4_->upscale(img, o);
        QVERIFY(std::abs(mean_u8(four) - mean_u8(two)) < 1.0);
        for (int bad : {0, 1, 3, 8}) {
            o.level = bad;
            QVERIFY_THROWS_EXCEPTION(RequestError, x4_->upscale(img, o));
            QVERIFY_THROWS_EXCEPTION(RequestError, x4_->method(bad));
        }
        QCOMPARE(x4_->native_scale(), 4);
        QCOMPARE(x2_->native_scale(), 2);
        QCOMPARE(x1_->native_scale(), 1);
        QCOMPARE(x4_->name(), std::string("tiny-rrdbnet-x4"));
        QCOMPARE(x4_->device(), std::string("cpu"));
        QCOMPARE(x4_->dtype(), std::string("fp32"));
    }

    /// bf16 on the CPU (the reduced-precision path, as fp16 on CUDA): about
    /// three significant digits, and the tiny nets' outputs stay below 0.15,
    /// so the error stays under a u8 step before rounding: at most 2 apart.
    void bf16_close_to_fp32() {
        const Image img = pattern_image(24, 20);
        for (const char* file : {"tiny-rrdbnet-x4.safetensors", "tiny-rrdbnet-x2.safetensors"}) {
            auto bf16 = Upscaler::load(test::fixture(file), "cpu", "bf16");
            auto fp32 = Upscaler::load(test::fixture(file), "cpu", "fp32");
            QCOMPARE(bf16->dtype(), std::string("bf16"));
            UpscaleOptions o;
            o.level = 4;
            o.tile = 0;
            const Image a = bf16->upscale(img, o), b = fp32->upscale(img, o);
            QCOMPARE(a.width, b.width);
            double num = 0, den = 0; // relative L2, printed for the record
            for (size_t i = 0; i < a.rgb.size(); ++i) {
                const double d = double(a.rgb[i]) - double(b.rgb[i]);
                num += d * d;
                den += double(b.rgb[i]) * double(b.rgb[i]);
            }
            const double rel = std::sqrt(num / den);
            qInfo("%s bf16 vs fp32: relative L2 %.2e, max |u8 diff| %d", file, rel,
                  max_u8_diff(a, b));
            QVERIFY(max_u8_diff(a, b) <= 2);
        }
    }

    void lanczos_downscale() {
        // A flat image stays flat; a smooth ramp stays a ramp.
        Image flat = pattern_image(16, 16);
        std::fill(flat.rgb.begin(), flat.rgb.end(), uint8_t{173});
        const auto f = image::resample_lanczos(flat.rgb.data(), 16, 16, {0, 0, 16, 16}, 8, 8);
        QVERIFY(std::all_of(f.begin(), f.end(), [](uint8_t v) { return v == 173; }));
        std::vector<uint8_t> ramp(64 * 3);
        for (int x = 0; x < 64; ++x)
            ramp[x * 3] = ramp[x * 3 + 1] = ramp[x * 3 + 2] = static_cast<uint8_t>(x * 4);
        const auto r = image::resample_lanczos(ramp.data(), 64, 1, {0, 0, 64, 1}, 32, 1);
        for (int x = 8; x < 24; ++x) // inside, away from the edges: the ramp's pair means
            QVERIFY(std::abs(int(r[x * 3]) - (x * 8 + 2)) <= 1);
    }

    void options_checked() {
        const Image img = pattern_image(8, 8);
        UpscaleOptions o;
        o.tile = -2;
        QVERIFY_THROWS_EXCEPTION(RequestError, x4_->upscale(img, o));
        o.tile = 0;
        o.tile_pad = 513;
        QVERIFY_THROWS_EXCEPTION(RequestError, x4_->upscale(img, o));
        o.tile_pad = -1;
        QVERIFY_THROWS_EXCEPTION(RequestError, x4_->upscale(img, o));
        QVERIFY_THROWS_EXCEPTION(ImageError, x4_->upscale(Image{}, {}));
        Image big;
        big.width = 2049;
        big.height = 2048;
        big.rgb.assign(size_t(big.width) * big.height * 3, 0);
        QVERIFY_THROWS_EXCEPTION(RequestError, x4_->upscale(big, {})); // over 8192²
        // ×2 from the ×4 net: its own ×4 output counts too.
        o = UpscaleOptions{};
        o.level = 2;
        QVERIFY_THROWS_EXCEPTION(RequestError, x4_->check(2049, 2048, o));
        x4_->check(2048, 2048, o);
        x2_->check(2049, 2048, o);
        o.level = 4;
        x2_->check(2048, 2048, o);
        QVERIFY_THROWS_EXCEPTION(RequestError, x2_->check(2048, 2049, o));
        QVERIFY_THROWS_EXCEPTION(
            RequestError, Upscaler::load(test::fixture("tiny-rrdbnet-x4.safetensors"), "tpu"));
        QVERIFY_THROWS_EXCEPTION(
            RequestError,
            Upscaler::load(test::fixture("tiny-rrdbnet-x4.safetensors"), "cpu", "fp16"));
    }

    // ----------------------------------------------------------- refusals

    void refuses_other_files_data() {
        QTest::addColumn<QString>("path");
        QTest::addColumn<QString>("says");
        QTest::newRow("SD checkpoint") << fixture_q("tiny-sd15.safetensors")
                                       << "is not an RRDBNet (Real-ESRGAN) upscaler (it is a "
                                          "Stable Diffusion model)";
        QTest::newRow("SD pickle")
            << fixture_q("pickles/tiny-sd15.ckpt") << "is not an RRDBNet (Real-ESRGAN) upscaler";
        QTest::newRow("diffusers UNet")
            << fixture_q("tiny-sd15/unet/diffusion_pytorch_model.safetensors")
            << "is not an RRDBNet (Real-ESRGAN) upscaler";
        QTest::newRow("SwinIR-like")
            << QString::fromStdString(write_fake(
                   "swinir.safetensors", {{"conv_first.weight", {8, 3, 3, 3}},
                                          {"layers.0.residual_group.blocks.0.norm1.weight", {8}}}))
            << "it looks like a SwinIR model";
        QTest::newRow("compact Real-ESRGAN")
            << QString::fromStdString(write_fake(
                   "compact.safetensors", {{"body.0.weight", {8, 3, 3, 3}}, {"body.0.bias", {8}}}))
            << "compact Real-ESRGAN (SRVGGNetCompact)";
        QTest::newRow("old ESRGAN keys")
            << QString::fromStdString(write_fake(
                   "old-esrgan.safetensors", {{"model.0.weight", {8, 3, 3, 3}},
                                              {"model.1.sub.0.RDB1.conv1.0.weight", {4, 8, 3, 3}}}))
            << "an upsampler other than the ×4 one";
        QTest::newRow("missing file") << "/nonexistent/up.pth"
                                      << "does not exist";
    }
    void refuses_other_files() {
        QFETCH(QString, path);
        QFETCH(QString, says);
        try {
            Upscaler::load(path.toStdString(), "cpu");
            QFAIL("accepted");
        } catch (const ModelError& e) {
            qInfo("%s", e.what());
            QVERIFY2(QString(e.what()).contains(says), e.what());
        }
    }

    /// A file whose RRDBNet lacks a tensor, or names a far block, is refused
    /// before anything is allocated.
    void refuses_incomplete_rrdbnet() {
        SafeTensorsFile x4(test::fixture("tiny-rrdbnet-x4.safetensors"));
        std::map<std::string, at::Tensor> tensors;
        for (const auto& k : x4.keys())
            tensors[k] = x4.load(k);
        const fs::path dir = fs::path(DAUB_BINARY_DIR) / "test_upscale_scratch";
        fs::create_directories(dir);

        auto without = tensors;
        without.erase("body.1.rdb2.conv3.weight");
        write_safetensors((dir / "missing.safetensors").string(), without);
        try {
            Upscaler::load((dir / "missing.safetensors").string(), "cpu");
            QFAIL("accepted");
        } catch (const ModelError& e) {
            QVERIFY2(QString(e.what()).contains("'body.1.rdb2.conv3.weight' is missing"), e.what());
        }

        auto far = tensors;
        far["body.999.rdb1.conv1.weight"] = torch::zeros({4, 8, 3, 3});
        write_safetensors((dir / "far.safetensors").string(), far);
        try {
            Upscaler::load((dir / "far.safetensors").string(), "cpu");
            QFAIL("accepted");
        } catch (const ModelError& e) {
            QVERIFY2(QString(e.what()).contains("block body.2 is missing"), e.what());
        }
    }

    /// ESRGAN's original ×4 key layout (model.0, model.1.sub.N.RDBk.convm.0,
    /// model.3/6/8/10) loads as the same net.
    void original_esrgan_layout() {
        SafeTensorsFile x4(test::fixture("tiny-rrdbnet-x4.safetensors"));
        std::map<std::string, at::Tensor> renamed;
        auto rename = [](std::string key) {
            const std::pair<const char*, const char*> fixed[] = {
                {"conv_first.", "model.0."}, {"conv_body.", "model.1.sub.2."},
                {"conv_up1.", "model.3."},   {"conv_up2.", "model.6."},
                {"conv_hr.", "model.8."},    {"conv_last.", "model.10."}};
            for (const auto& [from, to] : fixed)
                if (key.rfind(from, 0) == 0)
                    return to + key.substr(std::strlen(from));
            // body.N.rdbK.convM.X -> model.1.sub.N.RDBK.convM.0.X
            const size_t rdb = key.find(".rdb"), conv = key.find(".conv", rdb + 1);
            return "model.1.sub." + key.substr(5, rdb - 5) + ".RDB" +
                   key.substr(rdb + 4, conv - rdb - 4) + key.substr(conv, 6) + ".0" +
                   key.substr(conv + 6);
        };
        for (const auto& k : x4.keys())
            renamed[rename(k)] = x4.load(k);
        QVERIFY(renamed.count("model.1.sub.1.RDB3.conv5.0.weight"));
        const fs::path dir = fs::path(DAUB_BINARY_DIR) / "test_upscale_scratch";
        fs::create_directories(dir);
        const std::string path = (dir / "4x-original-layout.safetensors").string();
        write_safetensors(path, renamed);
        auto old = Upscaler::load(path, "cpu");
        QCOMPARE(old->native_scale(), 4);
        const Image img = pattern_image(20, 12);
        UpscaleOptions o;
        o.tile = 0;
        QCOMPARE(max_u8_diff(old->upscale(img, o), x4_->upscale(img, o)), 0);
    }

    void refuses_pickle_attack() {
        const fs::path marker = "/tmp/daub-pickle-attack-ran";
        fs::remove(marker);
        QVERIFY_THROWS_EXCEPTION(
            ModelError, Upscaler::load(test::fixture("pickles/attack-os-system.pth"), "cpu"));
        QVERIFY(!fs::exists(marker));
    }

    // ------------------------------------------------------------ pipeline

    void pipeline_superres_and_refine() {
        sd15_ = load_sd15();
        QVERIFY(!sd15_->has_img2img());
        GenerationRequest req = small_request();
        const GenerationResult plain = sd15_->generate(req, {}, nullptr);
        QVERIFY(!plain.upscale);

        req.upscaler = x4_;
        req.superres_level = 2;
        std::vector<Progress> seen;
        auto record = [&](const Progress& p) {
            Progress copy = p;
            copy.latents = nullptr;
            seen.push_back(copy);
        };
        const GenerationResult up = sd15_->generate(req, record, nullptr);
        QCOMPARE(up.image.width, 128);
        QCOMPARE(up.image.height, 96);
        QCOMPARE(up.width, 128);
        QCOMPARE(up.height, 96);
        QVERIFY(up.upscale);
        QCOMPARE(up.upscale->upscaler, std::string("tiny-rrdbnet-x4"));
        QCOMPARE(up.upscale->level, 2);
        QCOMPARE(up.upscale->method, std::string("tiny-rrdbnet-x4 ×4, Lanczos down to ×2"));
        QCOMPARE(up.upscale->base_width, 64);
        QCOMPARE(up.upscale->base_height, 48);
        QVERIFY(!up.upscale->refine_strength);
        QVERIFY(!sd15_->has_img2img()); // no refine: no img2img
        // The same as upscaling the plain result.
        UpscaleOptions o;
        o.level = 2;
        QCOMPARE(max_u8_diff(up.image, x4_->upscale(plain.image, o)), 0);
        // Progress: the denoising steps, then the upscale's tiles.
        QVERIFY(!seen.empty());
        QCOMPARE(int(seen.front().phase), int(Progress::Phase::Denoise));
        QCOMPARE(int(seen.back().phase), int(Progress::Phase::Upscale));
        QCOMPARE(seen.back().step, seen.back().total);

        // Refine: img2img on the upscaled image with the same seed.
        req.refine_strength = 0.5f;
        seen.clear();
        const GenerationResult refined = sd15_->generate(req, record, nullptr);
        QCOMPARE(refined.image.width, 128);
        QCOMPARE(refined.image.height, 96);
        QVERIFY(refined.upscale && refined.upscale->refine_strength);
        QCOMPARE(*refined.upscale->refine_strength, 0.5f);
        QCOMPARE(refined.upscale->refine_steps_run, 2); // int(4 × 0.5)
        QCOMPARE(refined.steps_run, 4);
        QVERIFY(max_u8_diff(refined.image, up.image) > 0);
        QVERIFY(sd15_->has_img2img()); // the shared img2img pipeline ran it
        QVERIFY(refined.timings.refine_ms > 0 && refined.timings.upscale_ms > 0);
        std::vector<Progress::Phase> phases;
        for (const Progress& p : seen)
            if (phases.empty() || phases.back() != p.phase)
                phases.push_back(p.phase);
        QCOMPARE(phases.size(), size_t{3});
        QCOMPARE(int(phases[2]), int(Progress::Phase::Refine));
        QCOMPARE(seen.back().step, 2);
        QCOMPARE(seen.back().total, 2);

        // The parameters: the first pass's size, then the hires fields.
        const std::string text = parameters_text(req, refined, sd15_->info());
        qInfo("%s", text.c_str());
        QVERIFY(text.find("Size: 64x48") != std::string::npos);
        QVERIFY(text.find("Denoising strength: 0.5, ") != std::string::npos);
        QVERIFY(text.find("Hires upscale: 2, Hires upscaler: tiny-rrdbnet-x4") !=
                std::string::npos);
        const auto parsed = parse_parameters_text(text);
        QVERIFY(parsed);
        QVERIFY(*parsed == image_parameters(req, refined, sd15_->info()));
        QCOMPARE(parsed->upscale, 2.0);
        QCOMPARE(*parsed->refine_strength, 0.5);
        QVERIFY(!parsed->denoising_strength);
    }

    void pipeline_checks_requests() {
        if (!sd15_)
            sd15_ = load_sd15();
        int calls = 0;
        auto count = [&](const Progress&) { ++calls; };
        GenerationRequest req = small_request();
        req.superres_level = 2; // no upscaler
        QVERIFY_THROWS_EXCEPTION(RequestError, sd15_->generate(req, count, nullptr));
        req.upscaler = x4_;
        req.superres_level = 3;
        QVERIFY_THROWS_EXCEPTION(RequestError, sd15_->generate(req, count, nullptr));
        req.superres_level = 0;
        req.refine_strength = 0.3f; // refine without superres
        QVERIFY_THROWS_EXCEPTION(RequestError, sd15_->generate(req, count, nullptr));
        req.superres_level = 2;
        req.refine_strength = 1.5f;
        QVERIFY_THROWS_EXCEPTION(RequestError, sd15_->generate(req, count, nullptr));
        req.refine_strength = 0.3f;
        req.width = 2304; // ×2 = 4608 > 4096: refused before the first pass runs
        QVERIFY_THROWS_EXCEPTION(RequestError, sd15_->generate(req, count, nullptr));
        req.width = 64;
        req.upscale_options.tile = -7;
        QVERIFY_THROWS_EXCEPTION(RequestError, sd15_->generate(req, count, nullptr));
        QCOMPARE(calls, 0);

        // Cancelling during the upscale (after its first of 12 tiles) leaves
        // the pipeline usable.
        req = small_request();
        req.steps = 1;
        req.upscaler = x2_;
        req.superres_level = 2;
        req.upscale_options.tile = 16;
        CancelToken cancel;
        int tiles = 0;
        QVERIFY_THROWS_EXCEPTION(CancelledError, sd15_->generate(
                                                     req,
                                                     [&](const Progress& p) {
                                                         if (p.phase == Progress::Phase::Upscale) {
                                                             ++tiles;
                                                             cancel.cancel();
                                                         }
                                                     },
                                                     &cancel));
        QCOMPARE(tiles, 1);
        cancel.reset();
        req.upscale_options.tile = 0;
        QCOMPARE(sd15_->generate(req, {}, &cancel).image.width, 128);
    }

    // -------------------------------------------------------- parameters

    void parameters_text_upscale_fields() {
        ImageParameters p;
        p.prompt = "a fox";
        p.steps = 20;
        p.scheduler = "euler_a";
        p.seed = 42;
        p.width = 512;
        p.height = 768;
        p.model = "sd15";
        // Upscale without refine: A1111's Extras vocabulary.
        p.upscaler = "RealESRGAN_x4plus";
        p.upscale = 4;
        std::string text = format_parameters_text(p);
        QVERIFY2(text.find("Postprocess upscale by: 4, Postprocess upscaler: RealESRGAN_x4plus") !=
                     std::string::npos,
                 text.c_str());
        QVERIFY(text.find("Hires") == std::string::npos);
        QVERIFY(*parse_parameters_text(text) == p);
        // img2img first pass, then refine: both strengths survive.
        p.denoising_strength = 0.6;
        p.refine_strength = 0.35;
        p.upscale = 2;
        text = format_parameters_text(p);
        QVERIFY2(text.find("Denoising strength: 0.6, Hires upscale: 2, Hires upscaler: "
                           "RealESRGAN_x4plus, Hires denoising strength: 0.35") !=
                     std::string::npos,
                 text.c_str());
        QVERIFY(*parse_parameters_text(text) == p);
        // A1111's own hires-fix text reads back as upscale + refine.
        const auto a1111 = parse_parameters_text(
            "a lighthouse\nSteps: 6, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 1.5, "
            "Seed: 3277121308, Size: 512x768, Model: RVHYPO, Denoising strength: 0.35, "
            "Hires upscale: 2.0, Hires steps: 2, Hires upscaler: "
            "\"4x_NMKD-Superscale-SP_178000_G\", "
            "Version: v1.10.1");
        QVERIFY(a1111);
        QCOMPARE(a1111->upscale, 2.0);
        QCOMPARE(a1111->upscaler, std::string("4x_NMKD-Superscale-SP_178000_G"));
        QCOMPARE(*a1111->refine_strength, 0.35);
        QVERIFY(!a1111->denoising_strength);
        QCOMPARE(a1111->width, 512);
        QVERIFY(!parse_parameters_text("x\nSteps: 2, Seed: 1, Size: 8x8, Hires upscale: big"));
    }

    // ------------------------------------------------------------ daub-cli

    void cli_upscale() {
        const QString out = QDir::temp().filePath("daub-cli-upscale-test.png");
        const QString in = QDir::temp().filePath("daub-cli-upscale-in.png");
        const Image input = pattern_image(40, 24);
        write_png_file(in.toStdString(), input);
        QProcess p;
        p.start(kCli, {"upscale", "--upscaler", fixture_q("tiny-rrdbnet-x4.safetensors"), "--in",
                       in, "--out", out, "--scale", "2", "--tile", "16", "--device", "cpu"});
        QVERIFY(p.waitForFinished(60000));
        const QByteArray stdout_ = p.readAllStandardOutput();
        QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
        const auto line = nlohmann::json::parse(stdout_.toStdString());
        QCOMPARE(line["width"].get<int>(), 80);
        QCOMPARE(line["height"].get<int>(), 48);
        QCOMPARE(line["method"].get<std::string>(),
                 std::string("tiny-rrdbnet-x4 ×4, Lanczos down to ×2"));
        QCOMPARE(line["tile"].get<int>(), 16);
        QCOMPARE(line["tiles"].get<int>(), 6);
        QVERIFY(line["timings_ms"]["upscale"].get<double>() > 0);
        const Image written = read_image_file(out.toStdString());
        UpscaleOptions o;
        o.level = 2;
        o.tile = 16;
        QCOMPARE(max_u8_diff(written, x4_->upscale(input, o)), 0);

        QProcess bad; // an SD checkpoint as the upscaler: one sentence, exit 1
        bad.start(kCli, {"upscale", "--upscaler", fixture_q("tiny-sd15.safetensors"), "--in", in,
                         "--out", out});
        QVERIFY(bad.waitForFinished(60000));
        QCOMPARE(bad.exitCode(), 1);
        QVERIFY(bad.readAllStandardError().contains("not an RRDBNet (Real-ESRGAN) upscaler"));

        QProcess level; // --scale 3
        level.start(kCli, {"upscale", "--upscaler", fixture_q("tiny-rrdbnet-x2.safetensors"),
                           "--in", in, "--out", out, "--scale", "3"});
        QVERIFY(level.waitForFinished(60000));
        QVERIFY(level.exitCode() != 0);
        QVERIFY(level.readAllStandardError().contains("must be 2 or 4"));
    }

    void cli_generate_superres_refine() {
        const QString out = QDir::temp().filePath("daub-cli-superres-test.png");
        QProcess p;
        const QStringList args =
            QStringList{"generate", "--model", fixture_q("tiny-sd15"), "--prompt", "a red fox"} +
            QStringList{"--width", "64", "--height", "48",  "--steps", "2", "--scheduler", "euler",
                        "--seed",  "7",  "--device", "cpu", "--out",   out} +
            QStringList{"--upscaler", fixture_q("pickles/tiny-rrdbnet-x2.pth"),
                        "--superres", "2",
                        "--refine",   "0.5"};
        p.start(kCli, args);
        QVERIFY(p.waitForFinished(120000));
        const QByteArray stdout_ = p.readAllStandardOutput();
        QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
        const auto line = nlohmann::json::parse(stdout_.toStdString());
        QCOMPARE(line["width"].get<int>(), 128);
        QCOMPARE(line["upscale"]["method"].get<std::string>(), std::string("tiny-rrdbnet-x2 ×2"));
        QCOMPARE(line["upscale"]["refine_steps_run"].get<int>(), 1);
        const Image written = read_image_file(out.toStdString());
        QCOMPARE(written.width, 128);
        QCOMPARE(written.height, 96);
        // The PNG's parameters say what was done.
        std::ifstream f(out.toStdString(), std::ios::binary);
        const std::string bytes((std::istreambuf_iterator<char>(f)), {});
        QVERIFY(bytes.find("Size: 64x48") != std::string::npos);
        QVERIFY(bytes.find("Denoising strength: 0.5, Hires upscale: 2, Hires upscaler: "
                           "tiny-rrdbnet-x2") != std::string::npos);

        QProcess bad; // --superres without --upscaler
        bad.start(kCli, {"generate", "--model", fixture_q("tiny-sd15"), "--prompt", "x",
                         "--superres", "2", "--out", out});
        QVERIFY(bad.waitForFinished(60000));
        QCOMPARE(bad.exitCode(), 2);
        QVERIFY(bad.readAllStandardError().contains("--superres needs --upscaler"));
    }
};

QTEST_GUILESS_MAIN(TestUpscale)
#include "test_upscale.moc"
