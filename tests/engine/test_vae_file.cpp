// A separate VAE file replacing a model's own: tiny-sd15's VAE given as a
// file in each key naming (diffusers, original LDM without prefix, a whole
// checkpoint's first_stage_model.*) and as a folder reproduces the pipeline
// goldens; a perturbed copy does not (the file's weights are the ones used);
// the model's own VAE is not read; files that do not fit are refused; the
// "VAE:" field of the parameters text; daub-cli --vae.
#include "golden.h"
#include "golden_case.h"

#include "core/errors.h"
#include "core/image.h"
#include "core/json.h"
#include "core/runtime.h"
#include "core/safetensors.h"
#include "metadata/image_parameters.h"
#include "pipelines/parameters_text.h"
#include "pipelines/pipeline.h"
#include "pipelines/stable_diffusion.h"
#include "pipelines/vae_file.h"

#include <QtTest/QtTest>
#include <torch/torch.h>

#include <filesystem>
#include <functional>
#include <map>

using namespace daub;
namespace fs = std::filesystem;

namespace {

// The cheapest SD 1.5 pipeline golden (4 steps, no guidance); the VAE's
// encoder and decoder are checked on their own golden (sd15_vae).
const char* const kGolden = "pipe_sd15_txt2img_nocfg";

std::unique_ptr<Pipeline> load(const std::string& model, const std::string& vae,
                               const std::string& config = "") {
    LoadRequest r;
    r.path = model;
    r.config_dir = config;
    r.vae_path = vae;
    r.device = "cpu";
    return Pipeline::load(r);
}

GoldenDiff run_golden(Pipeline& pipe, const std::string& name) {
    const GenerationRequest req = read_golden_case(test::fixtures_dir(), name).request;
    return compare_with_golden(test::fixtures_dir(), name, pipe.generate(req).image);
}

/// The fixtures README's pipeline tolerance: every u8 channel within ±2.
bool matches_golden(const std::string& what, Pipeline& pipe, const std::string& name) {
    const GoldenDiff d = run_golden(pipe, name);
    qInfo("%s, %s: max |u8 diff| %d (<= 2), max |image diff| %.4f", what.c_str(), name.c_str(),
          d.max_u8, d.max_abs);
    return d.same_size && d.max_u8 <= 2;
}

AutoencoderKLImpl& vae_of(Pipeline& pipe) {
    return *static_cast<StableDiffusion&>(pipe).txt2img().components().vae.ptr();
}

/// The VAE against golden/sd15_vae (encoder posterior, decoder) at the
/// component tolerance.
bool matches_vae_golden(AutoencoderKLImpl& vae) {
    const SafeTensorsFile g(test::fixture("golden/sd15_vae.safetensors"));
    const VaePosterior p = vae.encode(g.load("image"));
    const at::Tensor decoded = vae.decode(g.load("latents"));
    bool ok = true;
    for (const auto& [name, actual] :
         {std::pair{"posterior_mean", p.mean}, std::pair{"posterior_logvar", p.logvar},
          std::pair{"decoded", decoded}}) {
        const test::Closeness c = test::compare_to_golden(actual, g.load(name));
        qInfo("sd15_vae %s: %s", name, c.text.c_str());
        ok = ok && c.ok;
    }
    return ok;
}

/// Copies the tensors of `from` whose key starts with `prefix` to a new
/// safetensors file, the prefix stripped, each passed through `edit`.
void write_part(const std::string& from, const std::string& prefix, const std::string& to,
                const std::function<void(const std::string&, at::Tensor&)>& edit = {}) {
    const SafeTensorsFile file(from);
    std::map<std::string, at::Tensor> tensors;
    for (const auto& key : file.keys()) {
        if (key.rfind(prefix, 0) != 0)
            continue;
        at::Tensor t = file.load(key);
        const std::string name = key.substr(prefix.size());
        if (edit)
            edit(name, t);
        tensors[name] = t;
    }
    write_safetensors(to, tensors);
}

bool one_sentence(const std::string& message) {
    return !message.empty() && message.back() == '.' && message.find('\n') == std::string::npos;
}

} // namespace

class TestVaeFile : public QObject {
    Q_OBJECT

    QTemporaryDir tmp_;
    std::string sd15_, sd15_file_, diffusers_vae_, ldm_vae_;

