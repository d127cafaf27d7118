// ImageDecoder: the formats users drop, EXIF orientation, alpha, and every
// kind of bad input answered with one sentence.
#include "storage/imagedecoder.h"
#include "storage/pngmetadata.h"
#include "testsupport.h"

#include <QBuffer>
#include <QImageWriter>
#include <QtEndian>
#include <QtTest/QtTest>

#include <climits>

using daub::ImageDecoder;

namespace {

QByteArray encode(const QImage& image, const char* format,
                  QImageIOHandler::Transformations transform = QImageIOHandler::TransformationNone) {
    QByteArray bytes;
    QBuffer buffer(&bytes);
    buffer.open(QIODevice::WriteOnly);
    QImageWriter writer(&buffer, format);
    writer.setQuality(95);
    writer.setTransformation(transform);
    if (!writer.write(image))
        qWarning("cannot write %s: %s", format, qPrintable(writer.errorString()));
    return bytes;
}

quint32 crc32(const QByteArray& bytes) {
    quint32 c = 0xFFFFFFFFu;
    for (char b : bytes) {
        c ^= quint8(b);
        for (int k = 0; k < 8; ++k)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xFFFFFFFFu;
}

/// A PNG whose header claims `w`×`h` (its pixel data is not there).
QByteArray pngHeaderClaiming(quint32 w, quint32 h) {
    QByteArray ihdr(13, '\0');
    qToBigEndian(w, ihdr.data());
    qToBigEndian(h, ihdr.data() + 4);
    ihdr[8] = 8; // bit depth
    ihdr[9] = 2; // RGB
    QByteArray out("\x89PNG\r\n\x1a\n", 8);
    QByteArray len(4, '\0');
    qToBigEndian<quint32>(13, len.data());
    QByteArray crc(4, '\0');
    qToBigEndian(crc32("IHDR" + ihdr), crc.data());
    out += len + "IHDR" + ihdr + crc;
    // A token IDAT, so a reader gets past the header.
    const QByteArray idat("\x78\x9c\x03\x00\x00\x00\x00\x01", 8);
    qToBigEndian<quint32>(quint32(idat.size()), len.data());
    qToBigEndian(crc32("IDAT" + idat), crc.data());
    out += len + "IDAT" + idat + crc;
    QByteArray end(4, '\0');
    QByteArray endCrc(4, '\0');
    qToBigEndian(crc32("IEND"), endCrc.data());
    return out + end + "IEND" + endCrc;
}

} // namespace

class TestImageDecoder : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void decodesEachFormat_data() {
        QTest::addColumn<QByteArray>("format");
        QTest::addColumn<QString>("expected");
        QTest::newRow("png") << QByteArray("png") << QStringLiteral("png");
        QTest::newRow("jpeg") << QByteArray("jpeg") << QStringLiteral("jpeg");
        QTest::newRow("webp") << QByteArray("webp") << QStringLiteral("webp");
        QTest::newRow("bmp") << QByteArray("bmp") << QStringLiteral("bmp");
    }
    void decodesEachFormat() {
        QFETCH(QByteArray, format);
        QFETCH(QString, expected);
        const QImage image = daub::test::testImage(48, 32);
        const QByteArray bytes = encode(image, format.constData());
        QVERIFY2(!bytes.isEmpty(), "the format's plugin is missing");
        const auto decoded = ImageDecoder::decodeData(bytes, QStringLiteral("x"));
        QVERIFY2(decoded.ok(), qPrintable(decoded.error));
        QCOMPARE(decoded.format, expected);
        QCOMPARE(decoded.image.size(), QSize(48, 32));
        QCOMPARE(decoded.image.format(), QImage::Format_RGB888);
        const QColor c = decoded.image.pixelColor(2, 2), e = image.pixelColor(2, 2);
        QVERIFY(qAbs(c.red() - e.red()) < 12 && qAbs(c.green() - e.green()) < 12);
    }

    void fixtureInitImage() {
        const auto decoded = ImageDecoder::decodeFile(daub::test::fixture("golden/init_64x64.png"));
        QVERIFY2(decoded.ok(), qPrintable(decoded.error));
        QCOMPARE(decoded.image.size(), QSize(64, 64));
        QCOMPARE(decoded.name, QStringLiteral("init_64x64.png"));
    }

    void appliesExifOrientation() {
        const QImage image = daub::test::testImage(40, 20);
        const QByteArray jpeg = encode(image, "jpeg", QImageIOHandler::TransformationRotate90);
        const auto decoded = ImageDecoder::decodeData(jpeg, QStringLiteral("phone.jpg"));
        QVERIFY2(decoded.ok(), qPrintable(decoded.error));
        QCOMPARE(decoded.image.size(), QSize(20, 40));
    }

    void compositesAlphaOnWhite() {
        QImage image(8, 8, QImage::Format_ARGB32);
        image.fill(QColor(255, 0, 0, 0));
        image.setPixelColor(0, 0, QColor(0, 0, 255, 255));
        const auto decoded = ImageDecoder::decodeData(encode(image, "png"), QStringLiteral("a.png"));
        QVERIFY(decoded.ok());
        QCOMPARE(decoded.image.pixelColor(5, 5), QColor(255, 255, 255));
        QCOMPARE(decoded.image.pixelColor(0, 0), QColor(0, 0, 255));
    }

