// UNet2DConditionModel against diffusers' goldens (tiny SD 1.5 and SDXL
// UNets, square, odd and wide latents), dtype genericity, config errors,
// missing files and tensors, and the load + forward time.
#include "golden.h"

#include "core/errors.h"
#include "core/runtime.h"
#include "core/safetensors.h"
#include "models/unet.h"
#include "models/unet_config.h"

#include <QtCore/QElapsedTimer>
#include <QtCore/QTemporaryDir>
#include <QtTest/QtTest>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>

namespace fs = std::filesystem;

namespace {

nlohmann::json config_of(const std::string& model) {
    std::ifstream in(daub::test::fixture(model + "/unet/config.json"));
    return nlohmann::json::parse(in);
}

std::string weights_of(const std::string& model) {
    return daub::test::fixture(model + "/unet/diffusion_pytorch_model.safetensors");
}

void write_json(const fs::path& path, const nlohmann::json& j) {
    std::ofstream(path) << j.dump(2);
}

/// Runs `fn` and tells whether it threw an `E` whose message contains every
/// one of `needles` (printing the message, or why not).
template <typename E = daub::ModelError>
bool throws_naming(const std::function<void()>& fn, std::initializer_list<const char*> needles) {
    try {
        fn();
    } catch (const E& e) {
        const std::string what = e.what();
        qInfo("expected error: %s", what.c_str());
        for (const char* needle : needles)
            if (what.find(needle) == std::string::npos) {
                qWarning("the message lacks '%s'", needle);
                return false;
            }
        return true;
    }
    qWarning("no error was thrown");
    return false;
}

} // namespace

class TestUNet : public QObject {
    Q_OBJECT

private:
    daub::UNet2DConditionModel sd15_{nullptr}, sdxl_{nullptr};

    /// The model's output for a golden file's inputs, in `dtype`.
    static at::Tensor run(daub::UNet2DConditionModel& unet, const daub::SafeTensorsFile& g,
                          at::ScalarType dtype = at::kFloat) {
        daub::UNetAddedCond added;
        if (g.contains("text_embeds")) {
            added.text_embeds = g.load("text_embeds").to(dtype);
            added.time_ids = g.load("time_ids");
        }
        return unet->forward(g.load("sample").to(dtype), g.load("timestep"),
                             g.load("encoder_hidden_states").to(dtype), added);
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY2(daub::test::fixtures_present(), "fixtures folder missing: set DAUB_FIXTURES");
        daub::init_runtime();
        sd15_ = daub::load_unet(daub::test::fixture("tiny-sd15/unet"));
        sdxl_ = daub::load_unet(daub::test::fixture("tiny-sdxl/unet"));
    }

    void golden_data() {
        QTest::addColumn<QString>("name");
        for (const char* name :
             {"sd15_unet", "sd15_unet_odd", "sd15_unet_wide", "sdxl_unet", "sdxl_unet_odd"})
            QTest::newRow(name) << QString(name);
    }

    void golden() {
        QFETCH(QString, name);
        const std::string n = name.toStdString();
        const daub::SafeTensorsFile g(daub::test::fixture("golden/" + n + ".safetensors"));
        auto& unet = n.rfind("sdxl", 0) == 0 ? sdxl_ : sd15_;
        torch::NoGradGuard no_grad;
        DAUB_VERIFY_GOLDEN((n + ".out").c_str(), run(unet, g), g.load("out"));
    }

    void config_is_parsed() {
        const auto sd15 = daub::UNetConfig::from_json(config_of("tiny-sd15"));
        QCOMPARE(sd15.levels(), size_t(4));
        QCOMPARE(sd15.attention_heads, (std::vector<int64_t>{8, 8, 8, 8}));
        QCOMPARE(sd15.layers_per_block, (std::vector<int64_t>{2, 2, 2, 2}));
        QCOMPARE(sd15.time_embed_dim(), int64_t(128));
        QVERIFY(!sd15.use_linear_projection && !sd15.text_time_embedding);
        const auto sdxl = daub::UNetConfig::from_json(config_of("tiny-sdxl"));
        QCOMPARE(sdxl.attention_heads, (std::vector<int64_t>{2, 4, 4}));
        QCOMPARE(sdxl.transformer_layers_per_block, (std::vector<int64_t>{1, 1, 2}));
        QCOMPARE(sdxl.cross_attention_dim, (std::vector<int64_t>{80, 80, 80}));
        QVERIFY(sdxl.use_linear_projection && sdxl.text_time_embedding);
        QCOMPARE(sdxl.addition_time_embed_dim, int64_t(8));
        QCOMPARE(sdxl.projection_class_embeddings_input_dim, int64_t(88));
    }

