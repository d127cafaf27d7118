// A result's PNG leaving Daub from the chat: saved into the save folder
// under a fresh name, saved where the user chose, copied to the clipboard,
// or written to a temporary file for dragging into other programs.
#pragma once

#include <QByteArray>
#include <QCoreApplication>
#include <QString>
#include <QUrl>

namespace daub {

struct ResultFiles {
    Q_DECLARE_TR_FUNCTIONS(ChatController)
public:
    /// A new file "daub-<date>-<time>-<seed>[-n].png" in `folder` (made if
    /// missing) holding `png`: its path, or "" with `why` set.
    static QString saveInFolder(const QByteArray& png, const QString& folder, qint64 seed,
                                QString* why);
    /// The name Save as… proposes: the prompt's first words and the seed,
    /// "a-red-fox-in-the-snow-42.png" (letters and digits of any script,
    /// at most 6 words and 48 characters; "daub-<seed>.png" without words).
    static QString suggestedName(const QString& prompt, qint64 seed);
    /// Writes `png` to `path` atomically; false with `why` set.
    static bool write(const QByteArray& png, const QString& path, QString* why);
    /// The image and its PNG bytes on the clipboard.
    static void copy(const QByteArray& png);
    /// A file in this process's temporary folder, for a drag.
    static QUrl forDrag(const QByteArray& png, qint64 jobId, qint64 seed);
};

} // namespace daub
