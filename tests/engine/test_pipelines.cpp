// Whole txt2img / img2img runs against the reference (noise replayed from
// the goldens), the component sharing between the two pipelines, the
// request checks, cancellation, and daub-cli end to end.
#include "golden.h"
#include "golden_case.h"

#include "core/errors.h"
#include "core/image.h"
#include "core/image_tensor.h"
#include "core/json.h"
#include "core/runtime.h"
#include "core/safetensors.h"
#include "pipelines/model_loader.h"
#include "pipelines/parameters_text.h"
#include "pipelines/stable_diffusion.h"

#include <QtTest/QtTest>
#include <torch/torch.h>

#include <fstream>
#include <set>

using namespace daub;

namespace {

std::shared_ptr<StableDiffusion> load_model(const std::string& model, const std::string& config = "") {
    LoadRequest r;
    r.path = test::fixture(model);
    r.config_dir = config.empty() ? "" : test::fixture(config);
    r.device = "cpu";
    return std::shared_ptr<StableDiffusion>(
        static_cast<StableDiffusion*>(Pipeline::load(r).release()));
}

/// The request a pipe_* golden describes (its JSON), noise replayed.
GenerationRequest request_from_golden(const std::string& name) {
    return read_golden_case(test::fixtures_dir(), name).request;
}

/// ±2 on every u8 channel of the golden's image_u8.
void verify_image(const std::string& name, const Image& image) {
    const GoldenDiff d = compare_with_golden(test::fixtures_dir(), name, image);
    QVERIFY2(d.same_size, (name + ": the image has the wrong size").c_str());
    qInfo("%s: max |u8 diff| %d (<= 2), max |image diff| %.4f (<= 1e-2 incl. u8 rounding)",
          name.c_str(), d.max_u8, d.max_abs);
    QVERIFY2(d.max_u8 <= 2, (name + ": u8 differs by " + std::to_string(d.max_u8)).c_str());
}

size_t rss_kib() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmRSS:", 0) == 0)
            return std::stoul(line.substr(6));
    return 0;
}

/// The pipe_* goldens of one family ("pipe_sd15_", "pipe_sdxl_").
QStringList goldens(const std::string& prefix) {
    QStringList names;
    if (!test::fixtures_present())
        return names; // initTestCase fails loudly
    for (const auto& n : pipeline_golden_names(test::fixtures_dir()))
        if (n.rfind(prefix, 0) == 0)
            names << QString::fromStdString(n);
    return names;
}
const QStringList kSd15 = goldens("pipe_sd15_");
const QStringList kSdxl = goldens("pipe_sdxl_");

} // namespace

class TestPipelines : public QObject {
    Q_OBJECT

    std::shared_ptr<StableDiffusion> sd15_, sdxl_;

private Q_SLOTS:
    void initTestCase() {
        QVERIFY2(test::fixtures_present(), "fixtures folder missing: set DAUB_FIXTURES");
        init_runtime();
        sd15_ = load_model("tiny-sd15");
        sdxl_ = load_model("tiny-sdxl");
    }

    void golden_sd15_data() {
        QTest::addColumn<QString>("name");
        for (const auto& n : kSd15)
            QTest::newRow(n.toUtf8().constData()) << n;
    }
    void golden_sd15() {
        QFETCH(QString, name);
        const auto req = request_from_golden(name.toStdString());
        const auto result = sd15_->generate(req, {}, nullptr);
        verify_image(name.toStdString(), result.image);
    }

    void golden_sdxl_data() {
        QTest::addColumn<QString>("name");
        for (const auto& n : kSdxl)
            QTest::newRow(n.toUtf8().constData()) << n;
    }
    void golden_sdxl() {
        QFETCH(QString, name);
        const auto req = request_from_golden(name.toStdString());
        const auto result = sdxl_->generate(req, {}, nullptr);
        verify_image(name.toStdString(), result.image);
    }

