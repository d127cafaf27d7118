// AutoencoderKL against diffusers' goldens (tiny SD 1.5 and SDXL VAEs),
// its config parsing and loading errors, and tiled decode/encode.
#include "golden.h"

#include "core/errors.h"
#include "core/runtime.h"
#include "core/safetensors.h"
#include "models/vae.h"
#include "models/vae_config.h"
#include "models/vae_tiling.h"

#include <QtTest/QtTest>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace {

nlohmann::json tiny_config() {
    std::ifstream in(daub::test::fixture("tiny-sd15/vae/config.json"));
    return nlohmann::json::parse(in);
}

/// Relative L2 distance |a - b| / |b|.
double relative_l2(const at::Tensor& a, const at::Tensor& b) {
    return ((a - b).norm() / b.norm()).item<double>();
}

/// A fresh empty folder under the build tree.
fs::path scratch_dir(const std::string& name) {
    const fs::path dir = fs::path(DAUB_BINARY_DIR) / "test_vae_scratch" / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

} // namespace

class TestVae : public QObject {
    Q_OBJECT

private:
    void check_golden(const char* model, const char* golden_name) {
        auto vae = daub::load_vae(daub::test::fixture(std::string(model) + "/vae"));
        daub::SafeTensorsFile g(
            daub::test::fixture(std::string("golden/") + golden_name + ".safetensors"));
        const auto posterior = vae->encode(g.load("image"));
        const std::string name(golden_name);
        DAUB_VERIFY_GOLDEN((name + ".posterior_mean").c_str(), posterior.mean,
                           g.load("posterior_mean"));
        DAUB_VERIFY_GOLDEN((name + ".posterior_logvar").c_str(), posterior.logvar,
                           g.load("posterior_logvar"));
        DAUB_VERIFY_GOLDEN((name + ".decoded").c_str(), vae->decode(g.load("latents")),
                           g.load("decoded"));
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY2(daub::test::fixtures_present(), "fixtures folder missing: set DAUB_FIXTURES");
        daub::init_runtime();
    }

    void config_from_json() {
        const auto c = daub::VaeConfig::from_json(tiny_config());
        QCOMPARE(c.block_out_channels, (std::vector<int64_t>{32, 32, 64, 64}));
        QCOMPARE(c.layers_per_block, int64_t{2});
        QCOMPARE(c.latent_channels, int64_t{4});
        QCOMPARE(c.norm_num_groups, int64_t{32});
        QCOMPARE(c.scaling_factor, 0.18215);
        QVERIFY(!c.shift_factor.has_value());
        QVERIFY(!c.force_upcast);
        QVERIFY(c.use_quant_conv && c.use_post_quant_conv && c.mid_block_add_attention);
        QCOMPARE(c.downscale_factor(), int64_t{8});

        std::ifstream in(daub::test::fixture("tiny-sdxl/vae/config.json"));
        const auto x = daub::VaeConfig::from_json(nlohmann::json::parse(in));
        QCOMPARE(x.scaling_factor, 0.13025);
        QVERIFY(x.force_upcast);
    }

    void config_rejects_unsupported() {
        auto bad_down = tiny_config();
        bad_down["down_block_types"][1] = "AttnDownEncoderBlock2D";
        QVERIFY_THROWS_EXCEPTION(daub::ModelError, daub::VaeConfig::from_json(bad_down));
        auto bad_up = tiny_config();
        bad_up["up_block_types"][0] = "UpBlock2D";
        QVERIFY_THROWS_EXCEPTION(daub::ModelError, daub::VaeConfig::from_json(bad_up));
        auto bad_groups = tiny_config();
        bad_groups["norm_num_groups"] = 5;
        QVERIFY_THROWS_EXCEPTION(daub::ModelError, daub::VaeConfig::from_json(bad_groups));
        auto bad_type = tiny_config();
        bad_type["layers_per_block"] = "two";
        QVERIFY_THROWS_EXCEPTION(daub::ModelError, daub::VaeConfig::from_json(bad_type));
        try {
            auto bad_act = tiny_config();
            bad_act["act_fn"] = "gelu";
            daub::VaeConfig::from_json(bad_act);
            QFAIL("act_fn gelu was accepted");
        } catch (const daub::ModelError& e) {
            QVERIFY2(std::string(e.what()).find("act_fn") != std::string::npos, e.what());
        }
    }

