// The app's own engine path with the real engine: EngineWorker on its
// thread driving makePipelineBackend(), as Application wires it. What the
// user's files go through: a single .safetensors with nothing beside it
// (built-in CLIP tokenizer), a .ckpt, a separate VAE, a Real-ESRGAN .pth
// upscaler (after a generation, on its own, and with a refine pass), load
// progress and cancel, and the token counter the composer shows.
#include "generation/engineworker.h"
#include "storage/pngmetadata.h"
#include "testsupport.h"

#include "bare_checkpoint.h"

#include <QSignalSpy>
#include <QTemporaryDir>
#include <QThread>
#include <QtTest/QtTest>

using namespace daub;

namespace {

struct Rig {
    QThread thread;
    EngineWorker* worker = new EngineWorker(&makePipelineBackend);
    QSignalSpy loaded{worker, &EngineWorker::modelLoaded};
    QSignalSpy failed{worker, &EngineWorker::modelLoadFailed};
    QSignalSpy cancelled{worker, &EngineWorker::modelLoadCancelled};
    QSignalSpy progress{worker, &EngineWorker::modelLoadProgress};
    QSignalSpy ended{worker, &EngineWorker::jobEnded};
    QSignalSpy steps{worker, &EngineWorker::jobProgress};

    Rig() {
        registerEngineMetaTypes();
        worker->moveToThread(&thread);
        thread.start();
    }
    ~Rig() {
        QMetaObject::invokeMethod(worker, [w = worker] { delete w; }, Qt::BlockingQueuedConnection);
        thread.quit();
        thread.wait();
    }

    /// Loads and waits; the model, or an empty description on failure.
    ModelDescription load(const QString& path, const QString& vae = {},
                          std::shared_ptr<CancelToken> cancel = {}) {
        const qsizetype loadedBefore = loaded.size();
        const qsizetype before = loadedBefore + failed.size() + cancelled.size();
        LoadJob job{ModelLoadRequest{path, vae}, std::move(cancel)};
        QMetaObject::invokeMethod(worker, [w = worker, job] { w->loadModel(job); });
        if (!QTest::qWaitFor(
                [&] { return loaded.size() + failed.size() + cancelled.size() > before; }, 120000))
            return {};
        if (loaded.size() == loadedBefore)
            return {};
        return loaded.last().at(0).value<ModelDescription>();
    }

    JobOutcome run(EngineJob job) {
        const qsizetype before = ended.size();
        job.cancel = std::make_shared<CancelToken>();
        QMetaObject::invokeMethod(worker, [w = worker, job] { w->run(job); });
        if (!QTest::qWaitFor([&] { return ended.size() > before; }, 120000))
            return {};
        return ended.last().at(0).value<JobOutcome>();
    }
};

EngineJob generation(qint64 id, const QString& prompt) {
    EngineJob job;
    job.jobId = id;
    job.request.prompt = prompt.toStdString();
    job.request.width = 64;
    job.request.height = 64;
    job.request.steps = 2;
    job.request.seed = 42;
    job.parameters.prompt = prompt.toStdString();
    job.parameters.steps = 2;
    return job;
}

QImage decode(const JobOutcome& outcome) { return QImage::fromData(outcome.png, "PNG"); }

} // namespace

class TestPipelineBackend : public QObject {
    Q_OBJECT
private:
    QTemporaryDir m_dir;

private Q_SLOTS:
    void aBareSingleFileLoadsAndGenerates() {
        // Written by the test: a real-width SD 1.5 file, no config, no tokenizer.
        const QString path = m_dir.filePath(QStringLiteral("bare-sd15.safetensors"));
        test::write_bare_sd15_checkpoint(path.toStdString());
        Rig rig;
        const ModelDescription model = rig.load(path);
        QVERIFY2(rig.failed.isEmpty(),
                 rig.failed.isEmpty() ? "" : qPrintable(rig.failed.last().at(1).toString()));
        QCOMPARE(model.family, QStringLiteral("SD 1.5"));
        QCOMPARE(model.loadNumber, 1);
        // Load progress reached every byte.
        QVERIFY(rig.progress.size() >= 2);
        const auto last = rig.progress.last();
        QCOMPARE(last.at(1).toLongLong(), last.at(2).toLongLong());
        // The composer's counter, from the built-in tokenizer.
        QVERIFY(model.countTokens);
        QCOMPARE(model.countTokens("a red fox").tokens, 3);
        std::string hundred;
        for (int i = 0; i < 100; ++i)
            hundred += "fox ";
        QCOMPARE(model.countTokens(hundred).tokens, 100);
        QCOMPARE(model.countTokens(hundred).limit, 150);

        const JobOutcome outcome = rig.run(generation(1, QStringLiteral("a (red:1.3) fox")));
        QVERIFY2(outcome.kind == JobOutcome::Kind::Finished, qPrintable(outcome.error));
        QCOMPARE(decode(outcome).size(), QSize(64, 64));
        QCOMPARE(outcome.modelName, model.name);
        QCOMPARE(outcome.modelLoad, 1);
        const auto p = a1111::parse(readPngText(outcome.png, QStringLiteral("parameters")));
        QVERIFY(p);
        QCOMPARE(qstr(p->model), model.name);
    }

