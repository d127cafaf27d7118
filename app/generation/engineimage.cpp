#include "generation/enginebackend.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QDirIterator>
#include <QFileInfo>

#include <algorithm>
#include <cstring>

namespace daub {

QString modelIdentity(const QString& path) {
    const QFileInfo root(path);
    QString identity = root.canonicalFilePath();
    if (identity.isEmpty())
        return path;
    auto add = [&identity](const QFileInfo& file, const QString& relative) {
        identity += QStringLiteral("|%1:%2:%3")
                        .arg(relative)
                        .arg(file.size())
                        .arg(file.lastModified().toMSecsSinceEpoch());
    };
    if (root.isFile()) {
        add(root, root.fileName());
        return identity;
    }
    QStringList entries;
    QDirIterator it(root.canonicalFilePath(), QDir::Files, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QString file = it.next();
        const QString suffix = QFileInfo(file).suffix();
        if (suffix == u"safetensors" || suffix == u"json" || suffix == u"txt" || suffix == u"bin")
            entries << file;
    }
    std::sort(entries.begin(), entries.end());
    const QDir base(root.canonicalFilePath());
    for (const QString& file : entries)
        add(QFileInfo(file), base.relativeFilePath(file));
    return identity;
}

QImage toQImage(const Image& image) {
    if (image.empty() || image.rgb.size() < size_t(image.width) * image.height * 3)
        return {};
    QImage out(image.width, image.height, QImage::Format_RGB888);
    const size_t row = size_t(image.width) * 3;
    for (int y = 0; y < image.height; ++y)
        std::memcpy(out.scanLine(y), image.rgb.data() + y * row, row);
    return out;
}

Image toEngineImage(const QImage& source) {
    const QImage image = source.convertToFormat(QImage::Format_RGB888);
    Image out;
    out.width = image.width();
    out.height = image.height();
    const size_t row = size_t(out.width) * 3;
    out.rgb.resize(row * out.height);
    for (int y = 0; y < out.height; ++y)
        std::memcpy(out.rgb.data() + y * row, image.constScanLine(y), row);
    return out;
}

} // namespace daub
