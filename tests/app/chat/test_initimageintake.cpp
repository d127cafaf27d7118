// InitImageIntake: which image a drop or the clipboard carries
// (pickImageSource, pure) and the intake of it (decode off the GUI thread,
// the store reference, notices).
#include "chat/initimageintake.h"
#include "storage/pngmetadata.h"
#include "testsupport.h"

#include <QMimeData>
#include <QSignalSpy>
#include <QtTest/QtTest>

using namespace daub;

namespace {

QVariantMap drop(QVariantMap data = {}, QVariantList urls = {}, QString html = {},
                 QString text = {}) {
    return {{QStringLiteral("data"), data},
            {QStringLiteral("urls"), urls},
            {QStringLiteral("html"), html},
            {QStringLiteral("text"), text}};
}

} // namespace

class TestInitImageIntake : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void picksTheBestSource() {
        const QUrl file = QUrl::fromLocalFile(QStringLiteral("/tmp/a.png"));
        const QUrl web(QStringLiteral("https://example.org/b.jpg"));
        // Image bytes beat everything.
        ImageSource s = pickImageSource(
            drop({{QStringLiteral("image/png"), QByteArray("png")}}, {web, file}));
        QCOMPARE(s.kind, ImageSource::Kind::Data);
        QCOMPARE(s.data, QByteArray("png"));
        // A local file beats a web address, whatever the order.
        s = pickImageSource(drop({}, {web, file}));
        QCOMPARE(s.kind, ImageSource::Kind::Url);
        QCOMPARE(s.url, file);
        s = pickImageSource(drop({}, {web}));
        QCOMPARE(s.url, web);
        // Only HTML: its <img>.
        s = pickImageSource(drop({}, {}, QStringLiteral("<p><IMG alt='x' src='https://e.org/c.webp'></p>")));
        QCOMPARE(s.url, QUrl(QStringLiteral("https://e.org/c.webp")));
        // Text that is an address; text that is not.
        s = pickImageSource(drop({}, {}, {}, QStringLiteral("  https://e.org/d.png ")));
        QCOMPARE(s.url, QUrl(QStringLiteral("https://e.org/d.png")));
        QCOMPARE(pickImageSource(drop({}, {}, {}, QStringLiteral("a red fox"))).kind,
                 ImageSource::Kind::None);
        QCOMPARE(pickImageSource(drop({}, {}, {}, QStringLiteral("https://a\nhttps://b"))).kind,
                 ImageSource::Kind::None);
        // Any other URL is still taken (opening it says why it fails).
        s = pickImageSource(drop({}, {QUrl(QStringLiteral("ftp://e.org/e.png"))}));
        QCOMPARE(s.kind, ImageSource::Kind::Url);
        QCOMPARE(pickImageSource({}).kind, ImageSource::Kind::None);
    }

    void clipboardDataReadsTheSameWay() {
        QMimeData mime;
        mime.setData(QStringLiteral("image/jpeg"), QByteArray("jpg"));
        mime.setUrls({QUrl::fromLocalFile(QStringLiteral("/tmp/x.png")),
                      QUrl(QStringLiteral("https://e.org/y.png"))});
        mime.setText(QStringLiteral("https://e.org/z.png"));
        ImageSource s = pickImageSource(dropFromMime(mime));
        QCOMPARE(s.kind, ImageSource::Kind::Data);
        QCOMPARE(s.data, QByteArray("jpg"));
        QMimeData files;
        files.setUrls({QUrl(QStringLiteral("https://e.org/y.png")),
                       QUrl::fromLocalFile(QStringLiteral("/tmp/x.png"))});
        s = pickImageSource(dropFromMime(files));
        QCOMPARE(s.url, QUrl::fromLocalFile(QStringLiteral("/tmp/x.png")));
        QMimeData text; // copied text is not a pasted image
        text.setText(QStringLiteral("https://e.org/z.png"));
        QCOMPARE(pickImageSource(dropFromMime(text)).kind, ImageSource::Kind::None);
    }

    void dropDecodesOffTheGuiThreadAndHoldsTheImage() {
        InitImageStore store;
        qint64 now = 0;
        store.setClock([&now] { return now; });
        InitImageIntake intake(&store);
        QSignalSpy changed(&intake, &InitImageIntake::initImageChanged);
        QSignalSpy offered(&intake, &InitImageIntake::parametersOffered);
        ImageParameters p;
        p.prompt = "a castle";
        p.steps = 12;
        p.seed = 7;
        p.width = 64;
        p.height = 48;
        const QByteArray png =
            encodePng(daub::test::testImage(64, 48), {{"parameters", a1111::format(p)}});
        QVERIFY(intake.dropImage(drop({{QStringLiteral("image/png"), png}})));
        QTRY_COMPARE(changed.count(), 1);
        QVERIFY(!intake.decoding());
        QVERIFY(intake.hasInitImage());
        QCOMPARE(intake.initImageWidth(), 64);
        QCOMPARE(intake.initImageHeight(), 48);
        QVERIFY(store.resolve(intake.initImageRef()));
        QCOMPARE(offered.count(), 1);
        // A result of Daub's becomes the init image without the offer.
        intake.setInitImageFromResult(encodePng(daub::test::testImage(32, 32), {{"parameters", a1111::format(p)}}),
                                      QStringLiteral("the image of seed 7"));
        QTRY_COMPARE(changed.count(), 2);
        QCOMPARE(intake.initImageWidth(), 32);
        QCOMPARE(offered.count(), 1);
        const QString ref = intake.initImageRef();
        intake.clearInitImage();
        QVERIFY(!intake.hasInitImage());
        QVERIFY(store.resolve(ref)); // released: its TTL runs, nobody else holds it
        now += store.ttl() + 1;
        QVERIFY(!store.resolve(ref));
    }

    void badDropsAreASentence() {
        InitImageStore store;
        InitImageIntake intake(&store);
        QSignalSpy notices(&intake, &InitImageIntake::notice);
        QVERIFY(!intake.dropImage(drop({}, {}, {}, QStringLiteral("just words"))));
        QCOMPARE(notices.count(), 1);
        QVERIFY(intake.dropImage(drop({{QStringLiteral("image/png"), QByteArray("not a png")}})));
        QTRY_COMPARE(notices.count(), 2);
        QVERIFY(!notices.last().first().toString().isEmpty());
        QVERIFY(!intake.hasInitImage());
    }
};

QTEST_MAIN(TestInitImageIntake)
#include "test_initimageintake.moc"
