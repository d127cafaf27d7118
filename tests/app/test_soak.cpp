// Soak: 200 jobs through the real controller, the real engine thread and
// the tiny models, with random cancels, model switches (the tiny SD 1.5
// folder and a single file with nothing beside it) and init-image changes
// interleaved. Every job must end done, failed or cancelled; nothing may
// crash or hang; resident memory must stay flat after warm-up.
#include "storage/appsettings.h"
#include "chat/chatcontroller.h"
#include "generation/generationcore.h"
#include "generation/engineworker.h"
#include "imageproviders.h"
#include "testsupport.h"

#include "bare_checkpoint.h"

#include <QElapsedTimer>
#include <QImageWriter>
#include <QRandomGenerator>
#include <QSignalSpy>
#include <QThread>
#include <QtTest/QtTest>

#include <unistd.h>

using namespace daub;

namespace {

/// Resident memory of this process in MiB (/proc/self/statm).
double residentMiB() {
    QFile statm(QStringLiteral("/proc/self/statm"));
    if (!statm.open(QIODevice::ReadOnly))
        return 0;
    const QList<QByteArray> fields = statm.readAll().split(' ');
    return fields.size() > 1 ? fields[1].toDouble() * double(sysconf(_SC_PAGESIZE)) / (1 << 20)
                             : 0;
}

} // namespace

class TestSoak : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void twoHundredJobs() {
        QTemporaryDir dir;
        const QString bare = dir.filePath(QStringLiteral("bare-sd15.safetensors"));
        test::write_bare_sd15_checkpoint(bare.toStdString());
        const QString folder = test::fixture(QStringLiteral("tiny-sd15"));
        QStringList images;
        for (int i = 0; i < 3; ++i) {
            images << dir.filePath(QStringLiteral("init%1.png").arg(i));
            QVERIFY(QImageWriter(images.last()).write(test::testImage(48 + 8 * i, 64, 30 * i)));
        }

        AppSettings settings(test::scratchSettings(dir));
        settings.setWidth(64);
        settings.setHeight(64);
        settings.setSteps(3);
        settings.setSaveFolder(dir.filePath(QStringLiteral("saved")));
        InitImageStore store;
        ResultCache cache;
        ImageBank bank;
        GenerationCore core(&settings, &store, &cache);
        ChatController controller(&core, &settings, &bank);
        QThread thread;
        auto* worker = new EngineWorker(&makePipelineBackend);
        worker->moveToThread(&thread);
        core.attachWorker(worker);
        thread.start();

        QRandomGenerator rng(20261201);
        QElapsedTimer timer;
        timer.start();
        controller.models()->loadModel(folder);
        QList<qint64> jobs;
        double warmRss = 0;
        int switches = 0, drops = 0, cancels = 0;
        auto ended = [&](qint64 id) {
            const auto* r = controller.messages()->reply(id);
            return r && (r->status == MessageModel::Status::Done ||
                         r->status == MessageModel::Status::Failed ||
                         r->status == MessageModel::Status::Cancelled);
        };
        for (int i = 0; i < 200; ++i) {
            const quint32 dice = rng.bounded(100);
            if (i % 40 == 39) { // a model switch while jobs wait
                controller.models()->loadModel(++switches % 2 ? bare : folder);
            } else if (dice < 8) { // a new init image, or none
                if (rng.bounded(3) == 0)
                    controller.intake()->clearInitImage();
                else
                    controller.intake()->setInitImageFromUrl(
                        QUrl::fromLocalFile(images[int(rng.bounded(images.size()))]));
                ++drops;
            }
            settings.setSeedLocked(rng.bounded(4) == 0); // some repeats hit the cache
            const qint64 id = controller.send(QStringLiteral("soak %1").arg(rng.bounded(5)));
            QVERIFY(id > 0);
            jobs << id;
            if (rng.bounded(100) < 15) { // cancel this one or an earlier one
                controller.cancel(jobs[int(rng.bounded(jobs.size()))]);
                ++cancels;
            }
            // Keep at most ~8 jobs waiting, as a user clicking along would.
            QVERIFY(QTest::qWaitFor([&] { return controller.queue()->waitingCount() < 8; }, 60000));
            if (i == 60) { // warmed up: every code path has run
                QVERIFY(QTest::qWaitFor([&] { return ended(id); }, 60000));
                warmRss = residentMiB();
            }
        }
        for (qint64 id : jobs)
            QVERIFY2(QTest::qWaitFor([&] { return ended(id); }, 120000),
                     qPrintable(QStringLiteral("job %1 never ended").arg(id)));
        const double endRss = residentMiB();
        int done = 0, failed = 0, cancelled = 0;
        for (qint64 id : jobs) {
            const auto* r = controller.messages()->reply(id);
            done += r->status == MessageModel::Status::Done;
            failed += r->status == MessageModel::Status::Failed;
            cancelled += r->status == MessageModel::Status::Cancelled;
            if (r->status == MessageModel::Status::Failed)
                qWarning("job %lld failed: %s", id, qPrintable(r->text));
        }
        qInfo("soak: %lld jobs in %.1f s: %d done, %d failed, %d cancelled; %d model switches, "
              "%d init changes, %d cancels asked; RSS %.0f MiB after warm-up, %.0f MiB at the end",
              qint64(jobs.size()), timer.elapsed() / 1000.0, done, failed, cancelled, switches,
              drops, cancels, warmRss, endRss);
        QCOMPARE(done + failed + cancelled, int(jobs.size()));
        QCOMPARE(failed, 0); // nothing here is a user error
        QVERIFY(done > 100);
        QVERIFY(!controller.queue()->busy());
        // Flat: what grows is the chat's own record (messages, result PNGs
        // of 64×64), far below this bound.
        QVERIFY2(endRss - warmRss < 96, qPrintable(QStringLiteral("RSS grew from %1 to %2 MiB")
                                                       .arg(warmRss)
                                                       .arg(endRss)));

        controller.queue()->cancelAll();
        thread.quit();
        thread.wait();
        delete worker;
    }
};

QTEST_GUILESS_MAIN(TestSoak)
#include "test_soak.moc"