    /// The same goldens from the single-file checkpoints.
    void golden_single_file_data() {
        QTest::addColumn<QString>("name");
        for (const auto& n : kSd15 + kSdxl)
            QTest::newRow(n.toUtf8().constData()) << n;
    }
    void golden_single_file() {
        QFETCH(QString, name);
        static auto sd15_file = load_model("tiny-sd15.safetensors", "tiny-sd15");
        static auto sdxl_file = load_model("tiny-sdxl.safetensors", "tiny-sdxl");
        auto& pipe = name.contains("sdxl") ? sdxl_file : sd15_file;
        const auto req = request_from_golden(name.toStdString());
        verify_image(name.toStdString(), pipe->generate(req, {}, nullptr).image);
    }

    /// The SD 1.5 goldens from the PyTorch pickle twin of tiny-sd15.safetensors.
    void golden_pickle_checkpoint_data() {
        QTest::addColumn<QString>("name");
        for (const auto& n : kSd15)
            QTest::newRow(n.toUtf8().constData()) << n;
    }
    void golden_pickle_checkpoint() {
        QFETCH(QString, name);
        static auto ckpt = load_model("pickles/tiny-sd15.ckpt", "tiny-sd15");
        const auto req = request_from_golden(name.toStdString());
        verify_image(name.toStdString(), ckpt->generate(req, {}, nullptr).image);
    }

    /// Img2Img is made from Txt2Img's components: same parameter storage,
    /// no new memory.
    void img2img_shares_components() {
        auto pipe = load_model("tiny-sd15");
        QVERIFY(!pipe->has_img2img());
        std::set<const void*> before;
        size_t bytes = 0;
        for (const auto& t : pipe->txt2img().components().unet->parameters()) {
            before.insert(t.data_ptr());
            bytes += t.numel() * t.element_size();
        }
        const size_t rss0 = rss_kib();
        const Img2Img& i2i = pipe->img2img();
        const size_t rss1 = rss_kib();
        QVERIFY(pipe->has_img2img());
        QCOMPARE(&i2i.components(), &pipe->txt2img().components());
        for (const auto& t : i2i.components().unet->parameters())
            QVERIFY(before.count(t.data_ptr()) == 1);
        QCOMPARE(i2i.components().vae.get(), pipe->txt2img().components().vae.get());
        QCOMPARE(i2i.components().text_encoder.get(),
                 pipe->txt2img().components().text_encoder.get());
        qInfo("img2img wrapper: RSS %zu -> %zu KiB (UNet weights %zu KiB)", rss0, rss1, bytes / 1024);
        QVERIFY(rss1 <= rss0 + 64); // no weights copied (allow page-table noise)
        QCOMPARE(&pipe->img2img(), &i2i); // cached
    }

    void kept_steps() {
        QCOMPARE(Img2Img::kept_steps(10, 0.6f), 6);
        QCOMPARE(Img2Img::kept_steps(10, 1.0f), 10);
        QCOMPARE(Img2Img::kept_steps(10, 0.01f), 1); // at least one step
        QCOMPARE(Img2Img::kept_steps(15, 0.75f), 11);
        QCOMPARE(Img2Img::kept_steps(100, 0.57f), 56); // Python: int(100 * 0.57) == 56
        QVERIFY_THROWS_EXCEPTION(RequestError, Img2Img::kept_steps(10, 0.0f));
        QVERIFY_THROWS_EXCEPTION(RequestError, Img2Img::kept_steps(10, 1.5f));
    }

    void strength_001_is_nearly_identical() {
        GenerationRequest req;
        req.prompt = "a fox";
        req.init_image = read_image_file(test::fixture("golden/init_64x64.png"));
        req.width = req.height = 64;
        req.steps = 20;
        req.strength = 0.01f;
        req.seed = 3;
        const auto result = sd15_->generate(req, {}, nullptr);
        QCOMPARE(result.steps_run, 1);
        QCOMPARE(result.image.width, 64);
    }

