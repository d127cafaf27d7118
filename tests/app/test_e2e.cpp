// End to end: the real window (Application, as main.cpp builds it) with
// the real engine and the tiny SD 1.5 fixture. (Built a second time as
// test_window with DAUB_FAKE_ENGINE: the same flow with FakeBackend, so
// the window's wiring is tested where libtorch is not built.) Drops golden/init_64x64.png
// on the chat as a file drop, sets the strength to 0.6 with the keyboard,
// types a prompt, sends with Ctrl+Enter, waits for the finished message,
// and checks the PNG: it decodes, has the A1111 parameters and the right
// size. Screenshots of the window go to <build>/artifacts/.
#include "storage/appsettings.h"
#include "application.h"
#include "chat/chatcontroller.h"
#include "gallery/gallerymodel.h"
#include "generation/generationcore.h"
#include "generation/modelfinder.h"
#include "server/apiservice.h"
#include "imageproviders.h"
#include "storage/pngmetadata.h"
#include "testsupport.h"
#ifdef DAUB_FAKE_ENGINE
#include "fakebackend.h"
#endif

#include <QBuffer>
#include <QClipboard>
#include <QDir>
#include <QGuiApplication>
#include <QImageReader>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMimeData>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QTcpServer>
#include <QQmlApplicationEngine>
#include <QQmlContext>
#include <QQmlProperty>
#include <QQuickItem>
#include <QQuickWindow>
#include <QStandardPaths>
#include <QtQml/qqmlextensionplugin.h>
#include <QtTest/QtTest>

Q_IMPORT_QML_PLUGIN(Daub_AppPlugin)
Q_IMPORT_QML_PLUGIN(Daub_UiPlugin)

using namespace daub;

class TestEndToEnd : public QObject {
    Q_OBJECT
private:
    QTemporaryDir m_dir;
    std::unique_ptr<Application> m_app;

