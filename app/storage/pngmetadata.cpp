#include "storage/pngmetadata.h"

#include "metadata/image_parameters.h"
#include "tokenizer/inflate.h"

#include <QBuffer>
#include <QImageWriter>
#include <QStringConverter>
#include <QtEndian>


#include <algorithm>
#include <array>
#include <climits>

namespace daub {
namespace {

// ---- the chunks -----------------------------------------------------------

quint32 crc32(const QByteArray& bytes) {
    static const std::array<quint32, 256> table = [] {
        std::array<quint32, 256> t{};
        for (quint32 n = 0; n < 256; ++n) {
            quint32 c = n;
            for (int k = 0; k < 8; ++k)
                c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[n] = c;
        }
        return t;
    }();
    quint32 c = 0xFFFFFFFFu;
    for (char b : bytes)
        c = table[(c ^ quint8(b)) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

QByteArray chunk(const QByteArray& type, const QByteArray& data) {
    QByteArray out(4, '\0');
    qToBigEndian<quint32>(quint32(data.size()), out.data());
    const QByteArray body = type + data;
    out += body;
    QByteArray crc(4, '\0');
    qToBigEndian<quint32>(crc32(body), crc.data());
    return out + crc;
}

bool isLatin1(const QString& text) {
    for (QChar c : text)
        if (c.unicode() > 0xFF)
            return false;
    return true;
}

} // namespace

namespace a1111 {

QString format(const ImageParameters& p) { return qstr(format_parameters_text(p)); }

std::optional<ImageParameters> parse(const QString& text) {
    return parse_parameters_text(text.toStdString());
}

} // namespace a1111

QByteArray encodePng(const QImage& image, const PngText& text) {
    QByteArray png;
    {
        QBuffer buffer(&png);
        buffer.open(QIODevice::WriteOnly);
        QImageWriter writer(&buffer, "png");
        writer.setCompression(6);
        if (!writer.write(image))
            return {};
    }
    if (text.isEmpty())
        return png;
    QByteArray chunks;
    for (const auto& [key, value] : text) {
        if (isLatin1(value))
            chunks += chunk("tEXt", key + '\0' + value.toLatin1());
        else // keyword, 0, compression flag 0, method 0, language "", translated ""
            chunks += chunk("iTXt", key + QByteArray("\0\0\0\0\0", 5) + value.toUtf8());
    }
    // After the signature (8) and IHDR (4 + 4 + 13 + 4).
    png.insert(33, chunks);
    return png;
}

std::optional<QByteArray> inflateLimited(const QByteArray& compressed, qsizetype limit) {
    // The engine's bounded inflate (one implementation for the CLIP merge
    // list and PNG text): it stops at the limit, never holding more.
    try {
        const std::string out = inflate_limited(
            std::string_view(compressed.constData(), size_t(compressed.size())),
            size_t(std::max<qsizetype>(limit, 0)), "a PNG text chunk");
        return QByteArray(out.data(), qsizetype(out.size()));
    } catch (const std::exception&) { // corrupt, truncated or too long
        return std::nullopt;
    }
}

QString readPngText(const QByteArray& png, const QString& key) {
    // Walked by hand: Qt's reader folds the text's line breaks into spaces,
    // and A1111's format is made of lines.
    const QByteArray wanted = key.toLatin1();
    const auto* bytes = reinterpret_cast<const uchar*>(png.constData());
    const qsizetype n = png.size();
    if (n < 8 || !png.startsWith("\x89PNG\r\n\x1a\n"))
        return {};
    auto inflate = [](const QByteArray& compressed) {
        // A bounded inflate: a small chunk must not expand into gigabytes.
        return inflateLimited(compressed, kMaxPngTextBytes).value_or(QByteArray());
    };
    qsizetype pos = 8;
    while (pos + 12 <= n) {
        const quint32 length = qFromBigEndian<quint32>(bytes + pos);
        if (qsizetype(length) > n - pos - 12)
            break;
        const QByteArray type = png.mid(pos + 4, 4);
        const QByteArray data = png.mid(pos + 8, length);
        pos += 12 + qsizetype(length);
        if (type == "IEND")
            break;
        if (type != "tEXt" && type != "zTXt" && type != "iTXt")
            continue;
        const qsizetype nul = data.indexOf('\0');
        if (nul < 0 || data.left(nul) != wanted)
            continue;
        if (type == "tEXt")
            return QString::fromLatin1(data.mid(nul + 1));
        if (type == "zTXt") // keyword, 0, method, compressed Latin-1
            return QString::fromLatin1(inflate(data.mid(nul + 2)));
        // iTXt: keyword, 0, compressed?, method, language, 0, translated, 0, UTF-8
        if (data.size() < nul + 3)
            continue;
        const bool compressed = data[nul + 1] != 0;
        const qsizetype language = data.indexOf('\0', nul + 3);
        const qsizetype translated = language < 0 ? -1 : data.indexOf('\0', language + 1);
        if (translated < 0)
            continue;
        const QByteArray text = data.mid(translated + 1);
        return QString::fromUtf8(compressed ? inflate(text) : text);
    }
    return {};
}

} // namespace daub
