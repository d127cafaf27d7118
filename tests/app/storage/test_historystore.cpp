// HistoryStore: every field survives a round trip; ids are never reused;
// the conversation's pages and the gallery's searches; soft delete,
// restore, purge; open() cleans what interrupted saves leave and keeps rows
// whose PNG went away; a version-1 database is migrated; a damaged one is
// set aside; failed writes keep nothing; and a writer killed at random
// moments never leaves a row without its complete PNG.
#include "storage/historystore.h"
#include "testsupport.h"

#include <QBuffer>
#include <QLockFile>
#include <QProcess>
#include <QRandomGenerator>
#include <QSignalSpy>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QSqlRecord>
#include <QtTest/QtTest>

#include <csignal>
#include <sys/resource.h>

using daub::HistoryEntry;
using daub::HistoryQuery;
using daub::HistoryStore;

namespace {

const char* const kWriterVariable = "DAUB_HISTORY_WRITER";
const char* const kWriterPngVariable = "DAUB_HISTORY_WRITER_PNG";

QByteArray pngOf(const QImage& image) {
    QByteArray bytes;
    QBuffer buffer(&bytes);
    buffer.open(QIODevice::WriteOnly);
    image.save(&buffer, "PNG");
    return bytes;
}

QByteArray smallPng(int hue = 0) {
    return pngOf(daub::test::testImage(32, 24, hue));
}

/// Random noise compresses to nothing: a PNG of about w*h*3 bytes.
QByteArray noisePng(int w, int h, quint32 seed) {
    QImage image(w, h, QImage::Format_RGB888);
    QRandomGenerator random(seed);
    for (int y = 0; y < h; ++y)
        random.fillRange(reinterpret_cast<quint32*>(image.scanLine(y)), (w * 3) / 4);
    return pngOf(image);
}

HistoryEntry simpleEntry(qint64 id, const QString& prompt = QStringLiteral("a red fox")) {
    HistoryEntry e;
    e.id = id;
    e.prompt = prompt;
    e.model = QStringLiteral("sd15");
    e.width = 32;
    e.height = 24;
    e.seed = id * 7;
    return e;
}

QList<qint64> ids(const QList<HistoryEntry>& entries) {
    QList<qint64> result;
    for (const auto& e : entries)
        result.append(e.id);
    return result;
}

QList<qint64> range(qint64 first, qint64 last) {
    QList<qint64> result;
    for (qint64 i = first; i <= last; ++i)
        result.append(i);
    return result;
}

/// A connection of the test's own to a database file.
class Sql {
public:
    explicit Sql(const QString& path) {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), m_name);
        db.setDatabaseName(path);
        m_ok = db.open();
    }
    ~Sql() {
        {
            QSqlDatabase db = QSqlDatabase::database(m_name, false);
            db.close();
        }
        QSqlDatabase::removeDatabase(m_name);
    }
    bool ok() const { return m_ok; }
    bool exec(const QString& sql) {
        QSqlQuery q(QSqlDatabase::database(m_name, false));
        if (!q.exec(sql)) {
            qWarning() << sql << q.lastError().text();
            return false;
        }
        return true;
    }
    QVariant scalar(const QString& sql) {
        QSqlQuery q(QSqlDatabase::database(m_name, false));
        if (!q.exec(sql) || !q.next())
            return QVariant();
        return q.value(0);
    }
    QList<QVariantList> rows(const QString& sql) {
        QList<QVariantList> result;
        QSqlQuery q(QSqlDatabase::database(m_name, false));
        if (!q.exec(sql))
            return result;
        while (q.next()) {
            QVariantList row;
            for (int i = 0; i < q.record().count(); ++i)
                row.append(q.value(i));
            result.append(row);
        }
        return result;
    }

private:
    QString m_name = QStringLiteral("test-direct-%1").arg(quintptr(this), 0, 16);
    bool m_ok = false;
};

QStringList filesIn(const QString& folder) {
    return QDir(folder).entryList(QDir::Files | QDir::Hidden | QDir::System, QDir::Name);
}

qint64 databaseBytes(const QString& folder) {
    qint64 total = 0;
    for (const char* suffix : {"", "-wal", "-shm"})
        total +=
            QFileInfo(folder + QStringLiteral("/history.sqlite") + QLatin1String(suffix)).size();
    return total;
}

qint64 pngBytes(const QString& folder) {
    qint64 total = 0;
    for (const QString& name : filesIn(folder + QStringLiteral("/images")))
        if (name.endsWith(QLatin1String(".png")))
            total += QFileInfo(folder + QStringLiteral("/images/") + name).size();
    return total;
}

/// The writer the kill test starts: adds ~1 MB images forever, keeping
/// only the last few (so removals and purges are interrupted too).
int runWriter() {
    const QString folder = qEnvironmentVariable(kWriterVariable);
    QFile source(qEnvironmentVariable(kWriterPngVariable));
    if (!source.open(QIODevice::ReadOnly))
        return 2;
    const QByteArray png = source.readAll();
    HistoryStore store;
    QString error;
    if (!store.open(folder, &error)) {
        fprintf(stderr, "writer: %s\n", qPrintable(error));
        return 3;
    }
    fputs("open\n", stdout);
    fflush(stdout);
    for (int i = 0;; ++i) {
        HistoryEntry e = simpleEntry(store.nextId(), QStringLiteral("noise %1").arg(i));
        e.recipe = QByteArray(2000, 'r');
        const bool withImage = i % 4 != 3;
        if (!withImage)
            e.state = HistoryEntry::State::Failed;
        if (!store.add(e, withImage ? png : QByteArray(), &error)) {
            fprintf(stderr, "writer: %s\n", qPrintable(error));
            return 4;
        }
        const auto kept = store.recent(-1);
        if (kept.size() > 4) {
            store.remove(kept.first().id);
            store.purgeRemoved();
        }
    }
}

} // namespace

