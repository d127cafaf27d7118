// PNG `parameters` metadata: A1111's text format both ways, and the text
// chunk through PNG bytes (tEXt for Latin-1, iTXt otherwise).
#include "storage/pngmetadata.h"
#include "testsupport.h"

#include <QBuffer>
#include <QImageReader>
#include <QImageWriter>
#include <QElapsedTimer>
#include <QtEndian>
#include <QtTest/QtTest>

using daub::ImageParameters;
using daub::qstr;
namespace a1111 = daub::a1111;

namespace {

ImageParameters sample() {
    ImageParameters p;
    p.prompt = "a red fox in the snow, golden hour";
    p.negative_prompt = "blurry, low quality";
    p.steps = 20;
    p.scheduler = "euler_a";
    p.cfg_scale = 7.5;
    p.seed = 3'141'592'653;
    p.width = 512;
    p.height = 768;
    p.model = "tiny-sd15";
    return p;
}

} // namespace

class TestPngMetadata : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void formatLooksLikeA1111() {
        ImageParameters p = sample();
        p.denoising_strength = 0.6;
        p.clip_skip = 2;
        const QString text = a1111::format(p);
        const QStringList lines = text.split(u'\n');
        QCOMPARE(lines.size(), 3);
        QCOMPARE(lines[0], qstr(p.prompt));
        QCOMPARE(lines[1], QStringLiteral("Negative prompt: blurry, low quality"));
        QVERIFY2(lines[2].startsWith(QStringLiteral("Steps: 20, Sampler: Euler a, CFG scale: 7.5, "
                                                    "Seed: 3141592653, Size: 512x768, Model: "
                                                    "tiny-sd15, Denoising strength: 0.6, Clip "
                                                    "skip: 2, Version: Daub")),
                 qPrintable(lines[2]));
    }

    void roundTrip_data() {
        QTest::addColumn<bool>("img2img");
        QTest::addColumn<QString>("model");
        QTest::addColumn<QString>("negative");
        QTest::newRow("txt2img") << false << QStringLiteral("sd15") << QStringLiteral("blurry");
        QTest::newRow("img2img") << true << QStringLiteral("sd15") << QString();
        QTest::newRow("model name with comma") << false << QStringLiteral("v1-5, pruned: emaonly")
                                               << QString();
        QTest::newRow("multi-line") << true << QStringLiteral("x") << QStringLiteral("a\nb");
    }
    void roundTrip() {
        QFETCH(bool, img2img);
        QFETCH(QString, model);
        QFETCH(QString, negative);
        ImageParameters p = sample();
        p.model = model.toStdString();
        p.negative_prompt = negative.toStdString();
        p.prompt = "first line\nsecond line";
        if (img2img)
            p.denoising_strength = 0.35;
        const auto parsed = a1111::parse(a1111::format(p));
        QVERIFY(parsed);
        QCOMPARE(*parsed, p);
    }

    void parsesA1111Output() {
        // As AUTOMATIC1111 1.10 writes it (sampler and schedule split).
        const QString text = QStringLiteral(
            "masterpiece, a castle\nNegative prompt: ugly\nSteps: 28, Sampler: DPM++ 2M, "
            "Schedule type: Karras, CFG scale: 6.5, Seed: 1234, Size: 832x1216, Model hash: "
            "31e35c80fc, Model: sd_xl_base_1.0, Clip skip: 2, Version: v1.10.1");
        const auto p = a1111::parse(text);
        QVERIFY(p);
        QCOMPARE(qstr(p->prompt), QStringLiteral("masterpiece, a castle"));
        QCOMPARE(qstr(p->negative_prompt), QStringLiteral("ugly"));
        QCOMPARE(p->steps, 28);
        QCOMPARE(qstr(p->scheduler), QStringLiteral("dpmpp_2m_karras"));
        QCOMPARE(p->cfg_scale, 6.5);
        QCOMPARE(p->seed, 1234);
        QCOMPARE(p->width, 832);
        QCOMPARE(p->height, 1216);
        QCOMPARE(qstr(p->model), QStringLiteral("sd_xl_base_1.0"));
        QCOMPARE(p->clip_skip, 2);
        QVERIFY(!p->denoising_strength);
    }

    void rejectsOtherText() {
        QVERIFY(!a1111::parse(QString()));
        QVERIFY(!a1111::parse(QStringLiteral("just a caption")));
        QVERIFY(!a1111::parse(QStringLiteral("Title: x, Author: y, Year: 2020"))); // no known key
        QVERIFY(!a1111::parse(QStringLiteral("p\nSteps: many, Seed: 1, Size: 1x1")));
    }

    void pngChunkRoundTrip_data() {
        QTest::addColumn<QString>("value");
        QTest::addColumn<QByteArray>("chunk");
        QTest::newRow("latin-1") << a1111::format(sample()) << QByteArray("tEXt");
        QTest::newRow("utf-8") << QStringLiteral("ein Fuchs im Schnee, 狐, 🦊\nSteps: 20, Seed: 1, "
                                                 "Size: 8x8")
                               << QByteArray("iTXt");
    }
    void pngChunkRoundTrip() {
        QFETCH(QString, value);
        QFETCH(QByteArray, chunk);
        const QImage image = daub::test::testImage(40, 24);
        const QByteArray png = daub::encodePng(image, {{"parameters", value}});
        QVERIFY(png.startsWith("\x89PNG"));
        QVERIFY(png.contains(chunk + "parameters"));
        QCOMPARE(daub::readPngText(png, QStringLiteral("parameters")), value);

        // The image itself is untouched and decodes at its size.
        QImage decoded;
        QVERIFY(decoded.loadFromData(png, "PNG"));
        QCOMPARE(decoded.size(), QSize(40, 24));
        QCOMPARE(decoded.convertToFormat(QImage::Format_RGB888), image);
    }

    void readsCompressedChunks() {
        // Qt's own writer compresses long text (zTXt): read that too.
        const QString text = a1111::format(sample()).repeated(3);
        QByteArray png;
        QBuffer buffer(&png);
        buffer.open(QIODevice::WriteOnly);
        QImageWriter writer(&buffer, "png");
        writer.setText(QStringLiteral("parameters"), text);
        QVERIFY(writer.write(daub::test::testImage(8, 8)));
        QVERIFY(png.contains("zTXtparameters") || png.contains("iTXtparameters"));
        // Qt's writer folds the line breaks (why encodePng writes its own
        // chunks); what is checked here is the decompression.
        QCOMPARE(daub::readPngText(png, QStringLiteral("parameters")), text.simplified());
    }

    void compressedTextIsBounded() {
        // A zTXt "parameters" chunk of 64 kB that inflates to 64 MiB (the
        // fuzzer's had 1 MB → 1 GiB: the old reader inflated all of it, 7 s
        // and 3.2 GB): read as nothing, quickly, never holding the 64 MiB.
        const QByteArray stream = qCompress(QByteArray(64 * 1024 * 1024, 'a'), 9).mid(4);
        QVERIFY(stream.size() < 100 * 1024);
        QByteArray png = daub::encodePng(daub::test::testImage(1, 1));
        QByteArray chunk = "zTXtparameters" + QByteArray(2, '\0') + stream;
        QByteArray length(4, '\0');
        qToBigEndian<quint32>(quint32(chunk.size() - 4), length.data());
        png.insert(33, length + chunk + QByteArray(4, '\0'));
        QElapsedTimer timer;
        timer.start();
        QCOMPARE(daub::readPngText(png, QStringLiteral("parameters")), QString());
        QVERIFY2(timer.elapsed() < 2000, qPrintable(QString::number(timer.elapsed())));
        // inflateLimited itself: stops at the limit, takes what fits.
        const QByteArray small = qCompress(QByteArray(5000, 'x')).mid(4);
        QVERIFY(!daub::inflateLimited(small, 4999));
        QCOMPARE(daub::inflateLimited(small, 5000).value_or(QByteArray()), QByteArray(5000, 'x'));
        QVERIFY(!daub::inflateLimited(small.left(small.size() / 2), 1 << 20)); // truncated
        QVERIFY(!daub::inflateLimited("not zlib at all", 1 << 20));
    }

    void pngWithoutText() {
        const QByteArray png = daub::encodePng(daub::test::testImage(8, 8));
        QVERIFY(!png.isEmpty());
        QVERIFY(daub::readPngText(png, QStringLiteral("parameters")).isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestPngMetadata)
#include "test_pngmetadata.moc"
