// A single .safetensors file with nothing beside it (no config folder, no
// tokenizer) loads and generates: the configurations come from the shapes
// by the known-family rules and the tokenizer is the CLIP tokenizer built
// into Daub. The file is written here (tests/support/bare_checkpoint.h):
// tiny-sd15's UNet and VAE with a 64-wide CLIP text encoder with CLIP's full
// vocabulary. Through Pipeline::load and through daub-cli; a tokenizer folder
// beside the file or given still wins; a vocabulary the built-in tokenizer
// does not fit is refused.
#include "bare_checkpoint.h"
#include "golden.h"

#include "core/errors.h"
#include "core/image.h"
#include "core/runtime.h"
#include "pipelines/stable_diffusion.h"

#include <QtTest/QtTest>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <filesystem>

using namespace daub;
namespace fs = std::filesystem;

namespace {

std::unique_ptr<StableDiffusion> load(const std::string& path, const std::string& tokenizer = "") {
    LoadRequest r;
    r.path = path;
    r.tokenizer_dir = tokenizer;
    r.device = "cpu";
    return std::unique_ptr<StableDiffusion>(
        static_cast<StableDiffusion*>(Pipeline::load(r).release()));
}

GenerationRequest small_request() {
    GenerationRequest req;
    req.prompt = "a photo of a red fox in the snow, highly detailed";
    req.negative_prompt = "blurry";
    req.width = 64;
    req.height = 64;
    req.steps = 2;
    req.guidance_scale = 7.0f;
    req.seed = 42;
    return req;
}

} // namespace

class TestBareCheckpoint : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    std::string path_; ///< dir_/bare-sd15.safetensors, alone in its folder