class TestHistoryStore : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void roundTripOfEveryField() {
        QTemporaryDir dir;
        HistoryStore store;
        QString error;
        QVERIFY2(store.open(dir.path(), &error), qPrintable(error));
        QVERIFY(error.isEmpty());
        QCOMPARE(store.folder(), QDir(dir.path()).absolutePath());

        HistoryEntry e;
        e.id = 7;
        e.created = QDateTime(QDate(2024, 3, 9), QTime(14, 5, 6, 789), Qt::UTC);
        e.state = HistoryEntry::State::Done;
        e.prompt = QStringLiteral("Füchse im Schnee, 'quoted' \"double\" 100% snake_case 🦊");
        e.negativePrompt = QStringLiteral("blurry, lowres");
        e.recipe = QByteArrayLiteral("{\"steps\":20,\"cfg\":7.5}\0binary\xff");
        e.parameters = QStringLiteral("Füchse\nSteps: 20, Sampler: Euler a, Seed: 42");
        e.seed = 4294967297LL;
        e.width = 32;
        e.height = 24;
        e.model = QStringLiteral("sd15-ä");
        e.vae = QStringLiteral("vae-ft-mse.safetensors");
        e.upscaler = QStringLiteral("4x-UltraSharp.pth");
        e.initSha256 = QByteArray(32, '\x5a');
        e.initThumbnailPng = smallPng(40);
        e.elapsedMs = 1234.5;
        e.error = QString();
        e.favourite = true;
        e.batch = 5;
        e.batchIndex = 2;
        const QByteArray png = smallPng(3);

        QSignalSpy changed(&store, &HistoryStore::changed);
        QVERIFY2(store.add(e, png, &error), qPrintable(error));
        QCOMPARE(changed.count(), 1);
        QCOMPARE(e.imageFile, QDir(dir.path()).absoluteFilePath(QStringLiteral("images/7.png")));
        QCOMPARE(e.imageBytes, png.size());

        auto check = [&](const HistoryEntry& got, const QString& folder) {
            QCOMPARE(got.id, e.id);
            QCOMPARE(got.created, e.created);
            QCOMPARE(got.created.timeSpec(), Qt::UTC);
            QCOMPARE(got.state, e.state);
            QCOMPARE(got.prompt, e.prompt);
            QCOMPARE(got.negativePrompt, e.negativePrompt);
            QCOMPARE(got.recipe, e.recipe);
            QCOMPARE(got.parameters, e.parameters);
            QCOMPARE(got.seed, e.seed);
            QCOMPARE(got.width, e.width);
            QCOMPARE(got.height, e.height);
            QCOMPARE(got.model, e.model);
            QCOMPARE(got.vae, e.vae);
            QCOMPARE(got.upscaler, e.upscaler);
            QCOMPARE(got.initSha256, e.initSha256);
            QCOMPARE(got.initThumbnailPng, e.initThumbnailPng);
            QCOMPARE(got.elapsedMs, e.elapsedMs);
            QCOMPARE(got.error, QString());
            QCOMPARE(got.favourite, true);
            QCOMPARE(got.batch, 5);
            QCOMPARE(got.batchIndex, 2);
            QCOMPARE(got.imageFile, QDir(folder).absoluteFilePath(QStringLiteral("images/7.png")));
            QCOMPARE(got.imageBytes, png.size());
        };
        check(*store.entry(7), dir.path());
        QCOMPARE(store.png(7), png);

        // A failed job: no image, its sentence, created and batch filled in.
        HistoryEntry failed = simpleEntry(8);
        failed.state = HistoryEntry::State::Failed;
        failed.error = QStringLiteral("The model could not be loaded.");
        failed.width = failed.height = 0;
        const QDateTime before = QDateTime::currentDateTimeUtc();
        QVERIFY2(store.add(failed, QByteArray(), &error), qPrintable(error));
        QVERIFY(failed.created >= before.addMSecs(-1));
        QCOMPARE(failed.batch, 8);
        QCOMPARE(failed.batchIndex, 0);
        QCOMPARE(failed.imageFile, QString());
        const auto gotFailed = store.entry(8);
        QVERIFY(gotFailed);
        QCOMPARE(gotFailed->state, HistoryEntry::State::Failed);
        QCOMPARE(gotFailed->error, failed.error);
        QCOMPARE(gotFailed->created, failed.created);
        QCOMPARE(gotFailed->imageFile, QString());
        QCOMPARE(gotFailed->imageBytes, 0);
        QCOMPARE(gotFailed->recipe, QByteArray());
        QCOMPARE(store.png(8), QByteArray());

        HistoryEntry cancelled = simpleEntry(9);
        cancelled.state = HistoryEntry::State::Cancelled;
        QVERIFY(store.add(cancelled, QByteArray()));
        QCOMPARE(store.entry(9)->state, HistoryEntry::State::Cancelled);
        QVERIFY(!store.entry(10));