    void sd15_golden() { check_golden("tiny-sd15", "sd15_vae"); }
    void sdxl_golden() { check_golden("tiny-sdxl", "sdxl_vae"); }

    void module_keys_match_the_file() {
        auto vae = daub::load_vae(daub::test::fixture("tiny-sd15/vae"));
        daub::SafeTensorsFile file(
            daub::test::fixture("tiny-sd15/vae/diffusion_pytorch_model.safetensors"));
        std::vector<std::string> names;
        for (const auto& p : vae->named_parameters())
            names.push_back(p.key());
        std::sort(names.begin(), names.end());
        auto keys = file.keys();
        std::sort(keys.begin(), keys.end());
        QCOMPARE(names, keys); // every stored tensor is used, and nothing else is needed
        for (const auto& p : vae->parameters()) {
            QCOMPARE(p.scalar_type(), at::kFloat); // fp16 file loaded as fp32
            QVERIFY(!p.requires_grad());
        }
    }

    void legacy_attention_names_load() {
        // Hub VAEs saved by diffusers < 0.14 name the attention query/key/
        // value/proj_attn; the LDM layout stores them as 1×1 convolutions.
        daub::SafeTensorsFile file(
            daub::test::fixture("tiny-sd15/vae/diffusion_pytorch_model.safetensors"));
        std::map<std::string, at::Tensor> renamed;
        for (const auto& key : file.keys()) {
            std::string k = key;
            at::Tensor t = file.load(key);
            for (const auto& [now, old] :
                 std::vector<std::pair<std::string, std::string>>{{"to_q.", "query."},
                                                                  {"to_k.", "key."},
                                                                  {"to_v.", "value."},
                                                                  {"to_out.0.", "proj_attn."}})
                if (auto pos = k.find("attentions.0." + now); pos != std::string::npos) {
                    k.replace(pos + 13, now.size(), old);
                    if (t.dim() == 2 && k.find("encoder.") == 0)
                        t = t.unsqueeze(-1).unsqueeze(-1); // encoder side as 1×1 convs
                }
            renamed[k] = t;
        }
        QVERIFY(renamed.count("decoder.mid_block.attentions.0.proj_attn.weight"));
        QVERIFY(!renamed.count("decoder.mid_block.attentions.0.to_out.0.weight"));
        const fs::path dir = scratch_dir("legacy");
        fs::copy_file(daub::test::fixture("tiny-sd15/vae/config.json"), dir / "config.json");
        daub::write_safetensors((dir / "diffusion_pytorch_model.safetensors").string(), renamed);

        auto legacy = daub::load_vae(dir.string());
        auto current = daub::load_vae(daub::test::fixture("tiny-sd15/vae"));
        daub::SafeTensorsFile g(daub::test::fixture("golden/sd15_vae.safetensors"));
        QVERIFY(
            torch::equal(legacy->decode(g.load("latents")), current->decode(g.load("latents"))));
        QVERIFY(torch::equal(legacy->encode(g.load("image")).mean,
                             current->encode(g.load("image")).mean));
    }

    void missing_files_are_named() {
        const fs::path dir = scratch_dir("missing");
        try {
            daub::load_vae(dir.string());
            QFAIL("a folder without config.json loaded");
        } catch (const daub::ModelError& e) {
            QVERIFY2(std::string(e.what()).find("config.json") != std::string::npos, e.what());
        }
        fs::copy_file(daub::test::fixture("tiny-sd15/vae/config.json"), dir / "config.json");
        try {
            daub::load_vae(dir.string());
            QFAIL("a folder without weights loaded");
        } catch (const daub::ModelError& e) {
            QVERIFY2(std::string(e.what()).find("diffusion_pytorch_model.safetensors") !=
                         std::string::npos,
                     e.what());
        }
        // A weights file that lacks a tensor names the tensor.
        daub::SafeTensorsFile file(
            daub::test::fixture("tiny-sd15/vae/diffusion_pytorch_model.safetensors"));
        std::map<std::string, at::Tensor> partial;
        for (const auto& key : file.keys())
            if (key != "decoder.conv_out.bias")
                partial[key] = file.load(key);
        daub::write_safetensors((dir / "diffusion_pytorch_model.safetensors").string(), partial);
        try {
            daub::load_vae(dir.string());
            QFAIL("a weights file without decoder.conv_out.bias loaded");
        } catch (const daub::ModelError& e) {
            QVERIFY2(std::string(e.what()).find("decoder.conv_out.bias") != std::string::npos,
                     e.what());
        }
        QVERIFY_THROWS_EXCEPTION(daub::ModelError, daub::load_vae((dir / "nope").string()));
    }