    void readsPngParameters() {
        const QString text = QStringLiteral("a fox\nSteps: 20, Seed: 5, Size: 8x8");
        const QByteArray png = daub::encodePng(daub::test::testImage(8, 8), {{"parameters", text}});
        const auto decoded = ImageDecoder::decodeData(png, QStringLiteral("fox.png"));
        QVERIFY(decoded.ok());
        QCOMPARE(decoded.parameters, text);
    }

    void refusesNonImages() {
        const auto decoded =
            ImageDecoder::decodeData("hello, this is text", QStringLiteral("notes.txt"));
        QVERIFY(!decoded.ok());
        QCOMPARE(decoded.error, QStringLiteral("\u2018notes.txt\u2019 is not an image Daub can "
                                               "read; use a PNG, JPEG, WebP or BMP file."));
        // A real image format Daub does not take.
        const auto gif = ImageDecoder::decodeData(QByteArray("GIF89a\x01\x00\x01\x00\x00\x00\x00;", 14),
                                                  QStringLiteral("a.gif"));
        QVERIFY(!gif.ok());
    }

    void refusesTruncatedFiles_data() {
        QTest::addColumn<QByteArray>("format");
        QTest::newRow("png") << QByteArray("png");
        QTest::newRow("jpeg") << QByteArray("jpeg");
        QTest::newRow("webp") << QByteArray("webp");
        QTest::newRow("bmp") << QByteArray("bmp");
    }
    void refusesTruncatedFiles() {
        QFETCH(QByteArray, format);
        const QByteArray bytes = encode(daub::test::testImage(64, 64), format.constData());
        const auto decoded =
            ImageDecoder::decodeData(bytes.left(bytes.size() * 2 / 3), QStringLiteral("cut"));
        QVERIFY(!decoded.ok());
        QVERIFY2(decoded.error.contains(QStringLiteral("damaged or incomplete")),
                 qPrintable(decoded.error));
    }

    void refusesOver50Megapixels() {
        const auto decoded =
            ImageDecoder::decodeData(pngHeaderClaiming(10000, 5001), QStringLiteral("huge.png"));
        QVERIFY(!decoded.ok());
        QCOMPARE(decoded.error, QStringLiteral("\u2018huge.png\u2019 is 10000\u00d75001 (50.0 "
                                               "megapixels); Daub takes images up to 50 "
                                               "megapixels, so scale it down first."));
    }

    void decodesLargePhotosUnderTheLimit() {
        // 7000×7000 (49 MP) is under Daub's 50 MP limit but over Qt's
        // default 128 MB allocation limit: it must decode, not be "damaged".
        QImage photo(7000, 7000, QImage::Format_RGB888);
        photo.fill(QColor(30, 140, 90));
        const QByteArray jpeg = encode(photo, "jpeg");
        const auto decoded = ImageDecoder::decodeData(jpeg, QStringLiteral("phone.jpg"));
        QVERIFY2(decoded.ok(), qPrintable(decoded.error));
        QCOMPARE(decoded.image.size(), QSize(7000, 7000));
    }

    void bmpHeadersCannotOverflow_data() {
        QTest::addColumn<qint32>("width");
        QTest::addColumn<qint32>("height");
        QTest::addColumn<quint16>("bpp");
        QTest::addColumn<quint32>("offset");
        QTest::newRow("INT_MIN width") << qint32(INT_MIN) << qint32(1) << quint16(24) << 54u;
        QTest::newRow("INT_MIN height") << qint32(1) << qint32(INT_MIN) << quint16(24) << 54u;
        QTest::newRow("huge both") << qint32(INT_MAX) << qint32(INT_MAX) << quint16(65535) << 54u;
        QTest::newRow("huge offset") << qint32(4) << qint32(4) << quint16(24) << 0xFFFFFFFFu;
    }
    void bmpHeadersCannotOverflow() {
        // Found by fuzzing: offset + stride × |height| overflowed (signed,
        // undefined) and |INT_MIN| has no 32-bit value. Each is refused
        // (Qt may not even see it as a BMP) and nothing overflows (UBSan).
        QFETCH(qint32, width);
        QFETCH(qint32, height);
        QFETCH(quint16, bpp);
        QFETCH(quint32, offset);
        QByteArray bmp(64, '\0');
        bmp[0] = 'B';
        bmp[1] = 'M';
        qToLittleEndian<quint32>(quint32(bmp.size()), bmp.data() + 2);
        qToLittleEndian<quint32>(offset, bmp.data() + 10);
        qToLittleEndian<quint32>(40, bmp.data() + 14);
        qToLittleEndian<qint32>(width, bmp.data() + 18);
        qToLittleEndian<qint32>(height, bmp.data() + 22);
        qToLittleEndian<quint16>(1, bmp.data() + 26);
        qToLittleEndian<quint16>(bpp, bmp.data() + 28);
        QVERIFY(!ImageDecoder::looksComplete(bmp, QStringLiteral("bmp")));
        QVERIFY(!ImageDecoder::decodeData(bmp, QStringLiteral("evil.bmp")).ok());
    }

    void missingAndEmptyFiles() {
        QVERIFY(ImageDecoder::decodeFile(QStringLiteral("/nonexistent/x.png"))
                    .error.contains(QStringLiteral("does not exist")));
        QVERIFY(ImageDecoder::decodeData({}, QStringLiteral("e")).error.contains(
            QStringLiteral("is empty")));
        QTemporaryDir dir;
        QVERIFY(ImageDecoder::decodeFile(dir.path()).error.contains(QStringLiteral("is a folder")));
    }
};

QTEST_GUILESS_MAIN(TestImageDecoder)
#include "test_imagedecoder.moc"