        // The folder moves: the rows hold relative names.
        store.close();
        QVERIFY(!store.isOpen());
        const QString moved = dir.path() + QStringLiteral("-moved");
        QVERIFY(QDir().rename(dir.path(), moved));
        QVERIFY2(store.open(moved, &error), qPrintable(error));
        check(*store.entry(7), moved);
        QCOMPARE(store.png(7), png);
        store.close();
        QVERIFY(QDir(moved).removeRecursively());
    }

    void idsAreNeverReused() {
        QTemporaryDir dir;
        HistoryStore store;
        QVERIFY(store.open(dir.path()));
        QCOMPARE(store.nextId(), 1);
        for (qint64 id = 1; id <= 3; ++id) {
            HistoryEntry e = simpleEntry(store.nextId());
            QCOMPARE(e.id, id);
            QVERIFY(store.add(e, smallPng()));
        }
        QCOMPARE(store.nextId(), 4);
        QVERIFY(store.remove(3));
        QCOMPARE(store.purgeRemoved(), 1);
        QCOMPARE(store.nextId(), 4);
        store.close();
        QVERIFY(store.open(dir.path()));
        QCOMPARE(store.nextId(), 4);

        // Every entry gone: still past the largest ever used.
        QCOMPARE(store.removeAllButFavourites(), 2);
        store.close();
        QVERIFY(store.open(dir.path()));
        QCOMPARE(store.nextId(), 4);

        // An id in use, an invalid id: refused, nothing written.
        HistoryEntry e = simpleEntry(4);
        QVERIFY(store.add(e, smallPng(1)));
        const QByteArray kept = store.png(4);
        HistoryEntry again = simpleEntry(4, QStringLiteral("other"));
        QString error;
        QSignalSpy changed(&store, &HistoryStore::changed);
        QVERIFY(!store.add(again, smallPng(2), &error));
        QVERIFY2(error.contains(QLatin1String("already")), qPrintable(error));
        QCOMPARE(store.png(4), kept);
        QCOMPARE(store.entry(4)->prompt, QStringLiteral("a red fox"));
        HistoryEntry zero = simpleEntry(0);
        QVERIFY(!store.add(zero, smallPng(), &error));
        QVERIFY(!error.isEmpty());
        QCOMPARE(changed.count(), 0);

        // Out of order is fine.
        HistoryEntry ten = simpleEntry(10), six = simpleEntry(6);
        QVERIFY(store.add(ten, smallPng()));
        QVERIFY(store.add(six, smallPng()));
        QCOMPARE(store.nextId(), 11);
        QCOMPARE(filesIn(dir.filePath(QStringLiteral("images"))),
                 (QStringList{"10.png", "4.png", "6.png"}));
    }

    void recentPages() {
        QTemporaryDir dir;
        HistoryStore store;
        QVERIFY(store.open(dir.path()));
        for (int i = 1; i <= 25; ++i) {
            HistoryEntry e = simpleEntry(i);
            QVERIFY(store.add(e, i % 5 == 0 ? QByteArray() : smallPng(i)));
        }
        QCOMPARE(ids(store.recent(10)), range(16, 25));
        QCOMPARE(ids(store.recent(10, 16)), range(6, 15));
        QCOMPARE(ids(store.recent(10, 6)), range(1, 5));
        QCOMPARE(ids(store.recent(10, 1)), QList<qint64>());
        QCOMPARE(ids(store.recent(-1)), range(1, 25));
        QCOMPARE(ids(store.recent(0)), QList<qint64>());
        QVERIFY(store.remove(20));
        QVERIFY(store.remove(15));
        QList<qint64> expected = range(14, 25);
        expected.removeAll(15);
        expected.removeAll(20);
        QCOMPARE(ids(store.recent(10)), expected);
        QCOMPARE(ids(store.recent(3, 14)), range(11, 13));
    }

    void searchByText() {
        QTemporaryDir dir;
        HistoryStore store;
        QVERIFY(store.open(dir.path()));
        const QStringList prompts = {
            QStringLiteral("100% cotton shirt"),
            QStringLiteral("snake_case sign"),
            QStringLiteral("a fox's \"den\""),
            QStringLiteral("Füchse im Schnee"),
            QStringLiteral("ZWEI FÜCHSE"),
            QStringLiteral("a plain shirt"),
            QStringLiteral("snakeXcase and 100 percent"),
            QStringLiteral("Fu\u0308chse, zerlegt geschrieben"),
        };
        for (int i = 0; i < prompts.size(); ++i) {
            HistoryEntry e = simpleEntry(i + 1, prompts[i]);
            QVERIFY(store.add(e, smallPng(i)));
        }
        int counted = 0;
        auto find = [&](const QString& text) {
            HistoryQuery q;
            q.text = text;
            q.newestFirst = false;
            const QList<qint64> found = ids(store.search(q));
            counted += store.count(q) == found.size() ? 1 : 0;
            return found;
        };
        QCOMPARE(find(QStringLiteral("%")), QList<qint64>{1});
        QCOMPARE(find(QStringLiteral("0%")), QList<qint64>{1});
        QCOMPARE(find(QStringLiteral("_")), QList<qint64>{2});
        QCOMPARE(find(QStringLiteral("e_c")), QList<qint64>{2});
        QCOMPARE(find(QStringLiteral("'s \"")), QList<qint64>{3});
        QCOMPARE(find(QStringLiteral("\\")), QList<qint64>());
        QCOMPARE(find(QStringLiteral("füchse")), (QList<qint64>{4, 5, 8}));
        QCOMPARE(find(QStringLiteral("FÜCHSE")), (QList<qint64>{4, 5, 8}));
        QCOMPARE(find(QStringLiteral("SHIRT")), (QList<qint64>{1, 6}));
        QCOMPARE(find(QStringLiteral("nothing like it")), QList<qint64>());
        QCOMPARE(find(QString()), range(1, 8));
        QCOMPARE(counted, 11); // count() agreed with search() every time
    }

    void searchFiltersAndOrder() {
        QTemporaryDir dir;
        HistoryStore store;
        QVERIFY(store.open(dir.path()));
        const QDateTime base(QDate(2024, 1, 1), QTime(12, 0), Qt::UTC);
        // id: created offset (s), model, favourite, image
        struct Row {
            int id;
            int offset;
            const char* model;
            bool favourite;
            bool image;
        };
        const Row rows[] = {
            {1, 50, "sd15", false, true},  {2, 10, "sdxl", true, true},
            {3, 30, "sd15", true, true},   {4, 30, "Anything-v3", false, true},
            {5, 40, "sd15", true, false},  {6, 20, "", false, true},
            {7, 60, "zeta", false, false}, {8, 5, "sdxl", false, true},
        };
        for (const Row& r : rows) {
            HistoryEntry e = simpleEntry(r.id);
            e.created = base.addSecs(r.offset);
            e.model = QString::fromLatin1(r.model);
            e.favourite = r.favourite;
            QVERIFY(store.add(e, r.image ? smallPng(r.id) : QByteArray()));
        }
        HistoryQuery q;
        QCOMPARE(ids(store.search(q)), (QList<qint64>{1, 4, 3, 6, 2, 8}));
        QCOMPARE(store.count(q), 6);
        q.newestFirst = false;
        QCOMPARE(ids(store.search(q)), (QList<qint64>{8, 2, 6, 3, 4, 1}));
        q.withImageOnly = false;
        QCOMPARE(ids(store.search(q)), (QList<qint64>{8, 2, 6, 3, 4, 5, 1, 7}));
        q.limit = 3;
        q.offset = 2;
        QCOMPARE(ids(store.search(q)), (QList<qint64>{6, 3, 4}));
        QCOMPARE(store.count(q), 8);
        q.offset = 7;
        QCOMPARE(ids(store.search(q)), (QList<qint64>{7}));

        HistoryQuery fav;
        fav.favouritesOnly = true;
        QCOMPARE(ids(store.search(fav)), (QList<qint64>{3, 2}));
        fav.withImageOnly = false;
        QCOMPARE(ids(store.search(fav)), (QList<qint64>{5, 3, 2}));
        fav.model = QStringLiteral("sd15");
        QCOMPARE(ids(store.search(fav)), (QList<qint64>{5, 3}));
        QCOMPARE(store.count(fav), 2);

        HistoryQuery model;
        model.model = QStringLiteral("sdxl");
        QCOMPARE(ids(store.search(model)), (QList<qint64>{2, 8}));
        model.model = QStringLiteral("SDXL"); // exact
        QCOMPARE(store.count(model), 0);

        QCOMPARE(store.models(), (QStringList{"Anything-v3", "sd15", "sdxl"}));
        QVERIFY(store.remove(4));
        QCOMPARE(store.models(), (QStringList{"sd15", "sdxl"}));

        // Favourites: changed() only when something changed.
        QSignalSpy changed(&store, &HistoryStore::changed);
        QVERIFY(store.setFavourite(1, true));
        QCOMPARE(changed.count(), 1);
        QVERIFY(store.setFavourite(1, true));
        QCOMPARE(changed.count(), 1);
        QVERIFY(store.entry(1)->favourite);
        QVERIFY(store.setFavourite(1, false));
        QCOMPARE(changed.count(), 2);
        QVERIFY(!store.entry(1)->favourite);
        QVERIFY(!store.setFavourite(99, true));
        QVERIFY(!store.setFavourite(4, true)); // removed
        QCOMPARE(changed.count(), 2);
    }

    void removeRestorePurge() {
        QTemporaryDir dir;
        HistoryStore store;
        QVERIFY(store.open(dir.path()));
        for (int i = 1; i <= 4; ++i) {
            HistoryEntry e = simpleEntry(i);
            QVERIFY(store.add(e, smallPng(i)));
        }
        const QString file2 = store.entry(2)->imageFile;
        QSignalSpy changed(&store, &HistoryStore::changed);
        QVERIFY(store.remove(2));
        QCOMPARE(changed.count(), 1);
        QVERIFY(!store.remove(2));
        QVERIFY(!store.remove(42));
        QCOMPARE(changed.count(), 1);
        QVERIFY(!store.entry(2));
        QCOMPARE(store.png(2), QByteArray());
        QCOMPARE(ids(store.recent(10)), (QList<qint64>{1, 3, 4}));
        QCOMPARE(store.count(HistoryQuery()), 3);
        QVERIFY(QFile::exists(file2)); // until purged

        QVERIFY(store.restore(2));
        QCOMPARE(changed.count(), 2);
        QVERIFY(!store.restore(2));
        QCOMPARE(ids(store.recent(10)), range(1, 4));
        QCOMPARE(store.png(2), smallPng(2));

        QVERIFY(store.remove(2));
        QVERIFY(store.remove(3));
        QCOMPARE(changed.count(), 4);
        QCOMPARE(store.purgeRemoved(), 2);
        QCOMPARE(changed.count(), 5);
        QCOMPARE(store.purgeRemoved(), 0);
        QCOMPARE(changed.count(), 5);
        QVERIFY(!QFile::exists(file2));
        QVERIFY(!store.restore(2));
        QCOMPARE(filesIn(dir.filePath(QStringLiteral("images"))), (QStringList{"1.png", "4.png"}));

        // Removed and not purged: the next open() deletes it.
        QVERIFY(store.remove(4));
        store.close();
        QVERIFY(QFile::exists(dir.filePath(QStringLiteral("images/4.png"))));
        QVERIFY(store.open(dir.path()));
        QVERIFY(!QFile::exists(dir.filePath(QStringLiteral("images/4.png"))));
        QVERIFY(!store.restore(4));
        QCOMPARE(ids(store.recent(10)), QList<qint64>{1});
    }

    void removeAllButFavouritesAndDiskUsage() {
        QTemporaryDir dir;
        HistoryStore store;
        QVERIFY(store.open(dir.path()));
        QCOMPARE(store.diskUsage(), databaseBytes(dir.path()));
        qint64 previous = store.diskUsage();
        for (int i = 1; i <= 6; ++i) {
            HistoryEntry e = simpleEntry(i);
            e.favourite = i % 3 == 0;
            const QByteArray png = i == 5 ? QByteArray() : noisePng(40 + i, 30, i);
            QVERIFY(store.add(e, png));
            const qint64 usage = store.diskUsage();
            QCOMPARE(usage, databaseBytes(dir.path()) + pngBytes(dir.path()));
            QVERIFY(usage - previous >= png.size());
            previous = usage;
        }
        const qint64 removedBytes =
            store.entry(1)->imageBytes + store.entry(2)->imageBytes + store.entry(4)->imageBytes;
        const qint64 pngsBefore = pngBytes(dir.path());
        QSignalSpy changed(&store, &HistoryStore::changed);
        QCOMPARE(store.removeAllButFavourites(), 4);
        QCOMPARE(changed.count(), 1);
        QCOMPARE(pngBytes(dir.path()), pngsBefore - removedBytes);
        QCOMPARE(store.diskUsage(), databaseBytes(dir.path()) + pngBytes(dir.path()));
        QCOMPARE(filesIn(dir.filePath(QStringLiteral("images"))), (QStringList{"3.png", "6.png"}));
        QCOMPARE(ids(store.recent(10)), (QList<qint64>{3, 6}));
        QCOMPARE(store.removeAllButFavourites(), 0);
        QCOMPARE(changed.count(), 1);
    }

    void openCleansLeftovers() {
        QTemporaryDir dir;
        HistoryStore store;
        QVERIFY(store.open(dir.path()));
        for (int i = 1; i <= 3; ++i) {
            HistoryEntry e = simpleEntry(i);
            e.recipe = QByteArrayLiteral("{\"steps\":20}");
            QVERIFY(store.add(e, smallPng(i)));
        }
        store.close();
        const QString images = dir.filePath(QStringLiteral("images"));
        auto write = [&](const QString& name, const QByteArray& bytes) {
            QFile f(images + QLatin1Char('/') + name);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(bytes);
        };
        write(QStringLiteral("99.png"), smallPng(9));                   // no row
        write(QStringLiteral("4.png.tmp-12345"), QByteArray(100, 'x')); // interrupted save
        write(QStringLiteral("notes.txt"), "mine");                     // not Daub's
        write(QStringLiteral("holiday.png"), smallPng(1));              // not Daub's either
        QVERIFY(QFile::remove(images + QStringLiteral("/2.png")));      // deleted outside Daub

        QString error;
        QVERIFY2(store.open(dir.path(), &error), qPrintable(error));
        QVERIFY(error.isEmpty());
        QCOMPARE(filesIn(images), (QStringList{"1.png", "3.png", "holiday.png", "notes.txt"}));
        // The row whose PNG went away stays, image-less.
        const auto two = store.entry(2);
        QVERIFY(two);
        QCOMPARE(two->imageFile, QString());
        QCOMPARE(two->imageBytes, 0);
        QCOMPARE(two->recipe, QByteArrayLiteral("{\"steps\":20}"));
        QCOMPARE(store.png(2), QByteArray());
        QCOMPARE(ids(store.recent(10)), range(1, 3));
        QCOMPARE(ids(store.search(HistoryQuery())), (QList<qint64>{3, 1}));
        for (const auto& e : store.recent(10))
            QVERIFY(e.imageFile.isEmpty() || QFileInfo(e.imageFile).isFile());
        QCOMPARE(store.nextId(), 4);
    }

    void secondStoreOnTheSameFolderLeavesFilesAlone() {
        QTemporaryDir dir;
        HistoryStore first, second;
        QVERIFY(first.open(dir.path()));
        HistoryEntry e = simpleEntry(1);
        QVERIFY(first.add(e, smallPng()));
        const QString inFlight = dir.filePath(QStringLiteral("images/2.png.tmp-999"));
        QFile f(inFlight);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.close();
        QVERIFY(second.open(dir.path()));
        QVERIFY(QFile::exists(inFlight));
        QCOMPARE(ids(second.recent(10)), QList<qint64>{1});
        first.close();
        second.close();
        QVERIFY(second.open(dir.path())); // now the only one: it cleans
        QVERIFY(!QFile::exists(inFlight));
    }

    void lockLeftByACrashWithOurPid() {
        // A crashed Daub's lock naming the pid this process has now (as in
        // sandboxes that reuse pids): the store takes it over and cleans.
        QTemporaryDir dir;
        QVERIFY(QDir(dir.path()).mkpath(QStringLiteral("images")));
        const QString lockPath = dir.filePath(QStringLiteral("history.lock"));
        QByteArray lockBytes;
        {
            QLockFile lock(lockPath);
            QVERIFY(lock.tryLock(0));
            QFile f(lockPath);
            QVERIFY(f.open(QIODevice::ReadOnly));
            lockBytes = f.readAll();
        }
        QVERIFY(!QFile::exists(lockPath));
        QFile f(lockPath);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(lockBytes);
        f.close();
        const QString leftover = dir.filePath(QStringLiteral("images/3.png.tmp-77"));
        QFile tmp(leftover);
        QVERIFY(tmp.open(QIODevice::WriteOnly));
        tmp.close();

        HistoryStore store;
        QVERIFY(store.open(dir.path()));
        QVERIFY(!QFile::exists(leftover));
        // Held now: a second store of this process does not clean.
        QVERIFY(tmp.open(QIODevice::WriteOnly));
        tmp.close();
        HistoryStore second;
        QVERIFY(second.open(dir.path()));
        QVERIFY(QFile::exists(leftover));
        second.close();
        store.close();
        QVERIFY(!QFile::exists(lockPath));
    }

    void migratesVersion1() {
        QTemporaryDir dir;
        QVERIFY(QDir(dir.path()).mkpath(QStringLiteral("images")));
        const QString database = dir.filePath(QStringLiteral("history.sqlite"));
        {
            Sql sql(database);
            QVERIFY(sql.ok());
            QVERIFY(sql.exec(QStringLiteral("CREATE TABLE entries ("
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
                                            " image_bytes INTEGER NOT NULL DEFAULT 0)")));
            QVERIFY(sql.exec(QStringLiteral("PRAGMA user_version = 1")));
            QVERIFY(sql.exec(
                QStringLiteral(
                    "INSERT INTO entries (id, created, state, prompt, negative_prompt, recipe, "
                    "parameters, seed, width, height, model, vae, upscaler, elapsed_ms, error, "
                    "favourite, image_file, image_bytes) VALUES "
                    "(3, 1700000000123, 'done', 'Füchse im Schnee', 'unscharf', x'7b7d', 'params', "
                    "42, 32, 24, 'sd15', 'vae.safetensors', '', 1500.25, '', 1, '3.png', %1),"
                    "(5, 1700000005000, 'failed', 'ÆØÅ 日本語', '', NULL, '', -1, 0, 0, 'sd15', "
                    "'', "
                    "'', 0, 'It failed.', 0, '', 0),"
                    "(9, 1700000009000, 'cancelled', 'third', '', NULL, '', 7, 0, 0, '', '', '', "
                    "0, "
                    "'', 0, '', 0)")
                    .arg(smallPng(3).size())));
        }
        QFile png(dir.filePath(QStringLiteral("images/3.png")));
        QVERIFY(png.open(QIODevice::WriteOnly));
        png.write(smallPng(3));
        png.close();

        HistoryStore store;
        QString error;
        QVERIFY2(store.open(dir.path(), &error), qPrintable(error));
        QVERIFY(error.isEmpty());
        QCOMPARE(ids(store.recent(10)), (QList<qint64>{3, 5, 9}));
        const auto three = store.entry(3);
        QCOMPARE(three->prompt, QStringLiteral("Füchse im Schnee"));
        QCOMPARE(three->negativePrompt, QStringLiteral("unscharf"));
        QCOMPARE(three->recipe, QByteArrayLiteral("{}"));
        QCOMPARE(three->created.toMSecsSinceEpoch(), 1700000000123LL);
        QCOMPARE(three->seed, 42);
        QCOMPARE(three->vae, QStringLiteral("vae.safetensors"));
        QCOMPARE(three->elapsedMs, 1500.25);
        QVERIFY(three->favourite);
        QCOMPARE(three->batch, 3);
        QCOMPARE(three->batchIndex, 0);
        QCOMPARE(store.png(3), smallPng(3));
        const auto five = store.entry(5);
        QCOMPARE(five->prompt, QStringLiteral("ÆØÅ 日本語"));
        QCOMPARE(five->state, HistoryEntry::State::Failed);
        QCOMPARE(five->error, QStringLiteral("It failed."));
        QCOMPARE(five->batch, 5);
        QCOMPARE(store.entry(9)->state, HistoryEntry::State::Cancelled);
        QCOMPARE(store.nextId(), 10);
        HistoryQuery q;
        q.text = QStringLiteral("FÜCHSE");
        QCOMPARE(ids(store.search(q)), QList<qint64>{3});
        q.text = QStringLiteral("æøå");
        q.withImageOnly = false;
        QCOMPARE(ids(store.search(q)), QList<qint64>{5});
        store.close();

        Sql sql(database);
        QCOMPARE(sql.scalar(QStringLiteral("PRAGMA user_version")).toInt(), 2);
        QCOMPARE(sql.scalar(QStringLiteral("SELECT COUNT(*) FROM entries WHERE removed = 0 AND "
                                           "batch = id AND batch_index = 0"))
                     .toInt(),
                 3);
        QCOMPARE(sql.scalar(QStringLiteral("SELECT COUNT(*) FROM sqlite_master WHERE type = "
                                           "'index' AND name LIKE 'entries_%'"))
                     .toInt(),
                 3);
        QCOMPARE(sql.scalar(QStringLiteral("PRAGMA journal_mode")).toString(),
                 QStringLiteral("wal"));
    }

    void refusesANewerVersion() {
        QTemporaryDir dir;
        const QString database = dir.filePath(QStringLiteral("history.sqlite"));
        {
            Sql sql(database);
            QVERIFY(sql.exec(QStringLiteral("CREATE TABLE future (x)")));
            QVERIFY(sql.exec(QStringLiteral("PRAGMA user_version = 3")));
        }
        HistoryStore store;
        QString error;
        QVERIFY(!store.open(dir.path(), &error));
        QVERIFY(!store.isOpen());
        QVERIFY2(error.contains(QLatin1String("newer Daub")), qPrintable(error));
        Sql sql(database);
        QCOMPARE(sql.scalar(QStringLiteral("PRAGMA user_version")).toInt(), 3);
        QVERIFY(sql.scalar(QStringLiteral("SELECT COUNT(*) FROM sqlite_master WHERE name = "
                                          "'entries'"))
                    .toInt() == 0);
    }

    void setsADamagedDatabaseAside_data() {
        QTest::addColumn<bool>("keepHeader");
        QTest::newRow("random bytes") << false;
        QTest::newRow("damaged pages") << true;
    }
    void setsADamagedDatabaseAside() {
        QFETCH(bool, keepHeader);
        QTemporaryDir dir;
        const QString database = dir.filePath(QStringLiteral("history.sqlite"));
        {
            HistoryStore store;
            QVERIFY(store.open(dir.path()));
            for (int i = 1; i <= 40; ++i) {
                HistoryEntry e = simpleEntry(i, QString(500, QLatin1Char('p')));
                QVERIFY(store.add(e, i == 1 ? smallPng() : QByteArray()));
            }
        }
        QByteArray damaged;
        {
            QFile f(database);
            QVERIFY(f.open(QIODevice::ReadWrite));
            QByteArray bytes = f.readAll();
            QVERIFY(bytes.size() > 8192);
            QRandomGenerator random(7);
            for (qsizetype i = keepHeader ? 100 : 0; i < bytes.size(); ++i)
                bytes[i] = char(random.generate());
            f.seek(0);
            f.write(bytes);
            damaged = bytes;
        }
        QVERIFY(!QFile::exists(database + QStringLiteral("-wal")) ||
                QFileInfo(database + QStringLiteral("-wal")).size() == 0);

        HistoryStore store;
        QString error;
        QVERIFY(store.open(dir.path(), &error));
        QVERIFY2(error.contains(QLatin1String("set aside")), qPrintable(error));
        const QStringList aside =
            QDir(dir.path()).entryList({QStringLiteral("history.sqlite.broken-*")}, QDir::Files);
        QCOMPARE(aside.size(), 1);
        QVERIFY(error.contains(aside.first()));
        QFile kept(dir.filePath(aside.first()));
        QVERIFY(kept.open(QIODevice::ReadOnly));
        QCOMPARE(kept.readAll(), damaged);
        const QStringList imagesAside =
            QDir(dir.path()).entryList({QStringLiteral("images.broken-*")}, QDir::Dirs);
        QCOMPARE(imagesAside.size(), 1);
        QVERIFY(QFile::exists(dir.filePath(imagesAside.first() + QStringLiteral("/1.png"))));

        // A new, working history.
        QCOMPARE(store.recent(10).size(), 0);
        QCOMPARE(store.nextId(), 1);
        HistoryEntry e = simpleEntry(1);
        QVERIFY(store.add(e, smallPng()));
        store.close();
        QVERIFY(store.open(dir.path(), &error));
        QVERIFY(error.isEmpty());
        QCOMPARE(ids(store.recent(10)), QList<qint64>{1});
    }

    void rejectsAbsurdInput() {
        QTemporaryDir dir;
        HistoryStore store;
        QVERIFY(store.open(dir.path()));
        QSignalSpy changed(&store, &HistoryStore::changed);
        QString error;
        HistoryEntry e = simpleEntry(1);
        e.recipe = QByteArray((1 << 20) + 1, 'r');
        QVERIFY(!store.add(e, smallPng(), &error));
        QVERIFY2(error.contains(QLatin1String("recipe")), qPrintable(error));
        e = simpleEntry(1);
        e.initThumbnailPng = QByteArray((1 << 20) + 1, 't');
        QVERIFY(!store.add(e, smallPng(), &error));
        QVERIFY2(error.contains(QLatin1String("thumbnail")), qPrintable(error));
        e = simpleEntry(1);
        e.initSha256 = QByteArray(31, 's');
        QVERIFY(!store.add(e, smallPng(), &error));
        QVERIFY2(error.contains(QLatin1String("SHA-256")), qPrintable(error));
        e = simpleEntry(1);
        QVERIFY(!store.add(e, QByteArrayLiteral("GIF89a not a png"), &error));
        QVERIFY2(error.contains(QLatin1String("not a PNG")), qPrintable(error));
        e = simpleEntry(1);
        e.prompt = QString((1 << 20) + 1, QLatin1Char('x'));
        QVERIFY(!store.add(e, smallPng(), &error));
        QVERIFY(error.startsWith(QLatin1String("Daub could not keep this image in its history: ")));
        QCOMPARE(changed.count(), 0);
        QCOMPARE(filesIn(dir.filePath(QStringLiteral("images"))), QStringList());
        QCOMPARE(store.recent(-1).size(), 0);
        // At the limits: kept.
        e = simpleEntry(1);
        e.recipe = QByteArray(1 << 20, 'r');
        e.initThumbnailPng = QByteArray(1 << 20, 't');
        QVERIFY2(store.add(e, smallPng(), &error), qPrintable(error));
        QCOMPARE(store.entry(1)->recipe.size(), 1 << 20);
    }

    void unwritableImagesFolder() {
        QTemporaryDir dir;
        HistoryStore store;
        QVERIFY(store.open(dir.path()));
        // images/ becomes a regular file: every write in it fails, also as root.
        const QString images = dir.filePath(QStringLiteral("images"));
        QVERIFY(QDir(images).removeRecursively());
        QFile blocker(images);
        QVERIFY(blocker.open(QIODevice::WriteOnly));
        blocker.close();
        QSignalSpy changed(&store, &HistoryStore::changed);
        HistoryEntry e = simpleEntry(1);
        QString error;
        QVERIFY(!store.add(e, smallPng(), &error));
        QVERIFY2(error.startsWith(QLatin1String("Daub could not keep this image in its history: "
                                                "the folder ")) &&
                     error.endsWith(QLatin1String("is missing or is not a folder.")),
                 qPrintable(error));
        QCOMPARE(changed.count(), 0);
        QVERIFY(!store.entry(1));
        QCOMPARE(store.recent(-1).size(), 0);
        QCOMPARE(store.nextId(), 1);
        // A failed job has no file to write: still kept.
        HistoryEntry failed = simpleEntry(2);
        failed.state = HistoryEntry::State::Failed;
        QVERIFY2(store.add(failed, QByteArray(), &error), qPrintable(error));
        store.close();
        // open() says it cannot make its folder.
        QVERIFY(!store.open(dir.path(), &error));
        QVERIFY2(error.contains(QLatin1String("history folder")) &&
                     error.endsWith(QLatin1String("a file of that name is in the way.")),
                 qPrintable(error));
    }

    void writeFailingHalfwayKeepsNothing() {
        // The file size limit makes write() fail after the first bytes, as
        // a full disk does (EFBIG instead of ENOSPC), also for root.
        QTemporaryDir dir;
        HistoryStore store;
        QVERIFY(store.open(dir.path()));
        HistoryEntry first = simpleEntry(1);
        QVERIFY(store.add(first, smallPng()));
        const QByteArray big = noisePng(300, 300, 1);
        QVERIFY(big.size() > 200 * 1024);

        rlimit old{};
        QCOMPARE(getrlimit(RLIMIT_FSIZE, &old), 0);
        const auto oldHandler = std::signal(SIGXFSZ, SIG_IGN);
        rlimit limit = old;
        limit.rlim_cur = 128 * 1024;
        QCOMPARE(setrlimit(RLIMIT_FSIZE, &limit), 0);
        HistoryEntry e = simpleEntry(2);
        QString error;
        const bool added = store.add(e, big, &error);
        setrlimit(RLIMIT_FSIZE, &old);
        std::signal(SIGXFSZ, oldHandler);

        QVERIFY(!added);
        QCOMPARE(error, QStringLiteral("Daub could not keep this image in its history: the file "
                                       "would be larger than this system allows."));
        QCOMPARE(filesIn(dir.filePath(QStringLiteral("images"))), QStringList{"1.png"});
        QVERIFY(!store.entry(2));
        QCOMPARE(ids(store.recent(10)), QList<qint64>{1});
        // And it works again once there is room.
        QVERIFY2(store.add(e, big, &error), qPrintable(error));
        QCOMPARE(store.png(2), big);
    }

    void killedWriterNeverLeavesABrokenEntry() {
        QTemporaryDir dir;
        const QByteArray png = noisePng(640, 480, 99); // ~0.9 MB
        QVERIFY(png.size() > 800 * 1024);
        const QString pngPath = dir.filePath(QStringLiteral("noise.png"));
        {
            QFile f(pngPath);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(png);
        }
        const QString folder = dir.filePath(QStringLiteral("history"));
        const QString images = folder + QStringLiteral("/images");
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QString::fromLatin1(kWriterVariable), folder);
        env.insert(QString::fromLatin1(kWriterPngVariable), pngPath);

        QRandomGenerator random(20240309);
        int landed = 0, runs = 0, entriesChecked = 0;
        qint64 previousNext = 0;
        QElapsedTimer clock;
        clock.start();
        // 40 kills, or fewer (at least 20) when a busy machine makes them slow.
        for (; runs < 40 && (runs < 20 || clock.elapsed() < 12000); ++runs) {
            QProcess writer;
            writer.setProcessEnvironment(env);
            writer.setProcessChannelMode(QProcess::ForwardedErrorChannel);
            writer.start(QCoreApplication::applicationFilePath(), {});
            QVERIFY(writer.waitForStarted(5000));
            QVERIFY2(writer.waitForReadyRead(10000), "the writer did not open the history");
            QCOMPARE(writer.readLine(), QByteArray("open\n"));
            QTest::qSleep(int(random.bounded(20, 300)));
            QCOMPARE(writer.state(), QProcess::Running);
            writer.kill();
            QVERIFY(writer.waitForFinished(5000));

            // Before open(): rows point only at complete files; count what
            // the kill interrupted (temporary files, PNGs without a row).
            QSet<QString> rowFiles;
            {
                Sql sql(folder + QStringLiteral("/history.sqlite"));
                QVERIFY(sql.ok());
                for (const auto& row : sql.rows(QStringLiteral(
                         "SELECT image_file, image_bytes FROM entries WHERE image_file <> ''"))) {
                    const QString name = row[0].toString();
                    rowFiles.insert(name);
                    QCOMPARE(QFileInfo(images + QLatin1Char('/') + name).size(),
                             row[1].toLongLong());
                }
            }
            bool interrupted = false;
            for (const QString& name : filesIn(images))
                if (name.contains(QLatin1String(".tmp-")) || !rowFiles.contains(name))
                    interrupted = true;
            landed += interrupted ? 1 : 0;

            HistoryStore store;
            QString error;
            QVERIFY2(store.open(folder, &error), qPrintable(error));
            QVERIFY(error.isEmpty());
            {
                Sql sql(folder + QStringLiteral("/history.sqlite"));
                QCOMPARE(sql.scalar(QStringLiteral("PRAGMA integrity_check")).toString(),
                         QStringLiteral("ok"));
            }
            HistoryQuery all;
            all.withImageOnly = false;
            all.limit = -1;
            QSet<QString> kept;
            for (const HistoryEntry& e : store.search(all)) {
                if (e.state != HistoryEntry::State::Done) {
                    QCOMPARE(e.imageFile, QString());
                    continue;
                }
                QVERIFY2(!e.imageFile.isEmpty(), "a done entry lost its image");
                QFile f(e.imageFile);
                QVERIFY(f.open(QIODevice::ReadOnly));
                const QByteArray bytes = f.readAll();
                QCOMPARE(bytes.size(), e.imageBytes);
                QVERIFY(bytes == png);
                ++entriesChecked;
                kept.insert(QFileInfo(e.imageFile).fileName());
            }
            // The last entry of each run is decoded in full.
            const auto last = store.recent(1);
            if (!last.isEmpty() && !last.first().imageFile.isEmpty())
                QVERIFY(!QImage(last.first().imageFile).isNull());
            const QStringList after = filesIn(images);
            QCOMPARE(QSet<QString>(after.begin(), after.end()), kept);
            QVERIFY(store.nextId() >= previousNext);
            previousNext = store.nextId();
        }
        qInfo("%d kills in %lld ms, %d interrupted a save or a purge, %d images checked, "
              "next id %lld",
              runs, qint64(clock.elapsed()), landed, entriesChecked, previousNext);
        QVERIFY2(landed > 0, "no kill landed during a save: the test proves nothing");
        QVERIFY(previousNext > runs);
    }
};

int main(int argc, char** argv) {
    QCoreApplication app(argc, argv);
    if (qEnvironmentVariableIsSet(kWriterVariable))
        return runWriter();
    TestHistoryStore test;
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&test, argc, argv);
}

#include "test_historystore.moc"
