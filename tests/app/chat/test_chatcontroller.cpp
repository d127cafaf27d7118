// ChatController with the real EngineWorker on its own thread and a fake
// engine: send → queue → worker → finished message with a PNG; the result
// cache; img2img and the init image's expiry; failure isolation; cancel;
// bad input that leaves the prompt and the queue alone; a clean shutdown
// during a step.
#include "storage/appsettings.h"
#include "chat/chatcontroller.h"
#include "chat/resultfiles.h"
#include "generation/generationcore.h"
#include "generation/engineworker.h"
#include "fakebackend.h"
#include "imageproviders.h"
#include "storage/pngmetadata.h"
#include "testsupport.h"

#include "metadata/img2img_steps.h"

#include <QBuffer>
#include <QElapsedTimer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QImageWriter>
#include <QSignalSpy>
#include <QThread>
#include <QtTest/QtTest>

using namespace daub;
using daub::test::FakeBackend;
using daub::test::FakeLog;

/// The decoding may finish before the test starts waiting: count first.
#define WAIT_FOR(spy)                                                                              \
    do {                                                                                           \
        QVERIFY2((spy).count() > 0 || (spy).wait(), qPrintable(rig.lastText()));                   \
        (spy).clear();                                                                             \
    } while (0)

namespace {

/// The controller and everything around it, as Application wires them.
struct Rig {
    QTemporaryDir dir;
    std::shared_ptr<FakeLog> log = std::make_shared<FakeLog>();
    AppSettings settings{daub::test::scratchSettings(dir)};
    InitImageStore store;
    ResultCache cache;
    ImageBank bank;
    HistoryStore history;
    GenerationCore core{&settings, &store, &cache};
    ChatController controller{&core, &settings, &bank};
    QThread thread;
    EngineWorker* worker;
    qint64 now = 1000;

    Rig() {
        store.setClock([this] { return now; });
        auto shared = log;
        worker = new EngineWorker([shared] { return std::make_unique<FakeBackend>(shared); });
        worker->moveToThread(&thread);
        core.attachWorker(worker);
        thread.start();
        settings.setSaveFolder(dir.filePath(QStringLiteral("saved")));
    }
    ~Rig() { stop(); }
    void stop() {
        controller.queue()->cancelAll();
        thread.quit();
        thread.wait();
        delete worker;
        worker = nullptr;
    }

    bool loadModel(const QString& name = QStringLiteral("tiny-sd15")) {
        const QString path = dir.filePath(name);
        QDir().mkpath(path);
        controller.models()->loadModel(path);
        return QTest::qWaitFor([&] {
            return controller.models()->modelState() != ModelController::ModelState::Loading;
        });
    }

    const MessageModel::Message* reply(qint64 id) { return controller.messages()->reply(id); }

    /// Keeps the jobs in a history in the rig's folder.
    bool useHistory() {
        if (!history.open(dir.filePath(QStringLiteral("history"))))
            return false;
        core.setHistory(&history);
        controller.showHistory();
        return true;
    }

    bool waitUntilEnded(qint64 id, int ms = 10000) {
        return QTest::qWaitFor(
            [&] {
                const auto* r = reply(id);
                return r && (r->status == MessageModel::Status::Done ||
                             r->status == MessageModel::Status::Failed ||
                             r->status == MessageModel::Status::Cancelled);
            },
            ms);
    }

    QString writeImage(const QString& name, const QImage& image) {
        const QString path = dir.filePath(name);
        QImageWriter writer(path);
        writer.write(image);
        return path;
    }

    int notices() {
        int n = 0;
        for (int row = 0; row < controller.messages()->count(); ++row)
            n += controller.messages()->at(row).kind == MessageModel::Kind::Notice;
        return n;
    }
    QString lastText() {
        const int count = controller.messages()->count();
        return count ? controller.messages()->at(count - 1).text : QString();
    }
};

} // namespace

