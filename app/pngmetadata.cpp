#include "pngmetadata.h"

#include "samplers.h"

#include <QBuffer>
#include <QImageWriter>
#include <QRegularExpression>
#include <QStringConverter>
#include <QtEndian>

#include <array>

namespace daub {
namespace {

// ---- the text -------------------------------------------------------------

QString number(double value) {
    // As daub-cli writes it (printf "%g"): 7 -> "7", 7.5 -> "7.5".
    return QString::number(value, 'g', 6);
}

/// Quotes a value that would break the comma-separated line (as A1111's
/// `quote()` does, JSON-style).
QString quote(const QString& value) {
    if (!value.contains(u',') && !value.contains(u'\n') && !value.contains(u':'))
        return value;
    QString out = QStringLiteral("\"");
    for (QChar c : value) {
        if (c == u'"' || c == u'\\')
            out += u'\\';
        if (c == u'\n') {
            out += QStringLiteral("\\n");
            continue;
        }
        out += c;
    }
    return out + u'"';
}

QString unquote(const QString& value) {
    if (value.size() < 2 || !value.startsWith(u'"') || !value.endsWith(u'"'))
        return value;
    QString out;
    for (qsizetype i = 1; i + 1 < value.size(); ++i) {
        QChar c = value[i];
        if (c == u'\\' && i + 2 < value.size()) {
            c = value[++i];
            if (c == u'n')
                c = u'\n';
        }
        out += c;
    }
    return out;
}

const QRegularExpression& paramPattern() {
    // key: value, where value is "quoted" or runs to the next comma.
    static const QRegularExpression re(
        QStringLiteral(R"(\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$))"));
    return re;
}

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

QString format(const GenerationParameters& p) {
    QString text = p.prompt;
    if (!p.negativePrompt.isEmpty())
        text += QStringLiteral("\nNegative prompt: ") + p.negativePrompt;
    QStringList fields;
    fields << QStringLiteral("Steps: %1").arg(p.steps);
    if (!p.sampler.isEmpty())
        fields << QStringLiteral("Sampler: %1").arg(quote(samplers::a1111Name(p.sampler)));
    fields << QStringLiteral("CFG scale: %1").arg(number(p.cfgScale));
    fields << QStringLiteral("Seed: %1").arg(p.seed);
    fields << QStringLiteral("Size: %1x%2").arg(p.width).arg(p.height);
    if (!p.model.isEmpty())
        fields << QStringLiteral("Model: %1").arg(quote(p.model));
    if (p.denoisingStrength)
        fields << QStringLiteral("Denoising strength: %1").arg(*p.denoisingStrength, 0, 'g', 4);
    if (p.clipSkip > 1)
        fields << QStringLiteral("Clip skip: %1").arg(p.clipSkip);
    fields << QStringLiteral("Version: Daub %1").arg(QStringLiteral(DAUB_VERSION));
    return text + u'\n' + fields.join(QStringLiteral(", "));
}

std::optional<GenerationParameters> parse(const QString& input) {
    QStringList lines = input.trimmed().split(u'\n');
    if (lines.isEmpty())
        return std::nullopt;
    QString last = lines.takeLast();
    int matches = 0;
    for (auto it = paramPattern().globalMatch(last); it.hasNext(); it.next())
        ++matches;
    if (matches < 3)
        return std::nullopt;

    GenerationParameters p;
    p.sampler.clear();
    bool negative = false;
    QStringList prompt, negativeLines;
    for (QString line : lines) {
        line = line.trimmed();
        if (line.startsWith(QStringLiteral("Negative prompt:"))) {
            negative = true;
            line = line.mid(16).trimmed();
        }
        (negative ? negativeLines : prompt) << line;
    }
    p.prompt = prompt.join(u'\n');
    p.negativePrompt = negativeLines.join(u'\n');

    QString sampler, scheduleType;
    bool anyKnown = false;
    for (auto it = paramPattern().globalMatch(last); it.hasNext();) {
        const auto m = it.next();
        const QString key = m.captured(1).trimmed();
        const QString value = unquote(m.captured(2).trimmed());
        bool ok = true;
        if (key == u"Steps")
            p.steps = value.toInt(&ok);
        else if (key == u"Sampler")
            sampler = value;
        else if (key == u"Schedule type")
            scheduleType = value;
        else if (key == u"CFG scale")
            p.cfgScale = value.toDouble(&ok);
        else if (key == u"Seed")
            p.seed = value.toLongLong(&ok);
        else if (key == u"Size") {
            const auto wh = value.split(u'x');
            ok = wh.size() == 2;
            if (ok) {
                bool okW = false, okH = false;
                p.width = wh[0].toInt(&okW);
                p.height = wh[1].toInt(&okH);
                ok = okW && okH;
            }
        } else if (key == u"Model")
            p.model = value;
        else if (key == u"Denoising strength")
            p.denoisingStrength = value.toDouble(&ok);
        else if (key == u"Clip skip")
            p.clipSkip = value.toInt(&ok);
        else
            continue;
        if (!ok)
            return std::nullopt;
        anyKnown = true;
    }
    if (!anyKnown)
        return std::nullopt;
    if (!sampler.isEmpty())
        p.sampler = samplers::fromA1111(sampler, scheduleType);
    return p;
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

QString readPngText(const QByteArray& png, const QString& key) {
    // Walked by hand: Qt's reader folds the text's line breaks into spaces,
    // and A1111's format is made of lines.
    const QByteArray wanted = key.toLatin1();
    const auto* bytes = reinterpret_cast<const uchar*>(png.constData());
    const qsizetype n = png.size();
    if (n < 8 || !png.startsWith("\x89PNG\r\n\x1a\n"))
        return {};
    auto inflate = [](const QByteArray& compressed) {
        QByteArray withSize(4, '\0'); // qUncompress wants a size hint first
        qToBigEndian<quint32>(quint32(qMin<qsizetype>(compressed.size() * 4, 1 << 24)),
                              withSize.data());
        return qUncompress(withSize + compressed);
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