    void every_weight_is_a_parameter() {
        // Name-for-name: the module's parameters are exactly the file's keys.
        for (auto [unet, model] : {std::pair{sd15_, "tiny-sd15"}, std::pair{sdxl_, "tiny-sdxl"}}) {
            const daub::SafeTensorsFile file(weights_of(model));
            std::set<std::string> params, keys;
            for (const auto& p : unet->named_parameters())
                params.insert(p.key());
            for (const auto& b : unet->named_buffers())
                params.insert(b.key());
            for (const auto& k : file.keys())
                keys.insert(k);
            QCOMPARE(params.size(), keys.size());
            QVERIFY(params == keys);
        }
    }

    void scalar_timestep_broadcasts() {
        const daub::SafeTensorsFile g(daub::test::fixture("golden/sd15_unet_odd.safetensors"));
        torch::NoGradGuard no_grad;
        const at::Tensor t = g.load("timestep").reshape({}); // 0-dim
        const at::Tensor out = sd15_->forward(g.load("sample"), t, g.load("encoder_hidden_states"));
        DAUB_VERIFY_GOLDEN("sd15_unet_odd.out (0-dim timestep)", out, g.load("out"));
    }

    void runs_in_float64() {
        // Nothing in the forward pass is tied to float32.
        auto unet = daub::load_unet(daub::test::fixture("tiny-sdxl/unet"), {at::kDouble, at::kCPU});
        const daub::SafeTensorsFile g(daub::test::fixture("golden/sdxl_unet.safetensors"));
        torch::NoGradGuard no_grad;
        const at::Tensor out = run(unet, g, at::kDouble);
        QCOMPARE(out.scalar_type(), at::kDouble);
        DAUB_VERIFY_GOLDEN("sdxl_unet.out (float64)", out, g.load("out"));
    }

    void runs_in_bfloat16() {
        // The low-precision path (timestep embedding cast from fp32, text_time
        // conditioning) runs end to end. fp16 has no CPU matmul in libtorch
        // 1.13, so bf16 stands in; its 8-bit mantissa alone costs ~1e-2, so
        // this is a smoke check (garbage would be ~1), not a golden tolerance.
        auto unet =
            daub::load_unet(daub::test::fixture("tiny-sdxl/unet"), {at::kBFloat16, at::kCPU});
        const daub::SafeTensorsFile g(daub::test::fixture("golden/sdxl_unet.safetensors"));
        torch::NoGradGuard no_grad;
        const at::Tensor out = run(unet, g, at::kBFloat16);
        QCOMPARE(out.scalar_type(), at::kBFloat16);
        const at::Tensor ref = g.load("out");
        const double rel_l2 = ((out.to(at::kFloat) - ref).norm() / ref.norm()).item<double>();
        qInfo("sdxl_unet.out (bfloat16): relative L2 error %.3e (smoke bound 5e-2)", rel_l2);
        QVERIFY(rel_l2 < 5e-2);
    }

    void unsupported_config_values_are_named() {
        auto with = [](const char* key, nlohmann::json value) {
            auto j = config_of("tiny-sd15");
            j[key] = std::move(value);
            return j;
        };
        auto parse = [](const nlohmann::json& j) {
            return [j] { daub::UNetConfig::from_json(j); };
        };
        QVERIFY(throws_naming(parse(with("class_embed_type", "timestep")),
                              {"'class_embed_type'", "timestep"}));
        QVERIFY(throws_naming(parse(with("num_attention_heads", 8)), {"'num_attention_heads'"}));
        QVERIFY(throws_naming(parse(with("upcast_attention", true)), {"'upcast_attention'"}));
        QVERIFY(
            throws_naming(parse(with("addition_embed_type", "text")), {"'addition_embed_type'"}));
        QVERIFY(throws_naming(parse(with("time_embedding_type", "fourier")),
                              {"'time_embedding_type'"}));
        QVERIFY(throws_naming(parse(with("mid_block_type", "UNetMidBlock2DSimpleCrossAttn")),
                              {"'mid_block_type'", "UNetMidBlock2DSimpleCrossAttn"}));
        QVERIFY(
            throws_naming(parse(with("down_block_types", {"AttnDownBlock2D", "CrossAttnDownBlock2D",
                                                          "CrossAttnDownBlock2D", "DownBlock2D"})),
                          {"'down_block_types'", "AttnDownBlock2D"}));
        QVERIFY(throws_naming(parse(with("attention_head_dim", {8, 8})),
                              {"'attention_head_dim'", "2 values"}));
        QVERIFY(throws_naming(
            parse(with("transformer_layers_per_block", {{1, 1}, {1, 1}, {1, 1}, {1, 1}})),
            {"'transformer_layers_per_block'"}));
        QVERIFY(throws_naming(parse(with("layers_per_block", "two")), {"'layers_per_block'"}));
        QVERIFY(
            throws_naming(parse(with("block_out_channels", {32, 32, 64})), {"'down_block_types'"}));
        QVERIFY(throws_naming(parse(with("norm_num_groups", 24)), {"'norm_num_groups'"}));
    }

