#include "storage/historystore.h"

#include <QCollator>
#include <QCoreApplication>
#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>
#include <QLockFile>
#include <QRegularExpression>
#include <QSet>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QVariant>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace daub {

namespace {

constexpr qint64 kMaxRecipeBytes = 1 << 20;
constexpr qint64 kMaxThumbnailBytes = 1 << 20;
constexpr qint64 kMaxPngBytes = qint64(512) << 20;
constexpr qint64 kMaxTextChars = 1 << 20;

// SQLite's primary result codes, as QSqlError::nativeErrorCode() gives them.
constexpr int kSqliteBusy = 5;
constexpr int kSqliteLocked = 6;
constexpr int kSqliteReadOnly = 8;
constexpr int kSqliteIoErr = 10;
constexpr int kSqliteCorrupt = 11;
constexpr int kSqliteFull = 13;
constexpr int kSqliteCantOpen = 14;
constexpr int kSqliteNotADb = 26;

const QString kDatabaseName = QStringLiteral("history.sqlite");
const QString kImagesName = QStringLiteral("images");

// The columns every read selects, in the order rowToEntry() reads them.
const char* const kColumns =
    "id, created, state, prompt, negative_prompt, recipe, parameters, seed, width, height, "
    "model, vae, upscaler, init_sha256, init_thumbnail, elapsed_ms, error, favourite, "
    "image_file, image_bytes, batch, batch_index";

const QRegularExpression& pngName() {
    static const QRegularExpression re(QStringLiteral("^([0-9]{1,18})\\.png$"));
    return re;
}
const QRegularExpression& tempName() {
    static const QRegularExpression re(QStringLiteral("^[0-9]{1,18}\\.png\\.tmp-[0-9]+$"));
    return re;
}

/// The text a search compares: composed, case-folded (so "FÜCHSE" finds
/// "füchse", also when one of them was typed with a combining diaeresis).
QString searchKey(const QString& text) {
    return text.normalized(QString::NormalizationForm_C).toCaseFolded();
}

QString stateName(HistoryEntry::State state) {
    switch (state) {
    case HistoryEntry::State::Done:
        return QStringLiteral("done");
    case HistoryEntry::State::Failed:
        return QStringLiteral("failed");
    case HistoryEntry::State::Cancelled:
        return QStringLiteral("cancelled");
    }
    return QStringLiteral("failed");
}

HistoryEntry::State stateFromName(const QString& name) {
    if (name == QLatin1String("done"))
        return HistoryEntry::State::Done;
    if (name == QLatin1String("cancelled"))
        return HistoryEntry::State::Cancelled;
    return HistoryEntry::State::Failed;
}

/// Why a file operation failed, as the end of a sentence.
QString reasonFromErrno(int error, const QString& folder) {
    switch (error) {
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
        return QStringLiteral("the disk is full");
    case EROFS:
        return QStringLiteral("the disk is read-only");
    case EACCES:
    case EPERM:
        return QStringLiteral("Daub is not allowed to write to %1").arg(folder);
    case ENOENT:
    case ENOTDIR:
        return QStringLiteral("the folder %1 is missing or is not a folder").arg(folder);
    case EFBIG:
        return QStringLiteral("the file would be larger than this system allows");
    case EIO:
        return QStringLiteral("the disk reported an input/output error");
    default: {
        QString text = QString::fromLocal8Bit(std::strerror(error));
        if (!text.isEmpty())
            text[0] = text[0].toLower();
        return text;
    }
    }
}

int nativeCode(const QSqlError& error) {
    bool ok = false;
    const int code = error.nativeErrorCode().toInt(&ok);
    // Extended result codes carry the primary one in their low byte.
    return ok ? (code & 0xff) : -1;
}

/// Why a database operation failed, as the end of a sentence.
QString reasonFromSql(const QSqlError& error) {
    switch (nativeCode(error)) {
    case kSqliteFull:
        return QStringLiteral("the disk is full");
    case kSqliteReadOnly:
        return QStringLiteral("its database is read-only");
    case kSqliteIoErr:
        return QStringLiteral("the disk reported an input/output error");
    case kSqliteBusy:
    case kSqliteLocked:
        return QStringLiteral("another Daub is using it");
    case kSqliteCorrupt:
    case kSqliteNotADb:
        return QStringLiteral("its database is damaged");
    case kSqliteCantOpen:
        return QStringLiteral("its database cannot be opened");
    default: {
        QString text = error.databaseText().isEmpty() ? error.text() : error.databaseText();
        return text.isEmpty() ? QStringLiteral("the database reported an error") : text;
    }
    }
}

/// The folders whose lock a store of this process holds (GUI thread only).
QSet<QString>& lockedFolders() {
    static QSet<QString> folders;
    return folders;
}

bool isDamage(const QSqlError& error) {
    const int code = nativeCode(error);
    return code == kSqliteCorrupt || code == kSqliteNotADb;
}

void setError(QString* error, const QString& sentence) {
    if (error)
        *error = sentence;
}

/// Writes `data` to `path` (created or truncated) and fsyncs it; errno on
/// failure (0 on success).
int writeAndSync(const QString& path, const QByteArray& data) {
    const QByteArray native = QFile::encodeName(path);
    const int fd = ::open(native.constData(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return errno;
    const char* p = data.constData();
    qint64 left = data.size();
    int result = 0;
    while (left > 0) {
        const ssize_t n = ::write(fd, p, size_t(std::min<qint64>(left, qint64(1) << 30)));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            result = errno;
            break;
        }
        if (n == 0) {
            result = ENOSPC;
            break;
        }
        p += n;
        left -= n;
    }
    if (result == 0 && ::fsync(fd) != 0)
        result = errno;
    if (::close(fd) != 0 && result == 0)
        result = errno;
    return result;
}

/// fsync of a folder, so that a rename in it survives a power cut; errno.
int syncFolder(const QString& path) {
    const int fd = ::open(QFile::encodeName(path).constData(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int result = 0;
    if (::fsync(fd) != 0 && errno != EINVAL) // some file systems cannot sync folders
        result = errno;
    ::close(fd);
    return result;
}

} // namespace

struct HistoryStore::Private {
    QString connection;
    QString folder;
    bool open = false;
    qint64 maxId = 0; ///< the largest id ever stored
    std::unique_ptr<QLockFile> lock;

    QSqlDatabase db() const { return QSqlDatabase::database(connection, false); }
    QString imagesPath() const { return QDir(folder).filePath(kImagesName); }
    QString databasePath() const { return QDir(folder).filePath(kDatabaseName); }
    /// The absolute path of a stored name; "" for a name that is not ours
    /// (a database edited by hand must not make Daub read or delete
    /// files elsewhere).
    QString imagePath(const QString& name) const {
        if (!pngName().match(name).hasMatch())
            return QString();
        return QDir(imagesPath()).filePath(name);
    }

    HistoryEntry rowToEntry(const QSqlQuery& q) const;
    void appendFilter(const HistoryQuery& query, QString& sql, QVariantList& values) const;
    bool exec(QSqlQuery& q, const QVariantList& values = {}) const;
    bool rollback() const;
    void closeConnection();

    bool configure(QSqlError* failure);
    bool migrate(QString* error);
    bool clean(QString* error);
    bool setAside(QString* notice);
    int deleteRows(const QString& where);
    QString error(const QString& what) const;
};

HistoryEntry HistoryStore::Private::rowToEntry(const QSqlQuery& q) const {
    HistoryEntry e;
    e.id = q.value(0).toLongLong();
    e.created = QDateTime::fromMSecsSinceEpoch(q.value(1).toLongLong(), Qt::UTC);
    e.state = stateFromName(q.value(2).toString());
    e.prompt = q.value(3).toString();
    e.negativePrompt = q.value(4).toString();
    e.recipe = q.value(5).toByteArray();
    e.parameters = q.value(6).toString();
    e.seed = q.value(7).toLongLong();
    e.width = q.value(8).toInt();
    e.height = q.value(9).toInt();
    e.model = q.value(10).toString();
    e.vae = q.value(11).toString();
    e.upscaler = q.value(12).toString();
    e.initSha256 = q.value(13).toByteArray();
    e.initThumbnailPng = q.value(14).toByteArray();
    e.elapsedMs = q.value(15).toDouble();
    e.error = q.value(16).toString();
    e.favourite = q.value(17).toInt() != 0;
    e.imageFile = imagePath(q.value(18).toString());
    e.imageBytes = e.imageFile.isEmpty() ? 0 : q.value(19).toLongLong();
    e.batch = q.value(20).toLongLong();
    e.batchIndex = q.value(21).toInt();
    return e;
}

bool HistoryStore::Private::exec(QSqlQuery& q, const QVariantList& values) const {
    for (int i = 0; i < values.size(); ++i)
        q.bindValue(i, values[i]);
    return q.exec();
}

bool HistoryStore::Private::rollback() const {
    QSqlQuery q(db());
    return q.exec(QStringLiteral("ROLLBACK"));
}

void HistoryStore::Private::closeConnection() {
    {
        QSqlDatabase database = db();
        if (database.isValid())
            database.close();
    }
    QSqlDatabase::removeDatabase(connection);
}

QString HistoryStore::Private::error(const QString& what) const {
    return QStringLiteral("Daub could not %1 its history: %2.")
        .arg(what, reasonFromSql(db().lastError()));
}

// Connection settings, the first statements that read the file: a file
// that is not a database fails here (or in the quick check).
bool HistoryStore::Private::configure(QSqlError* failure) {
    QSqlQuery q(db());
    const char* const statements[] = {
        "PRAGMA busy_timeout = 5000",
        // WAL: readers never block the writer; a crash leaves the last
        // committed state. FULL: every commit is on the disk before add()
        // returns, also across a power cut — one more fsync per job,
        // nothing next to the seconds an image takes.
        "PRAGMA journal_mode = WAL",
        "PRAGMA synchronous = FULL",
        "PRAGMA foreign_keys = ON",
    };
    for (const char* statement : statements) {
        if (!q.exec(QString::fromLatin1(statement))) {
            *failure = q.lastError();
            return false;
        }
    }
    if (!q.exec(QStringLiteral("PRAGMA quick_check"))) {
        *failure = q.lastError();
        return false;
    }
    if (q.next() && q.value(0).toString() != QLatin1String("ok")) {
        // Reported as SQLite's "corrupt" code, so open() sets the file aside.
        *failure = QSqlError(q.value(0).toString(), QString(), QSqlError::StatementError,
                             QString::number(kSqliteCorrupt));
        return false;
    }
    return true;
}

// Version 0 (a new file) → 1 → 2, in one transaction that also re-reads the
// version (two Daubs opening one folder migrate once).
bool HistoryStore::Private::migrate(QString* error) {
    QSqlQuery q(db());
    if (!q.exec(QStringLiteral("BEGIN IMMEDIATE"))) {
        setError(error, this->error(QStringLiteral("open")));
        return false;
    }
    auto fail = [&](const QString& sentence) {
        setError(error, sentence);
        rollback();
        return false;
    };
    if (!q.exec(QStringLiteral("PRAGMA user_version")) || !q.next())
        return fail(this->error(QStringLiteral("open")));
    int version = q.value(0).toInt();
    q.finish();
    if (version > kSchemaVersion)
        return fail(QStringLiteral("Daub's history in %1 was written by a newer Daub (version %2 "
                                   "of its format; this Daub reads up to %3); it was left as it "
                                   "is.")
                        .arg(QDir::toNativeSeparators(folder))
                        .arg(version)
                        .arg(kSchemaVersion));
    if (version < 0)
        return fail(QStringLiteral("Daub's history database in %1 has an invalid format version "
                                   "(%2); it was left as it is.")
                        .arg(QDir::toNativeSeparators(folder))
                        .arg(version));

    if (version == 0) {
        // Version 1. created: milliseconds since 1970 UTC; state: "done",
        // "failed" or "cancelled"; image_file: the PNG's name inside images/
        // ("" when there is none); image_bytes: its size.
        const bool ok = q.exec(QStringLiteral("CREATE TABLE entries ("
                                              " id INTEGER PRIMARY KEY,"
                                              " created INTEGER NOT NULL,"
                                              " state TEXT NOT NULL,"
                                              " prompt TEXT NOT NULL DEFAULT '',"
                                              " negative_prompt TEXT NOT NULL DEFAULT '',"
                                              " recipe BLOB,"
                                              " parameters TEXT NOT NULL DEFAULT '',"
                                              " seed INTEGER NOT NULL DEFAULT -1,"
                                              " width INTEGER NOT NULL DEFAULT 0,"
                                              " height INTEGER NOT NULL DEFAULT 0,"
                                              " model TEXT NOT NULL DEFAULT '',"
                                              " vae TEXT NOT NULL DEFAULT '',"
                                              " upscaler TEXT NOT NULL DEFAULT '',"
                                              " init_sha256 BLOB,"
                                              " init_thumbnail BLOB,"
                                              " elapsed_ms REAL NOT NULL DEFAULT 0,"
                                              " error TEXT NOT NULL DEFAULT '',"
                                              " favourite INTEGER NOT NULL DEFAULT 0,"
                                              " image_file TEXT NOT NULL DEFAULT '',"
                                              " image_bytes INTEGER NOT NULL DEFAULT 0)"));
        if (!ok || !q.exec(QStringLiteral("PRAGMA user_version = 1")))
            return fail(this->error(QStringLiteral("create")));
        version = 1;
    }

    if (version == 1) {
        // Version 2: batches, soft delete, the folded prompt the search
        // compares, the largest id ever used (ids are never reused), and
        // the gallery's indexes.
        const char* const statements[] = {
            "ALTER TABLE entries ADD COLUMN batch INTEGER NOT NULL DEFAULT -1",
            "ALTER TABLE entries ADD COLUMN batch_index INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE entries ADD COLUMN removed INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE entries ADD COLUMN prompt_folded TEXT NOT NULL DEFAULT ''",
            "UPDATE entries SET batch = id",
            "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
            "INSERT INTO counters (name, value) SELECT 'max_id', IFNULL(MAX(id), 0) FROM entries",
            "CREATE INDEX entries_created ON entries (created)",
            "CREATE INDEX entries_favourite ON entries (favourite)",
            "CREATE INDEX entries_model ON entries (model)",
        };
        for (const char* statement : statements)
            if (!q.exec(QString::fromLatin1(statement)))
                return fail(this->error(QStringLiteral("update")));
        // The folded prompts (Unicode case folding is not SQL's).
        QList<QPair<qint64, QString>> prompts;
        if (!q.exec(QStringLiteral("SELECT id, prompt FROM entries")))
            return fail(this->error(QStringLiteral("update")));
        while (q.next())
            prompts.append({q.value(0).toLongLong(), q.value(1).toString()});
        q.finish();
        QSqlQuery update(db());
        update.prepare(QStringLiteral("UPDATE entries SET prompt_folded = ? WHERE id = ?"));
        for (const auto& [id, prompt] : prompts)
            if (!exec(update, {searchKey(prompt), id}))
                return fail(this->error(QStringLiteral("update")));
        if (!q.exec(QStringLiteral("PRAGMA user_version = 2")))
            return fail(this->error(QStringLiteral("update")));
        version = 2;
    }

    if (!q.exec(QStringLiteral("COMMIT")))
        return fail(this->error(QStringLiteral("update")));
    return true;
}

// Leftovers of interrupted saves and removals; rows whose PNG went away.
bool HistoryStore::Private::clean(QString* error) {
    QSqlQuery q(db());
    // Entries removed earlier and not purged: rows first, then files.
    deleteRows(QStringLiteral("removed <> 0"));

    // Every row's file: kept rows whose PNG is gone (deleted outside Daub)
    // stay, without an image, so their prompt and recipe are not lost.
    QSet<QString> referenced;
    QList<qint64> missing;
    if (!q.exec(QStringLiteral("SELECT id, image_file FROM entries WHERE image_file <> ''"))) {
        setError(error, this->error(QStringLiteral("open")));
        return false;
    }
    while (q.next()) {
        const QString name = q.value(1).toString();
        const QString path = imagePath(name);
        if (path.isEmpty() || !QFileInfo(path).isFile())
            missing.append(q.value(0).toLongLong());
        else
            referenced.insert(name);
    }
    q.finish();
    if (!missing.isEmpty()) {
        QSqlQuery update(db());
        update.prepare(
            QStringLiteral("UPDATE entries SET image_file = '', image_bytes = 0 WHERE id = ?"));
        for (qint64 id : missing)
            exec(update, {id});
    }

    // Temporary files and PNGs without a row. Other files are not ours.
    QDir images(imagesPath());
    const QStringList files = images.entryList(QDir::Files | QDir::Hidden | QDir::System);
    for (const QString& name : files) {
        if (tempName().match(name).hasMatch() ||
            (pngName().match(name).hasMatch() && !referenced.contains(name)))
            images.remove(name);
    }
    return true;
}

// The database file cannot be read: it and its WAL are renamed (never
// deleted) together with the images it listed, and a new history starts.
bool HistoryStore::Private::setAside(QString* notice) {
    closeConnection();
    const QString stamp =
        QDateTime::currentDateTimeUtc().toString(QStringLiteral("yyyyMMdd-HHmmss"));
    const QString suffix = QStringLiteral(".broken-") + stamp;
    QDir dir(folder);
    const QString aside = kDatabaseName + suffix;
    if (dir.exists(aside))
        return false;
    if (!dir.rename(kDatabaseName, aside))
        return false;
    for (const char* extra : {"-wal", "-shm"}) {
        const QString name = kDatabaseName + QString::fromLatin1(extra);
        if (dir.exists(name) && !dir.rename(name, aside + QString::fromLatin1(extra)))
            dir.remove(name); // a WAL must never meet a database it was not written for
    }
    const QString imagesAside = kImagesName + suffix;
    if (dir.exists(kImagesName))
        dir.rename(kImagesName, imagesAside);
    dir.mkpath(kImagesName);
    *notice = QStringLiteral("Daub's history database could not be read; it was set aside as %1 "
                             "(its images as %2) and a new history was started.")
                  .arg(QDir::toNativeSeparators(dir.filePath(aside)),
                       QDir::toNativeSeparators(dir.filePath(imagesAside)));
    return true;
}

/// Deletes the rows `where` selects in one transaction, then their files
/// (a process killed in between leaves orphans that open() removes).
int HistoryStore::Private::deleteRows(const QString& where) {
    QSqlQuery q(db());
    if (!q.exec(QStringLiteral("BEGIN IMMEDIATE")))
        return 0;
    QStringList files;
    if (!q.exec(QStringLiteral("SELECT image_file FROM entries WHERE ") + where)) {
        rollback();
        return 0;
    }
    while (q.next())
        files.append(q.value(0).toString());
    q.finish();
    if (!q.exec(QStringLiteral("DELETE FROM entries WHERE ") + where)) {
        rollback();
        return 0;
    }
    const int n = q.numRowsAffected();
    if (!q.exec(QStringLiteral("COMMIT"))) {
        rollback();
        return 0;
    }
    for (const QString& name : files) {
        const QString path = imagePath(name);
        if (!path.isEmpty())
            QFile::remove(path);
    }
    return n;
}

void HistoryStore::Private::appendFilter(const HistoryQuery& query, QString& sql,
                                         QVariantList& values) const {
    sql += QStringLiteral(" WHERE removed = 0");
    if (!query.text.isEmpty()) {
        // instr() on the folded text: no LIKE wildcards to escape.
        sql += QStringLiteral(" AND instr(prompt_folded, ?) > 0");
        values.append(searchKey(query.text));
    }
    if (query.favouritesOnly)
        sql += QStringLiteral(" AND favourite <> 0");
    if (!query.model.isEmpty()) {
        sql += QStringLiteral(" AND model = ?");
        values.append(query.model);
    }
    if (query.withImageOnly)
        sql += QStringLiteral(" AND image_file <> ''");
}

HistoryStore::HistoryStore(QObject* parent) : QObject(parent), d(std::make_unique<Private>()) {
    d->connection = QStringLiteral("daub-history-%1").arg(quintptr(this), 0, 16);
}

HistoryStore::~HistoryStore() {
    close();
}

bool HistoryStore::open(const QString& folder, QString* error) {
    close();
    setError(error, QString());
    if (folder.isEmpty()) {
        setError(error, QStringLiteral("Daub has no folder for its history."));
        return false;
    }
    d->folder = QDir(folder).absolutePath();
    QDir dir(d->folder);
    if (!dir.mkpath(QStringLiteral(".")) || !dir.mkpath(kImagesName) ||
        !QFileInfo(d->imagesPath()).isDir()) {
        const int saved = errno;
        const QFileInfo info(d->imagesPath());
        const QString reason = info.exists() && !info.isDir()
                                   ? QStringLiteral("a file of that name is in the way")
                                   : reasonFromErrno(saved ? saved : ENOTDIR, d->folder);
        setError(error, QStringLiteral("Daub could not create its history folder %1: %2.")
                            .arg(QDir::toNativeSeparators(d->imagesPath()), reason));
        return false;
    }
    if (!QSqlDatabase::isDriverAvailable(QStringLiteral("QSQLITE"))) {
        setError(error, QStringLiteral("Daub cannot keep a history: Qt's SQLite driver (package "
                                       "libqt6sql6-sqlite) is not installed."));
        return false;
    }

    // One Daub cleans the folder; a second one on the same folder uses the
    // database but leaves the files alone (they may be its saves in flight).
    d->lock = std::make_unique<QLockFile>(dir.filePath(QStringLiteral("history.lock")));
    d->lock->setStaleLockTime(0); // only a dead holder makes it stale
    bool owner = d->lock->tryLock(0);
    if (!owner && !lockedFolders().contains(d->folder)) {
        // A lock "held" by this very process but by no store in it was left
        // by a crashed Daub whose pid we got again (sandboxes reuse them).
        qint64 pid = 0;
        QString host, app;
        if (d->lock->getLockInfo(&pid, &host, &app) && pid == QCoreApplication::applicationPid() &&
            d->lock->removeStaleLockFile())
            owner = d->lock->tryLock(0);
    }
    if (owner)
        lockedFolders().insert(d->folder);
    else
        d->lock.reset();

    QString notice;
    for (int attempt = 0; attempt < 2; ++attempt) {
        {
            QSqlDatabase database =
                QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), d->connection);
            database.setDatabaseName(d->databasePath());
            if (!database.open()) {
                setError(error, QStringLiteral("Daub could not open its history in %1: %2.")
                                    .arg(QDir::toNativeSeparators(d->folder),
                                         reasonFromSql(database.lastError())));
                close();
                return false;
            }
        }
        QSqlError failure;
        if (d->configure(&failure))
            break;
        if (attempt == 0 && owner && isDamage(failure) && d->setAside(&notice))
            continue;
        setError(error, QStringLiteral("Daub could not open its history in %1: %2.")
                            .arg(QDir::toNativeSeparators(d->folder), reasonFromSql(failure)));
        close();
        return false;
    }

    if (!d->migrate(error) || (owner && !d->clean(error))) {
        close();
        return false;
    }

    std::optional<qint64> maxId;
    {
        QSqlQuery q(d->db());
        if (q.exec(QStringLiteral(
                "SELECT MAX(IFNULL((SELECT value FROM counters WHERE name = 'max_id'), 0), "
                "IFNULL((SELECT MAX(id) FROM entries), 0))")) &&
            q.next())
            maxId = q.value(0).toLongLong();
    }
    if (!maxId) {
        setError(error, d->error(QStringLiteral("open")));
        close();
        return false;
    }
    d->maxId = *maxId;
    d->open = true;
    setError(error, notice);
    return true;
}

bool HistoryStore::isOpen() const {
    return d->open;
}

QString HistoryStore::folder() const {
    return d->open ? d->folder : QString();
}

void HistoryStore::close() {
    if (QSqlDatabase::contains(d->connection))
        d->closeConnection();
    if (d->lock) {
        lockedFolders().remove(d->folder);
        d->lock.reset();
    }
    d->open = false;
    d->maxId = 0;
}

qint64 HistoryStore::nextId() const {
    return d->open ? d->maxId + 1 : 1;
}

bool HistoryStore::add(HistoryEntry& entry, const QByteArray& png, QString* error) {
    setError(error, QString());
    const QString what = png.isEmpty() ? QStringLiteral("this job") : QStringLiteral("this image");
    auto refuse = [&](const QString& reason) {
        setError(error,
                 QStringLiteral("Daub could not keep %1 in its history: %2.").arg(what, reason));
        return false;
    };
    if (!d->open)
        return refuse(QStringLiteral("the history is not open"));
    if (entry.id <= 0)
        return refuse(QStringLiteral("its id %1 is not a valid history id").arg(entry.id));
    if (entry.recipe.size() > kMaxRecipeBytes)
        return refuse(QStringLiteral("its recipe is %1 bytes, more than the %2 a recipe may have")
                          .arg(entry.recipe.size())
                          .arg(kMaxRecipeBytes));
    if (entry.initThumbnailPng.size() > kMaxThumbnailBytes)
        return refuse(QStringLiteral("its init image's thumbnail is %1 bytes, more than the %2 a "
                                     "thumbnail may have")
                          .arg(entry.initThumbnailPng.size())
                          .arg(kMaxThumbnailBytes));
    if (png.size() > kMaxPngBytes)
        return refuse(QStringLiteral("the PNG is %1 bytes, more than the %2 an image may have")
                          .arg(png.size())
                          .arg(kMaxPngBytes));
    if (!png.isEmpty() && !png.startsWith(QByteArrayLiteral("\x89PNG\r\n\x1a\n")))
        return refuse(QStringLiteral("the image is not a PNG"));
    if (!entry.initSha256.isEmpty() && entry.initSha256.size() != 32)
        return refuse(QStringLiteral("its init image's SHA-256 has %1 bytes instead of 32")
                          .arg(entry.initSha256.size()));
    for (const QString* text : {&entry.prompt, &entry.negativePrompt, &entry.parameters,
                                &entry.error, &entry.model, &entry.vae, &entry.upscaler})
        if (text->size() > kMaxTextChars)
            return refuse(QStringLiteral("one of its texts has %1 characters, more than %2")
                              .arg(text->size())
                              .arg(kMaxTextChars));
    if (entry.width < 0 || entry.height < 0)
        return refuse(
            QStringLiteral("its size %1×%2 is negative").arg(entry.width).arg(entry.height));

    {
        QSqlQuery q(d->db());
        q.prepare(QStringLiteral("SELECT 1 FROM entries WHERE id = ?"));
        if (!d->exec(q, {entry.id}))
            return refuse(reasonFromSql(q.lastError()));
        if (q.next())
            return refuse(QStringLiteral("its id %1 is already in the history").arg(entry.id));
    }

    if (!entry.created.isValid())
        entry.created = QDateTime::currentDateTimeUtc();
    if (entry.batch < 0) {
        entry.batch = entry.id;
        entry.batchIndex = 0;
    }

    // The PNG first: temporary file, fsync, rename, fsync of the folder.
    const QString images = d->imagesPath();
    const QString name = QStringLiteral("%1.png").arg(entry.id);
    const QString finalPath = QDir(images).filePath(name);
    if (!png.isEmpty()) {
        const QString temp =
            finalPath + QStringLiteral(".tmp-%1").arg(QCoreApplication::applicationPid());
        int failure = writeAndSync(temp, png);
        if (failure == 0 && ::rename(QFile::encodeName(temp).constData(),
                                     QFile::encodeName(finalPath).constData()) != 0)
            failure = errno;
        if (failure != 0) {
            ::unlink(QFile::encodeName(temp).constData());
            return refuse(reasonFromErrno(failure, QDir::toNativeSeparators(images)));
        }
        failure = syncFolder(images);
        if (failure != 0) {
            ::unlink(QFile::encodeName(finalPath).constData());
            return refuse(reasonFromErrno(failure, QDir::toNativeSeparators(images)));
        }
    }

    // Then the row, with the largest id, in one transaction.
    QSqlQuery q(d->db());
    auto undo = [&](const QSqlError& sqlError) {
        const QString reason = reasonFromSql(sqlError);
        q.finish();
        d->rollback();
        if (!png.isEmpty())
            QFile::remove(finalPath);
        return refuse(reason);
    };
    if (!q.exec(QStringLiteral("BEGIN IMMEDIATE"))) {
        const QString reason = reasonFromSql(q.lastError());
        if (!png.isEmpty())
            QFile::remove(finalPath);
        return refuse(reason);
    }
    q.prepare(QStringLiteral(
        "INSERT INTO entries (id, created, state, prompt, negative_prompt, recipe, parameters, "
        "seed, width, height, model, vae, upscaler, init_sha256, init_thumbnail, elapsed_ms, "
        "error, favourite, image_file, image_bytes, batch, batch_index, removed, prompt_folded) "
        "VALUES (?, ?, ?, IFNULL(?, ''), IFNULL(?, ''), ?, IFNULL(?, ''), ?, ?, ?, IFNULL(?, ''), "
        "IFNULL(?, ''), IFNULL(?, ''), ?, ?, ?, IFNULL(?, ''), ?, ?, ?, ?, ?, 0, IFNULL(?, ''))"));
    const QVariantList values = {
        entry.id,
        entry.created.toMSecsSinceEpoch(),
        stateName(entry.state),
        entry.prompt,
        entry.negativePrompt,
        entry.recipe,
        entry.parameters,
        entry.seed,
        entry.width,
        entry.height,
        entry.model,
        entry.vae,
        entry.upscaler,
        entry.initSha256,
        entry.initThumbnailPng,
        entry.elapsedMs,
        entry.error,
        entry.favourite ? 1 : 0,
        png.isEmpty() ? QString(QLatin1String("")) : name,
        qint64(png.size()),
        entry.batch,
        entry.batchIndex,
        searchKey(entry.prompt),
    };
    if (!d->exec(q, values))
        return undo(q.lastError());
    q.prepare(QStringLiteral("INSERT INTO counters (name, value) VALUES ('max_id', ?) ON "
                             "CONFLICT (name) DO UPDATE SET value = MAX(value, excluded.value)"));
    if (!d->exec(q, {entry.id}))
        return undo(q.lastError());
    if (!q.exec(QStringLiteral("COMMIT")))
        return undo(q.lastError());

    d->maxId = std::max(d->maxId, entry.id);
    entry.imageFile = png.isEmpty() ? QString() : finalPath;
    entry.imageBytes = png.size();
    Q_EMIT changed();
    return true;
}

std::optional<HistoryEntry> HistoryStore::entry(qint64 id) const {
    if (!d->open)
        return std::nullopt;
    QSqlQuery q(d->db());
    q.prepare(QStringLiteral("SELECT %1 FROM entries WHERE id = ? AND removed = 0")
                  .arg(QLatin1String(kColumns)));
    if (!d->exec(q, {id}) || !q.next())
        return std::nullopt;
    return d->rowToEntry(q);
}

QByteArray HistoryStore::png(qint64 id) const {
    const auto e = entry(id);
    if (!e || e->imageFile.isEmpty())
        return QByteArray();
    QFile file(e->imageFile);
    if (!file.open(QIODevice::ReadOnly) || file.size() > kMaxPngBytes)
        return QByteArray();
    return file.readAll();
}

QList<HistoryEntry> HistoryStore::recent(int limit, qint64 beforeId) const {
    QList<HistoryEntry> result;
    if (!d->open || limit == 0)
        return result;
    QSqlQuery q(d->db());
    q.prepare(QStringLiteral("SELECT %1 FROM entries WHERE removed = 0 AND (? < 0 OR id < ?) "
                             "ORDER BY id DESC LIMIT ?")
                  .arg(QLatin1String(kColumns)));
    if (!d->exec(q, {beforeId, beforeId, limit < 0 ? -1 : limit}))
        return result;
    while (q.next())
        result.append(d->rowToEntry(q));
    std::reverse(result.begin(), result.end());
    return result;
}

QList<HistoryEntry> HistoryStore::search(const HistoryQuery& query) const {
    QList<HistoryEntry> result;
    if (!d->open || query.limit == 0)
        return result;
    QString sql = QStringLiteral("SELECT %1 FROM entries").arg(QLatin1String(kColumns));
    QVariantList values;
    d->appendFilter(query, sql, values);
    sql += query.newestFirst ? QStringLiteral(" ORDER BY created DESC, id DESC")
                             : QStringLiteral(" ORDER BY created ASC, id ASC");
    sql += QStringLiteral(" LIMIT ? OFFSET ?");
    values.append(query.limit < 0 ? -1 : query.limit);
    values.append(std::max(0, query.offset));
    QSqlQuery q(d->db());
    q.prepare(sql);
    if (!d->exec(q, values))
        return result;
    while (q.next())
        result.append(d->rowToEntry(q));
    return result;
}

int HistoryStore::count(const HistoryQuery& query) const {
    if (!d->open)
        return 0;
    QString sql = QStringLiteral("SELECT COUNT(*) FROM entries");
    QVariantList values;
    d->appendFilter(query, sql, values);
    QSqlQuery q(d->db());
    q.prepare(sql);
    if (!d->exec(q, values) || !q.next())
        return 0;
    return q.value(0).toInt();
}

QStringList HistoryStore::models() const {
    QStringList result;
    if (!d->open)
        return result;
    QSqlQuery q(d->db());
    if (!q.exec(QStringLiteral("SELECT DISTINCT model FROM entries WHERE removed = 0 AND "
                               "image_file <> '' AND model <> ''")))
        return result;
    while (q.next())
        result.append(q.value(0).toString());
    QCollator collator;
    collator.setCaseSensitivity(Qt::CaseInsensitive);
    collator.setNumericMode(true);
    std::sort(result.begin(), result.end(), [&](const QString& a, const QString& b) {
        const int c = collator.compare(a, b);
        return c != 0 ? c < 0 : a < b;
    });
    return result;
}

bool HistoryStore::setFavourite(qint64 id, bool favourite) {
    if (!d->open)
        return false;
    QSqlQuery q(d->db());
    q.prepare(QStringLiteral(
        "UPDATE entries SET favourite = ? WHERE id = ? AND removed = 0 AND favourite <> ?"));
    if (!d->exec(q, {favourite ? 1 : 0, id, favourite ? 1 : 0}))
        return false;
    if (q.numRowsAffected() > 0) {
        Q_EMIT changed();
        return true;
    }
    // Unchanged: true when the entry exists (it already was that).
    return entry(id).has_value();
}

bool HistoryStore::remove(qint64 id) {
    if (!d->open)
        return false;
    QSqlQuery q(d->db());
    q.prepare(QStringLiteral("UPDATE entries SET removed = 1 WHERE id = ? AND removed = 0"));
    if (!d->exec(q, {id}) || q.numRowsAffected() <= 0)
        return false;
    Q_EMIT changed();
    return true;
}

bool HistoryStore::restore(qint64 id) {
    if (!d->open)
        return false;
    QSqlQuery q(d->db());
    q.prepare(QStringLiteral("UPDATE entries SET removed = 0 WHERE id = ? AND removed <> 0"));
    if (!d->exec(q, {id}) || q.numRowsAffected() <= 0)
        return false;
    Q_EMIT changed();
    return true;
}

int HistoryStore::purgeRemoved() {
    if (!d->open)
        return 0;
    const int n = d->deleteRows(QStringLiteral("removed <> 0"));
    if (n > 0)
        Q_EMIT changed();
    return n;
}

int HistoryStore::removeAllButFavourites() {
    if (!d->open)
        return 0;
    const int n = d->deleteRows(QStringLiteral("favourite = 0"));
    if (n > 0)
        Q_EMIT changed();
    return n;
}

qint64 HistoryStore::diskUsage() const {
    if (!d->open)
        return 0;
    qint64 total = 0;
    for (const char* suffix : {"", "-wal", "-shm"}) {
        const QFileInfo info(d->databasePath() + QString::fromLatin1(suffix));
        if (info.isFile())
            total += info.size();
    }
    QDirIterator it(d->imagesPath(), {QStringLiteral("*.png")}, QDir::Files | QDir::Hidden);
    while (it.hasNext()) {
        it.next();
        total += it.fileInfo().size();
    }
    return total;
}

} // namespace daub
