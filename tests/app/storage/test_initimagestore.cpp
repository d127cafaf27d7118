// InitImageStore: references held by the UI stay; unheld ones expire after
// the TTL (an injected clock moves time); equal pixels hash equal.
#include "storage/initimagestore.h"
#include "testsupport.h"

#include <QSignalSpy>
#include <QtTest/QtTest>

using daub::InitImage;
using daub::InitImageStore;

class TestInitImageStore : public QObject {
    Q_OBJECT
private:
    qint64 now = 0;

    InitImage image(int hue = 0) {
        InitImage i;
        i.image = daub::test::testImage(32, 24, hue);
        i.name = QStringLiteral("test.png");
        return i;
    }

private Q_SLOTS:
    void init() { now = 1000; }

    void defaultTtlIsTheSeeds() { QCOMPARE(InitImageStore().ttl(), 300'000); }

    void heldReferenceNeverExpires() {
        InitImageStore store;
        store.setClock([this] { return now; });
        const QString ref = store.put(image()); // held by the caller
        now += 10 * 300'000;
        QVERIFY(store.resolve(ref).has_value());
        QCOMPARE(store.purgeExpired(), 0);
    }

    void unheldReferenceExpiresAfterTtl() {
        InitImageStore store;
        store.setClock([this] { return now; });
        QSignalSpy expired(&store, &InitImageStore::expired);
        const QString ref = store.put(image());
        store.release(ref);
        now += 299'999;
        QVERIFY(store.resolve(ref).has_value());
        QVERIFY(!store.image(ref).isNull());
        now += 1;
        QVERIFY(!store.resolve(ref).has_value());
        QCOMPARE(expired.count(), 1);
        QCOMPARE(expired.at(0).at(0).toString(), ref);
        QVERIFY(store.image(ref).isNull());
        QVERIFY(!store.hold(ref)); // too late to hold it again
    }

    void holdAgainRestartsNothingUntilReleased() {
        InitImageStore store;
        store.setClock([this] { return now; });
        const QString ref = store.put(image());
        QVERIFY(store.hold(ref)); // two holders
        store.release(ref);
        now += 400'000;
        QVERIFY(store.resolve(ref).has_value()); // one holder left
        store.release(ref);
        now += 300'000;
        QVERIFY(!store.resolve(ref).has_value());
    }

    void purgeDropsOnlyExpired() {
        InitImageStore store;
        store.setClock([this] { return now; });
        const QString a = store.put(image(1));
        const QString b = store.put(image(2));
        store.release(a);
        now += 300'000;
        QCOMPARE(store.purgeExpired(), 1);
        QCOMPARE(store.count(), 1);
        QVERIFY(store.resolve(b).has_value());
    }

    void customTtl() {
        InitImageStore store;
        store.setClock([this] { return now; });
        store.setTtl(50);
        const QString ref = store.put(image());
        store.release(ref);
        now += 50;
        QVERIFY(!store.resolve(ref).has_value());
    }

    void pixelHash() {
        const QImage a = daub::test::testImage(32, 24, 1);
        QImage b = a.copy();
        QCOMPARE(InitImageStore::pixelHash(a), InitImageStore::pixelHash(b));
        QCOMPARE(InitImageStore::pixelHash(a).size(), 32); // SHA-256
        b.setPixelColor(5, 5, QColor(1, 2, 3));
        QVERIFY(InitImageStore::pixelHash(a) != InitImageStore::pixelHash(b));
        // Same bytes, other shape: another image.
        const QImage wide = a.copy(0, 0, 32, 12);
        QImage tall(16, 24, QImage::Format_RGB888);
        QVERIFY(InitImageStore::pixelHash(wide) != InitImageStore::pixelHash(tall));
        // The format a QImage happens to have does not matter.
        QCOMPARE(InitImageStore::pixelHash(a.convertToFormat(QImage::Format_ARGB32)),
                 InitImageStore::pixelHash(a));
    }

    void putFillsTheHash() {
        InitImageStore store;
        const QString ref = store.put(image(3));
        QCOMPARE(store.resolve(ref)->sha256, InitImageStore::pixelHash(image(3).image));
    }
};

QTEST_GUILESS_MAIN(TestInitImageStore)
#include "test_initimagestore.moc"
