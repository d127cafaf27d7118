// GalleryModel over a real HistoryStore in a temporary folder: the roles,
// the filters (text, favourites, model) and the sort, paging with
// fetchMore, reload on the store's changes (coalesced, merged without a
// reset), favourites, soft delete with undo and the purge after the undo
// window, "delete all but favourites" and the disk usage.
#include "gallery/gallerymodel.h"
#include "storage/historystore.h"
#include "testsupport.h"

#include <QAbstractItemModelTester>
#include <QBuffer>
#include <QFileInfo>
#include <QRandomGenerator>
#include <QSignalSpy>
#include <QtTest/QtTest>

using daub::GalleryModel;
using daub::HistoryEntry;
using daub::HistoryStore;

namespace {

QByteArray pngOf(const QImage& image) {
    QByteArray bytes;
    QBuffer buffer(&bytes);
    buffer.open(QIODevice::WriteOnly);
    image.save(&buffer, "PNG");
    return bytes;
}

/// Noise does not compress: about 48 KiB, far more than the database
/// pages a removal writes to the WAL (so removals shrink the disk usage).
QByteArray largePng(quint32 seed) {
    QImage image(128, 128, QImage::Format_RGB888);
    QRandomGenerator random(seed);
    for (int y = 0; y < image.height(); ++y)
        random.fillRange(reinterpret_cast<quint32*>(image.scanLine(y)), (image.width() * 3) / 4);
    return pngOf(image);
}

QList<qint64> idsOf(const GalleryModel& model) {
    QList<qint64> ids;
    for (int row = 0; row < model.rowCount(); ++row)
        ids.append(model.data(model.index(row), GalleryModel::IdRole).toLongLong());
    return ids;
}

} // namespace

class TestGalleryModel : public QObject {
    Q_OBJECT
private:
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<HistoryStore> m_store;
    QDateTime m_start = QDateTime::fromSecsSinceEpoch(1700000000, Qt::UTC);

    /// Entry `id`, created `id` minutes after m_start (so date order is id
    /// order), with an image unless `withImage` is false.
    void add(qint64 id, const QString& prompt, const QString& model = QStringLiteral("sd15"),
             bool favourite = false, bool withImage = true, bool large = false) {
        HistoryEntry e;
        e.id = id;
        e.prompt = prompt;
        e.negativePrompt = QStringLiteral("blurry");
        e.model = model;
        e.width = 24;
        e.height = 16;
        e.seed = 1000 + id;
        e.parameters = prompt + QStringLiteral("\nSteps: 10, Seed: ") + QString::number(1000 + id);
        e.created = m_start.addSecs(60 * id);
        e.favourite = favourite;
        e.state = withImage ? HistoryEntry::State::Done : HistoryEntry::State::Failed;
        QString error;
        const QByteArray png = !withImage ? QByteArray()
                               : large    ? largePng(quint32(id))
                                          : pngOf(daub::test::testImage(24, 16, int(id) * 17));
        if (large)
            e.width = e.height = 128;
        QVERIFY2(m_store->add(e, png, &error), qPrintable(error));
    }
    /// Lets the model's zero timer run.
    static void settle() {
        QCoreApplication::processEvents();
        QCoreApplication::processEvents();
    }

private Q_SLOTS:
    void init() {
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
        m_store = std::make_unique<HistoryStore>();
        QString error;
        QVERIFY2(m_store->open(m_dir->filePath(QStringLiteral("history")), &error),
                 qPrintable(error));
    }
    void cleanup() {
        m_store.reset();
        m_dir.reset();
    }

