// GenerationCore on its own, as the API server uses it: no chat window, the
// real EngineWorker on its thread with a fake engine. A submitted recipe
// runs to a PNG and lands in the history with where it came from; batches,
// the result cache, cancelling a waiting and a running job, an upscale of
// an image that is gone, and the sentence when no model is loaded.
#include "generation/engineworker.h"
#include "generation/generationcore.h"
#include "storage/appsettings.h"
#include "fakebackend.h"
#include "testsupport.h"

#include <QImage>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QThread>
#include <QtTest/QtTest>

using namespace daub;
using daub::test::FakeBackend;
using daub::test::FakeLog;

namespace {

struct Rig {
    QTemporaryDir dir;
    std::shared_ptr<FakeLog> log = std::make_shared<FakeLog>();
    AppSettings settings{daub::test::scratchSettings(dir)};
    InitImageStore store;
    ResultCache cache;
    HistoryStore history;
    GenerationCore core{&settings, &store, &cache};
    QThread thread;
    EngineWorker* worker;

    Rig() {
        auto shared = log;
        worker = new EngineWorker([shared] { return std::make_unique<FakeBackend>(shared); });
        worker->moveToThread(&thread);
        core.attachWorker(worker);
        thread.start();
    }
    ~Rig() {
        core.cancelEverything();
        thread.quit();
        thread.wait();
        delete worker;
    }
    bool loadModel() {
        const QString path = dir.filePath(QStringLiteral("tiny-sd15"));
        QDir().mkpath(path);
        core.models()->loadModel(path);
        return QTest::qWaitFor(
            [&] { return core.models()->modelState() == ModelController::ModelState::Ready; });
    }
    bool useHistory() {
        if (!history.open(dir.filePath(QStringLiteral("history"))))
            return false;
        core.setHistory(&history);
        return true;
    }
    static JobRecipe recipe(const QString& prompt, qint64 seed = 7) {
        JobRecipe r;
        r.prompt = prompt;
        r.width = 48;
        r.height = 32;
        r.steps = 4;
        r.seed = seed;
        r.origin = QStringLiteral("api");
        return r;
    }
};

} // namespace

