#include "storage/imagedecoder.h"

#include "storage/initimagestore.h"
#include "storage/pngmetadata.h"

#include <QBuffer>
#include <QFile>
#include <QFileInfo>
#include <QImageReader>
#include <QPainter>
#include <QtEndian>

#include <cstring>

namespace daub {
namespace {

QString quoted(const QString& name) { return QStringLiteral("\u2018%1\u2019").arg(name); }

QString notAnImage(const QString& name) {
    return QStringLiteral("%1 is not an image Daub can read; use a PNG, JPEG, WebP or BMP file.")
        .arg(quoted(name));
}

QString damaged(const QString& name) {
    return QStringLiteral("%1 could not be decoded: the file is damaged or incomplete.")
        .arg(quoted(name));
}

QString tooLarge(const QString& name, QSize size) {
    const double mp = double(size.width()) * size.height() / 1e6;
    return QStringLiteral("%1 is %2\u00d7%3 (%4 megapixels); Daub takes images up to 50 "
                          "megapixels, so scale it down first.")
        .arg(quoted(name))
        .arg(size.width())
        .arg(size.height())
        .arg(mp, 0, 'f', 1);
}

bool tooMany(QSize size) {
    return size.isValid() && qint64(size.width()) * size.height() > ImageDecoder::kMaxPixels;
}

/// RGB888 with alpha composited on white.
QImage flatten(const QImage& image) {
    if (!image.hasAlphaChannel())
        return image.convertToFormat(QImage::Format_RGB888);
    QImage out(image.size(), QImage::Format_RGB888);
    out.fill(Qt::white);
    QPainter painter(&out);
    painter.drawImage(0, 0, image);
    painter.end();
    return out;
}

} // namespace

bool ImageDecoder::looksComplete(const QByteArray& data, const QString& format) {
    const auto* bytes = reinterpret_cast<const uchar*>(data.constData());
    const qsizetype n = data.size();
    if (format == u"png") {
        // Walk the chunks up to IEND; every chunk must fit in the file.
        qsizetype pos = 8;
        while (pos + 12 <= n) {
            const quint32 length = qFromBigEndian<quint32>(bytes + pos);
            if (qsizetype(length) > n - pos - 12)
                return false;
            if (std::memcmp(bytes + pos + 4, "IEND", 4) == 0)
                return true;
            pos += 12 + qsizetype(length);
        }
        return false;
    }
    if (format == u"jpeg") {
        // The end-of-image marker, allowing trailing padding.
        qsizetype end = n;
        while (end > 2 && (bytes[end - 1] == 0 || bytes[end - 1] == '\n' || bytes[end - 1] == ' '))
            --end;
        for (qsizetype i = end - 2; i >= qMax<qsizetype>(2, end - 64); --i)
            if (bytes[i] == 0xFF && bytes[i + 1] == 0xD9)
                return true;
        return false;
    }
    if (format == u"webp") {
        if (n < 12 || std::memcmp(bytes, "RIFF", 4) != 0)
            return false;
        return qsizetype(qFromLittleEndian<quint32>(bytes + 4)) + 8 <= n;
    }
    if (format == u"bmp") {
        if (n < 54)
            return false;
        const quint32 offset = qFromLittleEndian<quint32>(bytes + 10);
        const qint32 width = qFromLittleEndian<qint32>(bytes + 18);
        const qint32 height = qFromLittleEndian<qint32>(bytes + 22);
        const quint16 bpp = qFromLittleEndian<quint16>(bytes + 28);
        const quint32 compression = qFromLittleEndian<quint32>(bytes + 30);
        if (compression != 0 && compression != 3) // RLE: sizes vary, trust the decoder
            return true;
        // In 64 bits, and each factor bounded by the file size first, so
        // no width, height or depth a file declares can overflow (INT_MIN
        // has no 32-bit absolute value; stride × height can pass 2^63).
        const qint64 rows = height < 0 ? -qint64(height) : qint64(height);
        const qint64 columns = width < 0 ? -qint64(width) : qint64(width);
        const qint64 stride = ((columns * bpp + 31) / 32) * 4; // < 2^31 · 2^16
        if (qint64(offset) > n || stride > n || rows > n)
            return false;
        return qint64(offset) + stride * rows <= n; // at most n + n·n < 2^62

    }
    return true;
}

DecodedImage ImageDecoder::decodeFile(const QString& path) {
    const QFileInfo info(path);
    const QString name = info.fileName().isEmpty() ? path : info.fileName();
    DecodedImage result;
    result.name = name;
    QFile file(path);
    if (!info.exists()) {
        result.error = QStringLiteral("%1 does not exist.").arg(quoted(name));
        return result;
    }
    if (info.isDir()) {
        result.error = QStringLiteral("%1 is a folder, not an image.").arg(quoted(name));
        return result;
    }
    if (info.size() > kMaxFileBytes) {
        result.error = QStringLiteral("%1 is too large a file (%2 MB) to be an image Daub takes.")
                           .arg(quoted(name))
                           .arg(info.size() / (1024 * 1024));
        return result;
    }
    if (!file.open(QIODevice::ReadOnly)) {
        result.error =
            QStringLiteral("%1 could not be opened: %2.").arg(quoted(name), file.errorString());
        return result;
    }
    return decodeData(file.readAll(), name);
}

DecodedImage ImageDecoder::decodeData(const QByteArray& data, const QString& name) {
    DecodedImage result;
    result.name = name;
    if (data.isEmpty()) {
        result.error = QStringLiteral("%1 is empty.").arg(quoted(name));
        return result;
    }
    // Qt refuses images over 128 MB of pixels by default, which would turn
    // a 7000×7000 photo (under Daub's own 50 MP limit) into "damaged".
    // Daub's limit is checked on the header below; Qt's must only sit above
    // it (50 MP in 16-bit RGBA is 400 MB).
    static const bool allocationLimitSet = [] {
        QImageReader::setAllocationLimit(int(kMaxPixels * 8 / (1024 * 1024)) + 1);
        return true;
    }();
    Q_UNUSED(allocationLimitSet);
    QBuffer buffer;
    buffer.setData(data);
    buffer.open(QIODevice::ReadOnly);
    QImageReader reader(&buffer);
    reader.setDecideFormatFromContent(true);
    reader.setAutoTransform(true);
    const QString format = QString::fromLatin1(reader.format()).toLower();
    if (format != u"png" && format != u"jpeg" && format != u"webp" && format != u"bmp") {
        result.error = notAnImage(name);
        return result;
    }
    result.format = format;
    // Before Qt reads any header: libpng, as Qt runs it, allocates what a
    // text chunk claims (2 GB for a 300-byte file) before finding that the
    // file ends first. Found by fuzzing.
    if (!looksComplete(data, format)) {
        result.error = damaged(name);
        return result;
    }
    if (tooMany(reader.size())) {
        result.error = tooLarge(name, reader.size());
        return result;
    }
    QImage image;
    if (!reader.read(&image) || image.isNull()) {
        result.error = damaged(name);
        return result;
    }
    if (tooMany(image.size())) {
        result.error = tooLarge(name, image.size());
        return result;
    }
    if (format == u"png")
        result.parameters = readPngText(data, QStringLiteral("parameters"));
    result.image = flatten(image);
    return result;
}

void ImageDecoder::prepare(DecodedImage& decoded) {
    if (!decoded.ok())
        return;
    decoded.sha256 = InitImageStore::pixelHash(decoded.image);
    decoded.thumbnail = decoded.image.width() > 256 || decoded.image.height() > 256
                            ? decoded.image.scaled(256, 256, Qt::KeepAspectRatio,
                                                   Qt::SmoothTransformation)
                            : decoded.image;
}

DecodedImage ImageDecoder::fromImage(const QImage& image, const QString& name) {
    DecodedImage result;
    result.name = name;
    if (image.isNull()) {
        result.error = QStringLiteral("%1 holds no image.").arg(quoted(name));
        return result;
    }
    if (tooMany(image.size())) {
        result.error = tooLarge(name, image.size());
        return result;
    }
    result.format = QStringLiteral("png");
    result.image = flatten(image);
    return result;
}

} // namespace daub
