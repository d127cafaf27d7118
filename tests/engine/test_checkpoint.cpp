// Single-file checkpoints: every component of tiny-sd15.safetensors and
// tiny-sdxl.safetensors seen through the key mapping equals its folder
// twin's file key for key, shape for shape and bit for bit; the derived
// configurations match the folder's; untidy files give the same tensors;
// the .ckpt twin (a PyTorch pickle, read without running it) gives the same
// tensors too; every family Daub does not run is refused with its own
// sentence.
#include "golden.h"

#include "core/errors.h"
#include "core/runtime.h"
#include "core/safetensors.h"
#include "loading/checkpoint.h"
#include "loading/key_mapping.h"

#include <QtTest/QtTest>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <sys/resource.h>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json read_json(const std::string& rel) {
    std::ifstream in(daub::test::fixture(rel));
    return json::parse(in);
}

/// A fresh empty folder under the build tree.
fs::path scratch_dir(const std::string& name) {
    const fs::path dir = fs::path(DAUB_BINARY_DIR) / "test_checkpoint_scratch" / name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

/// Runs `fn`, expects exception E, returns its message ("" if none thrown).
template <typename E>
std::string error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const E& e) {
        return e.what();
    } catch (const std::exception& e) {
        return std::string("WRONG EXCEPTION TYPE: ") + e.what();
    }
    return "";
}

/// Peak resident set size of this process so far, in MiB.
double peak_rss_mib() {
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_maxrss) / 1024.0; // ru_maxrss is KiB on Linux
}