    /// The item called `name`, searched through the visual tree.
    static QQuickItem* find(QQuickItem* root, const QString& name) {
        if (root->objectName() == name)
            return root;
        for (QQuickItem* child : root->childItems())
            if (QQuickItem* found = find(child, name))
                return found;
        return nullptr;
    }
    static void findAll(QQuickItem* root, const QString& name, QList<QQuickItem*>& out) {
        if (root->objectName() == name)
            out << root;
        for (QQuickItem* child : root->childItems())
            findAll(child, name, out);
    }
    /// The item called `name` that shows on screen (delegates scrolled out
    /// of the chat exist too), the last one in the tree.
    QQuickItem* visibleItem(const char* name) {
        QList<QQuickItem*> all;
        findAll(m_app->window()->contentItem(), QString::fromLatin1(name), all);
        const QRectF window(QPointF(0, 0), QSizeF(m_app->window()->size()));
        QQuickItem* found = nullptr;
        for (QQuickItem* candidate : all) {
            const QPointF centre = candidate->mapToScene(
                QPointF(candidate->width() / 2, candidate->height() / 2));
            if (candidate->isVisible() && window.contains(centre))
                found = candidate;
        }
        return found;
    }
    QQuickItem* item(const char* name) {
        QQuickItem* found = find(m_app->window()->contentItem(), QString::fromLatin1(name));
        if (!found)
            qWarning("no item %s in the window", name);
        return found;
    }
    /// Scrolls the Flickable (a ScrollView's) that holds `target` until the
    /// item is in view, as a user scrolls the options panel.
    static void scrollIntoView(QQuickItem* target) {
        for (QQuickItem* p = target->parentItem(); p; p = p->parentItem()) {
            if (!p->inherits("QQuickFlickable"))
                continue;
            QQuickItem* content = p->property("contentItem").value<QQuickItem*>();
            if (!content)
                return;
            const QPointF at = target->mapToItem(content, QPointF(0, 0));
            const qreal maxY = qMax<qreal>(0, p->property("contentHeight").toReal() - p->height());
            p->setProperty("contentY", qBound<qreal>(0, at.y() - p->height() / 3, maxY));
            return;
        }
    }
    void saveScreenshot(const QString& name) {
        QDir().mkpath(QStringLiteral(DAUB_ARTIFACTS_DIR));
        const QImage shot = m_app->window()->grabWindow();
        QVERIFY(!shot.isNull());
        const QString path = QStringLiteral(DAUB_ARTIFACTS_DIR "/") + name;
        QVERIFY(shot.save(path));
        qInfo("screenshot: %s", qPrintable(path));
    }
    void dropFile(const QString& path) {
        QQuickItem* zone = item("chatDropzone");
        QVERIFY(zone);
        const QPoint at = zone->mapToScene(QPointF(zone->width() / 2, zone->height() / 3)).toPoint();
        QMimeData mime;
        mime.setUrls({QUrl::fromLocalFile(path)});
        QDragEnterEvent enter(at, Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(m_app->window(), &enter);
        QDragMoveEvent move(at, Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(m_app->window(), &move);
        QTRY_VERIFY(zone->property("hovering").toBool());
        QDropEvent drop(at, Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(m_app->window(), &drop);
    }

    /// Clicks the middle of `target` as a user does.
    void click(QQuickItem* target) {
        QVERIFY(target);
        QVERIFY(target->isVisible());
        const QPoint at =
            target->mapToScene(QPointF(target->width() / 2, target->height() / 2)).toPoint();
        QVERIFY(QRect(QPoint(0, 0), m_app->window()->size()).contains(at));
        QTest::mouseMove(m_app->window(), at);
        QTest::mouseClick(m_app->window(), Qt::LeftButton, Qt::NoModifier, at);
    }
    /// The gallery grid's delegate for `row` (created: the row is in view).
    QQuickItem* galleryCell(int row) {
        QQuickItem* grid = item("galleryGrid");
        if (!grid)
            return nullptr;
        QQuickItem* cell = nullptr;
        QMetaObject::invokeMethod(grid, "positionViewAtIndex", Q_ARG(int, row),
                                  Q_ARG(int, 0 /* GridView.Beginning */));
        QMetaObject::invokeMethod(grid, "itemAtIndex", Q_RETURN_ARG(QQuickItem*, cell),
                                  Q_ARG(int, row));
        return cell;
    }
    /// Keeps a finished job in the history, as ChatController does.
    void seedHistory(const QString& prompt, const QString& model, int hue, bool favourite) {
        HistoryStore* history = m_app->history();
        HistoryEntry e;
        e.id = history->nextId();
        e.prompt = prompt;
        e.model = model;
        e.width = 256;
        e.height = 256;
        e.seed = 4000 + hue;
        e.favourite = favourite;
        e.parameters = prompt +
                       QStringLiteral("\nSteps: 12, Sampler: Euler a, CFG scale: 7, Seed: ") +
                       QString::number(e.seed) + QStringLiteral(", Size: 256x256, Model: ") + model;
        QByteArray png;
        QBuffer buffer(&png);
        buffer.open(QIODevice::WriteOnly);
        QVERIFY(test::testImage(256, 256, hue).save(&buffer, "PNG"));
        QString error;
        QVERIFY2(history->add(e, png, &error), qPrintable(error));
        m_app->core()->setHistory(history); // new jobs continue after these ids
    }

    /// The program as users start it, on the test's settings and data folder.
    void startApp() {
        m_app = std::make_unique<Application>(test::scratchSettings(m_dir));
#ifdef DAUB_FAKE_ENGINE
        auto log = std::make_shared<test::FakeLog>();
        log->stepDelayMs = 20;
        m_app->setEngineFactory([log] { return std::make_unique<test::FakeBackend>(log); });
        const QString model = m_dir.filePath(QStringLiteral("tiny-sd15"));
        QDir().mkpath(model);
#else
        m_app->setEngineFactory(&makePipelineBackend);
        const QString model = test::fixture(QStringLiteral("tiny-sd15"));
#endif
        QVERIFY(m_app->start(model));
        QVERIFY(m_app->window());
        m_app->window()->resize(1180, 900);
        QVERIFY(QTest::qWaitForWindowExposed(m_app->window()));
        m_app->window()->requestActivate();
        QVERIFY(QTest::qWaitForWindowActive(m_app->window())); // keys go to the active window
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY2(QFileInfo::exists(test::fixture(QStringLiteral("README.md"))),
                 "fixtures folder missing: set DAUB_FIXTURES");
        QStandardPaths::setTestModeEnabled(true);
        Application::setApplicationIdentity();
        // The history lives in the test's folder, never in the user's.
        qputenv("DAUB_DATA_DIR", m_dir.path().toUtf8());
        startApp();
        m_app->settings()->setSaveFolder(m_dir.filePath(QStringLiteral("Pictures/Daub")));
        m_app->settings()->setSteps(10);
        m_app->settings()->setWidth(64);
        m_app->settings()->setHeight(64);
    }

    void loadsTheTinyModel() {
        ChatController* chat = m_app->controller();
        QTRY_VERIFY_WITH_TIMEOUT(chat->models()->modelState() != ModelController::ModelState::Loading, 120000);
        QVERIFY2(chat->models()->modelState() == ModelController::ModelState::Ready,
                 qPrintable(chat->models()->modelError()));
        QCOMPARE(chat->models()->modelFamily(), QStringLiteral("SD 1.5"));
        QQuickItem* welcome = item("welcomePanel");
        QVERIFY(welcome);
        QTRY_VERIFY(!welcome->isVisible());
    }

    void dropsTheInitImage() {
        dropFile(test::fixture(QStringLiteral("golden/init_64x64.png")));
        QTRY_VERIFY_WITH_TIMEOUT(m_app->controller()->intake()->hasInitImage(), 10000);
        QCOMPARE(m_app->controller()->intake()->initImageWidth(), 64);
        QCOMPARE(m_app->controller()->intake()->initImageName(), QStringLiteral("init_64x64.png"));
    }

    void setsTheStrength() {
        QQuickItem* slider = item("strengthSlider");
        QVERIFY(slider);
        QTRY_VERIFY(slider->isVisible());
        QCOMPARE(slider->property("value").toDouble(), 0.75);
        QMetaObject::invokeMethod(slider, "forceActiveFocus");
        for (int i = 0; i < 15; ++i)
            QTest::keyClick(m_app->window(), Qt::Key_Left);
        QCOMPARE(qRound(m_app->settings()->strength() * 100), 60);
    }

    void sendsAndFinishes() {
        QQuickItem* prompt = item("promptArea");
        QVERIFY(prompt);
        QMetaObject::invokeMethod(prompt, "forceActiveFocus");
        for (const char c : QByteArray("a red fox in the snow"))
            QTest::keyClick(m_app->window(), c);
        QCOMPARE(m_app->settings()->prompt(), QStringLiteral("a red fox in the snow"));
        QTest::keyClick(m_app->window(), Qt::Key_Return, Qt::ControlModifier);

        MessageModel* messages = m_app->controller()->messages();
        const MessageModel::Message* reply = nullptr;
        QTRY_VERIFY_WITH_TIMEOUT((reply = messages->reply(1)) != nullptr, 5000);
        QTRY_VERIFY_WITH_TIMEOUT(reply->status == MessageModel::Status::Done ||
                                     reply->status == MessageModel::Status::Failed,
                                 120000);
        QVERIFY2(reply->status == MessageModel::Status::Done, qPrintable(reply->text));
        QCOMPARE(reply->totalSteps, 6); // int(10 × 0.6)
        QCOMPARE(m_app->settings()->prompt(), QStringLiteral("a red fox in the snow")); // kept

        // The PNG, as Save writes it.
        const QString path = m_app->controller()->saveResult(1);
        QVERIFY(!path.isEmpty());
        QImageReader reader(path);
        QCOMPARE(reader.format(), QByteArray("png"));
        const QImage image = reader.read();
        QVERIFY2(!image.isNull(), qPrintable(reader.errorString()));
        QCOMPARE(image.size(), QSize(64, 64));
        QFile file(path);
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QString text = readPngText(file.readAll(), QStringLiteral("parameters"));
        const auto p = a1111::parse(text);
        QVERIFY2(p, qPrintable(text));
        QCOMPARE(qstr(p->prompt), QStringLiteral("a red fox in the snow"));
        QCOMPARE(p->steps, 10);
        QCOMPARE(p->width, 64);
        QCOMPARE(p->height, 64);
        QCOMPARE(p->seed, reply->seed);
        QVERIFY(p->denoising_strength);
        QCOMPARE(*p->denoising_strength, 0.6);
        QCOMPARE(qstr(p->model), m_app->controller()->models()->modelName());
        QVERIFY(!p->scheduler.empty());

        QTest::qWait(300); // let the image appear
        saveScreenshot(QStringLiteral(DAUB_SCREENSHOT_PREFIX "window.png"));
    }

    void upscaleSaysWhyItIsOff() {
        QQuickItem* row = item("superResolutionRow");
        QQuickItem* cell = item("superResolutionCell");
        QVERIFY(row && cell);
        QVERIFY(!row->isEnabled()); // no super-resolution net yet
        QVERIFY(!cell->property("tipShown").toBool());
        const QPoint at = cell->mapToScene(QPointF(cell->width() / 2, cell->height() / 2)).toPoint();
        QVERIFY(m_app->window()->contentItem()->contains(at));
        QTest::mouseMove(m_app->window(), at);
        QTRY_VERIFY(cell->property("tipShown").toBool());
        QTest::qWait(200); // let the tool tip fade in
        saveScreenshot(QStringLiteral(DAUB_SCREENSHOT_PREFIX "upscale_tip.png"));
        QTest::mouseMove(m_app->window(), QPoint(10, 10));
        QTRY_VERIFY(!cell->property("tipShown").toBool());
    }

    void upscalesAResultFromItsActions() {
        ChatController* chat = m_app->controller();
        QVERIFY(chat->models()->setUpscaler(test::fixture(QStringLiteral("tiny-rrdbnet-x4.safetensors"))));
        QQuickItem* row = item("superResolutionRow");
        QVERIFY(row);
        QTRY_VERIFY(row->isEnabled()); // the option comes alive with an upscaler
        m_app->settings()->setSuperResolutionLevel(2);
        // The result's Upscale action, clicked as a user would.
        QQuickItem* action = item("action_upscale");
        QVERIFY(action);
        QTRY_VERIFY(action->isVisible());
        const QPoint at =
            action->mapToScene(QPointF(action->width() / 2, action->height() / 2)).toPoint();
        QTest::mouseClick(m_app->window(), Qt::LeftButton, Qt::NoModifier, at);
        MessageModel* messages = chat->messages();
        const MessageModel::Message* reply = nullptr;
        QTRY_VERIFY_WITH_TIMEOUT((reply = messages->reply(2)) != nullptr, 5000);
        QTRY_VERIFY_WITH_TIMEOUT(reply->status == MessageModel::Status::Done ||
                                     reply->status == MessageModel::Status::Failed,
                                 120000);
        QVERIFY2(reply->status == MessageModel::Status::Done, qPrintable(reply->text));
        QCOMPARE(QSize(reply->imageWidth, reply->imageHeight), QSize(128, 128));
        const auto p = a1111::parse(chat->parametersOf(2));
        QVERIFY(p);
        QCOMPARE(qstr(p->upscaler), QStringLiteral("tiny-rrdbnet-x4"));
        QCOMPARE(p->upscale, 2.0);
        QCOMPARE(qstr(p->prompt), QStringLiteral("a red fox in the snow"));
        QTest::qWait(300);
        saveScreenshot(QStringLiteral(DAUB_SCREENSHOT_PREFIX "upscaled.png"));
    }

    void upscalesEveryResultWhenTheOptionIsOn() {
        ChatController* chat = m_app->controller();
        chat->intake()->clearInitImage();
        QQuickItem* toggle = item("superResolutionSwitch");
        QVERIFY(toggle);
        scrollIntoView(toggle);
        QTest::qWait(50);
        const QPoint at =
            toggle->mapToScene(QPointF(toggle->width() / 2, toggle->height() / 2)).toPoint();
        QVERIFY(QRect(QPoint(0, 0), m_app->window()->size()).contains(at));
        QTest::mouseClick(m_app->window(), Qt::LeftButton, Qt::NoModifier, at);
        QTRY_VERIFY(m_app->settings()->superResolution());
        const qint64 id = chat->send(QStringLiteral("a lighthouse at dusk"));
        QVERIFY(id > 0);
        const MessageModel::Message* reply = nullptr;
        QTRY_VERIFY_WITH_TIMEOUT((reply = chat->messages()->reply(id)) != nullptr, 5000);
        QTRY_VERIFY_WITH_TIMEOUT(reply->status == MessageModel::Status::Done ||
                                     reply->status == MessageModel::Status::Failed,
                                 120000);
        QVERIFY2(reply->status == MessageModel::Status::Done, qPrintable(reply->text));
        QCOMPARE(QSize(reply->imageWidth, reply->imageHeight), QSize(128, 128));
        const auto p = a1111::parse(chat->parametersOf(id));
        QVERIFY(p);
        QCOMPARE(QSize(p->width, p->height), QSize(64, 64)); // the first pass
        QCOMPARE(p->upscale, 2.0);
        m_app->settings()->setSuperResolution(false);
    }

    void doubleClickShowsTheImageAtFullSize() {
        QQuickItem* image = visibleItem("resultImage");
        QVERIFY(image);
        const QPoint at = image->mapToScene(QPointF(image->width() / 2, image->height() / 2)).toPoint();
        QTest::mouseDClick(m_app->window(), Qt::LeftButton, Qt::NoModifier, at);
        QObject* viewer = m_app->window()->findChild<QObject*>(QStringLiteral("imageViewer"));
        QVERIFY(viewer);
        QTRY_VERIFY(viewer->property("opened").toBool());
        QVERIFY(viewer->property("imageWidth").toInt() > 0);
        // Small results open at 100 %; the buttons and the wheel zoom.
        QCOMPARE(viewer->property("zoom").toDouble(), 1.0);
        QMetaObject::invokeMethod(viewer, "setZoom", Q_ARG(QVariant, 4.0));
        QCOMPARE(viewer->property("zoom").toDouble(), 4.0);
        QMetaObject::invokeMethod(viewer, "setZoom", Q_ARG(QVariant, 100.0));
        QCOMPARE(viewer->property("zoom").toDouble(), 8.0); // bounded
        QMetaObject::invokeMethod(viewer, "setZoom", Q_ARG(QVariant, 2.0));
        QTest::qWait(200);
        saveScreenshot(QStringLiteral(DAUB_SCREENSHOT_PREFIX "viewer.png"));
        QTest::keyClick(m_app->window(), Qt::Key_Escape);
        QTRY_VERIFY(!viewer->property("visible").toBool());
    }

    void aboutShowsTheClipLicence() {
        QQuickItem* button = item("aboutButton");
        QVERIFY(button);
        const QPoint at =
            button->mapToScene(QPointF(button->width() / 2, button->height() / 2)).toPoint();
        QTest::mouseClick(m_app->window(), Qt::LeftButton, Qt::NoModifier, at);
        QObject* dialog = m_app->window()->findChild<QObject*>(QStringLiteral("aboutDialog"));
        QVERIFY(dialog);
        QTRY_VERIFY(dialog->property("opened").toBool());
        QTRY_VERIFY(dialog->property("notices").toString().contains(QStringLiteral("OpenAI")));
        QVERIFY(dialog->property("notices").toString().contains(QStringLiteral("MIT")));
        QTest::qWait(300);
        saveScreenshot(QStringLiteral(DAUB_SCREENSHOT_PREFIX "about.png"));
        QMetaObject::invokeMethod(dialog, "close");
        QTRY_VERIFY(!dialog->property("visible").toBool());
    }

#ifdef DAUB_FAKE_ENGINE
    void escStopsTheRunningJob() {
        // 60 steps of 20 ms: long enough to press Esc while it runs.
        m_app->settings()->setSteps(60);
        ChatController* chat = m_app->controller();
        const qint64 id = chat->send(QStringLiteral("a slow one"));
        QTRY_VERIFY(chat->messages()->reply(id)->step >= 2);
        QTest::keyClick(m_app->window(), Qt::Key_Escape);
        QTRY_COMPARE(chat->messages()->reply(id)->status, MessageModel::Status::Cancelled);
        QVERIFY(chat->messages()->reply(id)->step < 60);
        // A batch: Esc ends the whole Send, and says so; the next Send runs.
        m_app->settings()->setBatchCount(3);
        const qint64 first = chat->send(QStringLiteral("three slow ones"));
        QTRY_VERIFY(chat->messages()->reply(first)->step >= 2);
        const int rows = chat->messages()->count();
        QTest::keyClick(m_app->window(), Qt::Key_Escape);
        QTRY_COMPARE(chat->messages()->reply(first)->status, MessageModel::Status::Cancelled);
        for (const auto& image : chat->messages()->reply(first)->images)
            QCOMPARE(image.status, MessageModel::Status::Cancelled);
        QVERIFY(!chat->queue()->busy() && chat->queue()->waitingCount() == 0);
        QCOMPARE(chat->messages()->count(), rows + 1);
        QVERIFY2(chat->messages()->at(rows).text.contains(QStringLiteral("2 waiting")),
                 qPrintable(chat->messages()->at(rows).text));
        m_app->settings()->setBatchCount(1);
        m_app->settings()->setSteps(10);
    }
#endif

    void typingASeedLocksIt() {
        m_app->settings()->setSeedLocked(false);
        QQuickItem* field = item("seedField");
        QVERIFY(field);
        QVERIFY(field->isEnabled());
        QMetaObject::invokeMethod(field, "forceActiveFocus");
        QMetaObject::invokeMethod(field, "selectAll");
        for (const char c : QByteArray("4242"))
            QTest::keyClick(m_app->window(), c);
        QCOMPARE(m_app->settings()->seed(), 4242);
        QVERIFY(m_app->settings()->seedLocked());
        m_app->settings()->setSeedLocked(false);
    }

    void batchShowsAGridAndCtrlSSavesTheSelected() {
        ChatController* chat = m_app->controller();
        chat->intake()->clearInitImage();
        m_app->settings()->setSuperResolution(false);
        m_app->settings()->setBatchCount(4);
        m_app->settings()->setSeedLocked(true);
        m_app->settings()->setSeed(3918547700); // past 2^31: written whole everywhere
        const qint64 first = chat->send(QStringLiteral("four lighthouses"));
        QVERIFY(first > 0);
        for (qint64 id = first; id < first + 4; ++id)
            QTRY_VERIFY_WITH_TIMEOUT(chat->messages()->reply(id)->images.size() == 4 &&
                                         chat->messages()->reply(first)->status ==
                                             MessageModel::Status::Done,
                                     120000);
        m_app->settings()->setBatchCount(1);
        m_app->settings()->setSeedLocked(false);
        QTest::qWait(300); // let the grid appear
        QList<QQuickItem*> cells;
        findAll(m_app->window()->contentItem(), QStringLiteral("batchCell"), cells);
        QList<QQuickItem*> shown;
        for (QQuickItem* cell : cells)
            if (cell->isVisible())
                shown << cell;
        QCOMPARE(shown.size(), 4);
        const QString tip =
            QQmlProperty(shown[2], QStringLiteral("ToolTip.text"), qmlContext(shown[2])).read().toString();
        QCOMPARE(tip, QStringLiteral("Seed 3918547702"));
        QVERIFY2(chat->messages()->reply(first)->statusText.contains(QStringLiteral("seeds 3918547700\u20133918547703")),
                 qPrintable(chat->messages()->reply(first)->statusText));
        // Pick the third image, as a user clicks it, then Ctrl+S.
        QQuickItem* third = shown[2];
        const QPoint at = third->mapToScene(QPointF(third->width() / 2, third->height() / 2)).toPoint();
        QVERIFY(QRect(QPoint(0, 0), m_app->window()->size()).contains(at));
        QTest::mouseClick(m_app->window(), Qt::LeftButton, Qt::NoModifier, at);
        QTest::qWait(50);
        saveScreenshot(QStringLiteral(DAUB_SCREENSHOT_PREFIX "batch.png"));
        const QDir saved(m_app->settings()->saveFolder());
        const QStringList before = saved.entryList({QStringLiteral("*.png")}, QDir::Files);
        QTest::keySequence(m_app->window(), QKeySequence::Save);
        QStringList added;
        QTRY_VERIFY((added = saved.entryList({QStringLiteral("*.png")}, QDir::Files)).size() ==
                    before.size() + 1);
        QString file;
        for (const QString& name : added)
            if (!before.contains(name))
                file = name;
        QVERIFY2(file.contains(QStringLiteral("-3918547702")), qPrintable(file)); // the third seed
    }

    void restartBringsTheConversationBack() {
        ChatController* chat = m_app->controller();
        QTRY_VERIFY_WITH_TIMEOUT(chat->models()->modelState() ==
                                     ModelController::ModelState::Ready, 120000);
        const qint64 id = chat->send(QStringLiteral("kept across restarts"));
        QTRY_VERIFY_WITH_TIMEOUT(chat->messages()->reply(id)->status == MessageModel::Status::Done,
                                 120000);
        const QString parameters = chat->parametersOf(id);
        QVERIFY(!parameters.isEmpty());
        const int before = chat->messages()->count();

        m_app.reset(); // closes the window, as quitting does
        startApp();
        chat = m_app->controller();
        const MessageModel::Message* reply = chat->messages()->reply(id);
        QVERIFY2(reply, "the last job's reply is not in the restored conversation");
        QCOMPARE(reply->status, MessageModel::Status::Done);
        QVERIFY(QUrl(reply->imageSource).isLocalFile());
        QVERIFY(QFileInfo::exists(QUrl(reply->imageSource).toLocalFile()));
        QVERIFY(chat->messages()->count() >= 2);
        QVERIFY(chat->messages()->count() <= before); // notices are not kept
        // Its actions work from the history.
        QCOMPARE(chat->parametersOf(id), parameters);
        const QString saved = chat->saveResult(id);
        QVERIFY(!saved.isEmpty());
        QVERIFY(QImage(saved).width() > 0);
        // New jobs continue the numbering.
        QTRY_VERIFY_WITH_TIMEOUT(chat->models()->modelState() ==
                                     ModelController::ModelState::Ready, 120000);
        const qint64 next = chat->send(QStringLiteral("after the restart"));
        QVERIFY(next > id);
        QTRY_VERIFY_WITH_TIMEOUT(
            chat->messages()->reply(next)->status == MessageModel::Status::Done, 120000);
        QTest::qWait(300);
        saveScreenshot(QStringLiteral(DAUB_SCREENSHOT_PREFIX "restarted.png"));
        // Deleted in the gallery: the chat says so instead of showing it.
        QVERIFY(m_app->history()->remove(next));
        QTRY_VERIFY(visibleItem("deletedLabel"));
        saveScreenshot(QStringLiteral(DAUB_SCREENSHOT_PREFIX "deleted_in_chat.png"));
        QVERIFY(m_app->history()->restore(next));
        QTRY_VERIFY(!visibleItem("deletedLabel"));
    }

    void darkTheme() {
        m_app->settings()->setTheme(QStringLiteral("dark"));
        QTest::qWait(300);
        saveScreenshot(QStringLiteral(DAUB_SCREENSHOT_PREFIX "window_dark.png"));
        m_app->settings()->setTheme(QStringLiteral("light"));
    }

    // ---- the gallery ------------------------------------------------------
    void galleryOpensWithTheHistory() {
        const QStringList prompts = {QStringLiteral("a fox asleep in autumn leaves"),
                                     QStringLiteral("a harbour at night"),
                                     QStringLiteral("a fox cub in tall grass"),
                                     QStringLiteral("a glass teapot"),
                                     QStringLiteral("mountains above the clouds"),
                                     QStringLiteral("a paper boat"),
                                     QStringLiteral("an orange fox, watercolour"),
                                     QStringLiteral("a lantern in the rain")};
        for (int i = 0; i < prompts.size(); ++i)
            seedHistory(prompts[i],
                        i % 3 == 0 ? QStringLiteral("dreamshaper-8") : QStringLiteral("sd-v1-5"),
                        i * 37, i == 2 || i == 5);
        GalleryModel* gallery = m_app->gallery();
        QVERIFY(gallery);
        QQuickItem* view = item("galleryView");
        QVERIFY(view);
        QVERIFY(!view->isVisible());
        click(item("galleryButton"));
        QTRY_VERIFY(view->isVisible());
        QQuickItem* grid = item("galleryGrid");
        QVERIFY(grid);
        const int total = gallery->totalCount();
        QVERIFY2(total >= prompts.size(), qPrintable(QString::number(total)));
        QTRY_COMPARE(grid->property("count").toInt(), total);
        QCOMPARE(gallery->count(), total);
        // Newest first: the last seeded image leads.
        QCOMPARE(gallery->get(0).value(QStringLiteral("prompt")).toString(), prompts.last());
        QVERIFY(galleryCell(0));
        QTRY_COMPARE(galleryCell(0)->property("visible").toBool(), true);
        QQuickItem* thumb = find(galleryCell(0), QStringLiteral("galleryThumb"));
        QVERIFY(thumb);
        QVERIFY(QUrl(thumb->property("source").toUrl()).isLocalFile());
        QTRY_COMPARE(thumb->property("status").toInt(), 1 /* Image.Ready */);
        QTest::qWait(300); // let the other thumbnails load
        saveScreenshot(QStringLiteral(DAUB_SCREENSHOT_PREFIX "gallery.png"));
        m_app->settings()->setTheme(QStringLiteral("dark"));
        QTest::qWait(300);
        saveScreenshot(QStringLiteral(DAUB_SCREENSHOT_PREFIX "gallery_dark.png"));
        m_app->settings()->setTheme(QStringLiteral("light"));
    }

    void gallerySearchesFiltersAndSorts() {
        GalleryModel* gallery = m_app->gallery();
        QQuickItem* grid = item("galleryGrid");
        QVERIFY(grid);
        // Ctrl+F, then type: the search waits for a pause, then asks.
        QTest::keyClick(m_app->window(), Qt::Key_F, Qt::ControlModifier);
        QQuickItem* search = item("gallerySearch");
        QVERIFY(search);
        QTRY_VERIFY(search->hasActiveFocus());
        for (const char c : QByteArray("fox"))
            QTest::keyClick(m_app->window(), c);
        QTRY_COMPARE(gallery->searchText(), QStringLiteral("fox"));
        QTRY_COMPARE(grid->property("count").toInt(), gallery->count());
        QVERIFY(gallery->count() >= 3);
        for (int row = 0; row < gallery->rowCount(); ++row)
            QVERIFY(gallery->get(row)
                        .value(QStringLiteral("prompt"))
                        .toString()
                        .contains(QStringLiteral("fox"), Qt::CaseInsensitive));
        QTest::qWait(300);
        saveScreenshot(QStringLiteral(DAUB_SCREENSHOT_PREFIX "gallery_search.png"));

        // Nothing matches: says so, and offers to clear the filters.
        for (const char c : QByteArray("zzq"))
            QTest::keyClick(m_app->window(), c);
        QTRY_COMPARE(grid->property("count").toInt(), 0);
        QQuickItem* title = item("galleryEmptyTitle");
        QVERIFY(title);
        QTRY_VERIFY(title->isVisible());
        QCOMPARE(title->property("text").toString(), QStringLiteral("Nothing matches"));
        click(item("galleryClearFilters"));
        QTRY_COMPARE(gallery->searchText(), QString());
        QTRY_COMPARE(grid->property("count").toInt(), gallery->totalCount());
        QCOMPARE(search->property("text").toString(), QString());

        // Favourites only.
        click(item("galleryFavourites"));
        QTRY_VERIFY(gallery->favouritesOnly());
        QTRY_COMPARE(grid->property("count").toInt(), gallery->favouriteCount());
        QCOMPARE(gallery->favouriteCount(), 2);
        for (int row = 0; row < gallery->rowCount(); ++row)
            QVERIFY(gallery->get(row).value(QStringLiteral("favourite")).toBool());
        click(item("galleryFavourites"));
        QTRY_VERIFY(!gallery->favouritesOnly());

        // The model filter lists the models of the kept images.
        QVERIFY(gallery->models().contains(QStringLiteral("dreamshaper-8")));
        QQuickItem* combo = item("galleryModelFilter");
        QVERIFY(combo);
        const int index = gallery->models().indexOf(QStringLiteral("dreamshaper-8")) + 1;
        QMetaObject::invokeMethod(combo, "activated", Q_ARG(int, index));
        QTRY_COMPARE(gallery->model(), QStringLiteral("dreamshaper-8"));
        QTRY_COMPARE(grid->property("count").toInt(), 3);
        QCOMPARE(combo->property("currentIndex").toInt(), index);
        QMetaObject::invokeMethod(combo, "activated", Q_ARG(int, 0));
        QTRY_COMPARE(gallery->model(), QString());
        QTRY_COMPARE(grid->property("count").toInt(), gallery->totalCount());

        // Oldest first, and back.
        const qint64 newest = gallery->get(0).value(QStringLiteral("entryId")).toLongLong();
        click(item("gallerySort"));
        QTRY_VERIFY(!gallery->newestFirst());
        QTRY_VERIFY(gallery->get(0).value(QStringLiteral("entryId")).toLongLong() < newest);
        click(item("gallerySort"));
        QTRY_VERIFY(gallery->newestFirst());
        QTRY_COMPARE(gallery->get(0).value(QStringLiteral("entryId")).toLongLong(), newest);
    }

    void galleryStarsDeletesAndUndoes() {
        GalleryModel* gallery = m_app->gallery();
        QQuickItem* grid = item("galleryGrid");
        QTRY_COMPARE(grid->property("count").toInt(), gallery->totalCount());
        const int before = gallery->totalCount();

        // The star on a cell.
        QQuickItem* cell = galleryCell(0);
        QVERIFY(cell);
        const qint64 first = gallery->get(0).value(QStringLiteral("entryId")).toLongLong();
        QVERIFY(!m_app->history()->entry(first)->favourite);
        QTest::mouseMove(
            m_app->window(),
            cell->mapToScene(QPointF(cell->width() / 2, cell->height() / 2)).toPoint());
        QQuickItem* star = find(cell, QStringLiteral("galleryStar"));
        QTRY_VERIFY(star && star->isVisible());
        click(star);
        QTRY_VERIFY(m_app->history()->entry(first)->favourite);
        click(star);
        QTRY_VERIFY(!m_app->history()->entry(first)->favourite);

        // Select the second image, delete it with its button, undo with the bar.
        cell = galleryCell(1);
        const qint64 second = gallery->get(1).value(QStringLiteral("entryId")).toLongLong();
        click(cell);
        QTRY_COMPARE(grid->property("currentIndex").toInt(), 1);
        QQuickItem* remove = find(cell, QStringLiteral("galleryDelete"));
        QTRY_VERIFY(remove && remove->isVisible());
        click(remove);
        QTRY_VERIFY(gallery->canUndo());
        QTRY_COMPARE(grid->property("count").toInt(), before - 1);
        QVERIFY(!m_app->history()->entry(second));
        QQuickItem* bar = item("galleryUndoBar");
        QVERIFY(bar);
        QTRY_VERIFY(bar->isVisible());
        QCOMPARE(item("galleryUndoText")->property("text").toString(),
                 QStringLiteral("Deleted 1 image"));
        QTest::qWait(200);
        saveScreenshot(QStringLiteral(DAUB_SCREENSHOT_PREFIX "gallery_undo.png"));
        click(item("galleryUndo"));
        QTRY_VERIFY(!gallery->canUndo());
        QTRY_COMPARE(grid->property("count").toInt(), before);
        QVERIFY(m_app->history()->entry(second));
        QTRY_VERIFY(!bar->isVisible());

        // The keyboard: Delete removes the selected one, Ctrl+Z brings it back.
        QMetaObject::invokeMethod(grid, "forceActiveFocus");
        grid->setProperty("currentIndex", 0);
        QTest::keyClick(m_app->window(), Qt::Key_Right);
        QTRY_COMPARE(grid->property("currentIndex").toInt(), 1);
        QTest::keyClick(m_app->window(), Qt::Key_Delete);
        QTRY_COMPARE(grid->property("count").toInt(), before - 1);
        QVERIFY(!m_app->history()->entry(second));
        QTest::keyClick(m_app->window(), Qt::Key_Z, Qt::ControlModifier);
        QTRY_COMPARE(grid->property("count").toInt(), before);
        QVERIFY(m_app->history()->entry(second));
    }

    void galleryOpensAnImageWithItsActions() {
        GalleryModel* gallery = m_app->gallery();
        QQuickItem* grid = item("galleryGrid");
        QTRY_COMPARE(grid->property("count").toInt(), gallery->totalCount());
        QQuickItem* cell = galleryCell(0);
        QVERIFY(cell);
        const QVariantMap entry = gallery->get(0);
        const QPoint at =
            cell->mapToScene(QPointF(cell->width() / 2, cell->height() / 2)).toPoint();
        QTest::mouseDClick(m_app->window(), Qt::LeftButton, Qt::NoModifier, at);
        QObject* detail = m_app->window()->findChild<QObject*>(QStringLiteral("galleryDetail"));
        QVERIFY(detail);
        QTRY_VERIFY(detail->property("opened").toBool());
        QCOMPARE(detail->property("entryId").toLongLong(),
                 entry.value(QStringLiteral("entryId")).toLongLong());
        QQuickItem* prompt = item("galleryDetailPrompt");
        QVERIFY(prompt);
        QCOMPARE(prompt->property("text").toString(),
                 entry.value(QStringLiteral("prompt")).toString());
        for (const char* key : {"favourite", "save", "saveAs", "copy", "init", "rerun", "params",
                                "upscale", "full", "delete"}) {
            QQuickItem* action =
                item(qPrintable(QStringLiteral("galleryAction_") + QString::fromLatin1(key)));
            QVERIFY2(action && action->isVisible(), key);
        }
        QVERIFY(item("galleryDragArea"));
        QTest::qWait(300);
        saveScreenshot(QStringLiteral(DAUB_SCREENSHOT_PREFIX "gallery_detail.png"));

        // Copy puts the image on the clipboard.
        QGuiApplication::clipboard()->clear();
        click(item("galleryAction_copy"));
        QTRY_COMPARE(QGuiApplication::clipboard()->image().size(),
                     QSize(entry.value(QStringLiteral("width")).toInt(),
                           entry.value(QStringLiteral("height")).toInt()));
        // Favourite from the detail.
        click(item("galleryAction_favourite"));
        QTRY_VERIFY(m_app->history()
                        ->entry(entry.value(QStringLiteral("entryId")).toLongLong())
                        ->favourite);
        click(item("galleryAction_favourite"));
        QTRY_VERIFY(!m_app->history()
                         ->entry(entry.value(QStringLiteral("entryId")).toLongLong())
                         ->favourite);
        // The arrows step through the gallery.
        QTest::keyClick(m_app->window(), Qt::Key_Right);
        QTRY_COMPARE(detail->property("entryId").toLongLong(),
                     gallery->get(1).value(QStringLiteral("entryId")).toLongLong());
        QCOMPARE(grid->property("currentIndex").toInt(), 1);
        // Esc closes the image, then the gallery.
        QTest::keyClick(m_app->window(), Qt::Key_Escape);
        QTRY_VERIFY(!detail->property("visible").toBool());
        QQuickItem* view = item("galleryView");
        QVERIFY(view->isVisible());
        QTest::keyClick(m_app->window(), Qt::Key_Escape);
        QTRY_VERIFY(!view->isVisible());
        // Ctrl+G brings it back.
        QTest::keyClick(m_app->window(), Qt::Key_G, Qt::ControlModifier);
        QTRY_VERIFY(view->isVisible());
    }

    void galleryUsesAnImagesParameters() {
        GalleryModel* gallery = m_app->gallery();
        QQuickItem* view = item("galleryView");
        QTRY_VERIFY(view->isVisible());
        // A seeded entry (its parameters say 12 steps).
        int row = -1;
        for (int r = 0; r < gallery->rowCount() && row < 0; ++r)
            if (gallery->get(r).value(QStringLiteral("prompt")).toString() ==
                QStringLiteral("a glass teapot"))
                row = r;
        QVERIFY(row >= 0);
        QMetaObject::invokeMethod(view, "openRow", Q_ARG(QVariant, row));
        QObject* detail = m_app->window()->findChild<QObject*>(QStringLiteral("galleryDetail"));
        QTRY_VERIFY(detail->property("opened").toBool());
        const int steps = m_app->settings()->steps();
        click(item("galleryAction_params"));
        QTRY_VERIFY(!view->isVisible()); // back in the chat, where they apply
        QCOMPARE(m_app->settings()->prompt(), QStringLiteral("a glass teapot"));
        QCOMPARE(m_app->settings()->steps(), 12);
        m_app->settings()->setSteps(steps);
    }

    void settingsShowTheHistoryAndDeleteAllButFavourites() {
        GalleryModel* gallery = m_app->gallery();
        click(item("settingsButton"));
        QObject* dialog = m_app->window()->findChild<QObject*>(QStringLiteral("settingsDialog"));
        QVERIFY(dialog);
        QTRY_VERIFY(dialog->property("opened").toBool());
        QQuickItem* usage = item("historyDiskUsage");
        QVERIFY(usage);
        QCOMPARE(gallery->diskUsage(), m_app->history()->diskUsage());
        QCOMPARE(usage->property("text").toString(),
                 GalleryModel::formatBytes(gallery->diskUsage()));
        QCOMPARE(item("historyFolder")->property("text").toString(), m_app->history()->folder());
        const QString count = item("historyImageCount")->property("text").toString();
        QCOMPARE(count, gallery->favouriteCount() == 1
                            ? QStringLiteral("%1, of which 1 favourite").arg(gallery->totalCount())
                            : QStringLiteral("%1, of which %2 favourites")
                                  .arg(gallery->totalCount())
                                  .arg(gallery->favouriteCount()));
        const qint64 before = gallery->diskUsage();
        const int favourites = gallery->favouriteCount();
        QVERIFY(favourites > 0 && gallery->totalCount() > favourites);
        QTest::qWait(200);
        saveScreenshot(QStringLiteral(DAUB_SCREENSHOT_PREFIX "settings_history.png"));

        // Asks first; Cancel keeps everything.
        click(item("deleteAllButFavouritesButton"));
        QObject* confirm =
            m_app->window()->findChild<QObject*>(QStringLiteral("confirmDeleteDialog"));
        QVERIFY(confirm);
        QTRY_VERIFY(confirm->property("opened").toBool());
        click(item("cancelDeleteButton"));
        QTRY_VERIFY(!confirm->property("visible").toBool());
        QVERIFY(gallery->totalCount() > favourites);
        // Delete: only the favourites stay, and the disk usage drops.
        click(item("deleteAllButFavouritesButton"));
        QTRY_VERIFY(confirm->property("opened").toBool());
        click(item("confirmDeleteButton"));
        QTRY_COMPARE(gallery->totalCount(), favourites);
        QTRY_VERIFY(gallery->diskUsage() < before);
        if (favourites == 1) // "22, of which 1 favourites" was the defect
            QTRY_COMPARE(item("historyImageCount")->property("text").toString(),
                         QStringLiteral("1, of which 1 favourite"));
        QTRY_COMPARE(usage->property("text").toString(),
                     GalleryModel::formatBytes(gallery->diskUsage()));
        QMetaObject::invokeMethod(dialog, "close");
        QTRY_VERIFY(!dialog->property("visible").toBool());
    }

    void aFileThatIsNoModelLeavesTheWorkingOne() {
        ChatController* chat = m_app->controller();
        ModelController* models = chat->models();
        QTRY_COMPARE(models->modelState(), ModelController::ModelState::Ready);
        const QString working = models->modelName();
        const int rows = chat->messages()->count();
        // A text file renamed .safetensors, as a user picks it.
        const QString fake = m_dir.filePath(QStringLiteral("broken-notes.safetensors"));
        {
            QFile f(fake);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("shopping list: milk, eggs, bread\n");
        }
        models->loadModel(fake);
        QTRY_VERIFY_WITH_TIMEOUT(models->modelState() != ModelController::ModelState::Loading, 30000);
        QCOMPARE(models->modelState(), ModelController::ModelState::Ready);
        QCOMPARE(models->modelName(), working);
        QVERIFY(!models->modelError().isEmpty());
        // The chat stays (no welcome panel), the sentence is beside the picker.
        QVERIFY(!item("welcomePanel")->isVisible());
        QTRY_COMPARE(item("modelStatus")->property("text").toString(), models->modelError());
        QCOMPARE(chat->messages()->count(), rows + 1); // the notice
        QVERIFY(chat->messages()->at(rows).text.contains(QStringLiteral("is still loaded")));
        QTest::qWait(100);
        saveScreenshot(QStringLiteral(DAUB_SCREENSHOT_PREFIX "refused_model.png"));
        // And it still paints.
        const qint64 id = chat->send(QStringLiteral("after the refused file"));
        QVERIFY(id > 0);
        QTRY_COMPARE_WITH_TIMEOUT(chat->messages()->reply(id)->status, MessageModel::Status::Done, 60000);
    }

    void saveAsProposesANameAndSaves() {
        ChatController* chat = m_app->controller();
        const qint64 id = chat->latestResult();
        QVERIFY(id > 0);
        const auto recipe = chat->recipe(id);
        QVERIFY(recipe);
        QObject* dialog = m_app->window()->findChild<QObject*>(QStringLiteral("saveAsDialog"));
        if (!dialog) // a FileDialog is no QObject child of the window: look in the engine's roots
            for (QObject* root : m_app->qmlEngine()->rootObjects())
                if ((dialog = root->findChild<QObject*>(QStringLiteral("saveAsDialog"))))
                    break;
        QVERIFY(dialog);
        QMetaObject::invokeMethod(dialog, "saveAs", Q_ARG(QVariant, QVariant(id)));
        QTRY_VERIFY(dialog->property("visible").toBool());
        const QUrl proposed = dialog->property("selectedFile").toUrl();
        QCOMPARE(proposed, chat->suggestedSaveUrl(id));
        QVERIFY2(proposed.fileName().endsWith(QStringLiteral("-%1.png").arg(chat->messages()->reply(id)->seed)),
                 qPrintable(proposed.toString()));
        QVERIFY(proposed.fileName().size() > QStringLiteral("-0.png").size());
        QCOMPARE(dialog->property("acceptLabel").toString(), QStringLiteral("Save"));
        QTest::qWait(200);
        saveScreenshot(QStringLiteral(DAUB_SCREENSHOT_PREFIX "save_as.png"));
        QMetaObject::invokeMethod(dialog, "close");
        QTRY_VERIFY(!dialog->property("visible").toBool());
    }

    void modelMenuListsFoundModels() {
        // Models in A1111's and ComfyUI's folders, two of them with one name.
        const QString home = m_dir.filePath(QStringLiteral("home"));
        const QStringList files{
            home + QStringLiteral("/stable-diffusion-webui/models/Stable-diffusion/dream.safetensors"),
            home + QStringLiteral("/ComfyUI/models/checkpoints/dream.safetensors"),
            home + QStringLiteral("/ComfyUI/models/checkpoints/other.safetensors")};
        for (const QString& f : files) {
            QDir().mkpath(QFileInfo(f).path());
            QFile file(f);
            QVERIFY(file.open(QIODevice::WriteOnly));
        }
        ModelController* models = m_app->controller()->models();
        QTRY_VERIFY(!models->scanning()); // the scan at start
        models->setModelPlaces(ModelFinder::commonPlaces(home), ModelFinder::commonUpscalerPlaces(home));
        models->scanForModels();
        QTRY_VERIFY_WITH_TIMEOUT(!models->scanning() && models->foundModels().size() >= 3, 10000);
        models->setModelPlaces(ModelFinder::commonPlaces(), ModelFinder::commonUpscalerPlaces());
        QQuickItem* combo = item("modelCombo");
        QVERIFY(combo);
        const QVariantList entries = combo->property("entries").toList();
        QStringList paths, labels;
        for (const QVariant& e : entries) {
            paths << e.toMap().value(QStringLiteral("path")).toString();
            labels << e.toMap().value(QStringLiteral("label")).toString();
        }
        QCOMPARE(paths.first(), m_app->settings()->recentModels().first()); // the recent ones first
        for (const QString& f : files)
            QVERIFY2(paths.contains(f), qPrintable(paths.join(u'\n')));
        // The two "dream" models are told apart by where they were found.
        const QString a1111 = labels.at(int(paths.indexOf(files[0])));
        const QString comfy = labels.at(int(paths.indexOf(files[1])));
        QVERIFY2(a1111 != comfy && a1111.contains(QStringLiteral("AUTOMATIC1111")) &&
                     comfy.contains(QStringLiteral("ComfyUI")),
                 qPrintable(a1111 + u'|' + comfy));
        QVERIFY(!labels.at(int(paths.indexOf(files[2]))).contains(QStringLiteral("ComfyUI")));
        click(combo);
        QObject* popup = qvariant_cast<QObject*>(combo->property("popup"));
        QTRY_VERIFY(popup->property("opened").toBool());
        QTest::qWait(200);
        saveScreenshot(QStringLiteral(DAUB_SCREENSHOT_PREFIX "model_menu.png"));
        QTest::keyClick(m_app->window(), Qt::Key_Escape);
        QTRY_VERIFY(!popup->property("visible").toBool());
    }

    void theUpscalerCanBeUnset() {
        ChatController* chat = m_app->controller();
        QVERIFY(chat->models()->setUpscaler(test::fixture(QStringLiteral("tiny-rrdbnet-x4.safetensors"))));
        QQuickItem* combo = item("upscalerCombo");
        QVERIFY(combo);
        QTRY_COMPARE(combo->property("displayText").toString(), QStringLiteral("tiny-rrdbnet-x4"));
        // Opened, its first entry is "None"; choosing it turns super-resolution off.
        click(combo);
        QObject* popup = qvariant_cast<QObject*>(combo->property("popup"));
        QTRY_VERIFY(popup->property("opened").toBool());
        QString first;
        QMetaObject::invokeMethod(combo, "textAt", Q_RETURN_ARG(QString, first), Q_ARG(int, 0));
        QCOMPARE(first, QStringLiteral("None"));
        QTest::keyClick(m_app->window(), Qt::Key_Home);
        QTest::keyClick(m_app->window(), Qt::Key_Return);
        QTRY_VERIFY(!popup->property("visible").toBool());
        QTRY_VERIFY(!chat->models()->superResolutionAvailable());
        QCOMPARE(m_app->settings()->upscalerPath(), QString());
        QCOMPARE(combo->property("displayText").toString(), QStringLiteral("None"));
        // And back.
        QVERIFY(chat->models()->setUpscaler(test::fixture(QStringLiteral("tiny-rrdbnet-x4.safetensors"))));
        QTRY_VERIFY(chat->models()->superResolutionAvailable());
    }

    void settingsLetOtherProgramsIn() {
        ChatController* chat = m_app->controller();
        ApiService* api = m_app->api();
        QVERIFY(!api->enabled()); // off by default
        QTcpServer probe;
        QVERIFY(probe.listen(QHostAddress::LocalHost, 0));
        const quint16 port = probe.serverPort();
        probe.close();
        api->setListen(QStringLiteral("127.0.0.1:%1").arg(port));
        click(item("settingsButton"));
        QObject* dialog = m_app->window()->findChild<QObject*>(QStringLiteral("settingsDialog"));
        QTRY_VERIFY(dialog->property("opened").toBool());
        QQuickItem* toggle = item("apiSwitch");
        QVERIFY(toggle);
        QCOMPARE(item("apiUrl")->property("text").toString(), QStringLiteral("not running"));
        click(toggle);
        QTRY_VERIFY(api->running());
        const QString url = QStringLiteral("http://127.0.0.1:%1").arg(port);
        QTRY_COMPARE(item("apiUrl")->property("text").toString(), url);
        QTest::qWait(200);
        saveScreenshot(QStringLiteral(DAUB_SCREENSHOT_PREFIX "settings_api.png"));
        QMetaObject::invokeMethod(dialog, "close");
        QTRY_VERIFY(!dialog->property("visible").toBool());

        // A program's request shows in the chat, marked, and its PNG comes back.
        QNetworkAccessManager net;
        auto post = [&](const QJsonObject& body) {
            QNetworkRequest request(QUrl(url + QStringLiteral("/sdapi/v1/txt2img")));
            request.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
            return net.post(request, QJsonDocument(body).toJson());
        };
        const int rows = chat->messages()->count();
        QNetworkReply* reply = post({{QStringLiteral("prompt"), QStringLiteral("from a script")},
                                     {QStringLiteral("width"), 64}, {QStringLiteral("height"), 64},
                                     {QStringLiteral("steps"), 3}, {QStringLiteral("seed"), 31}});
        QTRY_VERIFY_WITH_TIMEOUT(reply->isFinished(), 60000);
        QCOMPARE(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 200);
        const QJsonObject answer = QJsonDocument::fromJson(reply->readAll()).object();
        QImage png;
        QVERIFY(png.loadFromData(QByteArray::fromBase64(
            answer.value(QStringLiteral("images")).toArray().at(0).toString().toLatin1())));
        QCOMPARE(png.size(), QSize(64, 64));
        QCOMPARE(chat->messages()->count(), rows + 2);
        QCOMPARE(chat->messages()->at(rows).text, QStringLiteral("from a script"));
        QVERIFY2(chat->messages()->at(rows).details.contains(QStringLiteral("from another program")),
                 qPrintable(chat->messages()->at(rows).details));
        reply->deleteLater();

        // And the window cancels it like its own: the program gets no image.
        reply = post({{QStringLiteral("prompt"), QStringLiteral("cancelled from the chat")},
                      {QStringLiteral("width"), 64}, {QStringLiteral("height"), 64},
                      {QStringLiteral("steps"), 150}});
        QTRY_COMPARE_WITH_TIMEOUT(chat->messages()->count(), rows + 4, 10000);
        const qint64 job = chat->messages()->at(rows + 3).jobId;
        QTRY_VERIFY(chat->queue()->busy());
        QVERIFY(chat->cancel(job));
        QTRY_VERIFY_WITH_TIMEOUT(reply->isFinished(), 30000);
        QCOMPARE(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 200);
        QCOMPARE(chat->messages()->reply(job)->status, MessageModel::Status::Cancelled);
        QCOMPARE(chat->messages()->at(rows + 2).text, QStringLiteral("cancelled from the chat"));
        QVERIFY(QJsonDocument::fromJson(reply->readAll()).object().value(QStringLiteral("images"))
                    .toArray().isEmpty());
        reply->deleteLater();

        api->setEnabled(false);
        QVERIFY(!api->running());
    }

    void cleanupTestCase() {
        m_app.reset();
    }
};

QTEST_MAIN(TestEndToEnd)
#include "test_e2e.moc"
