#include "chat/resultfiles.h"

#include "generation/modelcontroller.h" // quoted()

#include <QClipboard>
#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QGuiApplication>
#include <QImage>
#include <QMimeData>
#include <QSaveFile>

namespace daub {

QString ResultFiles::saveInFolder(const QByteArray& png, const QString& folderPath, qint64 seed,
                                  QString* why) {
    const QDir folder(folderPath);
    if (!folder.mkpath(QStringLiteral("."))) {
        *why = tr("The folder %1 could not be created; choose another in the options.")
                   .arg(quoted(folder.path()));
        return {};
    }
    const QString stem =
        QStringLiteral("daub-%1-%2")
            .arg(QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss")))
            .arg(seed);
    QString path = folder.filePath(stem + QStringLiteral(".png"));
    for (int n = 2; QFileInfo::exists(path); ++n)
        path = folder.filePath(QStringLiteral("%1-%2.png").arg(stem).arg(n));
    return write(png, path, why) ? path : QString();
}

QString ResultFiles::suggestedName(const QString& prompt, qint64 seed) {
    QStringList words;
    QString word;
    qsizetype length = 0;
    auto endWord = [&] {
        if (!word.isEmpty() && words.size() < 6 && length + word.size() <= 48) {
            length += word.size() + 1;
            words << word;
        }
        word.clear();
    };
    for (const QChar c : prompt) {
        if (c.isLetterOrNumber())
            word += c.toLower();
        else
            endWord();
    }
    endWord();
    const QString stem = words.isEmpty() ? QStringLiteral("daub") : words.join(u'-');
    return QStringLiteral("%1-%2.png").arg(stem).arg(seed);
}

bool ResultFiles::write(const QByteArray& png, const QString& path, QString* why) {
    QSaveFile out(path);
    if (!out.open(QIODevice::WriteOnly) || out.write(png) != png.size() || !out.commit()) {
        *why = tr("The image could not be saved to %1: %2.").arg(quoted(path), out.errorString());
        return false;
    }
    return true;
}

void ResultFiles::copy(const QByteArray& png) {
    auto* mime = new QMimeData;
    mime->setImageData(QImage::fromData(png, "PNG"));
    mime->setData(QStringLiteral("image/png"), png);
    QGuiApplication::clipboard()->setMimeData(mime);
}

QUrl ResultFiles::forDrag(const QByteArray& png, qint64 jobId, qint64 seed) {
    const QDir folder(QDir::temp().filePath(
        QStringLiteral("daub-%1").arg(QCoreApplication::applicationPid())));
    folder.mkpath(QStringLiteral("."));
    const QString path = folder.filePath(QStringLiteral("daub-%1-%2.png").arg(jobId).arg(seed));
    if (!QFileInfo::exists(path)) {
        QSaveFile out(path);
        if (!out.open(QIODevice::WriteOnly) || out.write(png) != png.size() || !out.commit())
            return {};
    }
    return QUrl::fromLocalFile(path);
}

} // namespace daub
