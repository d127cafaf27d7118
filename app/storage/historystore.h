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
//
// The database: PRAGMA user_version is the schema version (kSchemaVersion);
// table `entries` (created = milliseconds since 1970 UTC, state = "done" |
// "failed" | "cancelled", image_file = the PNG's name inside images/, so the
// folder can move), table `counters` ("max_id": the largest id ever used).
// synchronous=FULL: a job's row is on the disk when add() returns, also
// across a power cut (one fsync more per job, next to seconds of work).
// A store holds <folder>/history.lock while open; a second store on the
// same folder (another Daub) shares the rows but never cleans files.
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
    /// then runs without history and says so), also for a database of a
    /// newer Daub (left untouched).
    ///
    /// True with a sentence in `error` (a warning for the user): the file
    /// was not a database or is damaged; nothing was deleted: it (with its
    /// -wal/-shm) was renamed history.sqlite.broken-<yyyyMMdd-HHmmss UTC>,
    /// images/ images.broken-<same>, and a new, empty history started.
    /// True with `error` "" otherwise.
    ///
    /// A row whose PNG is gone (deleted outside Daub) is kept without its
    /// image (imageFile "", imageBytes 0): its prompt and recipe stay.
    /// Files in images/ not named <id>.png or <id>.png.tmp-<pid> are never
    /// touched.
    bool open(const QString& folder, QString* error = nullptr);
    bool isOpen() const;
    QString folder() const;
    void close();

    /// The id the next job gets: one past the largest ever stored (ids are
    /// never reused, also after removals).
    qint64 nextId() const;

    /// Keeps a job that ended: writes `png` (may be empty for failed and
    /// cancelled jobs) atomically, then the row with `entry.id` (which must
    /// be > 0 and unused, also by a removed entry; any order). Fills
    /// entry.imageFile / imageBytes, entry.created when invalid (now, UTC;
    /// kept to the millisecond) and entry.batch when < 0 (the id, index 0).
    /// False with a sentence on failure (disk full, read-only folder; a
    /// recipe or thumbnail over 1 MiB, a PNG over 512 MiB or without a PNG
    /// signature, a text over 1 Mi characters, a SHA-256 not 32 bytes):
    /// nothing is kept.
    bool add(HistoryEntry& entry, const QByteArray& png, QString* error = nullptr);

    /// The entry (none when unknown or removed).
    std::optional<HistoryEntry> entry(qint64 id) const;
    /// The PNG bytes of an entry ("" when it has none or the file is gone).
    QByteArray png(qint64 id) const;

    /// The conversation: the newest `limit` entries (by id) older than
    /// `beforeId` (all when -1), oldest first, removed ones excluded.
    /// limit < 0: no limit; 0: none.
    QList<HistoryEntry> recent(int limit, qint64 beforeId = -1) const;
    /// The gallery: entries matching `query`, by created (then id). The
    /// text matches a substring of the prompt after Unicode composition
    /// and case folding ("FÜCHSE" finds "füchse"); %, _, backslashes and
    /// quotes are plain characters. limit < 0: no limit.
    QList<HistoryEntry> search(const HistoryQuery& query) const;
    /// How many entries match (ignoring limit/offset).
    int count(const HistoryQuery& query) const;
    /// Model names of the kept images, sorted, for the gallery's filter.
    QStringList models() const;

    /// True when the entry exists (not removed) and now has that value;
    /// changed() only when the value changed.
    bool setFavourite(qint64 id, bool favourite);
    /// Hides an entry (the gallery's delete); restore() brings it back
    /// until purgeRemoved() (or the next open) deletes row and file.
    /// False (and no changed()) when there was nothing to do.
    bool remove(qint64 id);
    bool restore(qint64 id);
    /// Deletes removed entries for good; returns how many.
    int purgeRemoved();
    /// Deletes every entry that is not a favourite, rows and files;
    /// returns how many.
    int removeAllButFavourites();

    /// Bytes on disk: the database (with its -wal and -shm) and every PNG
    /// in images/.
    qint64 diskUsage() const;

Q_SIGNALS:
    /// Entries were added, changed or removed.
    void changed();

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace daub