    void rolesOfAnEntry() {
        add(1, QStringLiteral("a red fox"));
        add(2, QStringLiteral("a failed one"), QStringLiteral("sd15"), false, false);
        GalleryModel model(m_store.get());
        QAbstractItemModelTester tester(&model);
        model.refresh();
        QCOMPARE(model.rowCount(), 1); // only entries with an image
        QCOMPARE(model.count(), 1);
        QCOMPARE(model.totalCount(), 1);
        const QModelIndex at = model.index(0);
        QCOMPARE(model.data(at, GalleryModel::IdRole).toLongLong(), 1);
        const QUrl source(model.data(at, GalleryModel::ImageSourceRole).toString());
        QVERIFY(source.isLocalFile());
        QVERIFY(QFileInfo::exists(source.toLocalFile()));
        QCOMPARE(QImage(source.toLocalFile()).size(), QSize(24, 16));
        QCOMPARE(model.data(at, GalleryModel::PromptRole).toString(), QStringLiteral("a red fox"));
        QCOMPARE(model.data(at, GalleryModel::NegativePromptRole).toString(),
                 QStringLiteral("blurry"));
        QCOMPARE(model.data(at, GalleryModel::ModelRole).toString(), QStringLiteral("sd15"));
        QCOMPARE(model.data(at, GalleryModel::CreatedRole).toDateTime(), m_start.addSecs(60));
        QVERIFY(!model.data(at, GalleryModel::CreatedTextRole).toString().isEmpty());
        QCOMPARE(model.data(at, GalleryModel::FavouriteRole).toBool(), false);
        QCOMPARE(model.data(at, GalleryModel::WidthRole).toInt(), 24);
        QCOMPARE(model.data(at, GalleryModel::HeightRole).toInt(), 16);
        QCOMPARE(model.data(at, GalleryModel::SeedRole).toLongLong(), 1001);
        QVERIFY(model.data(at, GalleryModel::ParametersRole)
                    .toString()
                    .contains(QStringLiteral("Seed: 1001")));
        const QVariantMap map = model.get(0);
        QCOMPARE(map.value(QStringLiteral("prompt")).toString(), QStringLiteral("a red fox"));
        QCOMPARE(map.value(QStringLiteral("entryId")).toLongLong(), 1);
        QVERIFY(model.get(1).isEmpty());
        QCOMPARE(model.rowOf(1), 0);
        QCOMPARE(model.rowOf(2), -1);
    }

    void loadsOnItsOwnAfterConstruction() {
        add(1, QStringLiteral("one"));
        GalleryModel model(m_store.get());
        QCOMPARE(model.rowCount(), 0); // the first query waits for the event loop
        QTRY_COMPARE(model.rowCount(), 1);
    }

    void filtersAndSorts() {
        add(1, QStringLiteral("A red FOX in the snow"), QStringLiteral("sd15"));
        add(2, QStringLiteral("a lighthouse at dusk"), QStringLiteral("sd21"), true);
        add(3, QStringLiteral("two foxes"), QStringLiteral("sd21"));
        add(4, QStringLiteral("Füchse im Wald"), QStringLiteral("sd15"), true);
        GalleryModel model(m_store.get());
        QAbstractItemModelTester tester(&model);
        model.refresh();
        QCOMPARE(idsOf(model), (QList<qint64>{4, 3, 2, 1})); // newest first
        QCOMPARE(model.models(), (QStringList{QStringLiteral("sd15"), QStringLiteral("sd21")}));
        QCOMPARE(model.favouriteCount(), 2);

        QSignalSpy countSpy(&model, &GalleryModel::countChanged);
        model.setSearchText(QStringLiteral("fox"));
        settle();
        QCOMPARE(idsOf(model), (QList<qint64>{3, 1}));
        QCOMPARE(model.count(), 2);
        QCOMPARE(model.totalCount(), 4);
        QVERIFY(countSpy.count() >= 1);

        model.setSearchText(QStringLiteral("FÜCHSE"));
        settle();
        QCOMPARE(idsOf(model), (QList<qint64>{4}));

        model.setSearchText(QString());
        model.setFavouritesOnly(true);
        settle();
        QCOMPARE(idsOf(model), (QList<qint64>{4, 2}));

        model.setModel(QStringLiteral("sd21"));
        settle();
        QCOMPARE(idsOf(model), (QList<qint64>{2}));

        model.setFavouritesOnly(false);
        model.setNewestFirst(false);
        settle();
        QCOMPARE(idsOf(model), (QList<qint64>{2, 3}));

        model.setSearchText(QStringLiteral("nothing like this"));
        settle();
        QCOMPARE(model.rowCount(), 0);
        QCOMPARE(model.count(), 0);
        QCOMPARE(model.totalCount(), 4); // "Nothing matches", not "No images yet"
    }