    void config_that_does_not_fit_the_weights_names_the_tensor() {
        QTemporaryDir tmp;
        const fs::path dir = tmp.path().toStdString();
        auto j = config_of("tiny-sd15");
        j["cross_attention_dim"] = 48;
        write_json(dir / "config.json", j);
        fs::create_symlink(weights_of("tiny-sd15"), dir / "diffusion_pytorch_model.safetensors");
        QVERIFY(throws_naming([&] { daub::load_unet(dir.string()); },
                              {"down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight",
                               "[32, 32]", "[32, 48]"}));
        // A bad value read through load_unet names the file too.
        j = config_of("tiny-sd15");
        j["resnet_time_scale_shift"] = "scale_shift";
        write_json(dir / "config.json", j);
        QVERIFY(throws_naming([&] { daub::load_unet(dir.string()); },
                              {"config.json", "'resnet_time_scale_shift'"}));
    }

    void missing_files_and_tensors_are_named() {
        QTemporaryDir tmp;
        const fs::path dir = tmp.path().toStdString();
        QVERIFY(throws_naming([&] { daub::load_unet(dir.string()); }, {"config.json"}));
        write_json(dir / "config.json", config_of("tiny-sdxl"));
        QVERIFY(throws_naming([&] { daub::load_unet(dir.string()); },
                              {"diffusion_pytorch_model.safetensors"}));

        const std::string dropped = "up_blocks.1.attentions.2.transformer_blocks.0.ff.net.2.bias";
        const daub::SafeTensorsFile full(weights_of("tiny-sdxl"));
        std::map<std::string, at::Tensor> tensors;
        for (const auto& key : full.keys())
            if (key != dropped)
                tensors[key] = full.load(key);
        QCOMPARE(tensors.size() + 1, full.keys().size());
        daub::write_safetensors((dir / "diffusion_pytorch_model.safetensors").string(), tensors);
        QVERIFY(
            throws_naming([&] { daub::load_unet(dir.string()); }, {dropped.c_str(), "missing"}));
    }

    void sdxl_needs_added_conditioning() {
        const daub::SafeTensorsFile g(daub::test::fixture("golden/sdxl_unet_odd.safetensors"));
        torch::NoGradGuard no_grad;
        QVERIFY(throws_naming<daub::RequestError>(
            [&] {
                sdxl_->forward(g.load("sample"), g.load("timestep"),
                               g.load("encoder_hidden_states"));
            },
            {"text_embeds", "time_ids"}));
    }

    void load_and_forward_time() {
        // The whole tiny SD 1.5 UNet, loaded and run once on CFG-sized input.
        // Measured on one thread: on a busy machine, two OpenMP threads
        // spinning on shared cores make the figure swing by 10x.
        const int threads = at::get_num_threads();
        at::set_num_threads(1);
        const daub::SafeTensorsFile g(daub::test::fixture("golden/sd15_unet.safetensors"));
        const at::Tensor sample = g.load("sample"), t = g.load("timestep"),
                         context = g.load("encoder_hidden_states");
        QElapsedTimer timer;
        timer.start();
        auto unet = daub::load_unet(daub::test::fixture("tiny-sd15/unet"));
        const qint64 load_ms = timer.elapsed();
        at::Tensor out;
        {
            torch::NoGradGuard no_grad;
            out = unet->forward(sample, t, context);
        }
        const qint64 total_ms = timer.elapsed();
        at::set_num_threads(threads);
        qInfo("tiny-sd15 UNet: load %lld ms + forward [2,4,8,8] %lld ms = %lld ms", load_ms,
              total_ms - load_ms, total_ms);
        DAUB_VERIFY_GOLDEN("sd15_unet.out (timed)", out, g.load("out"));
        QVERIFY2(total_ms < 5000, "loading and running the tiny UNet took more than 5 s");
    }
};

QTEST_APPLESS_MAIN(TestUNet)
#include "test_unet.moc"
