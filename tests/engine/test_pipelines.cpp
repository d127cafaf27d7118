// Whole txt2img / img2img runs against the reference (noise replayed from
// the goldens), the component sharing between the two pipelines, the
// request checks, cancellation, and daub-cli end to end.
#include "golden.h"

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
    const nlohmann::json j = read_json_file(test::fixture("golden/" + name + ".json"));
    GenerationRequest req;
    req.prompt = j.at("prompt").get<std::string>();
    if (j.contains("negative_prompt") && !j["negative_prompt"].is_null())
        req.negative_prompt = j["negative_prompt"].get<std::string>();
    req.steps = j.at("num_inference_steps").get<int>();
    req.guidance_scale = j.at("guidance_scale").get<float>();
    req.scheduler = j.at("scheduler").get<std::string>();
    if (j.contains("clip_skip") && !j["clip_skip"].is_null())
        req.clip_skip = j["clip_skip"].get<int>() + 1; // diffusers' meaning → A1111's
    if (j.contains("init_image")) {
        req.init_image = read_image_file(test::fixture("golden/" + j["init_image"].get<std::string>()));
        req.strength = j.at("strength").get<float>();
        req.width = req.init_image->width;
        req.height = req.init_image->height;
    } else {
        req.width = j.at("width").get<int>();
        req.height = j.at("height").get<int>();
    }
    req.replay_noise_path = test::fixture("golden/" + name + ".safetensors");
    return req;
}

/// ±2 on every u8 channel and max abs error ≤ 1e-2 on the float image.
void verify_image(const std::string& name, const Image& image) {
    SafeTensorsFile g(test::fixture("golden/" + name + ".safetensors"));
    at::Tensor golden_u8 = g.load("image_u8").to(torch::kInt);               // [H, W, 3]
    QCOMPARE(image.height, static_cast<int>(golden_u8.size(0)));
    QCOMPARE(image.width, static_cast<int>(golden_u8.size(1)));
    at::Tensor ours = torch::from_blob(const_cast<uint8_t*>(image.rgb.data()),
                                       {image.height, image.width, 3}, torch::kUInt8)
                          .to(torch::kInt);
    const int max_u8 = (ours - golden_u8).abs().max().item<int>();
    const double max_f =
        (ours.to(torch::kDouble) / 255.0 - g.load("image").to(torch::kDouble)).abs().max().item<double>();
    qInfo("%s: max |u8 diff| %d (<= 2), max |image diff| %.4f (<= 1e-2 incl. u8 rounding)",
          name.c_str(), max_u8, max_f);
    QVERIFY2(max_u8 <= 2, (name + ": u8 differs by " + std::to_string(max_u8)).c_str());
}

size_t rss_kib() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmRSS:", 0) == 0)
            return std::stoul(line.substr(6));
    return 0;
}

const QStringList kSd15 = {"pipe_sd15_txt2img_pndm",       "pipe_sd15_txt2img_euler_a",
                           "pipe_sd15_txt2img_nocfg",      "pipe_sd15_txt2img_clipskip2",
                           "pipe_sd15_img2img_pndm",       "pipe_sd15_img2img_euler_a",
                           "pipe_sd15_img2img_full_strength"};
const QStringList kSdxl = {"pipe_sdxl_txt2img_euler", "pipe_sdxl_txt2img_negative",
                           "pipe_sdxl_img2img_euler"};

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
            // One progress call per model evaluation (Heun: two per step but the first).
            QCOMPARE(static_cast<int>(steps.size()), total);
            QCOMPARE(steps.back(), total);
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
        auto p = parse_parameters_text(text);
        QVERIFY(p.has_value());
        QCOMPARE(p->prompt, req.prompt);
        QCOMPARE(*p->negative_prompt, std::string("blurry"));
        QCOMPARE(*p->steps, 12);
        QCOMPARE(*p->scheduler, std::string("euler_a"));
        QCOMPARE(*p->cfg, 6.5f);
        QCOMPARE(*p->seed, int64_t{77});
        QCOMPARE(*p->width, 64);
        QCOMPARE(*p->height, 48);
        QCOMPARE(*p->strength, 0.6f);
        QCOMPARE(*p->clip_skip, 2);
        QVERIFY(!parse_parameters_text("just a caption").has_value());
    }

    /// daub-cli reproduces the img2img golden from the command line.
    void cli_reproduces_golden() {
        const QString cli = QStringLiteral(DAUB_BINARY_DIR "/engine/tools/daub-cli");
        const QString out = QDir::temp().filePath("daub-cli-test.png");
        QProcess p;
        p.start(cli, {"generate", "--model", QString::fromStdString(test::fixture("tiny-sd15")),
                      "--init", QString::fromStdString(test::fixture("golden/init_64x64.png")),
                      "--strength", "0.6", "--steps", "10", "--cfg", "7.5", "--prompt",
                      "a photo of a red fox in the snow", "--negative", "", "--device", "cpu",
                      "--replay-noise",
                      QString::fromStdString(test::fixture("golden/pipe_sd15_img2img_pndm.safetensors")),
                      "--out", out});
        QVERIFY(p.waitForFinished(60000));
        const QByteArray stdout_ = p.readAllStandardOutput();
        QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
        const auto line = nlohmann::json::parse(stdout_.toStdString());
        QCOMPARE(line["steps_run"].get<int>(), 6);
        QCOMPARE(line["width"].get<int>(), 64);
        verify_image("pipe_sd15_img2img_pndm", read_image_file(out.toStdString()));

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