/// Writes a safetensors file with the header entries and the data in the
/// given (unsorted) order, as a file written by another tool might be.
void write_shuffled(const fs::path& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
    nlohmann::ordered_json header;
    header["__metadata__"] = {{"format", "pt"}, {"note", "untidy"}};
    std::vector<at::Tensor> blobs;
    uint64_t offset = 0;
    for (const auto& [key, t] : tensors) {
        at::Tensor c = t.contiguous();
        const uint64_t bytes = c.numel() * c.element_size();
        const char* dtype = c.scalar_type() == at::kFloat   ? "F32"
                            : c.scalar_type() == at::kHalf  ? "F16"
                            : c.scalar_type() == at::kDouble ? "F64"
                            : c.scalar_type() == at::kLong  ? "I64"
                            : c.scalar_type() == at::kInt   ? "I32"
                                                            : "BF16";
        header[key] = {{"dtype", dtype}, {"shape", c.sizes().vec()},
                       {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
        blobs.push_back(c);
    }
    std::string text = header.dump();
    while (text.size() % 8 != 0)
        text.push_back(' ');
    std::ofstream out(path, std::ios::binary);
    const uint64_t n = text.size();
    for (int i = 0; i < 8; ++i)
        out.put(static_cast<char>((n >> (8 * i)) & 0xff));
    out.write(text.data(), static_cast<std::streamsize>(n));
    for (const auto& c : blobs)
        out.write(static_cast<const char*>(c.data_ptr()),
                  static_cast<std::streamsize>(c.numel() * c.element_size()));
}

/// Every tensor of a safetensors file, in its stored dtype.
std::map<std::string, at::Tensor> all_tensors(const std::string& path) {
    daub::SafeTensorsFile f(path);
    std::map<std::string, at::Tensor> out;
    for (const auto& key : f.keys())
        out[key] = f.load(key);
    return out;
}

/// Writes `tensors` (fp16) as a safetensors file, plus `empty` entries: keys
/// with the given shapes and no data (a zero dimension makes them 0 bytes),
/// as a hostile file may have.
void write_with_empty(const fs::path& path, const std::map<std::string, at::Tensor>& tensors,
                      const std::map<std::string, std::vector<int64_t>>& empty) {
    nlohmann::ordered_json header;
    std::vector<at::Tensor> blobs;
    uint64_t offset = 0;
    for (const auto& [key, t] : tensors) {
        if (empty.count(key))
            continue;
        at::Tensor c = t.to(at::kHalf).contiguous();
        const uint64_t bytes = c.numel() * c.element_size();
        header[key] = {{"dtype", "F16"},
                       {"shape", c.sizes().vec()},
                       {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
        blobs.push_back(c);
    }
    for (const auto& [key, shape] : empty)
        header[key] = {{"dtype", "F16"}, {"shape", shape}, {"data_offsets", {offset, offset}}};
    std::string text = header.dump();
    while (text.size() % 8 != 0)
        text.push_back(' ');
    std::ofstream out(path, std::ios::binary);
    const uint64_t n = text.size();
    for (int i = 0; i < 8; ++i)
        out.put(static_cast<char>((n >> (8 * i)) & 0xff));
    out.write(text.data(), static_cast<std::streamsize>(n));
    for (const auto& c : blobs)
        out.write(static_cast<const char*>(c.data_ptr()),
                  static_cast<std::streamsize>(c.numel() * c.element_size()));
}

} // namespace

class TestCheckpoint : public QObject {
    Q_OBJECT

private:
    /// The view provides exactly the folder file's keys, with the same
    /// shapes and identical values (after an fp32 upcast).
    void check_component(const daub::WeightSource& view, const std::string& folder_file,
                         const char* name) {
        daub::SafeTensorsFile folder(daub::test::fixture(folder_file));
        const auto want = folder.keys();
        const auto got = view.keys();
        const std::set<std::string> want_set(want.begin(), want.end());
        const std::set<std::string> got_set(got.begin(), got.end());
        std::vector<std::string> missing, extra;
        std::set_difference(want_set.begin(), want_set.end(), got_set.begin(), got_set.end(),
                            std::back_inserter(missing));
        std::set_difference(got_set.begin(), got_set.end(), want_set.begin(), want_set.end(),
                            std::back_inserter(extra));
        QVERIFY2(missing.empty(), (std::string(name) + ": view lacks '" +
                                   (missing.empty() ? "" : missing.front()) + "' and " +
                                   std::to_string(missing.size()) + " keys in all")
                                      .c_str());
        QVERIFY2(extra.empty(), (std::string(name) + ": view has the extra key '" +
                                 (extra.empty() ? "" : extra.front()) + "' and " +
                                 std::to_string(extra.size()) + " in all")
                                    .c_str());
        double worst = 0;
        for (const auto& key : want) {
            QVERIFY2(view.shape(key) == folder.shape(key),
                     (std::string(name) + ": shape of " + key + " is " +
                      daub::shape_to_string(view.shape(key)) + ", folder has " +
                      daub::shape_to_string(folder.shape(key)))
                         .c_str());
            const at::Tensor a = view.load(key, at::kFloat, at::kCPU);
            const at::Tensor b = folder.load(key, at::kFloat, at::kCPU);
            QCOMPARE(a.sizes().vec(), b.sizes().vec());
            QVERIFY(a.is_contiguous());
            const double diff = a.numel() ? (a - b).abs().max().item<double>() : 0.0;
            worst = std::max(worst, diff);
            QVERIFY2(diff == 0.0, (std::string(name) + ": " + key + " differs by " +
                                   std::to_string(diff))
                                      .c_str());
        }
        qInfo("%s: %zu keys, identical to %s (max abs diff %.1e)", name, want.size(),
              folder_file.c_str(), worst);
    }

    void check_sd15_components(const daub::Checkpoint& ckpt) {
        check_component(*ckpt.unet(), "tiny-sd15/unet/diffusion_pytorch_model.safetensors",
                        "sd15 unet");
        check_component(*ckpt.vae(), "tiny-sd15/vae/diffusion_pytorch_model.safetensors",
                        "sd15 vae");
        check_component(*ckpt.text_encoder(), "tiny-sd15/text_encoder/model.safetensors",
                        "sd15 text_encoder");
    }

    /// Every key of `folder` except the version stamps and sample_size
    /// (the derived config uses the real models' default size).
    void check_config_fields(const json& derived, const json& folder, const char* name) {
        for (const auto& [key, value] : folder.items()) {
            if (key == "_diffusers_version" || key == "transformers_version" ||
                key == "sample_size" || key == "dtype")
                continue;
            QVERIFY2(derived.contains(key), (std::string(name) + ": derived lacks " + key).c_str());
            const json& d = derived.at(key);
            const bool same = d == value || (d.is_number() && value.is_number() &&
                                             d.get<double>() == value.get<double>());
            QVERIFY2(same, (std::string(name) + "." + key + ": derived " + d.dump() +
                            ", folder " + value.dump())
                               .c_str());
        }
    }

    void expect_refusal(const fs::path& path, const std::string& needle) {
        const std::string msg = error_of<daub::UnsupportedModelError>(
            [&] { daub::Checkpoint::open(path.string()); });
        qInfo("%s -> %s", path.filename().c_str(), msg.c_str());
        QVERIFY2(!msg.empty(), (path.filename().string() + " was not refused").c_str());
        QVERIFY2(msg.find(needle) != std::string::npos,
                 (path.filename().string() + ": message lacks '" + needle + "': " + msg).c_str());
        QVERIFY2(msg.find(path.filename().string()) != std::string::npos,
                 ("message does not name the file: " + msg).c_str());
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY2(daub::test::fixtures_present(), "fixtures folder missing: set DAUB_FIXTURES");
        daub::init_runtime();
    }

    // First, so the peak RSS reflects these loads and not the later tests.
    void load_time_and_peak_memory() {
        struct Case {
            const char* file;
            const char* folder;
        };
        for (const Case& c : {Case{"tiny-sd15.safetensors", "tiny-sd15"},
                              Case{"tiny-sdxl.safetensors", "tiny-sdxl"}}) {
            const double rss_before = peak_rss_mib();
            const auto t0 = std::chrono::steady_clock::now();
            auto ckpt = daub::Checkpoint::open(daub::test::fixture(c.file));
            const auto t1 = std::chrono::steady_clock::now();
            size_t bytes = 0, count = 0;
            std::vector<std::unique_ptr<daub::WeightSource>> parts;
            parts.push_back(ckpt->unet());
            parts.push_back(ckpt->vae());
            parts.push_back(ckpt->text_encoder());
            if (ckpt->layout() == daub::CheckpointLayout::SDXL_SGM)
                parts.push_back(ckpt->text_encoder_2());
            std::vector<at::Tensor> held; // as modules would hold them
            for (const auto& part : parts)
                for (const auto& key : part->keys()) {
                    held.push_back(part->load(key, at::kFloat, at::kCPU));
                    bytes += held.back().nbytes();
                    ++count;
                }
            const auto t2 = std::chrono::steady_clock::now();
            const double rss_after = peak_rss_mib();
            // The folder twin read the same way, for comparison.
            std::vector<at::Tensor> twin;
            for (const char* comp : {"unet/diffusion_pytorch_model.safetensors",
                                     "vae/diffusion_pytorch_model.safetensors",
                                     "text_encoder/model.safetensors",
                                     "text_encoder_2/model.safetensors"}) {
                const std::string path = daub::test::fixture(std::string(c.folder) + "/" + comp);
                if (!fs::exists(path))
                    continue;
                daub::SafeTensorsFile f(path);
                for (const auto& key : f.keys())
                    twin.push_back(f.load(key, at::kFloat, at::kCPU));
            }
            const auto t3 = std::chrono::steady_clock::now();
            auto ms = [](auto a, auto b) {
                return std::chrono::duration<double, std::milli>(b - a).count();
            };
            qInfo("%s: open+detect+map %.1f ms, load %zu tensors (%.1f MiB fp32) %.1f ms "
                  "(folder twin: %zu tensors in %.1f ms); peak RSS %.1f MiB (%.1f before, +%.1f)",
                  c.file, ms(t0, t1), count, bytes / 1048576.0, ms(t1, t2), twin.size(),
                  ms(t2, t3), rss_after, rss_before, rss_after - rss_before);
            QCOMPARE(count, twin.size());
        }
    }

    void sd15_components_equal_folder() {
        auto ckpt = daub::Checkpoint::open(daub::test::fixture("tiny-sd15.safetensors"));
        QCOMPARE(ckpt->layout(), daub::CheckpointLayout::SD15_LDM);
        check_sd15_components(*ckpt);
        QVERIFY(!error_of<daub::ModelError>([&] { ckpt->text_encoder_2(); }).empty());
    }

    void sdxl_components_equal_folder() {
        auto ckpt = daub::Checkpoint::open(daub::test::fixture("tiny-sdxl.safetensors"));
        QCOMPARE(ckpt->layout(), daub::CheckpointLayout::SDXL_SGM);
        check_component(*ckpt->unet(), "tiny-sdxl/unet/diffusion_pytorch_model.safetensors",
                        "sdxl unet");
        check_component(*ckpt->vae(), "tiny-sdxl/vae/diffusion_pytorch_model.safetensors",
                        "sdxl vae");
        check_component(*ckpt->text_encoder(), "tiny-sdxl/text_encoder/model.safetensors",
                        "sdxl text_encoder");
        check_component(*ckpt->text_encoder_2(), "tiny-sdxl/text_encoder_2/model.safetensors",
                        "sdxl text_encoder_2");
    }

    void transforms_convert_dtype_and_layout() {
        auto ckpt = daub::Checkpoint::open(daub::test::fixture("tiny-sdxl.safetensors"));
        auto te2 = ckpt->text_encoder_2();
        daub::SafeTensorsFile folder(daub::test::fixture("tiny-sdxl/text_encoder_2/model.safetensors"));
        // Transposed, chunked (q, k, v in the order a module loads them),
        // and squeezed tensors, straight to fp16 / bf16.
        for (const char* key : {"text_projection.weight",
                                "text_model.encoder.layers.1.self_attn.k_proj.weight",
                                "text_model.encoder.layers.1.self_attn.v_proj.bias",
                                "text_model.encoder.layers.1.self_attn.q_proj.weight"}) {
            const at::Tensor half = te2->load(key, at::kHalf, at::kCPU);
            QCOMPARE(half.scalar_type(), at::kHalf);
            QVERIFY(half.is_contiguous());
            QVERIFY(at::equal(half, folder.load(key, at::kHalf, at::kCPU)));
            const at::Tensor bf = te2->load(key, at::kBFloat16, at::kCPU);
            QCOMPARE(bf.scalar_type(), at::kBFloat16);
        }
        auto vae = ckpt->vae();
        const at::Tensor q = vae->load("decoder.mid_block.attentions.0.to_q.weight", at::kHalf, at::kCPU);
        QCOMPARE(q.sizes().vec(), (std::vector<int64_t>{64, 64}));
        QCOMPARE(vae->stored_dtype("decoder.mid_block.attentions.0.to_q.weight"), at::kHalf);
        // The view names its file and component in errors.
        const std::string msg = error_of<daub::ModelError>([&] { vae->shape("no.such.key"); });
        QVERIFY2(msg.find("tiny-sdxl.safetensors (VAE)") != std::string::npos, msg.c_str());
    }

    void sd15_configs() {
        auto ckpt = daub::Checkpoint::open(daub::test::fixture("tiny-sd15.safetensors"));
        const json unet = read_json("tiny-sd15/unet/config.json");
        const json vae = read_json("tiny-sd15/vae/config.json");
        const json te = read_json("tiny-sd15/text_encoder/config.json");
        // Derived from shapes alone: SD 1.5's 8 heads are known, so the UNet
        // config is the folder's on every field.
        check_config_fields(ckpt->unet_config(), unet, "sd15 unet (derived)");
        check_config_fields(ckpt->vae_config(), vae, "sd15 vae (derived)");
        // The tiny CLIP is 32 wide: no real model tells its head count.
        const std::string msg = error_of<daub::ModelError>([&] { ckpt->text_encoder_config(); });
        QVERIFY2(msg.find("--config") != std::string::npos, msg.c_str());
        const auto& f = ckpt->inspection().text_encoder;
        QCOMPARE(f.hidden_size, te["hidden_size"].get<int64_t>());
        QCOMPARE(f.intermediate_size, te["intermediate_size"].get<int64_t>());
        QCOMPARE(f.num_layers, te["num_hidden_layers"].get<int64_t>());
        QCOMPARE(f.vocab_size, te["vocab_size"].get<int64_t>());
        QCOMPARE(f.max_positions, te["max_position_embeddings"].get<int64_t>());
        QCOMPARE(f.vocab_size - 1, te["eos_token_id"].get<int64_t>());
        QCOMPARE(f.vocab_size - 2, te["bos_token_id"].get<int64_t>());
        // With the config folder: exactly the folder's files.
        const auto cfg = ckpt->configs(daub::test::fixture("tiny-sd15"));
        QCOMPARE(cfg.unet, unet);
        QCOMPARE(cfg.vae, vae);
        QCOMPARE(cfg.text_encoder, te);
        QVERIFY(cfg.text_encoder_2.is_null());
        QCOMPARE(cfg.scheduler, read_json("tiny-sd15/scheduler/scheduler_config.json"));
        // The default scheduler is the real SD 1.5 one (PNDM), field for field.
        json sched = read_json("tiny-sd15/scheduler/scheduler_config.json");
        sched.erase("_diffusers_version");
        QCOMPARE(ckpt->scheduler_config(), sched);
    }

    void sdxl_configs() {
        auto ckpt = daub::Checkpoint::open(daub::test::fixture("tiny-sdxl.safetensors"));
        const json unet = read_json("tiny-sdxl/unet/config.json");
        const json vae = read_json("tiny-sdxl/vae/config.json");
        const json te = read_json("tiny-sdxl/text_encoder/config.json");
        const json te2 = read_json("tiny-sdxl/text_encoder_2/config.json");
        check_config_fields(ckpt->vae_config(), vae, "sdxl vae (derived)");
        // 32/64/64-wide levels are not SDXL's 64-wide heads: the config folder is needed.
        const std::string msg = error_of<daub::ModelError>([&] { ckpt->unet_config(); });
        QVERIFY2(msg.find("--config") != std::string::npos, msg.c_str());
        // Every structural fact the shapes tell matches the folder config.
        const auto& in = ckpt->inspection();
        QCOMPARE(json(in.block_out_channels), unet["block_out_channels"]);
        QCOMPARE(in.layers_per_block, unet["layers_per_block"].get<int64_t>());
        QCOMPARE(json(in.transformer_depth), json({0, 1, 2})); // level 0: no attention
        QCOMPARE(in.mid_transformer_depth, int64_t{2});
        QCOMPARE(in.cross_attention_dim, unet["cross_attention_dim"].get<int64_t>());
        QCOMPARE(in.use_linear_projection, unet["use_linear_projection"].get<bool>());
        QCOMPARE(in.addition_time_embed_dim, unet["addition_time_embed_dim"].get<int64_t>());
        QCOMPARE(in.projection_class_embeddings_input_dim,
                 unet["projection_class_embeddings_input_dim"].get<int64_t>());
        QCOMPARE(in.text_encoder_2.projection_dim, te2["projection_dim"].get<int64_t>());
        QCOMPARE(in.text_encoder_2.hidden_size, te2["hidden_size"].get<int64_t>());
        QCOMPARE(in.text_encoder_2.intermediate_size, te2["intermediate_size"].get<int64_t>());
        QCOMPARE(in.text_encoder_2.num_layers, te2["num_hidden_layers"].get<int64_t>());
        QCOMPARE(in.text_encoder.hidden_size, te["hidden_size"].get<int64_t>());

        // With the config folder: exactly the folder's files.
        const auto cfg = ckpt->configs(daub::test::fixture("tiny-sdxl"));
        QCOMPARE(cfg.unet, unet);
        QCOMPARE(cfg.vae, vae);
        QCOMPARE(cfg.text_encoder, te);
        QCOMPARE(cfg.text_encoder_2, te2);
        QCOMPARE(cfg.scheduler, read_json("tiny-sdxl/scheduler/scheduler_config.json"));
        json sched = read_json("tiny-sdxl/scheduler/scheduler_config.json");
        sched.erase("_diffusers_version");
        QCOMPARE(ckpt->scheduler_config(), sched);
    }

    void folder_config_must_match_weights() {
        auto ckpt = daub::Checkpoint::open(daub::test::fixture("tiny-sdxl.safetensors"));
        json unet = read_json("tiny-sdxl/unet/config.json");
        unet["transformer_layers_per_block"] = json({1, 1, 1});
        std::string msg = error_of<daub::ModelError>([&] { ckpt->unet_config(&unet); });
        QVERIFY2(msg.find("transformer_layers_per_block") != std::string::npos, msg.c_str());
        unet = read_json("tiny-sdxl/unet/config.json");
        unet["cross_attention_dim"] = 2048;
        msg = error_of<daub::ModelError>([&] { ckpt->unet_config(&unet); });
        QVERIFY2(msg.find("cross_attention_dim") != std::string::npos, msg.c_str());
        json te2 = read_json("tiny-sdxl/text_encoder_2/config.json");
        te2["num_attention_heads"] = 5;
        msg = error_of<daub::ModelError>([&] { ckpt->text_encoder_2_config(&te2); });
        QVERIFY2(msg.find("num_attention_heads") != std::string::npos, msg.c_str());
        json vae = read_json("tiny-sd15/vae/config.json");
        vae["latent_channels"] = 16;
        msg = error_of<daub::ModelError>([&] { ckpt->vae_config(&vae); });
        QVERIFY2(msg.find("latent_channels") != std::string::npos, msg.c_str());
        // A config folder that is not there is an error, not silently ignored.
        msg = error_of<daub::ModelError>([&] { ckpt->configs("/nonexistent/config/dir"); });
        QVERIFY2(msg.find("/nonexistent/config/dir") != std::string::npos, msg.c_str());
    }

    void untidy_file_gives_same_tensors() {
        // tiny-sd15's tensors, half of them stored as fp32 (exact), plus the
        // things real downloads carry (EMA copies and counters, training
        // buffers, a position_ids buffer, a VAE loss term), in shuffled order.
        auto tensors = all_tensors(daub::test::fixture("tiny-sd15.safetensors"));
        std::vector<std::pair<std::string, at::Tensor>> list;
        size_t i = 0;
        for (auto& [key, t] : tensors)
            list.emplace_back(key, (i++ % 2) ? t.to(at::kFloat) : t);
        list.emplace_back("model_ema.decay", torch::tensor(0.9999f));
        list.emplace_back("model_ema.num_updates", torch::tensor(int32_t{12345}));
        list.emplace_back("model_ema.diffusion_modelinput_blocks00weight",
                          torch::randn({32, 4, 3, 3}));
        list.emplace_back("model_ema.diffusion_modeltime_embed0weight", torch::randn({128, 32}));
        list.emplace_back("alphas_cumprod", torch::rand({1000}, torch::kDouble));
        list.emplace_back("betas", torch::rand({1000}));
        list.emplace_back("lvlb_weights", torch::rand({1000}));
        list.emplace_back("global_step", torch::tensor(int64_t{470000}));
        list.emplace_back("cond_stage_model.transformer.text_model.embeddings.position_ids",
                          torch::arange(77, torch::kLong).unsqueeze(0));
        list.emplace_back("first_stage_model.loss.logvar", torch::tensor(0.0f));
        std::mt19937 rng(1234);
        std::shuffle(list.begin(), list.end(), rng);
        const fs::path path = scratch_dir("untidy") / "untidy-sd15.safetensors";
        write_shuffled(path, list);

        auto ckpt = daub::Checkpoint::open(path.string());
        QCOMPARE(ckpt->layout(), daub::CheckpointLayout::SD15_LDM);
        check_sd15_components(*ckpt);
        int fp32 = 0;
        auto unet = ckpt->unet();
        for (const auto& key : unet->keys())
            fp32 += unet->stored_dtype(key) == at::kFloat;
        QVERIFY(fp32 > 0 && fp32 < static_cast<int>(unet->keys().size()));
    }

    void refuses_unsupported_families() {
        const fs::path dir = scratch_dir("refusals");
        auto put = [&](const std::string& name,
                       const std::map<std::string, std::vector<int64_t>>& shapes) {
            std::map<std::string, at::Tensor> tensors;
            for (const auto& [key, shape] : shapes)
                tensors[key] = torch::zeros(shape, torch::kHalf);
            const fs::path path = dir / name;
            daub::write_safetensors(path.string(), tensors);
            return path;
        };
        const std::string unet = "model.diffusion_model.";
        // SD 2.x: OpenCLIP-H text encoder, 1024-wide context.
        expect_refusal(put("sd21.safetensors",
                           {{unet + "input_blocks.0.0.weight", {8, 4, 3, 3}},
                            {unet + "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight",
                             {8, 1024}},
                            {"cond_stage_model.model.token_embedding.weight", {10, 16}},
                            {"cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight",
                             {48, 16}},
                            {"first_stage_model.encoder.conv_in.weight", {8, 3, 3, 3}}}),
                       "Stable Diffusion 2.x");
        // SD 2.x recognised by the 1024-wide context alone.
        expect_refusal(put("sd2-context.safetensors",
                           {{unet + "input_blocks.0.0.weight", {8, 4, 3, 3}},
                            {unet + "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight",
                             {8, 1024}},
                            {"cond_stage_model.transformer.text_model.final_layer_norm.weight",
                             {16}},
                            {"first_stage_model.encoder.conv_in.weight", {8, 3, 3, 3}}}),
                       "Stable Diffusion 2.x");
        expect_refusal(
            put("sd3.safetensors",
                {{unet + "joint_blocks.0.context_block.adaLN_modulation.1.bias", {16}},
                 {unet + "x_embedder.proj.weight", {8, 16, 2, 2}},
                 {"text_encoders.clip_l.transformer.text_model.final_layer_norm.weight", {8}}}),
            "Stable Diffusion 3");
        expect_refusal(put("flux.safetensors",
                           {{"double_blocks.0.img_attn.norm.key_norm.scale", {8}},
                            {"single_blocks.0.linear1.weight", {8, 8}},
                            {"img_in.weight", {8, 16}}}),
                       "Flux");
        expect_refusal(put("lora.safetensors",
                           {{"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight",
                             {4, 32}},
                            {"lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight",
                             {32, 4}},
                            {"lora_unet_down_blocks_0_attentions_0_proj_in.alpha", {}}}),
                       "LoRA");
        expect_refusal(put("lora-peft.safetensors",
                           {{"unet.down_blocks.0.attentions.0.proj_in.lora_A.weight", {4, 32}},
                            {"unet.down_blocks.0.attentions.0.proj_in.lora_B.weight", {32, 4}}}),
                       "LoRA");
        expect_refusal(put("refiner.safetensors",
                           {{unet + "input_blocks.0.0.weight", {8, 4, 3, 3}},
                            {"conditioner.embedders.0.model.text_projection", {16, 16}},
                            {"conditioner.embedders.0.model.token_embedding.weight", {10, 16}},
                            {"first_stage_model.encoder.conv_in.weight", {8, 3, 3, 3}}}),
                       "SDXL refiner");
        expect_refusal(put("controlnet.safetensors",
                           {{"control_model.time_embed.0.weight", {16, 8}},
                            {"control_model.input_hint_block.0.weight", {8, 3, 3, 3}}}),
                       "ControlNet");
        expect_refusal(put("vae-ft-mse.safetensors",
                           {{"encoder.conv_in.weight", {8, 3, 3, 3}},
                            {"decoder.conv_in.weight", {8, 4, 3, 3}}}),
                       "standalone VAE");
        expect_refusal(put("mystery.safetensors", {{"foo.weight", {2, 2}}, {"bar", {3}}}),
                       "not a Stable Diffusion 1.5 or SDXL checkpoint");

        // Inpainting: tiny-sd15 itself with a 9-channel conv_in.
        auto tensors = all_tensors(daub::test::fixture("tiny-sd15.safetensors"));
        tensors[unet + "input_blocks.0.0.weight"] = torch::zeros({32, 9, 3, 3}, torch::kHalf);
        const fs::path inpaint = dir / "sd15-inpainting.safetensors";
        daub::write_safetensors(inpaint.string(), tensors);
        expect_refusal(inpaint, "inpainting UNet");
        // SDXL inpainting likewise.
        auto xl = all_tensors(daub::test::fixture("tiny-sdxl.safetensors"));
        xl[unet + "input_blocks.0.0.weight"] = torch::zeros({32, 9, 3, 3}, torch::kHalf);
        const fs::path xl_inpaint = dir / "sdxl-inpainting.safetensors";
        daub::write_safetensors(xl_inpaint.string(), xl);
        expect_refusal(xl_inpaint, "inpainting UNet (SDXL");
    }

    void pickle_checkpoints() {
        // The .ckpt twin of tiny-sd15.safetensors (torch.save of {"state_dict",
        // "global_step", "epoch"}): read without running it, every component
        // equal to the folder's.
        auto ckpt = daub::Checkpoint::open(daub::test::fixture("pickles/tiny-sd15.ckpt"));
        QCOMPARE(ckpt->layout(), daub::CheckpointLayout::SD15_LDM);
        check_sd15_components(*ckpt);
        QCOMPARE(ckpt->configs(daub::test::fixture("tiny-sd15")).unet,
                 read_json("tiny-sd15/unet/config.json"));
        QCOMPARE(ckpt->file().describe(), daub::test::fixture("pickles/tiny-sd15.ckpt"));

        // A pickle that would run a command: refused by name, nothing run.
        const fs::path marker = "/tmp/daub-pickle-attack-ran";
        fs::remove(marker);
        expect_refusal(daub::test::fixture("pickles/attack-os-system.pth"),
                       "is refused: it asks to call posix.system, which a weights file never "
                       "needs; nothing from it was run.");
        QVERIFY(!fs::exists(marker));
        // A harmless pickle that is not a Stable Diffusion model.
        expect_refusal(daub::test::fixture("pickles/tiny-rrdbnet-x4.pth"),
                       "not a Stable Diffusion 1.5 or SDXL checkpoint");

        const fs::path dir = scratch_dir("pickles");
        auto write_bytes = [&](const std::string& name, const std::string& bytes) {
            const fs::path path = dir / name;
            std::ofstream(path, std::ios::binary) << bytes;
            return path;
        };
        // torch.save's legacy format (a bare pickle, protocol 2), by content
        // whatever the name says; the payload would run code if unpickled.
        const std::string pickle("\x80\x02}q\x00(X\x0a\x00\x00\x00state_dictq\x01", 27);
        for (const auto& path : {write_bytes("model.ckpt", pickle),
                                 write_bytes("renamed.safetensors", pickle)}) {
            expect_refusal(path, "legacy format");
            const std::string msg = error_of<daub::UnsupportedModelError>(
                [&] { daub::Checkpoint::open(path.string()); });
            QVERIFY2(msg.find("re-save it") != std::string::npos, msg.c_str());
            QVERIFY2(msg.find(".safetensors") != std::string::npos, msg.c_str());
        }
        // A torch zip archive cut after its first header: damaged, named.
        const std::string zip("PK\x03\x04\x00\x00\x08\x08\x00\x00archive/data.pkl", 30);
        const fs::path cut = write_bytes("model.pt", zip);
        const std::string msg =
            error_of<daub::FormatError>([&] { daub::Checkpoint::open(cut.string()); });
        QVERIFY2(msg.find("model.pt") != std::string::npos && msg.find("zip") != std::string::npos,
                 msg.c_str());
        // A real safetensors file whose header length happens to start with
        // the bytes 0x80 0x02 (640 bytes) is not mistaken for a pickle.
        std::string header = R"({"foo":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
        header.resize(640, ' ');
        std::string bytes("\x80\x02\x00\x00\x00\x00\x00\x00", 8);
        bytes += header + std::string(4, '\0');
        const fs::path tricky = write_bytes("tricky.safetensors", bytes);
        expect_refusal(tricky, "not a Stable Diffusion 1.5 or SDXL checkpoint");
    }

    /// A zero dimension lets a safetensors entry's other dimensions be any
    /// size at no cost in bytes; the config derived from such shapes must be
    /// refused, naming the tensor, before any arithmetic on the sizes (the
    /// sum of the SDXL encoders' widths and 4 × the first UNet level width
    /// overflowed int64). Found by fuzzing.
    void absurd_dimensions_are_refused() {
        const fs::path dir = scratch_dir("hostile-sizes");
        const int64_t huge = std::numeric_limits<int64_t>::max();
        struct Case {
            const char* name;
            const char* fixture;
            std::string key;
            std::vector<int64_t> shape;
        };
        const std::string unet = "model.diffusion_model.";
        const json sd15_unet = read_json("tiny-sd15/unet/config.json");
        const json sdxl_unet = read_json("tiny-sdxl/unet/config.json");
        const std::vector<Case> cases = {
            // SDXL: encoder 1's width INT64_MAX, encoder 2's 48: their sum overflows.
            {"sdxl-width.safetensors",
             "tiny-sdxl.safetensors",
             "conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight",
             {0, huge}},
            // SD 1.5: first UNet level about 2^62 wide (a multiple of 8, so of
            // SD 1.5's heads): 4 × it overflows.
            {"sd15-level.safetensors",
             "tiny-sd15.safetensors",
             unet + "input_blocks.1.0.in_layers.2.weight",
             {huge / 64 * 32, 0, 3, 3}},
            // A zero width is no architecture either.
            {"sd15-zero.safetensors",
             "tiny-sd15.safetensors",
             unet + "time_embed.0.weight",
             {0, 32}},
        };
        for (const Case& c : cases) {
            const fs::path path = dir / c.name;
            write_with_empty(path, all_tensors(daub::test::fixture(c.fixture)), {{c.key, c.shape}});
            const std::string msg = error_of<daub::ModelError>([&] {
                auto ckpt = daub::Checkpoint::open(path.string());
                const bool sdxl = ckpt->layout() == daub::CheckpointLayout::SDXL_SGM;
                (void)ckpt->unet_config(); // derived from the shapes alone
                (void)ckpt->unet_config(sdxl ? &sdxl_unet : &sd15_unet);
                (void)ckpt->vae_config();
            });
            qInfo("%s -> %s", c.name, msg.c_str());
            QVERIFY2(!msg.empty(), (std::string(c.name) + " was not refused").c_str());
            QVERIFY2(msg.find("dimension") != std::string::npos, msg.c_str());
            QVERIFY2(msg.find(c.name) != std::string::npos, msg.c_str());
        }
    }

    void finds_tokenizer_files() {
        auto ckpt = daub::Checkpoint::open(daub::test::fixture("tiny-sdxl.safetensors"));
        // Nothing beside the file and no folders given: none (the loader
        // uses the built-in CLIP tokenizer).
        auto none = ckpt->find_tokenizer();
        QVERIFY(none.tokenizer.empty() && none.tokenizer_2.empty());
        // A user folder without the files: a clear error.
        const fs::path empty = scratch_dir("no-tokenizer");
        std::string msg =
            error_of<daub::ModelError>([&] { ckpt->find_tokenizer(empty.string()); });
        QVERIFY2(msg.find("vocab.json") != std::string::npos &&
                     msg.find(empty.string()) != std::string::npos,
                 msg.c_str());
        // The config folder's tokenizer/ and tokenizer_2/.
        auto dirs = ckpt->find_tokenizer("", daub::test::fixture("tiny-sdxl"));
        QCOMPARE(fs::path(dirs.tokenizer), fs::path(daub::test::fixture("tiny-sdxl")) / "tokenizer");
        QCOMPARE(fs::path(dirs.tokenizer_2), fs::path(daub::test::fixture("tiny-sdxl")) / "tokenizer_2");
        QVERIFY(!dirs.tokenizer_2_shared);
        // A user folder holding vocab.json + merges.txt wins.
        dirs = ckpt->find_tokenizer(daub::test::fixture("tiny-sd15/tokenizer"),
                                    daub::test::fixture("tiny-sdxl"));
        QCOMPARE(dirs.tokenizer, daub::test::fixture("tiny-sd15/tokenizer"));
        QVERIFY(dirs.tokenizer_2_shared);
        // A tokenizer/ folder beside the file.
        const fs::path dir = scratch_dir("beside");
        fs::copy_file(daub::test::fixture("tiny-sd15.safetensors"), dir / "model.safetensors");
        fs::create_directories(dir / "tokenizer");
        std::ofstream(dir / "tokenizer" / "vocab.json") << "{}";
        std::ofstream(dir / "tokenizer" / "merges.txt") << "#version: 0.2\n";
        auto beside = daub::Checkpoint::open((dir / "model.safetensors").string());
        dirs = beside->find_tokenizer("", daub::test::fixture("tiny-sd15"));
        QCOMPARE(fs::path(dirs.tokenizer), dir / "tokenizer");
        QVERIFY(dirs.tokenizer_2.empty());
    }

};

QTEST_APPLESS_MAIN(TestCheckpoint)
#include "test_checkpoint.moc"
