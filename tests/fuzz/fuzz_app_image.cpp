// libFuzzer target: the app's image intake (app/storage/imagedecoder.h
// ImageDecoder::decodeData: Qt's image plugins for PNG, JPEG, WebP and BMP,
// the completeness checks, the 50 megapixel limit, alpha on white) and the
// PNG text reader (app/storage/pngmetadata.h readPngText: tEXt, zTXt, iTXt with a
// bounded inflate), with the A1111 text it finds parsed as the app does
// (a1111::parse).
//
// Images between 4 and 50 megapixels are legal but take seconds to decode
// under the sanitizers: their size is read from the header and their
// decoding skipped (their text is still read).
//
// A crash, a sanitizer report, an exception or a result that breaks the
// decoder's promises (an ok image that is not RGB888 within the limit; a
// failure without a sentence) is a finding.
#include "fuzz_support.h"
#include "storage/imagedecoder.h"
#include "storage/pngmetadata.h"

#include <QBuffer>
#include <QGuiApplication>
#include <QImageReader>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
    // The app's environment: a QGuiApplication (QPainter composites alpha),
    // without a display.
    qputenv("QT_QPA_PLATFORM", "offscreen");
    static QGuiApplication app(*argc, *argv);
    return 0;
}

namespace {

constexpr qint64 kFuzzMaxPixels = 4'000'000;

bool too_slow(const QByteArray& bytes) {
    QBuffer buffer;
    buffer.setData(bytes);
    buffer.open(QIODevice::ReadOnly);
    QImageReader reader(&buffer);
    reader.setDecideFormatFromContent(true);
    // As decodeData: no header is read from a file that is not complete.
    if (!daub::ImageDecoder::looksComplete(bytes, QString::fromLatin1(reader.format()).toLower()))
        return false;
    const QSize size = reader.size();
    const qint64 pixels = size.isValid() ? qint64(size.width()) * size.height() : 0;
    return pixels > kFuzzMaxPixels && pixels <= daub::ImageDecoder::kMaxPixels;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const QByteArray bytes(reinterpret_cast<const char*>(data), qsizetype(size));
    const QString text = daub::readPngText(bytes, QStringLiteral("parameters"));
    (void)daub::a1111::parse(text);
    for (const char* format : {"png", "jpeg", "webp", "bmp"})
        (void)daub::ImageDecoder::looksComplete(bytes, QString::fromLatin1(format));
    if (too_slow(bytes))
        return 0;

    const daub::DecodedImage decoded =
        daub::ImageDecoder::decodeData(bytes, QStringLiteral("fuzz"));
    if (!decoded.ok()) {
        daub::fuzz::note("refused", decoded.error.toUtf8().constData());
        DAUB_FUZZ_CHECK(!decoded.error.isEmpty());
        return 0;
    }
    daub::fuzz::note("decoded", decoded.format.toUtf8().constData());
    DAUB_FUZZ_CHECK(decoded.image.format() == QImage::Format_RGB888);
    DAUB_FUZZ_CHECK(decoded.image.width() > 0 && decoded.image.height() > 0);
    DAUB_FUZZ_CHECK(qint64(decoded.image.width()) * decoded.image.height() <=
                    daub::ImageDecoder::kMaxPixels);
    DAUB_FUZZ_CHECK(decoded.format == u"png" || decoded.format == u"jpeg" ||
                    decoded.format == u"webp" || decoded.format == u"bmp");
    DAUB_FUZZ_CHECK(decoded.format != u"png" || decoded.parameters == text);
    return 0;
}