    void request_errors() {
        GenerationRequest req;
        req.prompt = "x";
        req.width = 60;
        req.height = 64;
        QVERIFY_THROWS_EXCEPTION(RequestError, sd15_->generate(req, {}, nullptr));
        req.width = 64;
        req.steps = 0;
        QVERIFY_THROWS_EXCEPTION(RequestError, sd15_->generate(req, {}, nullptr));
        req.steps = 2;
        req.scheduler = "nope";
        QVERIFY_THROWS_EXCEPTION(RequestError, sd15_->generate(req, {}, nullptr));
        req.scheduler = "";
        req.clip_skip = 7;
        QVERIFY_THROWS_EXCEPTION(RequestError, sd15_->generate(req, {}, nullptr));
    }

    /// Same seed → same image; progress after every step; -1 picks a seed.
    void seeds_progress_and_every_scheduler() {
        GenerationRequest req;
        req.prompt = "a fox";
        req.width = req.height = 64;
        req.steps = 3;
        req.seed = 1234;
        for (const auto& name : scheduler_names()) {
            req.scheduler = name;
            std::vector<int> steps;
            int total = 0;
            auto a = sd15_->generate(req, [&](const Progress& p) {
                steps.push_back(p.step);
                total = p.total;
            }, nullptr);
            auto b = sd15_->generate(req, {}, nullptr);
            QCOMPARE(a.seed, int64_t{1234});
            QVERIFY2(a.image.rgb == b.image.rgb, name.c_str());
            // One progress call per model evaluation (PNDM: one more; Heun:
            // two per step but the first), counted in the steps asked for.
            QVERIFY(static_cast<int>(steps.size()) >= total);
            QCOMPARE(total, 3);
            QCOMPARE(steps.front(), 1);
            QCOMPARE(steps.back(), total);
            QVERIFY(std::is_sorted(steps.begin(), steps.end()));
            QCOMPARE(a.steps_run, 3);
            QCOMPARE(a.scheduler, name);
        }
        req.seed = -1;
        auto r = sd15_->generate(req, {}, nullptr);
        QVERIFY(r.seed >= 0);
    }

    /// Cancelling stops between steps and leaves the pipeline usable.
    void cancel_then_next_job() {
        GenerationRequest req;
        req.prompt = "a fox";
        req.width = req.height = 64;
        req.steps = 10;
        req.seed = 5;
        CancelToken cancel;
        int seen = 0;
        QVERIFY_THROWS_EXCEPTION(CancelledError, sd15_->generate(req, [&](const Progress& p) {
            seen = p.step;
            if (p.step == 2)
                cancel.cancel();
        }, &cancel));
        QCOMPARE(seen, 2);
        cancel.reset();
        auto r = sd15_->generate(req, {}, &cancel);
        QCOMPARE(r.steps_run, 10);
    }

    void preview_is_small_rgb() {
        at::Tensor latents = torch::randn({1, 4, 8, 6});
        Image p = sd15_->preview(latents);
        QCOMPARE(p.width, 6);
        QCOMPARE(p.height, 8);
        QCOMPARE(p.rgb.size(), size_t(6 * 8 * 3));
    }

