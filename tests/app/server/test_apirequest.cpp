// The API's request reader (app/server/apirequest.h): A1111's fields into a
// JobRecipe, its defaults, and every refusal a sentence with A1111's
// status; names picked only among what Daub found; info as A1111 writes it.
#include "server/apirequest.h"
#include "server/serverconfig.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QtTest/QtTest>

using namespace daub;
using namespace daub::api;

namespace {

ApiChoices choices() {
    ApiChoices c;
    c.models = {{QStringLiteral("tiny-sd15"), QStringLiteral("/m/tiny-sd15")},
                {QStringLiteral("dream.safetensors"), QStringLiteral("/m/dream.safetensors")}};
    c.upscalers = {{QStringLiteral("RealESRGAN_x4plus"), QStringLiteral("/u/RealESRGAN_x4plus.pth"), 4}};
    c.vaes = {{QStringLiteral("kl.safetensors"), QStringLiteral("/v/kl.safetensors")}};
    c.currentModelPath = QStringLiteral("/m/tiny-sd15");
    c.clipSkip = 2;
    return c;
}

QByteArray json(const QJsonObject& o) { return QJsonDocument(o).toJson(); }

GenerateRequest accepted(const QJsonObject& body, bool img2img = false) {
    auto r = parseGenerate(json(body), img2img, choices());
    if (auto* f = std::get_if<Failure>(&r))
        qFatal("refused: %s", qPrintable(f->detail));
    return std::get<GenerateRequest>(r);
}

Failure refused(const QByteArray& body, bool img2img = false) {
    auto r = parseGenerate(body, img2img, choices());
    if (!std::holds_alternative<Failure>(r))
        qFatal("accepted: %s", body.constData());
    return std::get<Failure>(r);
}

const QString kPng = QStringLiteral(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC");

} // namespace

class TestApiRequest : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void defaultsAreA1111s() {
        const GenerateRequest g = accepted({{QStringLiteral("prompt"), QStringLiteral("a fox")}});
        const JobRecipe& r = g.recipe;
        QCOMPARE(r.prompt, QStringLiteral("a fox"));
        QCOMPARE(r.width, 512);
        QCOMPARE(r.height, 512);
        QCOMPARE(r.steps, 50);
        QCOMPARE(r.cfgScale, 7.0);
        QCOMPARE(r.seed, -1);
        QCOMPARE(r.sampler, QStringLiteral("euler"));
        QCOMPARE(r.origin, QStringLiteral("api"));
        QCOMPARE(r.clipSkip, 2); // the options' CLIP skip
        QCOMPARE(g.count, 1);
        QCOMPARE(g.modelPath, QStringLiteral("/m/tiny-sd15"));
        QCOMPARE(r.modelName, QStringLiteral("tiny-sd15"));
        QVERIFY(!r.upscale.enabled());
        QVERIFY(!g.vaePath);
    }

    void everyFieldItTakes() {
        const GenerateRequest g = accepted({
            {QStringLiteral("prompt"), QStringLiteral("p")},
            {QStringLiteral("negative_prompt"), QStringLiteral("n")},
            {QStringLiteral("width"), 515}, // rounded down to a multiple of 8
            {QStringLiteral("height"), QStringLiteral("64")}, // numbers as strings, as pydantic takes them
            {QStringLiteral("steps"), 12},
            {QStringLiteral("cfg_scale"), 4.5},
            {QStringLiteral("seed"), 42},
            {QStringLiteral("sampler_name"), QStringLiteral("DPM++ 2M")},
            {QStringLiteral("scheduler"), QStringLiteral("Karras")},
            {QStringLiteral("batch_size"), 2},
            {QStringLiteral("n_iter"), 3},
            {QStringLiteral("enable_hr"), true},
            {QStringLiteral("hr_scale"), 4},
            {QStringLiteral("hr_upscaler"), QStringLiteral("realesrgan_x4plus")},
            {QStringLiteral("denoising_strength"), 0.35},
            {QStringLiteral("override_settings"),
             QJsonObject{{QStringLiteral("sd_model_checkpoint"), QStringLiteral("dream.safetensors [abcdef0123]")},
                         {QStringLiteral("CLIP_stop_at_last_layers"), 1},
                         {QStringLiteral("sd_vae"), QStringLiteral("kl.safetensors")}}},
            {QStringLiteral("alwayson_scripts"), QJsonObject()}, // unknown: ignored
        });
        const JobRecipe& r = g.recipe;
        QCOMPARE(r.negativePrompt, QStringLiteral("n"));
        QVERIFY(r.hasNegativePrompt);
        QCOMPARE(r.width, 512);
        QCOMPARE(r.height, 64);
        QCOMPARE(r.steps, 12);
        QCOMPARE(r.cfgScale, 4.5);
        QCOMPARE(r.seed, 42);
        QCOMPARE(r.sampler, QStringLiteral("dpmpp_2m_karras"));
        QCOMPARE(g.count, 6);
        QCOMPARE(r.upscale.upscalerPath, QStringLiteral("/u/RealESRGAN_x4plus.pth"));
        QCOMPARE(r.upscale.level, 4);
        QCOMPARE(*r.upscale.refineStrength, 0.35);
        QCOMPARE(g.modelPath, QStringLiteral("/m/dream.safetensors"));
        QCOMPARE(r.modelName, QStringLiteral("dream"));
        QCOMPARE(r.clipSkip, 1);
        QCOMPARE(*g.vaePath, QStringLiteral("/v/kl.safetensors"));
        QVERIFY(g.echo.contains(QStringLiteral("alwayson_scripts")));
    }

