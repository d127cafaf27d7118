// SHA-256 of model files for the API's sd-models (A1111's `sha256`, and
// `hash`: its first 10 hex digits), computed once per file version (path,
// size, modification time) on a worker thread: a multi-gigabyte checkpoint
// takes seconds, so the first answer has "" and later ones the digest.
// Folders (diffusers models) have none, as in A1111. GUI thread only.
#pragma once

#include <QDateTime>
#include <QHash>
#include <QObject>
#include <QString>

namespace daub {

class FileHashes : public QObject {
    Q_OBJECT
public:
    using QObject::QObject;
    ~FileHashes() override;

    /// The file's SHA-256 in lower-case hex, or "" while it is being
    /// computed (the first call starts it) or for a folder.
    QString sha256(const QString& path);

Q_SIGNALS:
    void hashed(const QString& path);

private:
    struct Entry {
        qint64 size = -1;
        QDateTime modified;
        QString sha256; ///< "" while computing
    };
    QHash<QString, Entry> m_entries;
    int m_running = 0;
};

} // namespace daub