    void parameters_text_round_trip() {
        GenerationRequest req;
        req.prompt = "a red fox, in the snow";
        req.negative_prompt = "blurry";
        req.steps = 12;
        req.guidance_scale = 6.5f;
        req.init_image = Image{1, 1, {0, 0, 0}};
        req.strength = 0.6f;
        req.clip_skip = 2;
        GenerationResult res;
        res.seed = 77;
        res.width = 64;
        res.height = 48;
        res.scheduler = "euler_a";
        ModelInfo info;
        info.name = "tiny-sd15";
        const std::string text = parameters_text(req, res, info);
        QVERIFY2(text.find("Denoising strength: 0.6, Clip skip: 2, Version: Daub ") != std::string::npos,
                 text.c_str());
        auto p = parse_parameters_text(text);
        QVERIFY(p.has_value());
        QCOMPARE(p->prompt, req.prompt);
        QCOMPARE(p->negative_prompt, std::string("blurry"));
        QCOMPARE(p->steps, 12);
        QCOMPARE(p->scheduler, std::string("euler_a"));
        QCOMPARE(p->cfg_scale, 6.5);
        QCOMPARE(p->seed, int64_t{77});
        QCOMPARE(p->width, 64);
        QCOMPARE(p->height, 48);
        QCOMPARE(*p->denoising_strength, 0.6);
        QCOMPARE(p->clip_skip, 2);
        QCOMPARE(p->model, std::string("tiny-sd15"));
        ImageParameters expected = image_parameters(req, res, info);
        expected.denoising_strength = 0.6; // the float 0.6f, written with 4 digits
        QVERIFY(*p == expected);
        QVERIFY(!parse_parameters_text("just a caption").has_value());
    }

    /// daub-cli reproduces the img2img golden from the command line.
    /// The daub-cli commands of the issues' "done when", verbatim.
    void cli_reproduces_golden_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("golden");
        QTest::addColumn<int>("steps_run");
        auto f = [](const char* relative) { return QString::fromStdString(test::fixture(relative)); };
        QTest::newRow("sd15 folder, pndm")
            << QStringList{"--model", f("tiny-sd15"), "--init", f("golden/init_64x64.png"),
                           "--strength", "0.6", "--steps", "10", "--cfg", "7.5", "--prompt",
                           "a photo of a red fox in the snow", "--replay-noise",
                           f("golden/pipe_sd15_img2img_pndm.safetensors")}
            << QStringLiteral("pipe_sd15_img2img_pndm") << 6;
        QTest::newRow("sdxl single file, euler")
            << QStringList{"--model", f("tiny-sdxl.safetensors"), "--config", f("tiny-sdxl"),
                           "--init", f("golden/init_64x64.png"), "--strength", "0.5", "--steps", "8",
                           "--cfg", "5", "--scheduler", "euler", "--prompt",
                           "a photo of a red fox in the snow", "--replay-noise",
                           f("golden/pipe_sdxl_img2img_euler.safetensors")}
            << QStringLiteral("pipe_sdxl_img2img_euler") << 4;
    }
    void cli_reproduces_golden() {
        QFETCH(QStringList, args);
        QFETCH(QString, golden);
        QFETCH(int, steps_run);
        const QString cli = QStringLiteral(DAUB_BINARY_DIR "/engine/tools/daub-cli");
        const QString out = QDir::temp().filePath("daub-cli-test.png");
        QProcess p;
        p.start(cli, QStringList{"generate"} + args + QStringList{"--device", "cpu", "--out", out});
        QVERIFY(p.waitForFinished(60000));
        const QByteArray stdout_ = p.readAllStandardOutput();
        QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
        const auto line = nlohmann::json::parse(stdout_.toStdString());
        QCOMPARE(line["steps_run"].get<int>(), steps_run);
        QCOMPARE(line["width"].get<int>(), 64);
        verify_image(golden.toStdString(), read_image_file(out.toStdString()));
    }

    void cli_refuses_a_missing_model() {
        const QString cli = QStringLiteral(DAUB_BINARY_DIR "/engine/tools/daub-cli");
        const QString out = QDir::temp().filePath("daub-cli-test.png");
        // Bad arguments: non-zero exit, one sentence.
        QProcess bad;
        bad.start(cli, {"generate", "--model", "/nonexistent", "--prompt", "x", "--out", out});
        QVERIFY(bad.waitForFinished(60000));
        QVERIFY(bad.exitCode() != 0);
        QVERIFY(bad.readAllStandardError().contains("does not exist"));
    }
};

QTEST_GUILESS_MAIN(TestPipelines)
#include "test_pipelines.moc"
