// libFuzzer target: the API's request bodies (app/server/apirequest.h) to
// what the engine runs. The first byte picks the endpoint (txt2img,
// img2img, extra-single-image, or a bare image field); the rest is the
// body. A body read into a request is planned as the core plans a job
// (planJob: the engine request and its cache key) and answered (infoText).
//
// A crash, a sanitizer report, an exception, or a result that breaks the
// reader's promises is a finding: a request within the limits (sizes
// multiples of 8 in 64..2048, 1..150 steps, 1..16 images, strength in
// 0.01..1, an upscaler or model only from the choices), or a refusal
// without a one-line sentence and a 4xx status.
#include "fuzz_support.h"
#include "server/apirequest.h"

#include <QCoreApplication>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
    static QCoreApplication app(*argc, *argv);
    return 0;
}

/// The condition, and what it promises (in the report when it breaks).
#define API_CHECK(condition, promise)                                                              \
    do {                                                                                           \
        if (!(condition))                                                                          \
            ::daub::fuzz::fail("broken promise: " promise);                                        \
    } while (false)

namespace {

const daub::api::ApiChoices& choices() {
    static const daub::api::ApiChoices c = [] {
        daub::api::ApiChoices out;
        out.models = {{QStringLiteral("tiny-sd15"), QStringLiteral("/models/tiny-sd15")},
                      {QStringLiteral("b.safetensors"), QStringLiteral("/models/b.safetensors")}};
        out.upscalers = {{QStringLiteral("RealESRGAN_x4plus"), QStringLiteral("/up/RealESRGAN_x4plus.pth"), 4}};
        out.vaes = {{QStringLiteral("vae.safetensors"), QStringLiteral("/vae/vae.safetensors")}};
        out.currentModelPath = QStringLiteral("/models/tiny-sd15");
        return out;
    }();
    return c;
}

bool fromChoices(const QString& path, const QList<daub::api::Choice>& list) {
    for (const auto& c : list)
        if (c.path == path)
            return true;
    return false;
}

void checkFailure(const daub::api::Failure& f) {
    API_CHECK(f.status >= 400 && f.status < 500, "a refusal is a 4xx");
    API_CHECK(!f.detail.isEmpty() && !f.detail.contains(QLatin1Char('\n')),
                    "a refusal is one sentence");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1)
        return 0;
    const int endpoint = data[0] % 4;
    const QByteArray body(reinterpret_cast<const char*>(data + 1), qsizetype(size - 1));
    using namespace daub::api;
    if (endpoint == 2) {
        auto up = parseUpscale(body, choices());
        if (const auto* f = std::get_if<Failure>(&up))
            checkFailure(*f);
        else {
            const auto& u = std::get<UpscaleImage>(up);
            API_CHECK(u.level == 2 || u.level == 4, "upscale by 2 or 4");
            API_CHECK(fromChoices(u.upscalerPath, choices().upscalers), "an upscaler Daub has");
            API_CHECK(!u.image.isEmpty(), "an image");
        }
        return 0;
    }
    if (endpoint == 3) {
        QString why;
        const auto image = decodeImageField(QJsonValue(QString::fromUtf8(body)), QStringLiteral("image"),
                                            4096, &why);
        API_CHECK(image ? image->size() <= 4096 : !why.isEmpty(), "the limit, or why");
        return 0;
    }
    const bool img2img = endpoint == 1;
    auto parsed = parseGenerate(body, img2img, choices());
    if (const auto* f = std::get_if<Failure>(&parsed)) {
        checkFailure(*f);
        return 0;
    }
    const GenerateRequest& g = std::get<GenerateRequest>(parsed);
    const daub::JobRecipe& r = g.recipe;
    API_CHECK(r.width % 8 == 0 && r.height % 8 == 0 && r.width >= kMinSide &&
                        r.width <= kMaxSide && r.height >= kMinSide && r.height <= kMaxSide,
                    "a size the engine takes");
    API_CHECK(r.steps >= 1 && r.steps <= kMaxSteps, "steps within the limit");
    API_CHECK(g.count >= 1 && g.count <= kMaxImagesPerRequest, "images within the limit");
    API_CHECK(r.seed >= -1, "a seed, or -1");
    API_CHECK(!r.sampler.isEmpty(), "a sampler Daub has");
    API_CHECK(fromChoices(g.modelPath, choices().models), "a model Daub found");
    API_CHECK(!g.vaePath || g.vaePath->isEmpty() || fromChoices(*g.vaePath, choices().vaes),
                    "a VAE Daub found");
    API_CHECK(!r.upscale.enabled() || fromChoices(r.upscale.upscalerPath, choices().upscalers),
                    "an upscaler Daub has");
    API_CHECK(r.clipSkip >= 1 && r.clipSkip <= 12, "CLIP skip 1..12");
    API_CHECK(img2img == !g.initPng.isEmpty(), "an init image exactly for img2img");
    if (img2img)
        API_CHECK(r.strength >= 0.01 && r.strength <= 1.0, "a strength in 0.01..1");
    daub::JobRecipe planned = r;
    if (img2img)
        planned.initRef = QStringLiteral("ref");
    const daub::JobPlan plan = daub::planJob(planned, img2img ? QByteArray(32, 'x') : QByteArray(),
                                             QStringLiteral("model"));
    API_CHECK(plan.job.request.width == r.width && plan.job.request.height == r.height,
                    "the engine request has the request's size");
    const QString info = infoText(g, {{QByteArray("png"), r.prompt, r.seed}}, r.modelName,
                                  QStringLiteral("Euler"),
                                  QDateTime(QDate(2026, 1, 2), QTime(3, 4, 5)));
    API_CHECK(!info.isEmpty(), "an info text");
    return 0;
}
