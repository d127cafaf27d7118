// Model loading with progress and cancellation: the progress counts the
// bytes of every tensor loaded, monotonically, up to a total known before
// the first tensor (equal to what the loaded networks hold); cancelling
// throws CancelledError and returns no pipeline; the next load works.
#include "golden.h"
#include "golden_case.h"

#include "core/cancel.h"
#include "core/errors.h"
#include "core/guarded_mapping.h"
#include "core/layers.h"
#include "core/runtime.h"
#include "core/safetensors.h"
#include "core/torch_checkpoint.h"
#include "core/weights.h"
#include "pipelines/components.h"
#include "pipelines/stable_diffusion.h"
#include "text/clip_text_model.h"

#include <QtTest/QtTest>
#include <torch/torch.h>

#include <QtCore/QTemporaryDir>

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <unistd.h>

using namespace daub;
namespace fs = std::filesystem;

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

/// Bytes of a module's tensors counted in the dtype it computes in
/// (floating ones; weights kept in half precision count as fp32 on the CPU).
int64_t compute_bytes(const torch::nn::Module& m, at::ScalarType dtype) {
    int64_t n = 0;
    for (const auto& t : m.parameters())
        n += t.numel() * static_cast<int64_t>(at::isFloatingType(t.scalar_type())
                                                  ? c10::elementSize(dtype)
                                                  : t.element_size());
    for (const auto& t : m.buffers())
        n += t.numel() * static_cast<int64_t>(at::isFloatingType(t.scalar_type())
                                                  ? c10::elementSize(dtype)
                                                  : t.element_size());
    return n;
}

int64_t compute_bytes(const Components& c) {
    int64_t n = compute_bytes(*c.text_encoder, c.dtype) + compute_bytes(*c.unet, c.dtype) +
                compute_bytes(*c.vae, c.vae_dtype);
    if (c.text_encoder_2)
        n += compute_bytes(*c.text_encoder_2, c.dtype);
    return n;
}

/// Counts the tensors of `module` by dtype.
std::map<at::ScalarType, int> dtypes(const torch::nn::Module& module) {
    std::map<at::ScalarType, int> out;
    for (const auto& t : module.parameters())
        ++out[t.scalar_type()];
    return out;
}