    void checkpointWithSeparateVaeAndUpscaler() {
        Rig rig;
        // The .ckpt of tiny-sd15 needs its config folder (tiny widths), which
        // the app does not offer; its diffusers folder with the .ckpt's
        // own VAE file from the pickles stands for "a model plus a VAE file".
        const ModelDescription model = rig.load(test::fixture(QStringLiteral("tiny-sd15")),
                                                test::fixture(QStringLiteral("pickles/tiny-sd15.ckpt")));
        QVERIFY2(rig.failed.isEmpty(),
                 rig.failed.isEmpty() ? "" : qPrintable(rig.failed.last().at(1).toString()));
        QCOMPARE(model.vaeName, QStringLiteral("tiny-sd15.ckpt"));
        QVERIFY(model.identity.contains(QStringLiteral("vae:")));

        EngineJob job = generation(2, QStringLiteral("a lighthouse"));
        job.upscale.upscalerPath = test::fixture(QStringLiteral("pickles/tiny-rrdbnet-x4.pth"));
        job.upscale.level = 2;
        const qsizetype stepsBefore = rig.steps.size();
        const JobOutcome outcome = rig.run(job);
        QVERIFY2(outcome.kind == JobOutcome::Kind::Finished, qPrintable(outcome.error));
        QCOMPARE(decode(outcome).size(), QSize(128, 128));
        bool sawUpscale = false;
        for (qsizetype i = stepsBefore; i < rig.steps.size(); ++i)
            sawUpscale |= rig.steps.at(i).at(5).toInt() == int(JobPhase::Upscale);
        QVERIFY(sawUpscale);
        const auto p = a1111::parse(readPngText(outcome.png, QStringLiteral("parameters")));
        QVERIFY(p);
        QCOMPARE(qstr(p->vae), QStringLiteral("tiny-sd15.ckpt"));
        QCOMPARE(qstr(p->upscaler), QStringLiteral("tiny-rrdbnet-x4"));
        QCOMPARE(p->upscale, 2.0);

        // The Upscale action: the result upscaled on its own (×4 from a ×2 net).
        EngineJob upscale;
        upscale.jobId = 3;
        upscale.kind = EngineJob::Kind::Upscale;
        upscale.request.init_image = toEngineImage(decode(outcome).convertToFormat(QImage::Format_RGB888));
        upscale.upscale.upscalerPath = test::fixture(QStringLiteral("pickles/tiny-rrdbnet-x2.pth"));
        upscale.upscale.level = 4;
        upscale.writeParameters = false;
        const JobOutcome big = rig.run(upscale);
        QVERIFY2(big.kind == JobOutcome::Kind::Finished, qPrintable(big.error));
        QCOMPARE(decode(big).size(), QSize(512, 512));
        QVERIFY(readPngText(big.png, QStringLiteral("parameters")).isEmpty());

        // Upscale + refine: the model's img2img on the upscaled image.
        EngineJob refine = generation(4, QStringLiteral("a lighthouse"));
        refine.kind = EngineJob::Kind::Upscale;
        refine.request.init_image = upscale.request.init_image;
        refine.upscale.upscalerPath = test::fixture(QStringLiteral("tiny-rrdbnet-x4.safetensors"));
        refine.upscale.level = 2;
        refine.upscale.refineStrength = 0.5;
        refine.request.steps = 4;
        const JobOutcome refined = rig.run(refine);
        QVERIFY2(refined.kind == JobOutcome::Kind::Finished, qPrintable(refined.error));
        QCOMPARE(decode(refined).size(), QSize(256, 256));
        QCOMPARE(refined.stepsRun, 2); // int(4 × 0.5)

        // A file that is not an upscaler: one sentence, no backtrace.
        EngineJob wrong = upscale;
        wrong.jobId = 5;
        wrong.upscale.upscalerPath = test::fixture(QStringLiteral("tiny-sd15.safetensors"));
        const JobOutcome refused = rig.run(wrong);
        QCOMPARE(refused.kind, JobOutcome::Kind::Failed);
        QVERIFY2(refused.error.contains(QStringLiteral("RRDBNet")), qPrintable(refused.error));
        QVERIFY(!refused.error.contains(u'\n'));
        // The attack pickle as an upscaler is refused and runs nothing.
        QFile::remove(QStringLiteral("/tmp/daub-pickle-attack-ran"));
        wrong.upscale.upscalerPath = test::fixture(QStringLiteral("pickles/attack-os-system.pth"));
        const JobOutcome attack = rig.run(wrong);
        QCOMPARE(attack.kind, JobOutcome::Kind::Failed);
        QVERIFY2(attack.error.contains(QStringLiteral("nothing from it was run")),
                 qPrintable(attack.error));
        QVERIFY(!QFileInfo::exists(QStringLiteral("/tmp/daub-pickle-attack-ran")));
    }

    void cancellingALoadLeavesNoModel() {
        Rig rig;
        auto cancel = std::make_shared<CancelToken>();
        cancel->cancel(); // before the first tensor
        rig.load(test::fixture(QStringLiteral("tiny-sd15")), {}, cancel);
        QCOMPARE(rig.cancelled.size(), 1);
        QCOMPARE(rig.loaded.size(), 0);
        const JobOutcome outcome = rig.run(generation(1, QStringLiteral("x")));
        QCOMPARE(outcome.kind, JobOutcome::Kind::Failed);
        QVERIFY(outcome.error.contains(QStringLiteral("No model is loaded")));
        // The next load works and is number 2.
        const ModelDescription model = rig.load(test::fixture(QStringLiteral("tiny-sd15")));
        QCOMPARE(model.loadNumber, 2);
    }
};

QTEST_GUILESS_MAIN(TestPipelineBackend)
#include "test_pipelinebackend.moc"