    void img2imgTakesTheImageAndItsStrength() {
        const GenerateRequest g = accepted({{QStringLiteral("init_images"), QJsonArray{QStringLiteral("data:image/png;base64,") + kPng}},
                                            {QStringLiteral("denoising_strength"), 0.4},
                                            {QStringLiteral("resize_mode"), 1}},
                                           true);
        QVERIFY(g.initPng.startsWith("\x89PNG"));
        QCOMPARE(g.recipe.strength, 0.4);
        QCOMPARE(g.recipe.resizeMode, QStringLiteral("crop"));
        QVERIFY(!g.echo.contains(QStringLiteral("init_images"))); // not echoed back
        QCOMPARE(accepted({{QStringLiteral("init_images"), QJsonArray{kPng}}}, true).recipe.strength, 0.75);
    }

    void refusalsAreSentences_data() {
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<bool>("img2img");
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("says");
        QTest::newRow("not json") << QByteArray("{\"prompt\": ") << false << 422 << "not valid JSON";
        QTest::newRow("not an object") << QByteArray("[1]") << false << 422 << "JSON object";
        QTest::newRow("steps") << QByteArray("{\"steps\": 500}") << false << 422 << "between 1 and 150";
        QTest::newRow("width") << QByteArray("{\"width\": 4096}") << false << 422 << "width";
        QTest::newRow("fraction") << QByteArray("{\"steps\": 2.5}") << false << 422 << "whole number";
        QTest::newRow("word") << QByteArray("{\"steps\": \"many\"}") << false << 422 << "number";
        QTest::newRow("prompt type") << QByteArray("{\"prompt\": 3}") << false << 422 << "string";
        QTest::newRow("sampler") << QByteArray("{\"sampler_name\": \"UniPC\"}") << false << 404 << "Euler a";
        QTest::newRow("too many") << QByteArray("{\"batch_size\": 8, \"n_iter\": 4}") << false << 422 << "at most 16";
        QTest::newRow("model") << QByteArray("{\"override_settings\": {\"sd_model_checkpoint\": \"/etc/passwd\"}}")
                               << false << 422 << "tiny-sd15";
        QTest::newRow("vae") << QByteArray("{\"override_settings\": {\"sd_vae\": \"../x.pt\"}}") << false << 422
                             << "kl.safetensors";
        QTest::newRow("latent hires") << QByteArray("{\"enable_hr\": true, \"hr_upscaler\": \"Latent\"}") << false
                                      << 422 << "RealESRGAN_x4plus";
        QTest::newRow("hr scale") << QByteArray("{\"enable_hr\": true, \"hr_upscaler\": \"RealESRGAN_x4plus\", "
                                                "\"hr_scale\": 1.5}")
                                  << false << 422 << "2 or 4";
        QTest::newRow("no init") << QByteArray("{}") << true << 422 << "init_images";
        QTest::newRow("url") << QByteArray("{\"init_images\": [\"https://example.com/a.png\"]}") << true << 422
                             << "never fetches";
        QTest::newRow("bad base64") << QByteArray("{\"init_images\": [\"@@@@\"]}") << true << 422 << "base64";
        QTest::newRow("mask") << QByteArray("{\"init_images\": [\"" + kPng.toLatin1() + "\"], \"mask\": \"" +
                                            kPng.toLatin1() + "\"}")
                              << true << 422 << "inpaint";
        QTest::newRow("strength") << QByteArray("{\"init_images\": [\"" + kPng.toLatin1() +
                                                "\"], \"denoising_strength\": 0}")
                                  << true << 422 << "denoising_strength";
    }
    void refusalsAreSentences() {
        QFETCH(QByteArray, body);
        QFETCH(bool, img2img);
        QFETCH(int, status);
        QFETCH(QString, says);
        const Failure f = refused(body, img2img);
        QCOMPARE(f.status, status);
        QVERIFY2(f.detail.contains(says), qPrintable(f.detail));
        QVERIFY(!f.detail.contains(u'\n'));
        const QJsonObject o = f.toJson();
        for (const char* key : {"error", "detail", "body", "errors"})
            QVERIFY(o.contains(QLatin1String(key)));
    }