    std::string temp(const char* name) const { return tmp_.filePath(name).toStdString(); }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY2(test::fixtures_present(), "fixtures folder missing: set DAUB_FIXTURES");
        QVERIFY(tmp_.isValid());
        init_runtime();
        sd15_ = test::fixture("tiny-sd15");
        sd15_file_ = test::fixture("tiny-sd15.safetensors");
        diffusers_vae_ = test::fixture("tiny-sd15/vae/diffusion_pytorch_model.safetensors");
        // vae-ft-mse-840000 style: original key names, no prefix.
        ldm_vae_ = temp("tiny-vae-ldm.safetensors");
        write_part(sd15_file_, "first_stage_model.", ldm_vae_);
    }

    void naming_is_detected() {
        QCOMPARE(detect_vae_naming(SafeTensorsFile(diffusers_vae_)), VaeKeyNaming::Diffusers);
        QCOMPARE(detect_vae_naming(SafeTensorsFile(ldm_vae_)), VaeKeyNaming::Ldm);
        QCOMPARE(detect_vae_naming(SafeTensorsFile(sd15_file_)), VaeKeyNaming::LdmCheckpoint);
        QVERIFY_THROWS_EXCEPTION(
            UnsupportedModelError,
            detect_vae_naming(SafeTensorsFile(test::fixture("tiny-rrdbnet-x4.safetensors"))));
    }

    /// tiny-sd15's own VAE as a separate file or folder reproduces the
    /// goldens: the VAE's own, and a whole pipeline run.
    void reproduces_goldens_data() {
        QTest::addColumn<QString>("vae");
        QTest::addColumn<QString>("name");
        QTest::addColumn<bool>("whole_run"); // also the pipeline golden (each key naming once)
        auto row = [](const char* tag, const std::string& vae, const char* name, bool whole_run) {
            QTest::newRow(tag) << QString::fromStdString(vae) << name << whole_run;
        };
        row("diffusers file", test::fixture("tiny-sd15/vae/diffusion_pytorch_model.safetensors"),
            "tiny-sd15", true);
        row("ldm file", "@ldm", "tiny-vae-ldm.safetensors", true);
        row("whole checkpoint", test::fixture("tiny-sd15.safetensors"), "tiny-sd15.safetensors",
            true);
        row("whole pickle checkpoint", test::fixture("pickles/tiny-sd15.ckpt"), "tiny-sd15.ckpt",
            false);
        row("diffusers vae folder", test::fixture("tiny-sd15/vae"), "tiny-sd15", false);
        row("model folder (its vae/)", test::fixture("tiny-sd15"), "tiny-sd15", false);
    }
    void reproduces_goldens() {
        QFETCH(QString, vae);
        QFETCH(QString, name);
        QFETCH(bool, whole_run);
        const std::string path = vae == "@ldm" ? ldm_vae_ : vae.toStdString();
        auto pipe = load(sd15_, path);
        QCOMPARE(pipe->info().vae_name, name.toStdString());
        QVERIFY(matches_vae_golden(vae_of(*pipe)));
        if (whole_run)
            QVERIFY(matches_golden(path, *pipe, kGolden));
    }

    /// The same on the single-file model (its own VAE replaced).
    void single_file_model_with_vae_file() {
        auto pipe = load(sd15_file_, ldm_vae_, sd15_);
        QCOMPARE(pipe->info().vae_name, std::string("tiny-vae-ldm.safetensors"));
        QVERIFY(matches_vae_golden(vae_of(*pipe)));
        QVERIFY(matches_golden("single file + ldm vae", *pipe, kGolden));
    }

    /// The file's weights are the ones used: a perturbed copy changes the image.
    void perturbed_vae_changes_the_image() {
        const std::string path = temp("tiny-vae-perturbed.safetensors");
        write_part(ldm_vae_, "", path, [](const std::string& key, at::Tensor& t) {
            if (key == "decoder.conv_out.bias")
                t = t + 0.25;
        });
        auto pipe = load(sd15_, path);
        const GoldenDiff d = run_golden(*pipe, kGolden);
        qInfo("perturbed VAE: max |u8 diff| %d", d.max_u8);
        QVERIFY(d.same_size);
        QVERIFY(d.max_u8 > 16);
    }

    /// With a separate VAE the model's own VAE weights are never read: a
    /// model folder whose vae/ has only its config.json (or no vae/ at all)
    /// loads.
    void model_vae_is_not_loaded() {
        for (bool with_config : {true, false}) {
            const fs::path model = temp(with_config ? "sd15-vae-config-only" : "sd15-no-vae");
            fs::create_directories(model);
            const fs::path src = sd15_;
            for (const char* part :
                 {"model_index.json", "unet", "text_encoder", "tokenizer", "scheduler"})
                fs::create_symlink(src / part, model / part);
            if (with_config) {
                fs::create_directories(model / "vae");
                fs::create_symlink(src / "vae" / "config.json", model / "vae" / "config.json");
            }
            QVERIFY_THROWS_EXCEPTION(ModelError, load(model.string(), ""));
            auto pipe = load(model.string(), diffusers_vae_);
            QCOMPARE(vae_of(*pipe).scaling_factor(), 0.18215);
            QVERIFY(matches_vae_golden(vae_of(*pipe)));
        }
    }

    /// Structure from the file; latent scaling from the model (a file does
    /// not carry it); a folder keeps its own force_upcast.
    void config_comes_from_file_and_model() {
        const nlohmann::json sd15 = read_json_file(test::fixture("tiny-sd15/vae/config.json"));
        const nlohmann::json sdxl = read_json_file(test::fixture("tiny-sdxl/vae/config.json"));
        VaeFile f = open_vae_file(ldm_vae_, sdxl, ModelFamily::SDXL);
        QCOMPARE(f.naming, VaeKeyNaming::Ldm);
        QCOMPARE(f.config.scaling_factor, 0.13025);
        QVERIFY(f.config.force_upcast);
        QCOMPARE(f.config.block_out_channels, (std::vector<int64_t>{32, 32, 64, 64}));
        f = open_vae_file(diffusers_vae_, sd15, ModelFamily::SD15);
        QCOMPARE(f.config.scaling_factor, 0.18215);
        QVERIFY(!f.config.force_upcast);
        // tiny-sd15's vae/config.json says force_upcast false; the SDXL model's scaling.
        f = open_vae_file(test::fixture("tiny-sd15/vae"), sdxl, ModelFamily::SDXL);
        QCOMPARE(f.config.scaling_factor, 0.13025);
        QVERIFY(!f.config.force_upcast);
        QCOMPARE(f.name, std::string("tiny-sd15"));

        // A model VAE config of another structure (the real SD widths): the
        // file's own structure, the model's scaling.
        nlohmann::json real = sd15;
        real["block_out_channels"] = {128, 256, 512, 512};
        real["layers_per_block"] = 3;
        f = open_vae_file(ldm_vae_, real, ModelFamily::SD15);
        QCOMPARE(f.config.block_out_channels, (std::vector<int64_t>{32, 32, 64, 64}));
        QCOMPARE(f.config.layers_per_block, int64_t{2});
        QCOMPARE(f.config.scaling_factor, 0.18215);
    }

    void display_names() {
        QCOMPARE(vae_display_name("/m/vae-ft-mse-840000-ema-pruned.safetensors"),
                 std::string("vae-ft-mse-840000-ema-pruned.safetensors"));
        QCOMPARE(vae_display_name("/m/sdxl-vae-fp16-fix/diffusion_pytorch_model.safetensors"),
                 std::string("sdxl-vae-fp16-fix"));
        QCOMPARE(vae_display_name(diffusers_vae_), std::string("tiny-sd15"));
        QCOMPARE(vae_display_name(test::fixture("tiny-sd15/vae/")), std::string("tiny-sd15"));
    }

    /// Files that are no VAE for this model: one sentence naming the file.
    void refusals() {
        auto refused = [&](const std::string& path, const char* expect) {
            try {
                load(sd15_, path);
            } catch (const ModelError& e) {
                const std::string m = e.what();
                qInfo("%s", m.c_str());
                return one_sentence(m) && m.find(path) != std::string::npos &&
                       m.find(expect) != std::string::npos;
            }
            return false;
        };
        QVERIFY(
            refused(test::fixture("tiny-rrdbnet-x4.safetensors"), "holds no Stable Diffusion VAE"));
        QVERIFY(refused(temp("missing.safetensors"), "does not exist"));
        QVERIFY(refused(test::fixture("tiny-sd15/tokenizer"), "without a VAE config.json"));
        QVERIFY(refused(test::fixture("tiny-sd15/unet"), "holds no Stable Diffusion VAE"));

        // A VAE of another latent space (16 channels, as SD3's and Flux's).
        const std::string wide = temp("tiny-vae-16ch.safetensors");
        write_part(diffusers_vae_, "", wide, [](const std::string& key, at::Tensor& t) {
            auto resized = [&](std::vector<int64_t> shape) {
                t = torch::zeros(shape, t.options());
            };
            if (key == "encoder.conv_out.weight")
                resized({32, 64, 3, 3});
            else if (key == "encoder.conv_out.bias" || key == "quant_conv.bias")
                resized({32});
            else if (key == "quant_conv.weight")
                resized({32, 32, 1, 1});
            else if (key == "post_quant_conv.weight")
                resized({16, 16, 1, 1});
            else if (key == "post_quant_conv.bias")
                resized({16});
            else if (key == "decoder.conv_in.weight")
                resized({64, 16, 3, 3});
        });
        QVERIFY(refused(wide, "16 latent channels"));
        QVERIFY_THROWS_EXCEPTION(UnsupportedModelError, load(sd15_, wide));
    }

    void parameters_text_vae_round_trip() {
        GenerationRequest req;
        req.prompt = "a fox";
        GenerationResult res;
        res.seed = 3;
        res.width = res.height = 64;
        res.scheduler = "pndm";
        ModelInfo info;
        info.name = "tiny-sd15";
        QVERIFY(parameters_text(req, res, info).find("VAE") == std::string::npos);
        info.vae_name = "vae-ft-mse-840000-ema-pruned.safetensors";
        const std::string text = parameters_text(req, res, info);
        QVERIFY2(text.find("Model: tiny-sd15, VAE: vae-ft-mse-840000-ema-pruned.safetensors, ") !=
                     std::string::npos,
                 text.c_str());
        auto p = parse_parameters_text(text);
        QVERIFY(p.has_value());
        QCOMPARE(p->vae, info.vae_name);
        QVERIFY(*p == image_parameters(req, res, info));

        // A name that needs quoting, and A1111's own line with the VAE hash.
        ImageParameters q;
        q.prompt = "x";
        q.vae = "my, vae: v2.safetensors";
        auto back = parse_parameters_text(format_parameters_text(q));
        QVERIFY(back.has_value());
        QCOMPARE(back->vae, q.vae);
        back = parse_parameters_text(
            "a fox\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, Model hash: "
            "6ce0161689, Model: v1-5-pruned-emaonly, VAE hash: 735e4c3a44, VAE: "
            "vae-ft-mse-840000-ema-pruned.safetensors, Version: v1.10.1");
        QVERIFY(back.has_value());
        QCOMPARE(back->vae, std::string("vae-ft-mse-840000-ema-pruned.safetensors"));
        QCOMPARE(back->model, std::string("v1-5-pruned-emaonly"));
    }

    /// daub-cli generate --vae reproduces the pipeline golden.
    void cli_vae() {
        const QString cli = QStringLiteral(DAUB_BINARY_DIR "/engine/tools/daub-cli");
        const QString out = tmp_.filePath("cli.png");
        auto f = [](const char* relative) {
            return QString::fromStdString(test::fixture(relative));
        };
        QProcess p;
        p.start(cli, {"generate",
                      "--model",
                      f("tiny-sd15"),
                      "--vae",
                      QString::fromStdString(ldm_vae_),
                      "--width",
                      "64",
                      "--height",
                      "64",
                      "--steps",
                      "4",
                      "--cfg",
                      "1",
                      "--scheduler",
                      "pndm",
                      "--prompt",
                      "a photo of a red fox in the snow",
                      "--replay-noise",
                      f("golden/pipe_sd15_txt2img_nocfg.safetensors"),
                      "--device",
                      "cpu",
                      "--out",
                      out});
        QVERIFY(p.waitForFinished(60000));
        QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
        const auto line = nlohmann::json::parse(p.readAllStandardOutput().toStdString());
        QCOMPARE(line["vae"].get<std::string>(), std::string("tiny-vae-ldm.safetensors"));
        const GoldenDiff d =
            compare_with_golden(test::fixtures_dir(), kGolden, read_image_file(out.toStdString()));
        QVERIFY(d.same_size);
        QVERIFY2(d.max_u8 <= 2, std::to_string(d.max_u8).c_str());

        QProcess bad;
        bad.start(cli,
                  {"generate", "--model", f("tiny-sd15"), "--vae", f("tiny-rrdbnet-x4.safetensors"),
                   "--prompt", "x", "--device", "cpu", "--out", out});
        QVERIFY(bad.waitForFinished(60000));
        QCOMPARE(bad.exitCode(), 1);
        QVERIFY(bad.readAllStandardError().contains("holds no Stable Diffusion VAE"));
    }
};

QTEST_GUILESS_MAIN(TestVaeFile)
#include "test_vae_file.moc"
