// Model loading with progress and cancellation: the progress counts the
// bytes of every tensor loaded, monotonically, up to a total known before
// the first tensor (equal to what the loaded networks hold); cancelling
// throws CancelledError and returns no pipeline; the next load works.
#include "golden.h"
#include "golden_case.h"

#include "core/cancel.h"
#include "core/errors.h"
#include "core/runtime.h"
#include "core/safetensors.h"
#include "core/weights.h"
#include "pipelines/components.h"
#include "pipelines/stable_diffusion.h"

#include <QtTest/QtTest>
#include <torch/torch.h>

#include <chrono>

using namespace daub;

namespace {

struct Recorded {
    std::vector<LoadProgress> calls;
    bool monotonic() const {
        for (size_t i = 1; i < calls.size(); ++i)
            if (calls[i].bytes_done < calls[i - 1].bytes_done ||
                calls[i].bytes_total != calls[0].bytes_total)
                return false;
        return true;
    }
};

LoadRequest request(const std::string& model, const std::string& config = "") {
    LoadRequest r;
    r.path = test::fixture(model);
    r.config_dir = config.empty() ? "" : test::fixture(config);
    r.device = "cpu";
    return r;
}

/// Bytes held by a module's parameters and buffers.
int64_t held_bytes(const torch::nn::Module& m) {
    int64_t n = 0;
    for (const auto& t : m.parameters())
        n += t.numel() * static_cast<int64_t>(t.element_size());
    for (const auto& t : m.buffers())
        n += t.numel() * static_cast<int64_t>(t.element_size());
    return n;
}

int64_t held_bytes(const Components& c) {
    int64_t n = held_bytes(*c.text_encoder) + held_bytes(*c.unet) + held_bytes(*c.vae);
    if (c.text_encoder_2)
        n += held_bytes(*c.text_encoder_2);
    return n;
}

} // namespace