    void tile_starts_cover_the_axis() {
        QCOMPARE(daub::tile_starts(8, 16, 4, 1), (std::vector<int64_t>{0}));
        QCOMPARE(daub::tile_starts(24, 16, 8, 1), (std::vector<int64_t>{0, 8}));
        QCOMPARE(daub::tile_starts(30, 16, 8, 1), (std::vector<int64_t>{0, 8, 14}));
        QCOMPARE(daub::tile_starts(80, 32, 8, 8), (std::vector<int64_t>{0, 24, 48}));
        QCOMPARE(daub::tile_starts(88, 32, 8, 8), (std::vector<int64_t>{0, 24, 48, 56}));
        QVERIFY_THROWS_EXCEPTION(daub::RequestError, daub::tile_starts(40, 16, 16, 1));
    }

    void run_tiled_blends_exactly_for_pointwise_nets() {
        // Nearest ×8 upsampling then a point-wise map: every tile agrees with
        // the whole, so blending must reproduce it exactly (up to rounding).
        torch::manual_seed(1);
        const at::Tensor x = torch::randn({2, 3, 13, 21}); // odd sizes: clamped last tiles
        auto fn = [](const at::Tensor& t) {
            return torch::tanh(t.repeat_interleave(8, 2).repeat_interleave(8, 3)) * 2;
        };
        int calls = 0;
        const at::Tensor tiled = daub::run_tiled(x, 8, 3, 8, 1, [&](const at::Tensor& t) {
            ++calls;
            return fn(t);
        });
        QCOMPARE(calls, 2 * 4); // rows start at 0, 5; columns at 0, 5, 10, 13
        const double err = (tiled - fn(x)).abs().max().item<double>();
        qInfo("run_tiled point-wise: max abs err %.3e over %d tiles", err, calls);
        QVERIFY(err < 1e-6);
        // Encoder direction (down by 4): average-pool is local but not
        // point-wise; with tile starts aligned to 4 it is still exact.
        const at::Tensor img = torch::randn({1, 2, 40, 56});
        auto pool = [](const at::Tensor& t) { return torch::avg_pool2d(t, 4); };
        const at::Tensor pooled = daub::run_tiled(img, 16, 8, 1, 4, pool);
        QVERIFY((pooled - pool(img)).abs().max().item<double>() < 1e-6);
        QVERIFY_THROWS_EXCEPTION(daub::RequestError, daub::run_tiled(img, 18, 8, 1, 4, pool));
    }