    void filterChangesQueryOnce() {
        add(1, QStringLiteral("one"));
        GalleryModel model(m_store.get());
        model.refresh();
        QSignalSpy resets(&model, &QAbstractItemModel::modelReset);
        model.setSearchText(QStringLiteral("o"));
        model.setFavouritesOnly(true);
        model.setModel(QStringLiteral("sd15"));
        model.setNewestFirst(false);
        QCOMPARE(resets.count(), 0);
        settle();
        QCOMPARE(resets.count(), 1);
    }

    void pagesWithFetchMore() {
        const int page = 10;
        const int n = page * 2 + 5;
        for (int id = 1; id <= n; ++id)
            add(id, QStringLiteral("image %1").arg(id));
        GalleryModel model(m_store.get());
        QCOMPARE(model.pageSize(), GalleryModel::kPage);
        model.setPageSize(page);
        model.refresh();
        QCOMPARE(model.count(), n);
        QCOMPARE(model.rowCount(), page);
        QVERIFY(model.canFetchMore({}));
        model.fetchMore({});
        QCOMPARE(model.rowCount(), page * 2);
        model.fetchMore({});
        QCOMPARE(model.rowCount(), n);
        QVERIFY(!model.canFetchMore({}));
        QList<qint64> expected;
        for (qint64 id = n; id >= 1; --id)
            expected.append(id);
        QCOMPARE(idsOf(model), expected);

        // A reload after a change keeps every page loaded (the grid keeps
        // its place); a new filter starts again at one page.
        add(n + 1, QStringLiteral("image new"));
        settle();
        QCOMPARE(model.rowCount(), n + 1);
        QCOMPARE(model.data(model.index(0), GalleryModel::IdRole).toLongLong(), n + 1);
        model.setNewestFirst(false);
        settle();
        QCOMPARE(model.rowCount(), page);
        QCOMPARE(model.data(model.index(0), GalleryModel::IdRole).toLongLong(), 1);
    }

    void pageAfterAnAdditionSkipsWhatIsShown() {
        const int page = 10;
        for (int id = 1; id <= page + 3; ++id)
            add(id, QStringLiteral("image %1").arg(id));
        GalleryModel model(m_store.get());
        QCOMPARE(model.pageSize(), GalleryModel::kPage);
        model.setPageSize(page);
        model.refresh();
        // A new image arrives and the grid asks for the next page before
        // the reload: the shifted page must not show an image twice.
        add(page + 4, QStringLiteral("newest"));
        model.fetchMore({});
        QList<qint64> ids = idsOf(model);
        QCOMPARE(QSet<qint64>(ids.begin(), ids.end()).size(), ids.size());
        settle();
        ids = idsOf(model);
        QCOMPARE(ids.size(), page + 4);
        QCOMPARE(ids.first(), page + 4);
        QCOMPARE(ids.last(), 1);
    }

    void reloadsOnceForAStormOfChanges() {
        add(1, QStringLiteral("one"));
        GalleryModel model(m_store.get());
        QAbstractItemModelTester tester(&model);
        model.refresh();
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        QSignalSpy resets(&model, &QAbstractItemModel::modelReset);
        QSignalSpy disk(&model, &GalleryModel::diskUsageChanged);
        for (int id = 2; id <= 6; ++id)
            add(id, QStringLiteral("more %1").arg(id));
        QCOMPARE(model.rowCount(), 1); // not yet: one reload after the storm
        settle();
        QCOMPARE(idsOf(model), (QList<qint64>{6, 5, 4, 3, 2, 1}));
        QCOMPARE(resets.count(), 0); // merged: the grid keeps its place
        QCOMPARE(inserted.count(), 5);
        QCOMPARE(disk.count(), 1);
        QCOMPARE(model.count(), 6);
    }