class TestGenerationCore : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void aRecipeRunsToAPngKeptWithItsOrigin() {
        Rig rig;
        QVERIFY(rig.useHistory());
        QVERIFY(rig.loadModel());
        QStringList order;
        connect(&rig.core, &GenerationCore::jobQueued, this,
                [&](qint64 id) { order << QStringLiteral("queued %1").arg(id); });
        connect(&rig.core, &GenerationCore::jobStarted, this,
                [&](qint64 id) { order << QStringLiteral("started %1").arg(id); });
        QSignalSpy progress(&rig.core, &GenerationCore::jobProgress);
        QSignalSpy finished(&rig.core, &GenerationCore::jobFinished);
        const qint64 id = rig.core.submit(Rig::recipe(QStringLiteral("a red fox")));
        QVERIFY(rig.core.isSessionJob(id));
        QVERIFY(finished.wait(10000));
        QCOMPARE(finished.at(0).at(0).toLongLong(), id);
        QCOMPARE(finished.at(0).at(2).toBool(), false); // not from the cache
        QCOMPARE(order, QStringList({QStringLiteral("queued %1").arg(id),
                                     QStringLiteral("started %1").arg(id)}));
        QCOMPARE(progress.count(), 4);
        const auto result = rig.core.result(id);
        QVERIFY(result);
        QImage png;
        QVERIFY(png.loadFromData(result->png, "PNG"));
        QCOMPARE(png.size(), QSize(48, 32));
        QCOMPARE(result->seed, 7);
        QVERIFY(result->parameters.startsWith(QStringLiteral("a red fox\n")));
        QCOMPARE(rig.core.latestResult(), id);
        // Kept in the history, with where it came from.
        QVERIFY(QTest::qWaitFor([&] { return rig.core.isKept(id); }));
        const auto entry = rig.history.entry(id);
        QVERIFY(entry);
        QCOMPARE(entry->state, HistoryEntry::State::Done);
        const auto kept = recipeFromJson(entry->recipe);
        QVERIFY(kept);
        QCOMPARE(kept->origin, QStringLiteral("api"));
        QCOMPARE(kept->prompt, QStringLiteral("a red fox"));
        // The same recipe again comes from the cache.
        finished.clear();
        const qint64 again = rig.core.submit(Rig::recipe(QStringLiteral("a red fox")));
        QVERIFY(finished.wait(10000));
        QCOMPARE(finished.at(0).at(0).toLongLong(), again);
        QCOMPARE(finished.at(0).at(2).toBool(), true);
        QCOMPARE(rig.log->generations.load(), 1);
    }

    void idsContinueAfterTheHistoryAndBatchesAreKept() {
        Rig rig;
        QVERIFY(rig.useHistory());
        HistoryEntry old;
        old.id = 41;
        old.prompt = QStringLiteral("old");
        old.recipe = toJson(Rig::recipe(old.prompt));
        old.state = HistoryEntry::State::Cancelled;
        QVERIFY(rig.history.add(old, {}));
        rig.core.setHistory(&rig.history);
        QVERIFY(rig.loadModel());
        QSignalSpy finished(&rig.core, &GenerationCore::jobFinished);
        const qint64 first = rig.core.submit(Rig::recipe(QStringLiteral("two"), 100), {},
                                             GenerationCore::Batch{-1, 0, 2});
        QCOMPARE(first, 42);
        const qint64 second = rig.core.submit(Rig::recipe(QStringLiteral("two"), 101), {},
                                              GenerationCore::Batch{first, 1, 2});
        QCOMPARE(rig.core.batchOf(first).batch, first);
        QCOMPARE(rig.core.batchOf(second).batch, first);
        QCOMPARE(rig.core.batchOf(second).index, 1);
        QCOMPARE(rig.core.batchOf(second).size, 2);
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, 10000);
        QVERIFY(QTest::qWaitFor([&] { return rig.core.isKept(second); }));
        const auto entry = rig.history.entry(second);
        QVERIFY(entry);
        QCOMPARE(entry->batch, first);
        QCOMPARE(entry->batchIndex, 1);
        QCOMPARE(entry->seed, 101);
        // A job of the history is known to the core after a restart.
        QVERIFY(!rig.core.isSessionJob(41));
        QCOMPARE(rig.core.recipe(41)->prompt, QStringLiteral("old"));
    }

    void cancelAWaitingAndTheRunningJob() {
        Rig rig;
        QVERIFY(rig.useHistory());
        QVERIFY(rig.loadModel());
        rig.log->stepDelayMs = 50;
        QSignalSpy cancelled(&rig.core, &GenerationCore::jobCancelled);
        QSignalSpy cancelling(&rig.core, &GenerationCore::jobCancelling);
        auto slow = Rig::recipe(QStringLiteral("slow"));
        slow.steps = 200;
        const qint64 running = rig.core.submit(slow);
        const qint64 waiting = rig.core.submit(Rig::recipe(QStringLiteral("waiting")));
        QVERIFY(QTest::qWaitFor([&] { return rig.log->inStep.load(); }));
        QVERIFY(rig.core.cancel(waiting));
        QVERIFY(cancelled.count() == 1 || cancelled.wait());
        QCOMPARE(cancelled.at(0).at(0).toLongLong(), waiting);
        QVERIFY(rig.core.cancel(running));
        QCOMPARE(cancelling.count(), 1);
        QVERIFY(cancelled.wait(5000));
        QCOMPARE(cancelled.at(1).at(0).toLongLong(), running);
        QVERIFY(QTest::qWaitFor([&] { return rig.core.isKept(running); }));
        QCOMPARE(rig.history.entry(running)->state, HistoryEntry::State::Cancelled);
        QCOMPARE(rig.history.entry(waiting)->state, HistoryEntry::State::Cancelled);
        QVERIFY(!rig.core.result(running));
        QCOMPARE(rig.log->generations.load(), 1);
    }

    void cancelTheRunningBatchLeavesOthers() {
        Rig rig;
        QVERIFY(rig.loadModel());
        rig.log->stepDelayMs = 50;
        QCOMPARE(rig.core.cancelRunningBatch(), 0); // nothing runs
        auto slow = Rig::recipe(QStringLiteral("batch"));
        slow.steps = 200;
        const qint64 first = rig.core.submit(slow, {}, GenerationCore::Batch{-1, 0, 3});
        rig.core.submit(slow, {}, GenerationCore::Batch{first, 1, 3});
        rig.core.submit(slow, {}, GenerationCore::Batch{first, 2, 3});
        const qint64 other = rig.core.submit(Rig::recipe(QStringLiteral("another send")));
        QSignalSpy finished(&rig.core, &GenerationCore::jobFinished);
        QVERIFY(QTest::qWaitFor([&] { return rig.log->inStep.load(); }));
        QCOMPARE(rig.core.cancelRunningBatch(), 3);
        QVERIFY(finished.wait(10000));
        QCOMPARE(finished.at(0).at(0).toLongLong(), other); // the other Send still runs
        QCOMPARE(rig.log->generations.load(), 2);
    }

    void aFailureIsOneSentenceAndTheQueueGoesOn() {
        Rig rig;
        QVERIFY(rig.loadModel());
        QSignalSpy failed(&rig.core, &GenerationCore::jobFailed);
        QSignalSpy finished(&rig.core, &GenerationCore::jobFinished);
        const qint64 bad = rig.core.submit(Rig::recipe(QStringLiteral("fail")));
        const qint64 good = rig.core.submit(Rig::recipe(QStringLiteral("fine")));
        QVERIFY(finished.wait(10000));
        QCOMPARE(failed.count(), 1);
        QCOMPARE(failed.at(0).at(0).toLongLong(), bad);
        const QString message = failed.at(0).at(1).toString();
        QVERIFY2(!message.isEmpty() && !message.contains(QLatin1Char('\n')), qPrintable(message));
        QCOMPARE(finished.at(0).at(0).toLongLong(), good);
    }

    void withoutAModelItSaysWhy() {
        Rig rig;
        const QString why = rig.core.whyNoModel(QStringLiteral("send again"));
        QVERIFY(why.contains(QStringLiteral("No model is loaded")));
        QVERIFY(why.endsWith(QStringLiteral("send again.")));
        QVERIFY(rig.loadModel());
        QCOMPARE(rig.core.whyNoModel(QStringLiteral("send again")), QString());
    }

    void upscaleOfAnImageThatIsGone() {
        Rig rig;
        QString why;
        QCOMPARE(rig.core.submitUpscale({}, {}, Rig::recipe({}), QStringLiteral("no-such-ref"),
                                        &why),
                 -1);
        QVERIFY(why.contains(QStringLiteral("no longer available")));
        // An image handed over runs without a model (a plain upscale).
        QSignalSpy finished(&rig.core, &GenerationCore::jobFinished);
        JobRecipe plain;
        plain.hasRecipe = false;
        plain.upscale.upscalerPath = rig.dir.filePath(QStringLiteral("x2.pth"));
        plain.upscale.level = 2;
        const qint64 id = rig.core.submitUpscale(daub::test::testImage(16, 16),
                                                 QStringLiteral("a.png"), plain);
        QVERIFY(id > 0);
        QVERIFY(finished.wait(10000));
        QCOMPARE(finished.at(0).at(0).toLongLong(), id);
        QImage png;
        QVERIFY(png.loadFromData(rig.core.result(id)->png, "PNG"));
        QCOMPARE(png.size(), QSize(32, 32));
    }
};

QTEST_MAIN(TestGenerationCore)
#include "test_generationcore.moc"