class TestModelLoading : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() {
        QVERIFY2(test::fixtures_present(), "fixtures folder missing: set DAUB_FIXTURES");
        init_runtime();
    }

    /// Progress after every tensor, monotonic, ending exactly at the total,
    /// which is what the loaded networks hold.
    void progress_reaches_total_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("config");
        QTest::newRow("sd15 folder") << "tiny-sd15"
                                     << "";
        QTest::newRow("sd15 single file") << "tiny-sd15.safetensors"
                                          << "tiny-sd15";
        QTest::newRow("sdxl folder") << "tiny-sdxl"
                                     << "";
        QTest::newRow("sdxl single file") << "tiny-sdxl.safetensors"
                                          << "tiny-sdxl";
    }
    void progress_reaches_total() {
        QFETCH(QString, model);
        QFETCH(QString, config);
        Recorded rec;
        LoadRequest r = request(model.toStdString(), config.toStdString());
        r.on_progress = [&](const LoadProgress& p) { rec.calls.push_back(p); };
        const auto t0 = std::chrono::steady_clock::now();
        auto pipe = Pipeline::load(r);
        const double ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count();
        QVERIFY(pipe);
        QVERIFY(rec.calls.size() > 100); // one per tensor
        QVERIFY(rec.monotonic());
        const int64_t total = rec.calls.front().bytes_total;
        QVERIFY(total > 0);
        QVERIFY(rec.calls.front().bytes_done > 0);
        QCOMPARE(rec.calls.back().bytes_done, total);
        auto* sd = static_cast<StableDiffusion*>(pipe.get());
        const Components& c = sd->txt2img().components();
        QCOMPARE(held_bytes(c), total);
        size_t tensors = 0;
        for (const torch::nn::Module* m :
             {static_cast<const torch::nn::Module*>(c.text_encoder.get()),
              static_cast<const torch::nn::Module*>(c.unet.get()),
              static_cast<const torch::nn::Module*>(c.vae.get())})
            tensors += m->parameters().size() + m->buffers().size();
        if (c.text_encoder_2)
            tensors += c.text_encoder_2->parameters().size() + c.text_encoder_2->buffers().size();
        QCOMPARE(rec.calls.size(), tensors);
        qInfo("%s: %zu progress calls, %lld bytes, loaded in %.0f ms", qPrintable(model),
              rec.calls.size(), static_cast<long long>(total), ms);
    }

    /// A separate VAE counts in the total instead of the model's own.
    void progress_with_vae_file() {
        Recorded own, separate;
        LoadRequest r = request("tiny-sd15");
        r.on_progress = [&](const LoadProgress& p) { own.calls.push_back(p); };
        Pipeline::load(r);
        r.vae_path = test::fixture("tiny-sd15.safetensors");
        r.on_progress = [&](const LoadProgress& p) { separate.calls.push_back(p); };
        Pipeline::load(r);
        QVERIFY(separate.monotonic());
        QCOMPARE(separate.calls.back().bytes_done, separate.calls.back().bytes_total);
        QCOMPARE(separate.calls.back().bytes_total, own.calls.back().bytes_total);
        QCOMPARE(separate.calls.size(), own.calls.size());
    }

    /// Cancelling at the first progress call: CancelledError, no pipeline,
    /// no further tensor read.
    void cancel_at_first_callback_data() {
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("config");
        QTest::newRow("folder") << "tiny-sd15"
                                << "";
        QTest::newRow("single file") << "tiny-sd15.safetensors"
                                     << "tiny-sd15";
    }
    void cancel_at_first_callback() {
        QFETCH(QString, model);
        QFETCH(QString, config);
        CancelToken cancel;
        int calls = 0;
        LoadRequest r = request(model.toStdString(), config.toStdString());
        r.cancel = &cancel;
        r.on_progress = [&](const LoadProgress&) {
            ++calls;
            cancel.cancel();
        };
        std::unique_ptr<Pipeline> pipe;
        QVERIFY_THROWS_EXCEPTION(CancelledError, pipe = Pipeline::load(r));
        QVERIFY(!pipe);
        QCOMPARE(calls, 1);

        // The same token reset, and the next load works (and is right).
        cancel.reset();
        r.on_progress = {};
        pipe = Pipeline::load(r);
        const GenerationRequest req =
            read_golden_case(test::fixtures_dir(), "pipe_sd15_txt2img_nocfg").request;
        const GoldenDiff d = compare_with_golden(test::fixtures_dir(), "pipe_sd15_txt2img_nocfg",
                                                 pipe->generate(req).image);
        QVERIFY(d.same_size);
        QVERIFY2(d.max_u8 <= 2, std::to_string(d.max_u8).c_str());
    }

    /// Cancelled before the load starts: nothing is read at all. Cancelled
    /// half-way (in the UNet): stops there.
    void cancel_before_and_half_way() {
        CancelToken cancel;
        cancel.cancel();
        int calls = 0;
        LoadRequest r = request("tiny-sd15");
        r.cancel = &cancel;
        r.on_progress = [&](const LoadProgress&) { ++calls; };
        QVERIFY_THROWS_EXCEPTION(CancelledError, Pipeline::load(r));
        QCOMPARE(calls, 0);

        cancel.reset();
        int64_t stopped_at = 0, total = 0;
        r.on_progress = [&](const LoadProgress& p) {
            ++calls;
            total = p.bytes_total;
            if (p.bytes_done * 2 >= p.bytes_total && !cancel.cancelled()) {
                stopped_at = p.bytes_done;
                cancel.cancel();
            }
        };
        try {
            Pipeline::load(r);
            QFAIL("the load was not cancelled");
        } catch (const CancelledError& e) {
            QCOMPARE(std::string(e.what()), std::string("Loading the model was cancelled."));
        }
        QVERIFY(stopped_at > 0 && stopped_at < total);
    }

    /// load_module_weights without a monitor, and module_weight_bytes.
    void monitor_is_optional() {
        const SafeTensorsFile file(
            test::fixture("tiny-sd15/vae/diffusion_pytorch_model.safetensors"));
        auto vae = AutoencoderKL(VaeConfig::from_json(
            nlohmann::json::parse(R"({"block_out_channels": [32, 32, 64, 64]})")));
        const int64_t fp32 = module_weight_bytes(*vae, at::kFloat);
        QCOMPARE(module_weight_bytes(*vae, at::kBFloat16) * 2, fp32);
        QVERIFY(load_vae_weights(*vae, file, "", {at::kFloat, at::kCPU}) > 0);
        QCOMPARE(held_bytes(*vae), fp32);

        WeightLoadMonitor monitor;
        monitor.bytes_total = module_weight_bytes(*vae, at::kBFloat16);
        std::vector<int64_t> seen;
        monitor.on_progress = [&](int64_t done, int64_t) { seen.push_back(done); };
        load_vae_weights(*vae, file, "", {at::kBFloat16, at::kCPU, &monitor});
        QCOMPARE(monitor.bytes_done, monitor.bytes_total);
        QCOMPARE(seen.back(), monitor.bytes_total);
        QCOMPARE(static_cast<int64_t>(seen.size()),
                 static_cast<int64_t>(vae->parameters().size() + vae->buffers().size()));
    }
};

QTEST_GUILESS_MAIN(TestModelLoading)
#include "test_model_loading.moc"