    void newModelsAppearInThePicker() {
        add(1, QStringLiteral("one"));
        GalleryModel model(m_store.get());
        model.refresh();
        QSignalSpy spy(&model, &GalleryModel::modelsChanged);
        add(2, QStringLiteral("two"), QStringLiteral("anything-v3"));
        settle();
        QCOMPARE(spy.count(), 1);
        QCOMPARE(model.models(),
                 (QStringList{QStringLiteral("anything-v3"), QStringLiteral("sd15")}));
    }

    void favourites() {
        add(1, QStringLiteral("one"));
        add(2, QStringLiteral("two"));
        GalleryModel model(m_store.get());
        QAbstractItemModelTester tester(&model);
        model.refresh();
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        QVERIFY(model.setFavourite(1, true));
        QCOMPARE(changed.count(), 1); // shown at once
        QCOMPARE(model.data(model.index(1), GalleryModel::FavouriteRole).toBool(), true);
        QVERIFY(m_store->entry(1)->favourite);
        settle();
        QCOMPARE(changed.count(), 1);           // the reload agrees: nothing more
        QVERIFY(!model.setFavourite(99, true)); // unknown id

        model.setFavouritesOnly(true);
        settle();
        QCOMPARE(idsOf(model), (QList<qint64>{1}));
        // Unstarring in the favourites view takes it out of the view.
        QVERIFY(model.setFavourite(1, false));
        settle();
        QCOMPARE(model.rowCount(), 0);
        QCOMPARE(model.count(), 0);
    }

    void removeAndUndo() {
        add(1, QStringLiteral("one"));
        add(2, QStringLiteral("two"));
        add(3, QStringLiteral("three"));
        GalleryModel model(m_store.get());
        QAbstractItemModelTester tester(&model);
        model.refresh();
        QSignalSpy undoSpy(&model, &GalleryModel::undoChanged);
        QVERIFY(!model.canUndo());
        QVERIFY(!model.undo());

        QVERIFY(model.remove(2));
        QVERIFY(model.canUndo());
        QCOMPARE(model.undoText(), QStringLiteral("Deleted 1 image"));
        settle();
        QCOMPARE(idsOf(model), (QList<qint64>{3, 1}));
        QCOMPARE(model.count(), 2);
        QVERIFY(!m_store->entry(2)); // hidden
        const QString png = m_dir->filePath(QStringLiteral("history/images/2.png"));
        QVERIFY(QFileInfo::exists(png)); // but not gone

        QVERIFY(model.remove(3)); // close together: undone together
        QCOMPARE(model.undoText(), QStringLiteral("Deleted 2 images"));
        QVERIFY(!model.remove(3)); // already removed
        settle();
        QCOMPARE(idsOf(model), (QList<qint64>{1}));

        QVERIFY(model.undo());
        QVERIFY(!model.canUndo());
        settle();
        QCOMPARE(idsOf(model), (QList<qint64>{3, 2, 1}));
        QVERIFY(m_store->entry(2));
        QVERIFY(undoSpy.count() >= 3);
    }

