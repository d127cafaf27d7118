// ModelFinder: models in the usual places of a made-up home folder.
#include "generation/modelfinder.h"

#include <QFile>
#include <QTemporaryDir>
#include <QtTest/QtTest>

using daub::ModelFinder;

namespace {
void touch(const QString& path, int bytes = 10) {
    QDir().mkpath(QFileInfo(path).path());
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(QByteArray(bytes, 'x'));
}
void diffusersFolder(const QString& path) {
    touch(path + QStringLiteral("/model_index.json"));
    touch(path + QStringLiteral("/unet/diffusion_pytorch_model.safetensors"), 100);
}
} // namespace

class TestModelFinder : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void findsTheUsualPlaces() {
        QTemporaryDir home;
        const QString h = home.path();
        touch(h + QStringLiteral("/stable-diffusion-webui/models/Stable-diffusion/dreamy.safetensors"), 50);
        touch(h + QStringLiteral("/stable-diffusion-webui/models/Stable-diffusion/readme.txt"));
        touch(h + QStringLiteral("/stable-diffusion-webui/models/Stable-diffusion/sub/anime.safetensors"));
        touch(h + QStringLiteral("/ComfyUI/models/checkpoints/sdxl.safetensors"));
        diffusersFolder(h + QStringLiteral("/.cache/huggingface/hub/models--org--tiny/snapshots/abc"));
        diffusersFolder(h + QStringLiteral("/.local/share/Daub/models/mine"));
        const auto found = ModelFinder::find(ModelFinder::commonPlaces(h));
        QStringList names;
        for (const auto& m : found)
            names << m.name + u'@' + m.location;
        QCOMPARE(names, (QStringList{QStringLiteral("anime@AUTOMATIC1111"),
                                     QStringLiteral("dreamy@AUTOMATIC1111"),
                                     QStringLiteral("mine@Daub"),
                                     QStringLiteral("org/tiny@Hugging Face cache"),
                                     QStringLiteral("sdxl@ComfyUI")}));
        for (const auto& m : found)
            QVERIFY2(ModelFinder::looksLikeModel(m.path), qPrintable(m.path));
        QCOMPARE(found[1].bytes, 50);
    }

    void emptyHome() {
        QTemporaryDir home;
        QVERIFY(ModelFinder::find(ModelFinder::commonPlaces(home.path())).isEmpty());
    }

    void fixtureModels() {
        const QString fixtures = QStringLiteral(DAUB_FIXTURES_DIR);
        QVERIFY(ModelFinder::looksLikeModel(fixtures + QStringLiteral("/tiny-sd15")));
        QVERIFY(ModelFinder::looksLikeModel(fixtures + QStringLiteral("/tiny-sd15.safetensors")));
        QVERIFY(!ModelFinder::looksLikeModel(fixtures + QStringLiteral("/golden")));
        QVERIFY(ModelFinder::looksLikeModel(fixtures + QStringLiteral("/pickles/tiny-sd15.ckpt")));
        QVERIFY(ModelFinder::looksLikeUpscaler(fixtures + QStringLiteral("/pickles/tiny-rrdbnet-x4.pth")));
        QVERIFY(ModelFinder::looksLikeUpscaler(fixtures + QStringLiteral("/tiny-rrdbnet-x2.safetensors")));
        QVERIFY(!ModelFinder::looksLikeUpscaler(fixtures + QStringLiteral("/tiny-sd15")));
    }

    void findsUpscalersInTheUsualPlaces() {
        QTemporaryDir home;
        const QString h = home.path();
        touch(h + QStringLiteral("/stable-diffusion-webui/models/ESRGAN/4x-UltraSharp.pth"), 70);
        touch(h + QStringLiteral("/stable-diffusion-webui/models/RealESRGAN/RealESRGAN_x4plus.pth"));
        touch(h + QStringLiteral("/stable-diffusion-webui/models/RealESRGAN/notes.txt"));
        touch(h + QStringLiteral("/ComfyUI/models/upscale_models/RealESRGAN_x2plus.safetensors"));
        touch(h + QStringLiteral("/.local/share/Daub/upscalers/mine.pth"));
        // A model folder is not an upscaler place, and models are not upscalers.
        touch(h + QStringLiteral("/ComfyUI/models/checkpoints/sdxl.safetensors"));
        const auto found =
            ModelFinder::find(ModelFinder::commonUpscalerPlaces(h), ModelFinder::Kind::Upscaler);
        QStringList names;
        for (const auto& m : found)
            names << m.name + u'@' + m.location;
        QCOMPARE(names, (QStringList{QStringLiteral("4x-UltraSharp@AUTOMATIC1111"),
                                     QStringLiteral("mine@Daub"),
                                     QStringLiteral("RealESRGAN_x2plus@ComfyUI"),
                                     QStringLiteral("RealESRGAN_x4plus@AUTOMATIC1111")}));
        QCOMPARE(found[0].bytes, 70);
        // And upscaler files are not offered as models.
        QVERIFY(ModelFinder::find(ModelFinder::commonPlaces(h)).size() == 1);
    }
};

QTEST_GUILESS_MAIN(TestModelFinder)
#include "test_modelfinder.moc"