/// A copy of a fixture in a temporary folder (tests truncate it).
std::string temp_copy(const QTemporaryDir& dir, const std::string& fixture_name) {
    const std::string path =
        dir.filePath(QString::fromStdString(fs::path(fixture_name).filename().string()))
            .toStdString();
    fs::copy_file(test::fixture(fixture_name), path, fs::copy_options::overwrite_existing);
    return path;
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
        QCOMPARE(compute_bytes(c), total);
        // The fixtures are fp16: on the CPU their layer weights stay so.
        QVERIFY2(held_bytes(c) < total * 6 / 10, std::to_string(held_bytes(c)).c_str());
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

    /// keep_half_weights: the layers' weights stay fp16 (the files are
    /// fp16), biases and norms are fp32, and every network computes exactly
    /// what it computes from fp32 weights (fp16 values are floats), so the
    /// goldens hold as before.
    void half_weights_compute_as_fp32() {
        torch::NoGradGuard no_grad;
        const LoadOptions fp32{at::kFloat, at::kCPU};
        LoadOptions half = fp32;
        half.keep_half_weights = true;

        UNet2DConditionModel unet_half = load_unet(test::fixture("tiny-sd15/unet"), half);
        UNet2DConditionModel unet_full = load_unet(test::fixture("tiny-sd15/unet"), fp32);
        const auto kinds = dtypes(*unet_half);
        QVERIFY(kinds.count(at::kHalf) && kinds.count(at::kFloat));
        QCOMPARE(unet_half->conv_in->weight.scalar_type(), at::kHalf);
        QCOMPARE(unet_half->conv_in->bias.scalar_type(), at::kFloat);
        QCOMPARE(unet_half->conv_in->compute_dtype(), at::kFloat);
        QCOMPARE(dtypes(*unet_full), (std::map<at::ScalarType, int>{
                                         {at::kFloat, int(unet_full->parameters().size())}}));
        QVERIFY(held_bytes(*unet_half) * 10 < held_bytes(*unet_full) * 6);
        const SafeTensorsFile g(test::fixture("golden/sd15_unet.safetensors"));
        const at::Tensor out_half = unet_half->forward(g.load("sample"), g.load("timestep"),
                                                       g.load("encoder_hidden_states"));
        const at::Tensor out_full = unet_full->forward(g.load("sample"), g.load("timestep"),
                                                       g.load("encoder_hidden_states"));
        QCOMPARE(out_half.scalar_type(), at::kFloat);
        QVERIFY(torch::equal(out_half, out_full));
        DAUB_VERIFY_GOLDEN("sd15_unet (fp16 weights kept)", out_half, g.load("out"));

        AutoencoderKL vae_half = load_vae(test::fixture("tiny-sd15/vae"), half);
        AutoencoderKL vae_full = load_vae(test::fixture("tiny-sd15/vae"), fp32);
        const SafeTensorsFile gv(test::fixture("golden/sd15_vae.safetensors"));
        const at::Tensor dec_half = vae_half->decode(gv.load("latents"));
        QCOMPARE(dec_half.scalar_type(), at::kFloat);
        QVERIFY(torch::equal(dec_half, vae_full->decode(gv.load("latents"))));
        DAUB_VERIFY_GOLDEN("sd15_vae decoded (fp16 weights kept)", dec_half, gv.load("decoded"));

        ClipTextModel te_half = load_clip_text_model(test::fixture("tiny-sd15/text_encoder"), half);
        ClipTextModel te_full = load_clip_text_model(test::fixture("tiny-sd15/text_encoder"), fp32);
        QCOMPARE(te_half->text_model->embeddings->token_embedding->weight.scalar_type(), at::kHalf);
        const SafeTensorsFile gt(test::fixture("golden/sd15_text_encoder.safetensors"));
        const at::Tensor hidden = te_half->forward(gt.load("input_ids")).last_hidden_state;
        QCOMPARE(hidden.scalar_type(), at::kFloat);
        QVERIFY(torch::equal(hidden, te_full->forward(gt.load("input_ids")).last_hidden_state));
        DAUB_VERIFY_GOLDEN("sd15_text_encoder (fp16 weights kept)", hidden,
                           gt.load("last_hidden_state"));

        // Converted whole afterwards, the layers compute in the new dtype.
        unet_half->to(at::kDouble);
        QCOMPARE(unet_half->conv_in->compute_dtype(), at::kDouble);
        unet_half->to(at::kFloat);
        QVERIFY(torch::equal(unet_half->forward(g.load("sample"), g.load("timestep"),
                                                g.load("encoder_hidden_states")),
                             out_full));
    }

    /// A model file truncated on disk while it loads: a ModelError naming
    /// the file (a short read), never SIGBUS; safetensors and .ckpt.
    void truncated_while_loading_data() {
        QTest::addColumn<QString>("model");
        QTest::newRow("safetensors") << "tiny-sd15.safetensors";
        QTest::newRow("ckpt") << "pickles/tiny-sd15.ckpt";
    }
    void truncated_while_loading() {
        QFETCH(QString, model);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string path = temp_copy(dir, model.toStdString());
        const auto size = fs::file_size(path);
        LoadRequest r = request("tiny-sd15.safetensors", "tiny-sd15");
        r.path = path;
        int calls = 0;
        r.on_progress = [&](const LoadProgress&) {
            if (++calls == 1)
                fs::resize_file(path, size / 2);
        };
        try {
            Pipeline::load(r);
            QFAIL("a model truncated while it loaded was loaded");
        } catch (const ModelError& e) {
            const std::string what = e.what();
            qInfo("ModelError: %s", e.what());
            QVERIFY2(what.find(path) != std::string::npos, e.what());
            QVERIFY2(what.find("truncated") != std::string::npos, e.what());
        }
        QVERIFY(calls >= 1);
    }

    /// Truncated (even to nothing) after it loaded: the engine holds copies
    /// of every weight, so generating still works and gives the same image.
    void truncated_after_loading_data() { truncated_while_loading_data(); }
    void truncated_after_loading() {
        QFETCH(QString, model);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string path = temp_copy(dir, model.toStdString());
        LoadRequest r = request("tiny-sd15.safetensors", "tiny-sd15");
        r.path = path;
        auto pipe = Pipeline::load(r);
        GenerationRequest req =
            read_golden_case(test::fixtures_dir(), "pipe_sd15_txt2img_nocfg").request;
        req.steps = 2;
        const GenerationResult before = pipe->generate(req);
        fs::resize_file(path, 0);
        const GenerationResult after = pipe->generate(req);
        QVERIFY(before.image.rgb == after.image.rgb);
        fs::remove(path);
        QVERIFY(pipe->generate(req).image.rgb == before.image.rgb);
    }

    /// A checkpoint truncated between open and load: each tensor read is a
    /// ModelError, not a crash.
    void torch_checkpoint_truncated_after_open() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string path = temp_copy(dir, "pickles/tiny-sd15.ckpt");
        const TorchCheckpointFile ckpt(path);
        const std::string key = "model.diffusion_model.out.2.weight";
        QVERIFY(ckpt.contains(key));
        fs::resize_file(path, 4096);
        QVERIFY_THROWS_EXCEPTION(ModelError, ckpt.load(key, at::kFloat, at::kCPU));
    }

    /// The streaming write_safetensors: tensors asked for one at a time in
    /// the specs' order, read back equal; a produced tensor that is not
    /// what its spec says, or a key given twice, is an Error.
    void streaming_writer_round_trip() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string path = dir.filePath("streamed.safetensors").toStdString();
        const std::vector<StTensorSpec> specs = {{"z.first", at::kHalf, {3, 5}},
                                                 {"a.second", at::kFloat, {7}},
                                                 {"m.ids", at::kLong, {1, 4}}};
        std::vector<at::Tensor> made;
        std::vector<size_t> asked;
        write_safetensors(path, specs, [&](size_t i) {
            asked.push_back(i);
            made.push_back(i == 2 ? torch::arange(4, torch::kLong).reshape({1, 4})
                                  : torch::randn(specs[i].shape).to(specs[i].dtype));
            return made.back();
        });
        QCOMPARE(asked, (std::vector<size_t>{0, 1, 2}));
        const SafeTensorsFile file(path);
        QCOMPARE(file.keys().size(), size_t(3));
        for (size_t i = 0; i < specs.size(); ++i) {
            QCOMPARE(file.stored_dtype(specs[i].key), specs[i].dtype);
            QVERIFY(torch::equal(file.load(specs[i].key), made[i]));
        }
        QVERIFY_THROWS_EXCEPTION(Error, write_safetensors(path, specs, [&](size_t i) {
                                     return torch::zeros({2}, torch::kFloat);
                                 }));
        QVERIFY_THROWS_EXCEPTION(
            Error, write_safetensors(path, {specs[0], specs[0]}, [&](size_t) { return made[0]; }));
    }

    /// GuardedMapping: pages past the end of a file that shrank read as
    /// zeros (no SIGBUS), and the mapping says it shrank.
    void guarded_mapping_survives_truncation() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string path = dir.filePath("bytes").toStdString();
        const size_t size = 64 * 4096;
        {
            std::ofstream out(path, std::ios::binary);
            const std::string page(4096, 'x');
            for (size_t i = 0; i < size / page.size(); ++i)
                out << page;
        }
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        QVERIFY(fd >= 0);
        {
            const GuardedMapping map(fd, size, path);
            QCOMPARE(map.bytes().size(), size);
            QCOMPARE(char(map.bytes()[size - 1]), 'x');
            QVERIFY(!map.shrunk());
            map.throw_if_shrunk();
            fs::resize_file(path, 4096);
            QCOMPARE(char(map.bytes()[0]), 'x');
            QCOMPARE(int(map.bytes()[size / 2]), 0); // SIGBUS without the guard
            QCOMPARE(int(map.bytes()[size - 1]), 0);
            QVERIFY(map.shrunk());
            QVERIFY_THROWS_EXCEPTION(ModelError, map.throw_if_shrunk());
        }
        ::close(fd);
    }
};

QTEST_GUILESS_MAIN(TestModelLoading)
#include "test_model_loading.moc"