    void decode_tiled_approximates_decode() {
        // The tiny VAE has random weights: its GroupNorm statistics and
        // mid-block attention are image-wide, so a tile decoded alone differs
        // a lot from the same region of the whole decode (a 28×28 crop of
        // these 32×32 latents: relative L2 ~0.37). Blending overlapping tiles
        // must do much better than that; real VAEs are far more local.
        auto vae = daub::load_vae(daub::test::fixture("tiny-sd15/vae"));
        torch::manual_seed(3);
        const at::Tensor latents = torch::randn({1, 4, 32, 32}); // as the goldens' latents
        const at::Tensor whole = vae->decode(latents);           // [1, 3, 256, 256]

        int calls = 0;
        const at::Tensor tiled = daub::run_tiled(latents, 24, 16, 8, 1, [&](const at::Tensor& t) {
            ++calls;
            return vae->decode(t);
        });
        QCOMPARE(calls, 4); // 2×2 tiles
        QVERIFY(torch::equal(vae->decode_tiled(latents, 24, 16), tiled));
        const double rel = relative_l2(tiled, whole);
        qInfo("decode_tiled(32×32 latents, tile 24, overlap 16, 2×2 tiles) vs decode: relative L2 "
              "%.3e, max abs %.3e (|decode| max %.3f)",
              rel, (tiled - whole).abs().max().item<double>(), whole.abs().max().item<double>());
        QVERIFY2(rel < 0.15, "tiled decode is far from the untiled one");
        const double rel_small = relative_l2(vae->decode_tiled(latents, 16, 8), whole);
        qInfo("decode_tiled(tile 16, overlap 8, 3×3 tiles) vs decode: relative L2 %.3e", rel_small);
        QVERIFY2(rel_small < 0.35, "tiled decode (3×3 tiles) is far from the untiled one");
        // Latents no larger than a tile are decoded whole, exactly.
        QVERIFY(torch::equal(vae->decode_tiled(latents, 32, 8), whole));
    }

    void encode_tiled_approximates_encode() {
        auto vae = daub::load_vae(daub::test::fixture("tiny-sd15/vae"));
        torch::manual_seed(4);
        // A smooth random image: bilinear upscale of 16×16 noise.
        const at::Tensor image = torch::nn::functional::interpolate(
            torch::rand({1, 3, 16, 16}) * 2 - 1, torch::nn::functional::InterpolateFuncOptions()
                                                     .size(std::vector<int64_t>{256, 256})
                                                     .mode(torch::kBilinear)
                                                     .align_corners(false)); // [1, 3, 256, 256]
        const auto whole = vae->encode(image);
        const auto tiled = vae->encode_tiled(image, 192, 128); // 2×2 tiles
        const double rel_mean = relative_l2(tiled.mean, whole.mean);
        const double rel_logvar = relative_l2(tiled.logvar, whole.logvar);
        qInfo("encode_tiled(256×256, tile 192, overlap 128, 2×2 tiles) vs encode: mean relative "
              "L2 %.3e, logvar relative L2 %.3e",
              rel_mean, rel_logvar);
        QVERIFY2(rel_mean < 0.3 && rel_logvar < 0.3, "tiled encode is far from the untiled one");
        const auto small = vae->encode_tiled(image, 128, 64); // 3×3 tiles
        qInfo("encode_tiled(tile 128, overlap 64, 3×3 tiles) vs encode: mean relative L2 %.3e",
              relative_l2(small.mean, whole.mean));
    }

    void timing_tiny_sd15() {
        using clock = std::chrono::steady_clock;
        auto ms = [](clock::time_point a, clock::time_point b) {
            return std::chrono::duration<double, std::milli>(b - a).count();
        };
        torch::manual_seed(0);
        const at::Tensor image = torch::rand({1, 3, 64, 64}) * 2 - 1;
        const auto t0 = clock::now();
        auto vae = daub::load_vae(daub::test::fixture("tiny-sd15/vae"));
        const auto t1 = clock::now();
        for (int run = 1; run <= 2; ++run) { // the first run includes one-time warm-up
            const std::clock_t cpu0 = std::clock();
            const auto a = clock::now();
            const at::Tensor latents = vae->encode(image).mean; // [1, 4, 8, 8]
            const auto b = clock::now();
            const at::Tensor decoded = vae->decode(latents); // [1, 3, 64, 64]
            const auto c = clock::now();
            const double cpu_ms = 1000.0 * double(std::clock() - cpu0) / CLOCKS_PER_SEC;
            QCOMPARE(decoded.sizes(), image.sizes());
            qInfo("tiny-sd15 VAE, 64×64, %d threads, run %d: load %.1f ms, encode %.1f ms, "
                  "decode %.1f ms (encode + decode CPU time %.1f ms)",
                  at::get_num_threads(), run, ms(t0, t1), ms(a, b), ms(b, c), cpu_ms);
        }
    }
};

QTEST_APPLESS_MAIN(TestVae)
#include "test_vae.moc"
