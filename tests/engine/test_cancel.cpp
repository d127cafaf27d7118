// Cancellation inside long phases (core/cancel.h): the networks check the
// calling thread's CancelScope between their blocks and layers, VAE tiles
// are checked one by one, and without a scope the checks do nothing. The
// tiny SD 1.5 fixture's networks, the tiny ×4 RRDBNet and the pipeline.
// (How fast a closed window ends the real program: tests/app/test_shutdown.)
#include "golden.h"

#include "core/cancel.h"
#include "core/errors.h"
#include "core/runtime.h"
#include "models/vae_tiling.h"
#include "pipelines/model_loader.h"
#include "pipelines/pipeline.h"
#include "upscale/upscaler.h"

#include <QtTest/QtTest>
#include <torch/torch.h>

#include <functional>

using namespace daub;

namespace {

/// Whether `fn` threw CancelledError (any other exception escapes).
bool cancels(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const CancelledError&) {
        return true;
    }
    return false;
}

} // namespace

class TestCancel : public QObject {
    Q_OBJECT
private:
    std::shared_ptr<Components> m_components;

    at::Tensor latents() const { return torch::randn({1, 4, 8, 8}); }

private Q_SLOTS:
    void initTestCase() {
        init_runtime();
        LoadRequest request;
        request.path = test::fixture("tiny-sd15");
        request.device = "cpu";
        m_components = load_components(request);
    }

    void scopesNestAndRestore() {
        CancelToken outer, inner;
        QVERIFY(current_cancel_token() == nullptr);
        {
            const CancelScope a(&outer);
            QVERIFY(current_cancel_token() == &outer);
            {
                const CancelScope b(&inner);
                QVERIFY(current_cancel_token() == &inner);
            }
            QVERIFY(current_cancel_token() == &outer);
            {
                const CancelScope none(nullptr); // a call given no token keeps the job's
                QVERIFY(current_cancel_token() == &outer);
            }
            outer.cancel();
            QVERIFY(cancels([] { throw_if_cancelled(); }));
        }
        QVERIFY(current_cancel_token() == nullptr);
        QVERIFY(!cancels([] { throw_if_cancelled(); })); // no scope: nothing to check
    }

    /// Each network on its own: a set token stops it from inside when it is
    /// the thread's scope, and is ignored without one (modules stay usable
    /// anywhere).
    void networksCheckTheScope() {
        torch::InferenceMode inference;
        CancelToken token;
        token.cancel();
        Components& c = *m_components;
        UNet2DConditionModel unet = c.unet;
        AutoencoderKL vae = c.vae;
        ClipTextModel text = c.text_encoder;
        const at::Tensor sample = latents();
        const at::Tensor t = torch::full({1}, 500.0);
        const at::Tensor context = torch::randn({1, 77, 32});
        const at::Tensor ids = torch::zeros({1, 77}, torch::kLong);
        const at::Tensor pixels = torch::rand({1, 3, 64, 64}) * 2 - 1;
        const std::vector<std::pair<const char*, std::function<void()>>> runs = {
            {"UNet", [&] { unet->forward(sample, t, context, {}); }},
            {"VAE decode", [&] { vae->decode(sample); }},
            {"VAE tiled decode", [&] { vae->decode_tiled(latents(), 4, 2); }},
            {"VAE encode", [&] { vae->encode(pixels); }},
            {"text encoder", [&] { text->forward(ids); }},
        };
        for (const auto& [name, run] : runs) {
            QVERIFY2(!cancels(run), name); // no scope: runs to the end
            const CancelScope scope(&token);
            QVERIFY2(cancels(run), name);
        }
    }

    /// VAE tiles: checked one by one (a token set while the first tile runs
    /// stops the call before the second).
    void tilesStopBetweenTiles() {
        torch::InferenceMode inference;
        CancelToken token;
        const CancelScope scope(&token);
        int calls = 0;
        const at::Tensor input = torch::randn({1, 4, 16, 16});
        QVERIFY(cancels([&] {
            run_tiled(input, 8, 2, 1, 1, [&](const at::Tensor& tile) {
                ++calls;
                token.cancel();
                return tile * 2;
            });
        }));
        QCOMPARE(calls, 1);
        token.reset();
        calls = 0;
        run_tiled(input, 8, 2, 1, 1, [&](const at::Tensor& tile) {
            ++calls;
            return tile * 2;
        });
        QVERIFY(calls >= 4);
    }

    /// The pipeline: a token set at the last step used to let the VAE decode
    /// run to the end and return an image; it now stops inside the decode.
    void cancelDuringTheDecode() {
        LoadRequest load;
        load.path = test::fixture("tiny-sd15");
        load.device = "cpu";
        auto pipeline = Pipeline::load(load);
        GenerationRequest request;
        request.prompt = "a fox";
        request.width = 64;
        request.height = 64;
        request.steps = 2;
        request.seed = 1;
        CancelToken token;
        int steps = 0;
        QVERIFY(cancels([&] {
            pipeline->generate(
                request,
                [&](const Progress& p) {
                    steps = p.step;
                    if (p.step == p.total)
                        token.cancel(); // the loop has no step left to check it
                },
                &token);
        }));
        QCOMPARE(steps, 2);
        QVERIFY(current_cancel_token() == nullptr); // the scope ended with the call
        token.reset();
        const GenerationResult result = pipeline->generate(request, {}, &token);
        QCOMPARE(result.image.width, 64); // ready for the next job
    }

    /// The upscaler's net checks between its blocks, also when the call
    /// itself got no token but runs inside a job's scope.
    void upscalerChecksInsideTheNet() {
        auto upscaler = Upscaler::load(test::fixture("tiny-rrdbnet-x4.safetensors"));
        Image image;
        image.width = 16;
        image.height = 16;
        image.rgb.assign(16 * 16 * 3, 128);
        UpscaleOptions options;
        options.level = 4;
        options.tile = 0; // one run: no tile boundary to check at
        CancelToken token;
        token.cancel();
        QCOMPARE(upscaler->upscale(image, options).width, 64); // no scope, no token
        const CancelScope scope(&token);
        QVERIFY(cancels([&] { upscaler->upscale(image, options); }));
    }
};

QTEST_GUILESS_MAIN(TestCancel)
#include "test_cancel.moc"
