// Everything Daub made, kept across restarts: one row per job in an SQLite
// database (Qt SQL, WAL) and the job's PNG beside it.
//
//   <folder>/history.sqlite        the rows (schema versioned, migrated on open)
//   <folder>/images/<id>.png       the images, written atomically
//
// Saving a result writes the PNG first (a temporary file, fsync, rename,
// fsync of the folder) and then inserts its row in one transaction, so a
// process killed at any moment leaves either no row (the PNG, if any, is an
// orphan that the next open() removes) or a row whose PNG is complete.
// Removing goes the other way round: the row first, then the file.
//
// Job ids are history ids: the controller numbers new jobs from nextId(),
// so a message, its cache entry, its PNG and its row share one id, also
// after a restart. GUI thread only (one connection, named per instance).
#pragma once

#include <QByteArray>
#include <QDateTime>
#include <QList>
#include <QObject>
#include <QString>
#include <QStringList>

#include <memory>
#include <optional>

namespace daub {

/// One kept job: what was asked, how it ended, where its image is.
struct HistoryEntry {
    enum class State { Done, Failed, Cancelled };

    qint64 id = -1;
    QDateTime created; ///< when the job ended (UTC in the database)
    State state = State::Done;
    QString prompt;
    QString negativePrompt;
    /// The app's recipe of the job (every parameter, as the controller
    /// serialises it: JSON); the store keeps it verbatim.
    QByteArray recipe;
    /// The image's A1111 `parameters` text ("" when it has none).
    QString parameters;
    qint64 seed = -1;
    int width = 0;  ///< of the image (0 when there is none)
    int height = 0;
    QString model;    ///< name of the model that ran ("" for an Upscale without refine)
    QString vae;      ///< separate VAE's file name; "" = the model's own
    QString upscaler; ///< upscaler file name; "" = none
    /// SHA-256 of the decoded init image (img2img and Upscale jobs), and a
    /// small PNG of it (at most 256 px on its long side) for the prompt row.
    QByteArray initSha256;
    QByteArray initThumbnailPng;
    double elapsedMs = 0; ///< time the engine spent (0 from the cache)
    QString error;        ///< Failed: the sentence the chat showed
    bool favourite = false;
    /// Jobs sent together (batch count > 1) share a batch id (the first
    /// job's id) and are numbered 0..n-1; a single job has batch == id, 0.
    qint64 batch = -1;
    int batchIndex = 0;
    /// Absolute path of the PNG (filled in by the store; "" when none).
    QString imageFile;
    qint64 imageBytes = 0;
};

/// Which entries the gallery shows.
struct HistoryQuery {
    QString text;                ///< substring of the prompt (case-insensitive); "" = all
    bool favouritesOnly = false;
    QString model;               ///< exact model name; "" = every model
    bool newestFirst = true;
    bool withImageOnly = true;   ///< only entries that have a PNG
    int limit = 200;
    int offset = 0;
};

class HistoryStore : public QObject {
    Q_OBJECT
public:
    /// The schema this build writes. Version 1: the first release's table;
    /// open() migrates older databases in a transaction.
    static constexpr int kSchemaVersion = 2;

    explicit HistoryStore(QObject* parent = nullptr);
    ~HistoryStore() override;

    /// Opens (creating when missing) the history in `folder`: WAL mode,
    /// migration, then removes leftovers of interrupted saves (temporary
    /// files, PNGs without a row) and entries removed earlier but not
    /// purged. False with one sentence in `error` when it cannot (the app
    /// then runs without history and says so).
    bool open(const QString& folder, QString* error = nullptr);
    bool isOpen() const;
    QString folder() const;
    void close();

    /// The id the next job gets: one past the largest ever stored (ids are
    /// never reused, also after removals).
    qint64 nextId() const;

    /// Keeps a job that ended: writes `png` (may be empty for failed and
    /// cancelled jobs) atomically, then the row with `entry.id` (which must
    /// be unused). Fills entry.imageFile / imageBytes. False with a
    /// sentence on failure (disk full, read-only folder): nothing is kept.
    bool add(HistoryEntry& entry, const QByteArray& png, QString* error = nullptr);

    std::optional<HistoryEntry> entry(qint64 id) const;
    /// The PNG bytes of an entry ("" when it has none or the file is gone).
    QByteArray png(qint64 id) const;

    /// The conversation: the newest `limit` entries older than `beforeId`
    /// (all when -1), oldest first, removed ones excluded.
    QList<HistoryEntry> recent(int limit, qint64 beforeId = -1) const;
    /// The gallery: entries matching `query`.
    QList<HistoryEntry> search(const HistoryQuery& query) const;
    /// How many entries match (ignoring limit/offset).
    int count(const HistoryQuery& query) const;
    /// Model names of the kept images, sorted, for the gallery's filter.
    QStringList models() const;

    bool setFavourite(qint64 id, bool favourite);
    /// Hides an entry (the gallery's delete); restore() brings it back
    /// until purgeRemoved() (or the next open) deletes row and file.
    bool remove(qint64 id);
    bool restore(qint64 id);
    /// Deletes removed entries for good; returns how many.
    int purgeRemoved();
    /// Deletes every entry that is not a favourite, rows and files;
    /// returns how many.
    int removeAllButFavourites();

    /// Bytes on disk: the database (with its WAL) and every PNG.
    qint64 diskUsage() const;

Q_SIGNALS:
    /// Entries were added, changed or removed.
    void changed();

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace daub
