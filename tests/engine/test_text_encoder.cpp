// CLIP text encoders against the diffusers/transformers goldens
// (fixtures: golden/sd15_text_encoder, golden/sdxl_text_encoders).
#include "golden.h"

#include "core/errors.h"
#include "core/runtime.h"
#include "core/safetensors.h"
#include "text/clip_text_model.h"

#include <QtTest/QtTest>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

using daub::ClipTextModel;
using daub::ClipTextOutput;

namespace {

ClipTextModel load_fixture_encoder(const std::string& folder, at::ScalarType dtype = at::kFloat) {
    return daub::load_clip_text_model(daub::test::fixture(folder), {dtype, at::kCPU});
}

/// Median wall time of `runs` calls of `fn` after one warm-up call, in ms.
template <typename Fn> double median_ms(int runs, Fn&& fn) {
    fn(); // warm-up
    std::vector<double> times;
    for (int i = 0; i < runs; ++i) {
        QElapsedTimer timer;
        timer.start();
        fn();
        times.push_back(static_cast<double>(timer.nsecsElapsed()) / 1e6);
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

std::vector<int64_t> to_vector(const at::Tensor& t) {
    const at::Tensor c = t.to(at::kLong).contiguous();
    return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

nlohmann::json tiny_config_json() {
    return {{"architectures", {"CLIPTextModel"}},
            {"hidden_size", 8},
            {"intermediate_size", 12},
            {"num_hidden_layers", 2},
            {"num_attention_heads", 2},
            {"max_position_embeddings", 6},
            {"vocab_size", 20},
            {"hidden_act", "quick_gelu"},
            {"eos_token_id", 19}};
}

/// A scratch folder under the build tree, emptied first.
std::filesystem::path scratch_dir(const std::string& name) {
    const auto dir = std::filesystem::path(DAUB_BINARY_DIR) / "test_scratch" / name;
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

template <typename E, typename Fn> std::string expect_throw(Fn&& fn) {
    try {
        fn();
    } catch (const E& e) {
        return e.what();
    }
    return {};
}

} // namespace

class TestTextEncoder : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() {
        QVERIFY2(daub::test::fixtures_present(), "fixtures folder missing: set DAUB_FIXTURES");
        daub::init_runtime();
    }

    void config_from_fixtures() {
        ClipTextModel sd15 = load_fixture_encoder("tiny-sd15/text_encoder");
        QCOMPARE(sd15->config().hidden_size, 32);
        QCOMPARE(sd15->config().intermediate_size, 37);
        QCOMPARE(sd15->config().num_hidden_layers, 3);
        QCOMPARE(sd15->config().num_attention_heads, 4);
        QCOMPARE(sd15->config().eos_token_id, 1001);
        QVERIFY(sd15->config().hidden_act == daub::ClipActivation::QuickGelu);
        QVERIFY(!sd15->config().with_projection);
        QVERIFY(!sd15->text_projection);

        ClipTextModel te2 = load_fixture_encoder("tiny-sdxl/text_encoder_2");
        QVERIFY(te2->config().hidden_act == daub::ClipActivation::Gelu);
        QVERIFY(te2->config().with_projection);
        QCOMPARE(te2->config().projection_dim, 40);
        QVERIFY(te2->text_projection);
        QVERIFY(!te2->text_projection->bias.defined());
        // Every parameter is a state-dict key: nothing extra, nothing missing.
        daub::SafeTensorsFile file(
            daub::test::fixture("tiny-sdxl/text_encoder_2/model.safetensors"));
        auto keys = file.keys();
        std::vector<std::string> names;
        for (const auto& p : te2->named_parameters())
            names.push_back(p.key());
        for (const auto& b : te2->named_buffers())
            names.push_back(b.key());
        std::sort(keys.begin(), keys.end());
        std::sort(names.begin(), names.end());
        QVERIFY(keys == names);
        for (const auto& p : te2->parameters())
            QVERIFY(!p.requires_grad());
    }

    void sd15_golden() {
        daub::SafeTensorsFile g(daub::test::fixture("golden/sd15_text_encoder.safetensors"));
        const at::Tensor ids = g.load("input_ids");
        ClipTextModel te = load_fixture_encoder("tiny-sd15/text_encoder");
        torch::InferenceMode guard;

        const ClipTextOutput out = te->forward(ids);
        QCOMPARE(static_cast<int64_t>(out.hidden_states.size()), int64_t{4});
        QVERIFY(!out.text_embeds.defined()); // no projection
        QCOMPARE(out.pooled_output.sizes().vec(), (std::vector<int64_t>{2, 32}));
        DAUB_VERIFY_GOLDEN("sd15_text_encoder.last_hidden_state", out.last_hidden_state,
                           g.load("last_hidden_state"));
        DAUB_VERIFY_GOLDEN("sd15_text_encoder.penultimate_hidden_state", out.hidden_state(-2),
                           g.load("penultimate_hidden_state"));
        DAUB_VERIFY_GOLDEN("sd15_text_encoder.penultimate_after_final_ln",
                           te->apply_final_layer_norm(out.hidden_state(-2)),
                           g.load("penultimate_after_final_ln"));

        // Stopping early (CLIP skip) computes the same penultimate state and
        // nothing after it.
        const ClipTextOutput early = te->forward(ids, {-2});
        QCOMPARE(static_cast<int64_t>(early.hidden_states.size()), int64_t{3});
        QVERIFY(!early.last_hidden_state.defined());
        QVERIFY(!early.pooled_output.defined());
        QVERIFY(at::equal(early.hidden_state(-2), out.hidden_state(-2)));
        QVERIFY(!expect_throw<daub::RequestError>([&] { early.hidden_state(-1); }).empty());
        DAUB_VERIFY_GOLDEN("sd15_text_encoder.penultimate_after_final_ln (stopped early)",
                           te->apply_final_layer_norm(early.hidden_state(-2)),
                           g.load("penultimate_after_final_ln"));

        const double full_ms = median_ms(20, [&] { te->forward(ids); });
        const double skip_ms = median_ms(20, [&] { te->forward(ids, {-2}); });
        const int threads = at::get_num_threads();
        at::set_num_threads(1); // the same without thread hand-offs (steadier on a busy machine)
        const double one_thread_ms = median_ms(20, [&] { te->forward(ids); });
        at::set_num_threads(threads);
        qInfo("sd15 text encoder forward [2, 77], fp32 CPU: %.3f ms full, %.3f ms stopped at the "
              "penultimate layer (%d threads); %.3f ms full on 1 thread (medians of 20)",
              full_ms, skip_ms, threads, one_thread_ms);
    }

    void sdxl_golden() {
        daub::SafeTensorsFile g(daub::test::fixture("golden/sdxl_text_encoders.safetensors"));
        ClipTextModel te1 = load_fixture_encoder("tiny-sdxl/text_encoder");
        ClipTextModel te2 = load_fixture_encoder("tiny-sdxl/text_encoder_2");
        const at::Tensor ids1 = g.load("input_ids_1"), ids2 = g.load("input_ids_2");
        torch::InferenceMode guard;

        const ClipTextOutput out1 = te1->forward(ids1, {-2}); // only the penultimate is used
        const ClipTextOutput out2 = te2->forward(ids2);
        DAUB_VERIFY_GOLDEN("sdxl_text_encoders.hidden_1_penultimate", out1.hidden_state(-2),
                           g.load("hidden_1_penultimate"));
        DAUB_VERIFY_GOLDEN("sdxl_text_encoders.hidden_2_penultimate", out2.hidden_state(-2),
                           g.load("hidden_2_penultimate"));
        DAUB_VERIFY_GOLDEN("sdxl_text_encoders.pooled_text_embeds", out2.text_embeds,
                           g.load("pooled_text_embeds"));
        const at::Tensor prompt_embeds =
            at::cat({out1.hidden_state(-2), out2.hidden_state(-2)}, -1); // [B, 77, 80]
        DAUB_VERIFY_GOLDEN("sdxl_text_encoders.prompt_embeds", prompt_embeds,
                           g.load("prompt_embeds"));

        const double ms = median_ms(20, [&] {
            te1->forward(ids1, {-2});
            te2->forward(ids2);
        });
        qInfo("sdxl text encoders forward [2, 77], fp32 CPU, %d threads: %.3f ms both "
              "(median of 20)",
              at::get_num_threads(), ms);
    }

    // The forward pass follows the weights' dtype: in float64 it matches the
    // goldens too (nothing hard-codes float32).
    void dtype_generic_float64() {
        daub::SafeTensorsFile g(daub::test::fixture("golden/sdxl_text_encoders.safetensors"));
        ClipTextModel te2 = load_fixture_encoder("tiny-sdxl/text_encoder_2", at::kDouble);
        torch::InferenceMode guard;
        const ClipTextOutput out = te2->forward(g.load("input_ids_2"));
        QCOMPARE(out.text_embeds.scalar_type(), at::kDouble);
        QCOMPARE(out.hidden_state(-2).scalar_type(), at::kDouble);
        DAUB_VERIFY_GOLDEN("sdxl_text_encoders.pooled_text_embeds (float64)", out.text_embeds,
                           g.load("pooled_text_embeds"));
        DAUB_VERIFY_GOLDEN("sdxl_text_encoders.hidden_2_penultimate (float64)",
                           out.hidden_state(-2), g.load("hidden_2_penultimate"));
    }

    // transformers' pooling rule: the first id equal to eos_token_id; legacy
    // configs with eos_token_id 2 take the largest id instead.
    void eos_position_rules() {
        const at::Tensor ids =
            torch::tensor(std::vector<int64_t>{0, 5, 19, 19, 19, 19, /**/ 0, 19, 7, 19, 3, 3})
                .view({2, 6});
        auto config = daub::ClipTextConfig::from_json(tiny_config_json());
        daub::ClipTextTransformer modern(config);
        QCOMPARE(to_vector(modern->eos_positions(ids)), (std::vector<int64_t>{2, 1}));

        auto legacy_json = tiny_config_json();
        legacy_json["eos_token_id"] = 2;
        daub::ClipTextTransformer legacy(daub::ClipTextConfig::from_json(legacy_json));
        const at::Tensor legacy_ids =
            torch::tensor(std::vector<int64_t>{0, 5, 17, 1, 1, 1, /**/ 0, 9, 3, 4, 18, 18})
                .view({2, 6});
        QCOMPARE(to_vector(legacy->eos_positions(legacy_ids)), (std::vector<int64_t>{2, 4}));
    }

    void config_errors() {
        auto j = tiny_config_json();
        j["hidden_act"] = "relu";
        QVERIFY(expect_throw<daub::ModelError>([&] {
                    daub::ClipTextConfig::from_json(j);
                }).find("relu") != std::string::npos);
        j = tiny_config_json();
        j["num_attention_heads"] = 3;
        QVERIFY(
            !expect_throw<daub::ModelError>([&] { daub::ClipTextConfig::from_json(j); }).empty());
        j = tiny_config_json();
        j["hidden_size"] = "wide";
        QVERIFY(
            !expect_throw<daub::ModelError>([&] { daub::ClipTextConfig::from_json(j); }).empty());
        // Absent keys keep transformers' defaults.
        const auto defaults = daub::ClipTextConfig::from_json(nlohmann::json::object());
        QCOMPARE(defaults.hidden_size, 512);
        QCOMPARE(defaults.eos_token_id, 49407);
        QVERIFY(defaults.hidden_act == daub::ClipActivation::QuickGelu);
    }

    void request_errors() {
        daub::ClipTextModel te(daub::ClipTextConfig::from_json(tiny_config_json()));
        {
            // The layers allocate uninitialised parameters (a checkpoint fills
            // them); give this unloaded model values so its outputs compare.
            torch::NoGradGuard no_grad;
            torch::manual_seed(0);
            for (auto& p : te->parameters())
                p.uniform_(-0.1, 0.1);
        }
        torch::InferenceMode guard;
        const at::Tensor ids = torch::zeros({1, 6}, at::kLong);
        QVERIFY(!expect_throw<daub::RequestError>([&] {
                     te->forward(torch::zeros({1, 7}, at::kLong));
                 }).empty()); // longer than max_position_embeddings
        QVERIFY(!expect_throw<daub::RequestError>([&] {
                     te->forward(torch::zeros({6}, at::kLong));
                 }).empty());
        QVERIFY(
            !expect_throw<daub::RequestError>([&] { te->forward(ids.to(at::kFloat)); }).empty());
        QVERIFY(!expect_throw<daub::RequestError>([&] { te->forward(ids, {-4}); }).empty());
        QVERIFY(!expect_throw<daub::RequestError>([&] { te->forward(ids, {3}); }).empty());
        // 0 = the embeddings only; int32 ids are accepted.
        const ClipTextOutput out = te->forward(ids.to(at::kInt), {0});
        QCOMPARE(static_cast<int64_t>(out.hidden_states.size()), int64_t{1});
        QVERIFY(at::equal(out.hidden_state(-3), out.hidden_state(0)));
    }

    void loader_errors() {
        const std::string missing = (scratch_dir("te_missing") / "nowhere").string();
        QVERIFY(expect_throw<daub::ModelError>([&] {
                    daub::load_clip_text_model(missing);
                }).find(missing) != std::string::npos);

        const auto dir = scratch_dir("te_no_weights");
        std::ofstream(dir / "config.json") << tiny_config_json().dump();
        QVERIFY(expect_throw<daub::ModelError>([&] {
                    daub::load_clip_text_model(dir.string());
                }).find("model.safetensors") != std::string::npos);

        std::filesystem::remove(dir / "config.json");
        QVERIFY(expect_throw<daub::ModelError>([&] {
                    daub::load_clip_text_model(dir.string());
                }).find("config.json") != std::string::npos);

        // Weights that do not match the config: the error names the key.
        std::ofstream(dir / "config.json") << tiny_config_json().dump();
        daub::write_safetensors(
            (dir / "model.safetensors").string(),
            {{"text_model.embeddings.token_embedding.weight", torch::zeros({20, 9}, at::kHalf)}});
        const std::string shape_msg =
            expect_throw<daub::ModelError>([&] { daub::load_clip_text_model(dir.string()); });
        QVERIFY2(shape_msg.find("text_model.") != std::string::npos, shape_msg.c_str());

        // hidden_act unsupported: the message names config.json.
        auto j = tiny_config_json();
        j["hidden_act"] = "silu";
        std::ofstream(dir / "config.json", std::ios::trunc) << j.dump();
        const std::string msg =
            expect_throw<daub::ModelError>([&] { daub::load_clip_text_model(dir.string()); });
        QVERIFY2(msg.find("config.json") != std::string::npos &&
                     msg.find("silu") != std::string::npos,
                 msg.c_str());
    }
};

QTEST_APPLESS_MAIN(TestTextEncoder)
#include "test_text_encoder.moc"