class TestChatController : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void sendWithoutModelSaysSo() {
        Rig rig;
        QCOMPARE(rig.controller.send(QStringLiteral("a fox")), -1);
        QCOMPARE(rig.notices(), 1);
        QVERIFY(rig.lastText().contains(QStringLiteral("No model is loaded")));
        QCOMPARE(rig.controller.queue()->waitingCount(), 0);
        QVERIFY(!rig.controller.queue()->busy());
    }

    void loadsTheModelInTheBackground() {
        Rig rig;
        QSignalSpy changed(rig.controller.models(), &ModelController::modelChanged);
        QVERIFY(rig.loadModel());
        QCOMPARE(rig.controller.models()->modelState(), ModelController::ModelState::Ready);
        QCOMPARE(rig.controller.models()->modelName(), QStringLiteral("tiny-sd15"));
        QCOMPARE(rig.controller.models()->modelWidth(), 64);
        QVERIFY(!rig.controller.models()->modelDevice().isEmpty());
        QCOMPARE(rig.settings.modelPath(), rig.dir.filePath(QStringLiteral("tiny-sd15")));
        QCOMPARE(rig.settings.recentModels().value(0), rig.settings.modelPath());
        QVERIFY(changed.count() >= 2); // loading, then ready
        QVERIFY(rig.controller.queue()->engineReady());
    }

    void badModelIsOneSentence() {
        Rig rig;
        rig.controller.models()->loadModel(QStringLiteral("/nowhere/model.safetensors"));
        QCOMPARE(rig.controller.models()->modelState(), ModelController::ModelState::Failed);
        QCOMPARE(rig.lastText(), QStringLiteral("The model \u2018/nowhere/model.safetensors\u2019 does not exist."));
        QVERIFY(rig.loadModel(QStringLiteral("broken-model")));
        QCOMPARE(rig.controller.models()->modelState(), ModelController::ModelState::Failed);
        QCOMPARE(rig.controller.models()->modelError(),
                 QStringLiteral("The model file is damaged: its header is not valid safetensors."));
        QCOMPARE(rig.controller.send(QStringLiteral("x")), -1);
    }

    void saveAsProposesPromptWordsAndSeed() {
        QCOMPARE(ResultFiles::suggestedName(QStringLiteral("A (red:1.2) fox, in the snow!"), 42),
                 QStringLiteral("a-red-1-2-fox-in-42.png"));
        QCOMPARE(ResultFiles::suggestedName(QStringLiteral("Füchse im Schnee"), 7),
                 QStringLiteral("füchse-im-schnee-7.png"));
        QCOMPARE(ResultFiles::suggestedName(QStringLiteral("  ,,, "), 3918547709),
                 QStringLiteral("daub-3918547709.png"));
        QCOMPARE(ResultFiles::suggestedName(QString(60, u'x') + QStringLiteral(" fox"), 1),
                 QStringLiteral("fox-1.png")); // a word past 48 characters is left out
        Rig rig;
        QVERIFY(rig.loadModel());
        const qint64 id = rig.controller.send(QStringLiteral("a red fox"));
        QVERIFY(rig.waitUntilEnded(id));
        QCOMPARE(rig.controller.suggestedSaveUrl(id).toLocalFile(),
                 QDir(rig.settings.saveFolder())
                     .filePath(QStringLiteral("a-red-fox-%1.png").arg(rig.reply(id)->seed)));
    }

    void aFileThatIsNoModelLeavesTheLoadedOne() {
        Rig rig;
        QVERIFY(rig.loadModel(QStringLiteral("good-model")));
        QVERIFY(rig.loadModel(QStringLiteral("broken-model.safetensors")));
        ModelController* models = rig.controller.models();
        QCOMPARE(models->modelState(), ModelController::ModelState::Ready);
        QCOMPARE(models->modelName(), QStringLiteral("good-model"));
        QCOMPARE(models->modelError(),
                 QStringLiteral("The model file is damaged: its header is not valid safetensors."));
        QVERIFY2(rig.lastText().endsWith(QStringLiteral("\u2018good-model\u2019 is still loaded.")),
                 qPrintable(rig.lastText()));
        QVERIFY(rig.controller.queue()->engineReady());
        const qint64 id = rig.controller.send(QStringLiteral("still works"));
        QVERIFY(id > 0);
        QVERIFY(rig.waitUntilEnded(id));
        QCOMPARE(rig.reply(id)->status, MessageModel::Status::Done);
        QVERIFY(!rig.settings.recentModels().contains(rig.dir.filePath(QStringLiteral("broken-model.safetensors"))));
        QVERIFY(rig.loadModel(QStringLiteral("other-model"))); // a good one clears the sentence
        QCOMPARE(models->modelError(), QString());
    }

    void txt2imgEndToEnd() {
        Rig rig;
        QVERIFY(rig.loadModel());
        rig.settings.setSteps(5);
        rig.settings.setCfgScale(6.5);
        const qint64 id = rig.controller.send(QStringLiteral("a red fox"), QStringLiteral("blurry"));
        QVERIFY(id > 0);
        QCOMPARE(rig.controller.messages()->count(), 3); // notice, prompt, reply
        QVERIFY(rig.waitUntilEnded(id));
        const auto* reply = rig.reply(id);
        QCOMPARE(reply->status, MessageModel::Status::Done);
        QCOMPARE(reply->imageWidth, 64);
        QCOMPARE(reply->totalSteps, 5);
        QCOMPARE(reply->seed, rig.settings.seed()); // the random seed is shown in the options
        QVERIFY(!reply->fromCache);

        // The PNG decodes and carries A1111 parameters with what ran.
        const QByteArray png = rig.bank.png(QStringLiteral("result/%1").arg(id));
        QImage image;
        QVERIFY(image.loadFromData(png, "PNG"));
        QCOMPARE(image.size(), QSize(64, 64));
        const auto p = a1111::parse(readPngText(png, QStringLiteral("parameters")));
        QVERIFY(p);
        QCOMPARE(qstr(p->prompt), QStringLiteral("a red fox"));
        QCOMPARE(qstr(p->negative_prompt), QStringLiteral("blurry"));
        QCOMPARE(p->steps, 5);
        QCOMPARE(p->cfg_scale, 6.5);
        QCOMPARE(p->seed, reply->seed);
        QCOMPARE(qstr(p->scheduler), QStringLiteral("pndm"));
        QCOMPARE(p->width, 64);
        QCOMPARE(qstr(p->model), QStringLiteral("tiny-sd15"));
        QVERIFY(!p->denoising_strength);
        QCOMPARE(rig.controller.parametersOf(id), readPngText(png, QStringLiteral("parameters")));

        // Save writes that PNG into the save folder.
        const QString saved = rig.controller.saveResult(id);
        QVERIFY(saved.startsWith(rig.settings.saveFolder()));
        QFile file(saved);
        QVERIFY(file.open(QIODevice::ReadOnly));
        QCOMPARE(file.readAll(), png);
        QVERIFY(rig.controller.exportForDrag(id).isLocalFile());
    }

    void sameInputsHitTheCache() {
        Rig rig;
        QVERIFY(rig.loadModel());
        rig.settings.setSeed(1234);
        rig.settings.setSeedLocked(true);
        const qint64 first = rig.controller.send(QStringLiteral("a fox"));
        QVERIFY(rig.waitUntilEnded(first));
        const qint64 second = rig.controller.send(QStringLiteral("a fox"));
        QVERIFY(rig.waitUntilEnded(second));
        QCOMPARE(rig.log->generations.load(), 1);
        QVERIFY(rig.reply(second)->fromCache);
        QCOMPARE(rig.bank.png(QStringLiteral("result/%1").arg(second)),
                 rig.bank.png(QStringLiteral("result/%1").arg(first)));
        // Any change misses.
        rig.settings.setSteps(rig.settings.steps() + 1);
        const qint64 third = rig.controller.send(QStringLiteral("a fox"));
        QVERIFY(rig.waitUntilEnded(third));
        QCOMPARE(rig.log->generations.load(), 2);
        // Re-run uses the same seed (and so the cache).
        const qint64 again = rig.controller.rerun(first);
        QVERIFY(rig.waitUntilEnded(again));
        QVERIFY(rig.reply(again)->fromCache);
        QCOMPARE(rig.reply(again)->seed, 1234);
    }

    void randomSeedPerJobUnlessLocked() {
        Rig rig;
        QVERIFY(rig.loadModel());
        const qint64 a = rig.controller.send(QStringLiteral("x"));
        const qint64 b = rig.controller.send(QStringLiteral("x"));
        QVERIFY(rig.waitUntilEnded(b));
        QVERIFY(rig.reply(a)->seed != rig.reply(b)->seed);
        QCOMPARE(rig.log->generations.load(), 2);
    }

    void img2imgAndTheInitImage() {
        Rig rig;
        QVERIFY(rig.loadModel());
        rig.settings.setStrength(0.6);
        rig.settings.setSteps(10);
        QSignalSpy initChanged(rig.controller.intake(), &InitImageIntake::initImageChanged);
        rig.controller.intake()->setInitImageFromUrl(
            QUrl::fromLocalFile(daub::test::fixture(QStringLiteral("golden/init_64x64.png"))));
        WAIT_FOR(initChanged);
        QVERIFY(rig.controller.intake()->hasInitImage());
        QCOMPARE(rig.controller.intake()->initImageWidth(), 64);
        QVERIFY(rig.controller.intake()->initImageSource().startsWith(QStringLiteral("image://init/")));
        QCOMPARE(rig.controller.stepsToRun(10, 0.6), 6);
        // The engine's own count, also where float arithmetic would say 57.
        QCOMPARE(rig.controller.stepsToRun(100, 0.57), 56);
        QCOMPARE(rig.controller.stepsToRun(100, 0.57), daub::img2img_steps(100, 0.57f));
        QCOMPARE(rig.controller.stepsToRun(10, 0.01), 1);

        const qint64 id = rig.controller.send(QStringLiteral("a fox"));
        QVERIFY(rig.waitUntilEnded(id));
        QCOMPARE(rig.reply(id)->status, MessageModel::Status::Done);
        QCOMPARE(rig.reply(id)->totalSteps, 6);
        QCOMPARE(rig.log->initSizes.value(0), QSize(64, 64));
        QCOMPARE(rig.log->strengths.value(0), 0.6f);
        const auto p = a1111::parse(rig.controller.parametersOf(id));
        QVERIFY(p && p->denoising_strength);
        QCOMPARE(*p->denoising_strength, 0.6);
        // The prompt row shows a thumbnail that outlives the reference.
        QVERIFY(!rig.bank.image(QStringLiteral("thumb/%1").arg(id)).isNull());

        // Another image with the same settings never hits the cache.
        rig.settings.setSeed(rig.reply(id)->seed);
        rig.settings.setSeedLocked(true);
        rig.controller.intake()->setInitImageFromUrl(QUrl::fromLocalFile(
            rig.writeImage(QStringLiteral("other.png"), daub::test::testImage(64, 64, 40))));
        WAIT_FOR(initChanged);
        const qint64 other = rig.controller.send(QStringLiteral("a fox"));
        QVERIFY(rig.waitUntilEnded(other));
        QVERIFY(!rig.reply(other)->fromCache);
        QCOMPARE(rig.log->generations.load(), 2);
    }

    void expiredInitImageFailsTheJob() {
        Rig rig;
        QVERIFY(rig.loadModel());
        QSignalSpy initChanged(rig.controller.intake(), &InitImageIntake::initImageChanged);
        rig.controller.intake()->setInitImageFromUrl(
            QUrl::fromLocalFile(daub::test::fixture(QStringLiteral("golden/init_64x64.png"))));
        WAIT_FOR(initChanged);
        const qint64 first = rig.controller.send(QStringLiteral("a fox"));
        QVERIFY(rig.waitUntilEnded(first));
        rig.controller.intake()->clearInitImage(); // the UI lets go of it
        rig.now += InitImageStore::kDefaultTtlMs + 1;
        const qint64 again = rig.controller.rerun(first);
        QVERIFY(rig.waitUntilEnded(again));
        QCOMPARE(rig.reply(again)->status, MessageModel::Status::Failed);
        QCOMPARE(rig.reply(again)->text, QStringLiteral("The init image expired \u2014 drop it again."));
        // The queue goes on.
        const qint64 next = rig.controller.send(QStringLiteral("a fox"));
        QVERIFY(rig.waitUntilEnded(next));
        QCOMPARE(rig.reply(next)->status, MessageModel::Status::Done);
    }

    void queuedJobsKeepTheirInitImage() {
        // Drop A, queue jobs, drop B: the queued jobs still run on A, even
        // after the store's 300 s without anyone else holding A.
        Rig rig;
        QVERIFY(rig.loadModel());
        rig.log->stepDelayMs = 20;
        QSignalSpy initChanged(rig.controller.intake(), &InitImageIntake::initImageChanged);
        rig.controller.intake()->setInitImageFromUrl(QUrl::fromLocalFile(
            rig.writeImage(QStringLiteral("a.png"), daub::test::testImage(48, 40, 1))));
        WAIT_FOR(initChanged);
        QList<qint64> jobs;
        for (int i = 0; i < 3; ++i)
            jobs << rig.controller.send(QStringLiteral("job %1").arg(i));
        rig.controller.intake()->setInitImageFromUrl(QUrl::fromLocalFile(
            rig.writeImage(QStringLiteral("b.png"), daub::test::testImage(32, 32, 2))));
        WAIT_FOR(initChanged);
        rig.now += InitImageStore::kDefaultTtlMs + 1000;
        rig.store.purgeExpired();
        for (qint64 id : jobs) {
            QVERIFY(rig.waitUntilEnded(id));
            QCOMPARE(rig.reply(id)->status, MessageModel::Status::Done);
        }
        QCOMPARE(rig.log->initSizes,
                 (QList<QSize>{QSize(48, 40), QSize(48, 40), QSize(48, 40)}));
        // Once they ended, A is no longer held: it expires as the TTL says.
        rig.now += InitImageStore::kDefaultTtlMs + 1000;
        rig.store.purgeExpired();
        QCOMPARE(rig.store.count(), 1); // B, which the options panel shows
    }

    void upscaleAfterGenerating() {
        Rig rig;
        QVERIFY(rig.loadModel());
        QVERIFY(!rig.controller.models()->superResolutionAvailable());
        QSignalSpy upscalerChanged(rig.controller.models(), &ModelController::upscalerChanged);
        QVERIFY(!rig.controller.models()->setUpscaler(rig.dir.filePath(QStringLiteral("none.pth"))));
        QVERIFY(rig.lastText().contains(QStringLiteral("does not exist")));
        const QString x4 = daub::test::fixture(QStringLiteral("pickles/tiny-rrdbnet-x4.pth"));
        QVERIFY(rig.controller.models()->setUpscaler(x4));
        QCOMPARE(upscalerChanged.count(), 1);
        QVERIFY(rig.controller.models()->superResolutionAvailable());
        QCOMPARE(rig.controller.models()->upscalerName(), QStringLiteral("tiny-rrdbnet-x4"));
        rig.settings.setSuperResolution(true);
        rig.settings.setSuperResolutionLevel(2);
        rig.settings.setSeed(5);
        rig.settings.setSeedLocked(true);

        const qint64 id = rig.controller.send(QStringLiteral("a fox"));
        QVERIFY(rig.waitUntilEnded(id));
        QCOMPARE(rig.reply(id)->status, MessageModel::Status::Done);
        QCOMPARE(rig.log->upscaleLevels, QList<int>{2});
        QCOMPARE(QSize(rig.reply(id)->imageWidth, rig.reply(id)->imageHeight), QSize(128, 128));
        QVERIFY(rig.reply(id)->statusText.contains(QStringLiteral("128\u00d7128")));
        const auto p = a1111::parse(rig.controller.parametersOf(id));
        QVERIFY(p);
        QCOMPARE(qstr(p->upscaler), QStringLiteral("tiny-rrdbnet-x4"));
        QCOMPARE(p->upscale, 2.0);
        QCOMPARE(QSize(p->width, p->height), QSize(64, 64)); // the first pass, as A1111
        QVERIFY(!p->refine_strength);

        // The cache keys on the level, the upscaler and the refine pass.
        const qint64 same = rig.controller.send(QStringLiteral("a fox"));
        QVERIFY(rig.waitUntilEnded(same));
        QVERIFY(rig.reply(same)->fromCache);
        rig.settings.setSuperResolutionLevel(4);
        const qint64 four = rig.controller.send(QStringLiteral("a fox"));
        QVERIFY(rig.waitUntilEnded(four));
        QVERIFY(!rig.reply(four)->fromCache);
        QCOMPARE(rig.reply(four)->imageWidth, 256);
        QVERIFY(rig.controller.models()->setUpscaler(
            daub::test::fixture(QStringLiteral("tiny-rrdbnet-x2.safetensors"))));
        const qint64 other = rig.controller.send(QStringLiteral("a fox"));
        QVERIFY(rig.waitUntilEnded(other));
        QVERIFY(!rig.reply(other)->fromCache);
        rig.settings.setRefineUpscaled(true);
        const qint64 refined = rig.controller.send(QStringLiteral("a fox"));
        QVERIFY(rig.waitUntilEnded(refined));
        QVERIFY(!rig.reply(refined)->fromCache);
        QCOMPARE(rig.log->refineStrengths, QList<double>{0.35});
        const auto r = a1111::parse(rig.controller.parametersOf(refined));
        QVERIFY(r && r->refine_strength);
        QCOMPARE(*r->refine_strength, 0.35);
        QCOMPARE(r->upscale, 4.0);
        QCOMPARE(qstr(r->upscaler), QStringLiteral("tiny-rrdbnet-x2"));

        // Without an upscaler the option does nothing, and says nothing.
        QVERIFY(rig.controller.models()->setUpscaler(QString()));
        QVERIFY(!rig.controller.models()->superResolutionAvailable());
        const qint64 plain = rig.controller.send(QStringLiteral("a cat"));
        QVERIFY(rig.waitUntilEnded(plain));
        QCOMPARE(rig.reply(plain)->imageWidth, 64);
    }

    void upscaleAndRefineActions() {
        Rig rig;
        QVERIFY(rig.loadModel());
        const qint64 source = rig.controller.send(QStringLiteral("a lighthouse"));
        QVERIFY(rig.waitUntilEnded(source));
        // No upscaler yet: the action says what to provide.
        QCOMPARE(rig.controller.upscaleResult(source), -1);
        QVERIFY(rig.lastText().contains(QStringLiteral("Choose an upscaler")));

        QVERIFY(rig.controller.models()->setUpscaler(
            daub::test::fixture(QStringLiteral("tiny-rrdbnet-x4.safetensors"))));
        rig.settings.setSuperResolutionLevel(4);
        const qint64 up = rig.controller.upscaleResult(source);
        QVERIFY(up > source);
        QVERIFY(rig.waitUntilEnded(up));
        QCOMPARE(rig.reply(up)->status, MessageModel::Status::Done);
        QCOMPARE(rig.log->upscaleInputs.value(0), QSize(64, 64));
        QCOMPARE(rig.reply(up)->imageWidth, 256);
        QCOMPARE(rig.log->generations.load(), 1); // nothing generated again
        const auto p = a1111::parse(rig.controller.parametersOf(up));
        QVERIFY(p);
        QCOMPARE(qstr(p->prompt), QStringLiteral("a lighthouse")); // the source's recipe
        QCOMPARE(p->seed, rig.reply(source)->seed);
        QCOMPARE(p->upscale, 4.0);
        // Its prompt row says what the job is.
        bool found = false;
        for (int row = 0; row < rig.controller.messages()->count(); ++row) {
            const auto& m = rig.controller.messages()->at(row);
            if (m.jobId == up && m.kind == MessageModel::Kind::Prompt) {
                QCOMPARE(m.text, QStringLiteral("Upscale \u00d74"));
                QVERIFY(m.details.contains(QStringLiteral("tiny-rrdbnet-x4")));
                found = true;
            }
        }
        QVERIFY(found);
        // The same upscale again comes from the cache.
        const qint64 again = rig.controller.upscaleResult(source);
        QVERIFY(rig.waitUntilEnded(again));
        QVERIFY(rig.reply(again)->fromCache);
        QCOMPARE(rig.log->upscaleLevels.size(), 1);

        // Upscale then refine: the img2img pass at the refine strength, same seed.
        rig.settings.setRefineStrength(0.4);
        rig.settings.setSuperResolutionLevel(2);
        const qint64 refined = rig.controller.refineResult(source);
        QVERIFY(rig.waitUntilEnded(refined));
        QCOMPARE(rig.reply(refined)->status, MessageModel::Status::Done);
        QCOMPARE(rig.log->refineStrengths, QList<double>{0.4});
        QCOMPARE(rig.log->prompts.last(), QStringLiteral("a lighthouse"));
        QCOMPARE(rig.log->initSizes.last(), QSize(128, 128)); // refined at the upscaled size
        QCOMPARE(rig.reply(refined)->imageWidth, 128);
        QCOMPARE(rig.reply(refined)->seed, rig.reply(source)->seed);

        // The upscaled image can start the next generation.
        QSignalSpy initChanged(rig.controller.intake(), &InitImageIntake::initImageChanged);
        rig.controller.useResultAsInit(up);
        WAIT_FOR(initChanged);
        QCOMPARE(rig.controller.intake()->initImageWidth(), 256);

        // And the init image preview's Upscale: a job of its own.
        const qint64 init = rig.controller.upscaleInitImage();
        QVERIFY(rig.waitUntilEnded(init));
        QCOMPARE(rig.reply(init)->imageWidth, 512);

        // An upscaler that is not one fails the job with its sentence; the
        // queue goes on.
        QFile::copy(daub::test::fixture(QStringLiteral("tiny-rrdbnet-x4.safetensors")),
                    rig.dir.filePath(QStringLiteral("broken.safetensors")));
        QVERIFY(rig.controller.models()->setUpscaler(rig.dir.filePath(QStringLiteral("broken.safetensors"))));
        const qint64 bad = rig.controller.upscaleResult(source);
        QVERIFY(rig.waitUntilEnded(bad));
        QCOMPARE(rig.reply(bad)->status, MessageModel::Status::Failed);
        QVERIFY(rig.reply(bad)->text.contains(QStringLiteral("not an RRDBNet")));
        const qint64 next = rig.controller.send(QStringLiteral("after"));
        QVERIFY(rig.waitUntilEnded(next));
        QCOMPARE(rig.reply(next)->status, MessageModel::Status::Done);
    }

    void loadProgressAndCancel() {
        Rig rig;
        QSignalSpy progress(rig.controller.models(), &ModelController::modelLoadProgressChanged);
        QVERIFY(rig.loadModel());
        QCOMPARE(rig.controller.models()->modelLoadProgress(), 1.0);
        QVERIFY(progress.count() >= 5);
        // A slow load, cancelled: nothing stays loaded, the app says so.
        rig.log->loadDelayMs = 50;
        const QString other = rig.dir.filePath(QStringLiteral("slow-model"));
        QDir().mkpath(other);
        rig.controller.models()->loadModel(other);
        QCOMPARE(rig.controller.models()->modelState(), ModelController::ModelState::Loading);
        QTRY_VERIFY(rig.controller.models()->modelLoadProgress() > 0.0);
        QElapsedTimer timer;
        timer.start();
        rig.controller.models()->cancelModelLoad();
        QTRY_COMPARE(rig.controller.models()->modelState(), ModelController::ModelState::NoModel);
        QVERIFY2(timer.elapsed() < 1000, qPrintable(QString::number(timer.elapsed())));
        QVERIFY(rig.lastText().contains(QStringLiteral("was cancelled")));
        QVERIFY(rig.controller.models()->modelName().isEmpty());
        // A newer choice replaces a load in progress.
        rig.controller.models()->loadModel(other);
        QVERIFY(rig.loadModel(QStringLiteral("tiny-sd15")));
        QCOMPARE(rig.controller.models()->modelState(), ModelController::ModelState::Ready);
        QCOMPARE(rig.controller.models()->modelName(), QStringLiteral("tiny-sd15"));
    }

    void theSameModelTwiceEndsLoaded() {
        // Reports of a replaced load (same path) must not win over the newer one.
        Rig rig;
        rig.log->loadDelayMs = 10;
        const QString path = rig.dir.filePath(QStringLiteral("tiny-sd15"));
        QDir().mkpath(path);
        rig.controller.models()->loadModel(path);
        rig.controller.models()->loadModel(path);
        rig.controller.models()->loadModel(path);
        QTRY_COMPARE(rig.controller.models()->modelState(), ModelController::ModelState::Ready);
        QTest::qWait(300); // every stale report has arrived by now
        QCOMPARE(rig.controller.models()->modelState(), ModelController::ModelState::Ready);
        QCOMPARE(rig.controller.models()->modelName(), QStringLiteral("tiny-sd15"));
        QVERIFY(!rig.lastText().contains(QStringLiteral("cancelled")));
        const qint64 id = rig.controller.send(QStringLiteral("after"));
        QVERIFY(rig.waitUntilEnded(id));
        QCOMPARE(rig.reply(id)->status, MessageModel::Status::Done);
    }

    void aPlainUpscaleNeedsNoModel() {
        Rig rig; // nothing loaded
        QVERIFY(rig.controller.models()->setUpscaler(
            daub::test::fixture(QStringLiteral("tiny-rrdbnet-x4.safetensors"))));
        QSignalSpy initChanged(rig.controller.intake(), &InitImageIntake::initImageChanged);
        rig.controller.intake()->setInitImageFromUrl(QUrl::fromLocalFile(
            rig.writeImage(QStringLiteral("photo.png"), daub::test::testImage(40, 30))));
        WAIT_FOR(initChanged);
        const qint64 id = rig.controller.upscaleInitImage();
        QVERIFY(id > 0);
        QVERIFY(rig.waitUntilEnded(id));
        QCOMPARE(rig.reply(id)->status, MessageModel::Status::Done);
        QCOMPARE(rig.reply(id)->imageWidth, 80);
        // Refining needs the model: it says so.
        QCOMPARE(rig.controller.refineResult(id), -1);
    }

    void separateVaeIsRememberedPerModel() {
        Rig rig;
        QVERIFY(rig.loadModel());
        const QString model = rig.controller.models()->modelPath();
        const QString vae = rig.dir.filePath(QStringLiteral("vae-ft-mse.safetensors"));
        QFile::copy(daub::test::fixture(QStringLiteral("tiny-sd15/vae/diffusion_pytorch_model.safetensors")),
                    vae);
        rig.controller.models()->setModelVae(QUrl::fromLocalFile(vae).toString());
        QTRY_COMPARE(rig.controller.models()->modelState(), ModelController::ModelState::Ready);
        QTRY_COMPARE(rig.controller.models()->modelVaeName(), QStringLiteral("vae-ft-mse.safetensors"));
        QCOMPARE(rig.log->vaes.last(), vae);
        QCOMPARE(rig.settings.vaeFor(model), vae);
        const qint64 id = rig.controller.send(QStringLiteral("a fox"));
        QVERIFY(rig.waitUntilEnded(id));
        const auto p = a1111::parse(rig.controller.parametersOf(id));
        QVERIFY(p);
        QCOMPARE(qstr(p->vae), QStringLiteral("vae-ft-mse.safetensors"));
        // Another model has its own choice; coming back brings the VAE back.
        QVERIFY(rig.loadModel(QStringLiteral("other-model")));
        QCOMPARE(rig.log->vaes.last(), QString());
        QVERIFY(rig.loadModel(QStringLiteral("tiny-sd15")));
        QCOMPARE(rig.log->vaes.last(), vae);
        // The VAE is part of the model's identity: a different result key.
        rig.settings.setSeed(rig.reply(id)->seed);
        rig.settings.setSeedLocked(true);
        rig.controller.models()->setModelVae(QString());
        QTRY_COMPARE(rig.controller.models()->modelState(), ModelController::ModelState::Ready);
        QCOMPARE(rig.controller.models()->modelVaeName(), QString());
        const qint64 own = rig.controller.send(QStringLiteral("a fox"));
        QVERIFY(rig.waitUntilEnded(own));
        QVERIFY(!rig.reply(own)->fromCache);
        // A VAE that does not fit: one sentence, the model stays in the list.
        const QString bad = rig.dir.filePath(QStringLiteral("broken-vae.safetensors"));
        QFile::copy(vae, bad);
        rig.controller.models()->setModelVae(bad);
        QTRY_COMPARE(rig.controller.models()->modelState(), ModelController::ModelState::Failed);
        QVERIFY(rig.controller.models()->modelError().contains(QStringLiteral("does not fit")));
        QVERIFY(rig.settings.recentModels().contains(model));
        // The panel still names the VAE, so it can go back to the model's own.
        QCOMPARE(rig.controller.models()->modelVaeName(), QStringLiteral("broken-vae.safetensors"));
        rig.controller.models()->setModelVae(QString());
        QTRY_COMPARE(rig.controller.models()->modelState(), ModelController::ModelState::Ready);
        QCOMPARE(rig.controller.models()->modelVaeName(), QString());
    }

    void jobsNameTheModelThatRan() {
        // Switching model with jobs queued: each job runs on the model that
        // is loaded when it starts, and its PNG and cache key name that one.
        Rig rig;
        QVERIFY(rig.loadModel(QStringLiteral("model-a")));
        rig.log->stepDelayMs = 20;
        rig.settings.setSeed(9);
        rig.settings.setSeedLocked(true);
        const qint64 first = rig.controller.send(QStringLiteral("a fox"));
        QTRY_COMPARE(rig.reply(first)->status, MessageModel::Status::Running);
        const QString b = rig.dir.filePath(QStringLiteral("model-b"));
        QDir().mkpath(b);
        rig.controller.models()->loadModel(b);
        const qint64 second = rig.controller.send(QStringLiteral("a fox"));
        QVERIFY(rig.waitUntilEnded(second));
        QVERIFY(rig.waitUntilEnded(first));
        const auto pa = a1111::parse(rig.controller.parametersOf(first));
        const auto pb = a1111::parse(rig.controller.parametersOf(second));
        QVERIFY(pa && pb);
        QCOMPARE(qstr(pa->model), QStringLiteral("model-a"));
        QCOMPARE(qstr(pb->model), QStringLiteral("model-b"));
        QVERIFY(!rig.reply(second)->fromCache); // same recipe, other model
        QCOMPARE(rig.log->generations.load(), 2);
    }

    void tokenCountComesFromTheLoadedModel() {
        Rig rig;
        QVariantMap none = rig.controller.models()->tokenCount(QStringLiteral("a red fox"));
        QCOMPARE(none.value(QStringLiteral("tokens")).toInt(), 0); // no model, no tokenizer
        QCOMPARE(none.value(QStringLiteral("limit")).toInt(), 75);
        QVERIFY(rig.loadModel());
        const QVariantMap count = rig.controller.models()->tokenCount(QStringLiteral("a red fox"));
        QCOMPARE(count.value(QStringLiteral("tokens")).toInt(), 3);
        QCOMPARE(count.value(QStringLiteral("error")).toString(), QString());
        const QVariantMap bad = rig.controller.models()->tokenCount(QStringLiteral("a (a:x) b"));
        QCOMPARE(bad.value(QStringLiteral("error")).toString(),
                 QStringLiteral("The weight in (a:x) is not a number."));
    }

    void downloadsAreCappedAndServedImagesDecode() {
        // A tiny HTTP server: /big announces 200 MB, /small serves a PNG.
        QTcpServer server;
        QVERIFY(server.listen(QHostAddress::LocalHost));
        QByteArray png;
        {
            QBuffer buffer(&png);
            buffer.open(QIODevice::WriteOnly);
            QVERIFY(daub::test::testImage(40, 30).save(&buffer, "PNG"));
        }
        QObject::connect(&server, &QTcpServer::newConnection, &server, [&] {
            QTcpSocket* socket = server.nextPendingConnection();
            QObject::connect(socket, &QTcpSocket::readyRead, socket, [socket, &png] {
                const QByteArray request = socket->readAll();
                if (request.startsWith("GET /big")) {
                    socket->write("HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n"
                                  "Content-Length: 209715200\r\n\r\n");
                    socket->write(QByteArray(64 * 1024, 'x'));
                } else {
                    socket->write("HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: " +
                                  QByteArray::number(png.size()) + "\r\nConnection: close\r\n\r\n" + png);
                    socket->disconnectFromHost();
                }
            });
            QObject::connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
        });
        const QString base = QStringLiteral("http://127.0.0.1:%1").arg(server.serverPort());
        Rig rig;
        const int before = rig.notices();
        rig.controller.intake()->setInitImageFromUrl(QUrl(base + QStringLiteral("/big.png")));
        QTRY_COMPARE_WITH_TIMEOUT(rig.notices(), before + 1, 20000);
        QVERIFY2(rig.lastText().contains(QStringLiteral("over 100 MB")), qPrintable(rig.lastText()));
        QVERIFY(!rig.controller.intake()->hasInitImage());
        QTRY_VERIFY(!rig.controller.intake()->decoding());
        // A normal download still works, hashed and thumbnailed off the GUI thread.
        rig.controller.intake()->setInitImageFromUrl(QUrl(base + QStringLiteral("/small.png")));
        QTRY_VERIFY(rig.controller.intake()->hasInitImage());
        QCOMPARE(rig.controller.intake()->initImageWidth(), 40);
    }

    void savingToAnUnwritablePlaceKeepsTheImage() {
        Rig rig;
        QVERIFY(rig.loadModel());
        const qint64 id = rig.controller.send(QStringLiteral("a fox"));
        QVERIFY(rig.waitUntilEnded(id));
        // A save folder that cannot exist (under a file).
        const QString file = rig.writeImage(QStringLiteral("plain.png"), daub::test::testImage(4, 4));
        rig.settings.setSaveFolder(file + QStringLiteral("/Daub"));
        QCOMPARE(rig.controller.saveResult(id), QString());
        QVERIFY2(rig.lastText().contains(QStringLiteral("could not be created")), qPrintable(rig.lastText()));
        // Save as… into a folder that is gone: the write fails, one sentence.
        QVERIFY(!rig.controller.saveResultAs(
            id, QUrl::fromLocalFile(rig.dir.filePath(QStringLiteral("gone/fox.png")))));
        QVERIFY2(rig.lastText().contains(QStringLiteral("could not be saved")), qPrintable(rig.lastText()));
        // Save as… onto an existing file: refused, the file untouched.
        const QByteArray before = [&] { QFile f(file); f.open(QIODevice::ReadOnly); return f.readAll(); }();
        QVERIFY(!rig.controller.saveResultAs(id, QUrl::fromLocalFile(file)));
        QVERIFY2(rig.lastText().contains(QStringLiteral("does not replace")), qPrintable(rig.lastText()));
        QFile again(file);
        QVERIFY(again.open(QIODevice::ReadOnly));
        QCOMPARE(again.readAll(), before);
        // Nothing is lost: the message still shows the image, and it saves elsewhere.
        QCOMPARE(rig.reply(id)->status, MessageModel::Status::Done);
        QVERIFY(!rig.bank.png(QStringLiteral("result/%1").arg(id)).isEmpty());
        rig.settings.setSaveFolder(rig.dir.filePath(QStringLiteral("ok")));
        QVERIFY(!rig.controller.saveResult(id).isEmpty());
    }

    void engineErrorsReachTheChatAsOneSentence() {
        // libtorch's c10::Error carries a C++ backtrace in what().
        const std::runtime_error torchError(
            "The size of tensor a (4) must match the size of tensor b (8) at non-singleton "
            "dimension 1\nException raised from infer_size_impl at ../aten/src/ATen/ExpandUtils.cpp:31 "
            "(most recent call first):\nframe #0: c10::Error::Error(...) + 0x3e");
        const QString message = daub::userMessage(torchError);
        QVERIFY(!message.contains(u'\n'));
        QVERIFY(!message.contains(QStringLiteral("frame #0")));
        QVERIFY(message.contains(QStringLiteral("must match the size")));
        const std::runtime_error oom("CUDA out of memory. Tried to allocate 2.00 GiB\nframe #0: ...");
        QCOMPARE(daub::userMessage(oom),
                 QStringLiteral("There was not enough memory for this; try a smaller size."));
        const daub::ModelError own("The model file is damaged.");
        QCOMPARE(daub::userMessage(own), QStringLiteral("The model file is damaged."));
    }

    void failureIsolation() {
        Rig rig;
        QVERIFY(rig.loadModel());
        const qint64 a = rig.controller.send(QStringLiteral("first"));
        const qint64 b = rig.controller.send(QStringLiteral("fail"));
        const qint64 c = rig.controller.send(QStringLiteral("third"));
        QVERIFY(rig.waitUntilEnded(c));
        QCOMPARE(rig.reply(a)->status, MessageModel::Status::Done);
        QCOMPARE(rig.reply(b)->status, MessageModel::Status::Failed);
        QCOMPARE(rig.reply(b)->text, QStringLiteral("The prompt asked the fake engine to fail."));
        QCOMPARE(rig.reply(c)->status, MessageModel::Status::Done);
        QCOMPARE(rig.log->prompts,
                 (QStringList{QStringLiteral("first"), QStringLiteral("fail"), QStringLiteral("third")}));
    }

    void cancelRunningAndQueued() {
        Rig rig;
        QVERIFY(rig.loadModel());
        rig.log->stepDelayMs = 30;
        rig.settings.setSteps(50);
        const qint64 a = rig.controller.send(QStringLiteral("long"));
        const qint64 b = rig.controller.send(QStringLiteral("queued"));
        const qint64 c = rig.controller.send(QStringLiteral("last"));
        QVERIFY(QTest::qWaitFor([&] { return rig.reply(a)->step >= 2; }));
        QCOMPARE(rig.reply(b)->queuePosition, 1);
        QCOMPARE(rig.reply(c)->queuePosition, 2);
        QVERIFY(!rig.reply(a)->previewSource.isEmpty());
        QVERIFY(rig.controller.cancel(b));
        QCOMPARE(rig.reply(b)->status, MessageModel::Status::Cancelled);
        // Esc: the running job says it is cancelling until its step ends.
        QVERIFY(rig.controller.queue()->cancelRunning());
        QVERIFY2(rig.reply(a)->statusText.startsWith(QStringLiteral("Cancelling")),
                 qPrintable(rig.reply(a)->statusText));
        QVERIFY(rig.waitUntilEnded(a));
        QCOMPARE(rig.reply(a)->status, MessageModel::Status::Cancelled);
        QCOMPARE(rig.reply(a)->statusText, QStringLiteral("Cancelled"));
        QVERIFY(rig.reply(a)->step < 50);
        rig.log->stepDelayMs = 0;
        QVERIFY(rig.waitUntilEnded(c));
        QCOMPARE(rig.reply(c)->status, MessageModel::Status::Done);
        QCOMPARE(rig.log->prompts, (QStringList{QStringLiteral("long"), QStringLiteral("last")}));
    }

    void badInputLeavesEverythingAlone() {
        Rig rig;
        QVERIFY(rig.loadModel());
        rig.settings.setPrompt(QStringLiteral("keep me"));
        const QString text = rig.dir.filePath(QStringLiteral("notes.txt"));
        {
            QFile f(text);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("not an image");
        }
        const int before = rig.notices();
        QVERIFY(rig.controller.intake()->dropImage({{QStringLiteral("urls"), QVariantList{QUrl::fromLocalFile(text)}}}));
        QVERIFY(QTest::qWaitFor([&] { return rig.notices() == before + 1; }));
        QCOMPARE(rig.lastText(), QStringLiteral("\u2018notes.txt\u2019 is not an image Daub can read; "
                                                "use a PNG, JPEG, WebP or BMP file."));
        QVERIFY(!rig.controller.intake()->hasInitImage());
        QCOMPARE(rig.settings.prompt(), QStringLiteral("keep me"));
        QCOMPARE(rig.controller.queue()->waitingCount(), 0);

        // A drop with nothing in it.
        QVERIFY(!rig.controller.intake()->dropImage({{QStringLiteral("text"), QStringLiteral("hello")}}));
        QCOMPARE(rig.notices(), before + 2);

        // A good image keeps working afterwards; a bad one does not replace it.
        QSignalSpy initChanged(rig.controller.intake(), &InitImageIntake::initImageChanged);
        QFile png(daub::test::fixture(QStringLiteral("golden/init_64x64.png")));
        QVERIFY(png.open(QIODevice::ReadOnly));
        QVERIFY(rig.controller.intake()->dropImage(
            {{QStringLiteral("data"), QVariantMap{{QStringLiteral("image/png"), png.readAll()}}}}));
        WAIT_FOR(initChanged);
        const QString ref = rig.controller.intake()->initImageRef();
        rig.controller.intake()->setInitImageFromData(QByteArray("\x89PNG\r\n\x1a\n", 8), QStringLiteral("cut.png"));
        QVERIFY(QTest::qWaitFor([&] { return rig.notices() == before + 3; }));
        QCOMPARE(rig.controller.intake()->initImageRef(), ref);
    }

    void pngParametersAreOffered() {
        Rig rig;
        QVERIFY(rig.loadModel());
        ImageParameters p;
        p.prompt = "a castle";
        p.negative_prompt = "fog";
        p.steps = 12;
        p.scheduler = "euler_a";
        p.cfg_scale = 5;
        p.seed = 777;
        p.width = 64;
        p.height = 96;
        p.denoising_strength = 0.4;
        const QByteArray png =
            encodePng(daub::test::testImage(16, 16), {{"parameters", a1111::format(p)}});
        QSignalSpy initChanged(rig.controller.intake(), &InitImageIntake::initImageChanged);
        rig.controller.intake()->setInitImageFromData(png, QStringLiteral("castle.png"));
        WAIT_FOR(initChanged);
        const auto& notice = rig.controller.messages()->at(rig.controller.messages()->count() - 1);
        QCOMPARE(notice.action, QStringLiteral("useParameters"));
        QVERIFY(rig.controller.applyParameters(notice.parameters));
        QCOMPARE(rig.settings.prompt(), QStringLiteral("a castle"));
        QCOMPARE(rig.settings.negativePrompt(), QStringLiteral("fog"));
        QCOMPARE(rig.settings.steps(), 12);
        QCOMPARE(rig.settings.sampler(), QStringLiteral("euler_a"));
        QCOMPARE(rig.settings.seed(), 777);
        QVERIFY(rig.settings.seedLocked());
        QCOMPARE(rig.settings.height(), 96);
        QCOMPARE(rig.settings.strength(), 0.4);
    }

    void historyKeepsEveryEndedJob() {
        Rig rig;
        QVERIFY(rig.useHistory());
        QVERIFY(rig.loadModel());
        rig.settings.setSeedLocked(true);
        rig.settings.setSeed(99);
        const qint64 done = rig.controller.send(QStringLiteral("a kept fox"), QStringLiteral("fog"));
        const qint64 failed = rig.controller.send(QStringLiteral("fail"));
        QVERIFY(rig.waitUntilEnded(done));
        QVERIFY(rig.waitUntilEnded(failed));
        rig.log->stepDelayMs = 50;
        rig.settings.setSteps(40);
        const qint64 running = rig.controller.send(QStringLiteral("running"));
        const qint64 waiting = rig.controller.send(QStringLiteral("waiting"));
        QVERIFY(QTest::qWaitFor([&] { return rig.log->inStep.load(); }));
        rig.controller.queue()->cancelAll();
        QVERIFY(rig.waitUntilEnded(running));
        QVERIFY(rig.waitUntilEnded(waiting));

        const auto d = rig.history.entry(done);
        QVERIFY(d);
        QCOMPARE(d->state, HistoryEntry::State::Done);
        QCOMPARE(d->prompt, QStringLiteral("a kept fox"));
        QCOMPARE(d->negativePrompt, QStringLiteral("fog"));
        QCOMPARE(d->seed, 99);
        QCOMPARE(d->model, QStringLiteral("tiny-sd15"));
        QCOMPARE(d->parameters, rig.controller.parametersOf(done));
        QVERIFY(QFileInfo::exists(d->imageFile));
        QFile file(d->imageFile);
        QVERIFY(file.open(QIODevice::ReadOnly));
        QCOMPARE(rig.history.png(done), file.readAll());
        const auto recipe = recipeFromJson(d->recipe);
        QVERIFY(recipe);
        QCOMPARE(recipe->seed, 99);
        QCOMPARE(recipe->steps, rig.controller.recipe(done)->steps);
        const auto f = rig.history.entry(failed);
        QVERIFY(f);
        QCOMPARE(f->state, HistoryEntry::State::Failed);
        QVERIFY(!f->error.isEmpty());
        QVERIFY(f->imageFile.isEmpty());
        for (const qint64 id : {running, waiting}) {
            const auto c = rig.history.entry(id);
            QVERIFY2(c, qPrintable(QString::number(id)));
            QCOMPARE(c->state, HistoryEntry::State::Cancelled);
        }
    }

    void chatFollowsDeletionsInTheGallery() {
        Rig rig;
        QVERIFY(rig.useHistory());
        QVERIFY(rig.loadModel());
        const qint64 id = rig.controller.send(QStringLiteral("soon deleted"));
        QVERIFY(rig.waitUntilEnded(id));
        QVERIFY(!rig.reply(id)->deleted);
        QVERIFY(rig.history.remove(id)); // the gallery's delete
        QVERIFY(rig.reply(id)->deleted);
        QVERIFY(rig.history.restore(id)); // its undo
        QVERIFY(!rig.reply(id)->deleted);
        rig.settings.setBatchCount(2);
        const qint64 first = rig.controller.send(QStringLiteral("two"));
        QVERIFY(rig.waitUntilEnded(first + 1));
        QTRY_COMPARE(rig.reply(first)->status, MessageModel::Status::Done);
        QVERIFY(rig.history.remove(first + 1));
        QVERIFY(!rig.reply(first)->deleted);
        QVERIFY(rig.reply(first)->images[1].deleted);
        QVERIFY(rig.history.remove(first));
        QVERIFY(rig.reply(first)->deleted);
        rig.settings.setBatchCount(1);
    }

    void closingKeepsTheRunningJobAsCancelled() {
        Rig rig;
        QVERIFY(rig.useHistory());
        QVERIFY(rig.loadModel());
        rig.log->stepDelayMs = 50;
        rig.settings.setSteps(40);
        const qint64 id = rig.controller.send(QStringLiteral("interrupted"));
        QVERIFY(QTest::qWaitFor([&] { return rig.log->inStep.load(); }));
        rig.core.cancelEverything(); // what closing the window does first
        const auto kept = rig.history.entry(id);
        QVERIFY(kept);
        QCOMPARE(kept->state, HistoryEntry::State::Cancelled);
        const int notices = rig.notices();
        QVERIFY(rig.waitUntilEnded(id)); // the engine's report comes anyway: kept once
        QCOMPARE(rig.notices(), notices);
    }

    void restartRestoresTheConversationAndItsActions() {
        QTemporaryDir shared;
        const QString folder = shared.filePath(QStringLiteral("history"));
        qint64 txt2img = -1, img2img = -1;
        QString parameters;
        {
            Rig rig;
            QVERIFY(rig.history.open(folder));
            rig.core.setHistory(&rig.history);
        rig.controller.showHistory();
            QVERIFY(rig.loadModel());
            txt2img = rig.controller.send(QStringLiteral("first"));
            QVERIFY(rig.waitUntilEnded(txt2img));
            parameters = rig.controller.parametersOf(txt2img);
            rig.controller.intake()->setInitImageFromUrl(
                QUrl::fromLocalFile(rig.writeImage(QStringLiteral("i.png"), daub::test::testImage(32, 32))));
            QVERIFY(QTest::qWaitFor([&] { return rig.controller.intake()->hasInitImage(); }));
            img2img = rig.controller.send(QStringLiteral("second"));
            QVERIFY(rig.waitUntilEnded(img2img));
        }
        Rig rig;
        QVERIFY(rig.history.open(folder));
        rig.core.setHistory(&rig.history);
        rig.controller.showHistory();
        QCOMPARE(rig.controller.messages()->count(), 4); // two prompts, two replies
        const auto* first = rig.reply(txt2img);
        QVERIFY(first);
        QCOMPARE(first->status, MessageModel::Status::Done);
        QVERIFY(QUrl(first->imageSource).isLocalFile());
        QCOMPARE(rig.controller.messages()->at(0).text, QStringLiteral("first"));
        QVERIFY(!rig.controller.messages()->at(2).initImageSource.isEmpty()); // the kept thumbnail
        const qint64 firstSeed = first->seed;
        QCOMPARE(rig.controller.parametersOf(txt2img), parameters);
        QVERIFY(!rig.controller.saveResult(txt2img).isEmpty());
        QVERIFY(!rig.controller.hasOlderMessages());
        QVERIFY(rig.loadModel());
        // Re-run works for a txt2img job; an img2img job's image is not kept.
        const qint64 again = rig.controller.rerun(txt2img);
        QVERIFY(again > img2img);
        QVERIFY(rig.waitUntilEnded(again));
        QCOMPARE(rig.reply(again)->seed, firstSeed);
        const int before = rig.notices();
        QCOMPARE(rig.controller.rerun(img2img), -1);
        QCOMPARE(rig.notices(), before + 1);
        // And as an init image.
        rig.controller.useResultAsInit(txt2img);
        QVERIFY(QTest::qWaitFor([&] { return rig.controller.intake()->hasInitImage(); }));
    }

    void olderMessagesLoadAPageAtATime() {
        Rig rig;
        QVERIFY(rig.history.open(rig.dir.filePath(QStringLiteral("history"))));
        const int total = 2 * ChatController::kHistoryPage + 10;
        JobRecipe recipe;
        for (int i = 1; i <= total; ++i) {
            HistoryEntry e;
            e.id = i;
            e.prompt = QStringLiteral("prompt %1").arg(i);
            recipe.prompt = e.prompt;
            e.recipe = toJson(recipe);
            e.state = HistoryEntry::State::Cancelled;
            QVERIFY(rig.history.add(e, {}));
        }
        rig.core.setHistory(&rig.history);
        rig.controller.showHistory();
        QCOMPARE(rig.controller.messages()->count(), 2 * ChatController::kHistoryPage);
        QCOMPARE(rig.controller.messages()->at(0).text,
                 QStringLiteral("prompt %1").arg(total - ChatController::kHistoryPage + 1));
        QVERIFY(rig.controller.hasOlderMessages());
        QVERIFY(rig.controller.loadOlder());
        QVERIFY(rig.controller.hasOlderMessages());
        QVERIFY(rig.controller.loadOlder());
        QCOMPARE(rig.controller.messages()->count(), 2 * total);
        QVERIFY(!rig.controller.hasOlderMessages());
        QVERIFY(!rig.controller.loadOlder());
        QCOMPARE(rig.controller.messages()->at(0).text, QStringLiteral("prompt 1"));
        QCOMPARE(rig.controller.messages()->at(2 * total - 2).text,
                 QStringLiteral("prompt %1").arg(total));
        // New jobs continue after the history's ids.
        QVERIFY(rig.loadModel());
        QCOMPARE(rig.controller.send(QStringLiteral("next")), total + 1);
    }

    void batchIsOneMessageWithSeedsInARow() {
        Rig rig;
        QVERIFY(rig.useHistory());
        QVERIFY(rig.loadModel());
        rig.settings.setBatchCount(4);
        rig.settings.setSeedLocked(true);
        rig.settings.setSeed(500);
        const int rowsBefore = rig.controller.messages()->count();
        const qint64 first = rig.controller.send(QStringLiteral("four foxes"));
        QCOMPARE(rig.controller.messages()->count(), rowsBefore + 2); // one prompt, one reply
        for (qint64 id = first; id < first + 4; ++id)
            QVERIFY(rig.waitUntilEnded(id));
        QTRY_COMPARE(rig.reply(first)->status, MessageModel::Status::Done);
        const auto* reply = rig.reply(first);
        QCOMPARE(int(reply->images.size()), 4);
        for (int i = 0; i < 4; ++i) {
            QCOMPARE(reply->images[size_t(i)].jobId, first + i);
            QCOMPARE(reply->images[size_t(i)].seed, 500 + i);
            QCOMPARE(reply->images[size_t(i)].status, MessageModel::Status::Done);
            const auto e = rig.history.entry(first + i);
            QVERIFY(e);
            QCOMPARE(e->batch, first);
            QCOMPARE(e->batchIndex, i);
            QCOMPARE(a1111::parse(rig.controller.parametersOf(first + i))->seed, 500 + i);
        }
        QVERIFY(reply->statusText.contains(QStringLiteral("4 images")));
        QVERIFY(rig.controller.messages()->at(rowsBefore).details.contains(QStringLiteral("4 images")));
        // Restored, it is one message again.
        ChatController again(&rig.core, &rig.settings, &rig.bank);
        again.showHistory();
        QCOMPARE(again.messages()->count(), 2);
        QCOMPARE(int(again.messages()->reply(first)->images.size()), 4);
        QCOMPARE(again.messages()->reply(first + 3)->jobId, first);
        rig.settings.setBatchCount(1);
    }

    void shutdownDuringAStepIsQuick() {
        Rig rig;
        QVERIFY(rig.loadModel());
        rig.log->stepDelayMs = 100;
        rig.settings.setSteps(100);
        const qint64 id = rig.controller.send(QStringLiteral("slow"));
        QVERIFY(QTest::qWaitFor([&] { return rig.log->inStep.load(); }));
        QVERIFY(rig.reply(id)->status != MessageModel::Status::Done);
        QElapsedTimer timer;
        timer.start();
        rig.stop(); // what closing the window does
        QVERIFY2(timer.elapsed() < 2000, qPrintable(QString::number(timer.elapsed())));
    }
};

QTEST_MAIN(TestChatController)
#include "test_chatcontroller.moc"