    void removalIsPurgedAfterTheUndoWindow() {
        add(1, QStringLiteral("one"), QStringLiteral("sd15"), false, true, true);
        add(2, QStringLiteral("two"));
        GalleryModel model(m_store.get());
        model.setUndoWindow(std::chrono::milliseconds(50));
        model.refresh();
        const qint64 before = model.diskUsage();
        QVERIFY(model.remove(1));
        const QString png = m_dir->filePath(QStringLiteral("history/images/1.png"));
        QVERIFY(QFileInfo::exists(png));
        QTRY_VERIFY(!model.canUndo());
        QVERIFY(!QFileInfo::exists(png)); // purged: the file is gone
        QVERIFY(!model.undo());
        settle();
        QCOMPARE(idsOf(model), (QList<qint64>{2}));
        QVERIFY(!m_store->restore(1)); // for good
        QVERIFY(model.diskUsage() < before);
    }

    void pendingRemovalIsPurgedWithTheModel() {
        add(1, QStringLiteral("one"));
        const QString png = m_dir->filePath(QStringLiteral("history/images/1.png"));
        {
            GalleryModel model(m_store.get());
            model.refresh();
            QVERIFY(model.remove(1));
            QVERIFY(QFileInfo::exists(png));
        }
        QVERIFY(!QFileInfo::exists(png));
        QVERIFY(!m_store->restore(1));
    }

    void removeAllButFavouritesAndDiskUsage() {
        add(1, QStringLiteral("one"), QStringLiteral("sd15"), true);
        add(2, QStringLiteral("two"), QStringLiteral("sd15"), false, true, true);
        add(3, QStringLiteral("three"), QStringLiteral("sd21"), false, true, true);
        add(4, QStringLiteral("four"), QStringLiteral("sd15"), true);
        GalleryModel model(m_store.get());
        QAbstractItemModelTester tester(&model);
        model.refresh();
        const qint64 before = model.diskUsage();
        QCOMPARE(before, m_store->diskUsage());
        QVERIFY(before > 0);
        QCOMPARE(model.diskUsageText(), GalleryModel::formatBytes(before));
        QCOMPARE(model.folder(), m_store->folder());

        QVERIFY(model.remove(4)); // waiting for undo: purged first, favourite or not
        QCOMPARE(model.removeAllButFavourites(), 2);
        QVERIFY(!model.canUndo());
        settle();
        QCOMPARE(idsOf(model), (QList<qint64>{1}));
        QCOMPARE(model.models(), QStringList{QStringLiteral("sd15")});
        QCOMPARE(model.favouriteCount(), 1);
        QCOMPARE(model.totalCount(), 1);
        QVERIFY(model.diskUsage() < before);
        QCOMPARE(model.diskUsage(), m_store->diskUsage());
        QVERIFY(!QFileInfo::exists(m_dir->filePath(QStringLiteral("history/images/2.png"))));
        QVERIFY(!QFileInfo::exists(m_dir->filePath(QStringLiteral("history/images/4.png"))));
        QVERIFY(QFileInfo::exists(m_dir->filePath(QStringLiteral("history/images/1.png"))));
    }

    void formatsBytes() {
        const QLocale c = QLocale::c();
        QLocale::setDefault(c);
        QCOMPARE(GalleryModel::formatBytes(12345678), QStringLiteral("12.3 MB"));
        QCOMPARE(GalleryModel::formatBytes(0), QStringLiteral("0 bytes"));
        QCOMPARE(GalleryModel::formatBytes(1500), QStringLiteral("1.5 kB"));
    }

    void aStoreOpenedLater() {
        HistoryStore later;
        GalleryModel model(&later);
        model.refresh();
        QCOMPARE(model.rowCount(), 0);
        QCOMPARE(model.count(), 0);
        QVERIFY(!model.remove(1));
        QVERIFY(!model.setFavourite(1, true));
        QCOMPARE(model.removeAllButFavourites(), 0);
        add(1, QStringLiteral("in the other store"));
        m_store.reset(); // releases the folder's lock
        QVERIFY(later.open(m_dir->filePath(QStringLiteral("history"))));
        model.refresh();
        QCOMPARE(model.rowCount(), 1);
        QVERIFY(model.diskUsage() > 0);
    }
};

QTEST_GUILESS_MAIN(TestGalleryModel)
#include "test_gallerymodel.moc"