private Q_SLOTS:
    void initTestCase() {
        QVERIFY2(test::fixtures_present(), "fixtures folder missing: set DAUB_FIXTURES");
        QVERIFY(dir_.isValid());
        init_runtime();
        path_ = (fs::path(dir_.path().toStdString()) / "bare-sd15.safetensors").string();
        QElapsedTimer timer;
        timer.start();
        test::write_bare_sd15_checkpoint(path_);
        qInfo("wrote %s (%.1f MB) in %lld ms", path_.c_str(), fs::file_size(path_) / 1e6,
              static_cast<long long>(timer.elapsed()));
        // Nothing beside it.
        QCOMPARE(std::distance(fs::directory_iterator(dir_.path().toStdString()),
                               fs::directory_iterator()),
                 std::ptrdiff_t(1));
    }

    /// Pipeline::load with no config and no tokenizer, then a 64×64 image.
    void pipeline_loads_and_generates() {
        QElapsedTimer timer;
        timer.start();
        const auto pipe = load(path_);
        const qint64 load_ms = timer.elapsed();
        QCOMPARE(pipe->info().family, ModelFamily::SD15);
        QCOMPARE(pipe->info().name, std::string("bare-sd15"));
        const Components& c = pipe->txt2img().components();
        QVERIFY(c.tokenizer != nullptr);
        QVERIFY(c.tokenizer_2 == nullptr);
        QCOMPARE(c.tokenizer->vocab_size(), std::size_t(49408));
        QCOMPARE(c.tokenizer->pad_id(), int64_t(49407)); // SD 1.5 pads with <|endoftext|>
        QCOMPARE(c.tokenizer->encode("a photo of a cat"),
                 (std::vector<int64_t>{49406, 320, 1125, 539, 320, 2368, 49407}));

        timer.restart();
        const GenerationResult result = pipe->generate(small_request(), {}, nullptr);
        qInfo("load %lld ms, generate 64x64 in 2 steps %lld ms (text %.0f ms, steps %.0f + %.0f "
              "ms, VAE %.0f ms)",
              static_cast<long long>(load_ms), static_cast<long long>(timer.elapsed()),
              result.timings.text_encode_ms, result.timings.step_ms.at(0),
              result.timings.step_ms.at(1), result.timings.vae_decode_ms);
        QCOMPARE(result.width, 64);
        QCOMPARE(result.height, 64);
        QCOMPARE(result.steps_run, 2);
        QCOMPARE(result.image.width, 64);
        QCOMPARE(result.image.height, 64);
        // A real picture of the random model: not one flat colour.
        const auto [lo, hi] = std::minmax_element(result.image.rgb.begin(), result.image.rgb.end());
        QVERIFY2(*hi > *lo, "the image is one flat colour");

        // The prompt reaches the UNet: another prompt, another image.
        GenerationRequest other = small_request();
        other.prompt = "an oil painting of a lighthouse";
        QVERIFY(pipe->generate(other, {}, nullptr).image.rgb != result.image.rgb);
    }

    /// daub-cli generate with only --model: the PNG has the asked size.
    void cli_generates() {
        const QString cli = QStringLiteral(DAUB_BINARY_DIR "/engine/tools/daub-cli");
        const QString out = dir_.filePath("cli-out.png");
        QFile::remove(out);
        QProcess p;
        p.start(cli, {"generate", "--model", QString::fromStdString(path_), "--prompt",
                      "a red fox in the snow", "--width", "64", "--height", "48", "--steps", "2",
                      "--seed", "7", "--device", "cpu", "--out", out});
        QVERIFY(p.waitForFinished(60000));
        const QByteArray stdout_ = p.readAllStandardOutput();
        QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
        const auto line = nlohmann::json::parse(stdout_.toStdString());
        QCOMPARE(line["width"].get<int>(), 64);
        QCOMPARE(line["height"].get<int>(), 48);
        QCOMPARE(line["steps_run"].get<int>(), 2);
        QVERIFY(QFile::exists(out));
        const Image image = read_image_file(out.toStdString());
        QCOMPARE(image.width, 64);
        QCOMPARE(image.height, 48);
        QFile::remove(out);
    }

    /// SDXL: both encoders use the built-in data, the second padding with "!".
    void sdxl_uses_builtin_tokenizers() {
        const std::string path = dir_.filePath("sdxl.safetensors").toStdString();
        const std::string configs = dir_.filePath("sdxl-configs").toStdString();
        test::write_clip_vocab_sdxl_checkpoint(path, configs);
        LoadRequest r;
        r.path = path;
        r.config_dir = configs;
        r.device = "cpu";
        const std::unique_ptr<StableDiffusion> pipe(
            static_cast<StableDiffusion*>(Pipeline::load(r).release()));
        QCOMPARE(pipe->info().family, ModelFamily::SDXL);
        const Components& c = pipe->txt2img().components();
        QVERIFY(c.tokenizer != nullptr && c.tokenizer_2 != nullptr);
        QCOMPARE(c.tokenizer->vocab_size(), std::size_t(49408));
        QCOMPARE(c.tokenizer_2->vocab_size(), std::size_t(49408));
        QCOMPARE(c.tokenizer->pad_id(), int64_t(49407));
        QCOMPARE(c.tokenizer_2->pad_id(), int64_t(0));
        QCOMPARE(c.tokenizer_2->encode_padded("a cat", 6),
                 (std::vector<int64_t>{49406, 320, 2368, 49407, 0, 0}));

        GenerationRequest req = small_request();
        req.guidance_scale = 1.0f; // one UNet batch: the encoders are what is tested here
        const GenerationResult result = pipe->generate(req, {}, nullptr);
        QCOMPARE(result.image.width, 64);
        QCOMPARE(result.image.height, 64);
        QCOMPARE(result.steps_run, 2);
        fs::remove(path);
        fs::remove_all(configs);
    }

    /// A tokenizer folder given, or beside the file, is used instead.
    void tokenizer_folder_still_wins() {
        // Given: the "!"-padding vocabulary, so the pad id shows which one loaded.
        const std::string padbang = test::fixture("clip-vocab-padbang");
        QCOMPARE(load(path_, padbang)->txt2img().components().tokenizer->pad_id(), int64_t(0));
        // Beside the file: a tokenizer/ folder (a link to the same files).
        QTemporaryDir beside;
        QVERIFY(beside.isValid());
        const fs::path model = fs::path(beside.path().toStdString()) / "model.safetensors";
        fs::create_symlink(path_, model);
        fs::create_directory_symlink(padbang, fs::path(beside.path().toStdString()) / "tokenizer");
        QCOMPARE(load(model.string())->txt2img().components().tokenizer->pad_id(), int64_t(0));
        // A given folder without the files is an error, not the built-in tokenizer.
        QTemporaryDir empty;
        QVERIFY(empty.isValid());
        try {
            (void)load(path_, empty.path().toStdString());
            QFAIL("no ModelError for a tokenizer folder without vocab.json");
        } catch (const ModelError& e) {
            QVERIFY2(std::string(e.what()).find("has no vocab.json") != std::string::npos,
                     e.what());
        }
    }

    /// A text encoder whose vocabulary is not CLIP's 49,408 tokens cannot
    /// use the built-in tokenizer: one sentence asking for --tokenizer.
    void other_vocabulary_is_refused() {
        const std::string path = dir_.filePath("small-vocab.safetensors").toStdString();
        test::BareCheckpointOptions options;
        options.vocab_size = 1002;
        test::write_bare_sd15_checkpoint(path, options);
        try {
            (void)load(path);
            QFAIL("no ModelError for a 1002-token text encoder without a tokenizer");
        } catch (const ModelError& e) {
            const std::string msg = e.what();
            qInfo("ModelError: %s", msg.c_str());
            QVERIFY2(msg.find("1002 tokens") != std::string::npos, msg.c_str());
            QVERIFY2(msg.find("--tokenizer") != std::string::npos, msg.c_str());
        }
        fs::remove(path);
    }
};

QTEST_GUILESS_MAIN(TestBareCheckpoint)
#include "test_bare_checkpoint.moc"