    void base64IsLimitedBeforeDecoding() {
        QString why;
        const QString big(4000, u'A');
        QVERIFY(!decodeImageField(QJsonValue(big), QStringLiteral("image"), 1000, &why));
        QVERIFY2(why.contains(QStringLiteral("larger than")), qPrintable(why));
        QVERIFY(decodeImageField(QJsonValue(kPng), QStringLiteral("image"), 1000, &why));
    }

    void upscaleRequests() {
        auto ok = parseUpscale(json({{QStringLiteral("image"), kPng},
                                     {QStringLiteral("upscaler_1"), QStringLiteral("RealESRGAN_x4plus")},
                                     {QStringLiteral("upscaling_resize"), 4}}),
                               choices());
        QVERIFY(std::holds_alternative<UpscaleImage>(ok));
        QCOMPARE(std::get<UpscaleImage>(ok).level, 4);
        auto bad = parseUpscale(json({{QStringLiteral("image"), kPng}, {QStringLiteral("upscaler_1"), QStringLiteral("Lanczos")}}),
                                choices());
        QVERIFY(std::holds_alternative<Failure>(bad));
        QVERIFY(std::get<Failure>(bad).detail.contains(QStringLiteral("RealESRGAN_x4plus")));
    }

    void infoIsA1111s() {
        GenerateRequest g = accepted({{QStringLiteral("prompt"), QStringLiteral("p")}, {QStringLiteral("batch_size"), 2}});
        const QString text = infoText(g, {{"png", QStringLiteral("p\nSteps: 50"), 7}, {"png", QStringLiteral("q"), 8}},
                                      QStringLiteral("tiny-sd15"), QStringLiteral("Euler"),
                                      QDateTime(QDate(2026, 1, 2), QTime(3, 4, 5)));
        const QJsonObject info = QJsonDocument::fromJson(text.toUtf8()).object();
        QCOMPARE(info.value(QStringLiteral("seed")).toInteger(), 7);
        QCOMPARE(info.value(QStringLiteral("all_seeds")).toArray(), QJsonArray({7, 8}));
        QCOMPARE(info.value(QStringLiteral("infotexts")).toArray().at(0).toString(), QStringLiteral("p\nSteps: 50"));
        QCOMPARE(info.value(QStringLiteral("sd_model_name")).toString(), QStringLiteral("tiny-sd15"));
        QCOMPARE(info.value(QStringLiteral("batch_size")).toInt(), 2);
        QCOMPARE(info.value(QStringLiteral("job_timestamp")).toString(), QStringLiteral("20260102030405"));
    }

    void listenAddresses() {
        QCOMPARE(parseListen(QStringLiteral("127.0.0.1:7860"))->second, 7860);
        QCOMPARE(parseListen(QStringLiteral(":9000"))->first, QHostAddress(QHostAddress::LocalHost));
        QCOMPARE(parseListen(QStringLiteral("[::1]:80"))->first, QHostAddress(QHostAddress::LocalHostIPv6));
        QCOMPARE(parseListen(QStringLiteral("0.0.0.0:7860"))->first, QHostAddress(QHostAddress::AnyIPv4));
        QVERIFY(!parseListen(QStringLiteral("host:port")));
        QVERIFY(!parseListen(QStringLiteral("example.com:80"))); // names are not resolved
        QVERIFY(!parseListen(QStringLiteral("1.2.3.4:70000")));
    }
};

QTEST_GUILESS_MAIN(TestApiRequest)
#include "test_apirequest.moc"
