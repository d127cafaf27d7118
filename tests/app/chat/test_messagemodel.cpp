// MessageModel: rows and roles, a reply's life (queued, running, done,
// failed, cancelled), under QAbstractItemModelTester from the start.
#include "chat/messagemodel.h"

#include "generation/enginebackend.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QtTest/QtTest>

using daub::MessageModel;

class TestMessageModel : public QObject {
    Q_OBJECT
private:
    static QVariant role(const MessageModel& m, int row, MessageModel::Role r) {
        return m.data(m.index(row), r);
    }

private Q_SLOTS:
    void batchIsOneReply() {
        MessageModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.addPrompt(10, QStringLiteral("foxes"), {}, QStringLiteral("· 3 images"), {});
        model.addReply(10);
        model.addReply(11, 10);
        model.addReply(12, 10);
        QCOMPARE(model.count(), 2);
        QCOMPARE(role(model, 1, MessageModel::BatchSizeRole).toInt(), 3);
        QCOMPARE(model.reply(12), model.reply(10));
        model.setQueued(10, 1, 0, false);
        model.setQueued(11, 2, 1, false);
        QCOMPARE(role(model, 1, MessageModel::StatusTextRole).toString(), QStringLiteral("Queued \u00b7 next"));
        model.setRunning(10);
        model.setProgress(10, 2, 4, 100, {}, daub::JobPhase::Denoise);
        QVERIFY(role(model, 1, MessageModel::StatusTextRole).toString().startsWith(QStringLiteral("Image 1 of 3")));
        model.setDone(10, QStringLiteral("image://daub/result/10"), 64, 48, 3918547709, 100, false,
                      QStringLiteral("p"));
        QCOMPARE(role(model, 1, MessageModel::StatusRole).toInt(), int(MessageModel::Status::Running));
        model.setRunning(11);
        model.setFailed(11, QStringLiteral("It broke."));
        model.setCancelled(12); // cancelled while waiting
        QCOMPARE(role(model, 1, MessageModel::StatusRole).toInt(), int(MessageModel::Status::Done));
        const QString summary = role(model, 1, MessageModel::StatusTextRole).toString();
        QVERIFY2(summary.contains(QStringLiteral("1 of 3 images done")) && summary.contains(QStringLiteral("1 failed"))
                     && summary.contains(QStringLiteral("1 cancelled")), qPrintable(summary));
        // Only the image made has a seed: one seed, written whole.
        QVERIFY2(summary.contains(QStringLiteral("seed 3918547709")) && !summary.contains(QStringLiteral("-1")),
                 qPrintable(summary));
        const QVariantList images = role(model, 1, MessageModel::ImagesRole).toList();
        QCOMPARE(images.size(), 3);
        QCOMPARE(images[0].toMap().value(QStringLiteral("imageSource")).toString(), QStringLiteral("image://daub/result/10"));
        QCOMPARE(images[0].toMap().value(QStringLiteral("seedText")).toString(), QStringLiteral("3918547709"));
        QCOMPARE(images[1].toMap().value(QStringLiteral("status")).toInt(), int(MessageModel::Status::Failed));
        QCOMPARE(images[1].toMap().value(QStringLiteral("error")).toString(), QStringLiteral("It broke."));
        QCOMPARE(images[2].toMap().value(QStringLiteral("status")).toInt(), int(MessageModel::Status::Cancelled));
        QCOMPARE(role(model, 1, MessageModel::ImageSourceRole).toString(), QStringLiteral("image://daub/result/10"));
    }

    void olderRowsGoOnTop() {
        MessageModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.addPrompt(5, QStringLiteral("new"), {}, {}, {});
        model.addReply(5);
        std::vector<MessageModel::Message> older(2);
        older[0].kind = MessageModel::Kind::Prompt;
        older[0].jobId = 2;
        older[0].text = QStringLiteral("old");
        older[1].kind = MessageModel::Kind::Reply;
        older[1].jobId = 2;
        older[1].status = MessageModel::Status::Done;
        model.insertOlder(std::move(older));
        QCOMPARE(model.count(), 4);
        QCOMPARE(role(model, 0, MessageModel::TextRole).toString(), QStringLiteral("old"));
        QCOMPARE(model.reply(2)->status, MessageModel::Status::Done);
        model.setDone(5, QStringLiteral("x"), 1, 1, 1, 1, false, {}); // rows moved: still found
        QCOMPARE(role(model, 3, MessageModel::StatusRole).toInt(), int(MessageModel::Status::Done));
    }

    void conversation() {
        MessageModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);

        model.addPrompt(7, QStringLiteral("a fox"), QStringLiteral("blurry"),
                        QStringLiteral("64×64 · 20 steps"), QStringLiteral("image://daub/thumb/7"));
        model.addReply(7);
        QCOMPARE(model.count(), 2);
        QCOMPARE(role(model, 0, MessageModel::KindRole).toInt(), int(MessageModel::Kind::Prompt));
        QCOMPARE(role(model, 0, MessageModel::TextRole).toString(), QStringLiteral("a fox"));
        QCOMPARE(role(model, 0, MessageModel::InitImageSourceRole).toString(),
                 QStringLiteral("image://daub/thumb/7"));
        QCOMPARE(role(model, 1, MessageModel::KindRole).toInt(), int(MessageModel::Kind::Reply));
        QCOMPARE(role(model, 1, MessageModel::StatusRole).toInt(), int(MessageModel::Status::Queued));

        model.setQueued(7, 2, 1, false);
        QCOMPARE(role(model, 1, MessageModel::QueuePositionRole).toInt(), 2);
        QCOMPARE(role(model, 1, MessageModel::StatusTextRole).toString(),
                 QStringLiteral("Queued \u00b7 1 ahead"));

        model.setProgress(7, 3, 10, 1234, QStringLiteral("image://daub/preview/7/3"),
                          daub::JobPhase::Denoise);
        QCOMPARE(role(model, 1, MessageModel::StatusRole).toInt(), int(MessageModel::Status::Running));
        QCOMPARE(role(model, 1, MessageModel::StatusTextRole).toString(),
                 QStringLiteral("Step 3/10 \u00b7 1.2 s"));
        QCOMPARE(role(model, 1, MessageModel::PreviewSourceRole).toString(),
                 QStringLiteral("image://daub/preview/7/3"));

        model.setDone(7, QStringLiteral("image://daub/result/7"), 64, 64, 42, 2500, false,
                      QStringLiteral("params"));
        QCOMPARE(role(model, 1, MessageModel::StatusRole).toInt(), int(MessageModel::Status::Done));
        QCOMPARE(role(model, 1, MessageModel::ImageSourceRole).toString(),
                 QStringLiteral("image://daub/result/7"));
        QCOMPARE(role(model, 1, MessageModel::SeedRole).toLongLong(), 42);
        QCOMPARE(role(model, 1, MessageModel::StepRole).toInt(), 10);
        QCOMPARE(role(model, 1, MessageModel::StatusTextRole).toString(),
                 QStringLiteral("Done in 2.5 s \u00b7 64\u00d764 \u00b7 seed 42"));
        QVERIFY(role(model, 1, MessageModel::PreviewSourceRole).toString().isEmpty());
        QVERIFY(changed.count() >= 3);
        const int changes = int(changed.count());
        // The phases of an upscale-then-refine job say what runs.
        model.setProgress(7, 2, 6, 500, {}, daub::JobPhase::Upscale);
        QCOMPARE(role(model, 1, MessageModel::StatusTextRole).toString(),
                 QStringLiteral("Upscaling \u00b7 tile 2/6"));
        model.setProgress(7, 1, 3, 900, {}, daub::JobPhase::Refine);
        QCOMPARE(role(model, 1, MessageModel::StatusTextRole).toString(),
                 QStringLiteral("Refining \u00b7 step 1/3 \u00b7 900 ms"));
        QCOMPARE(int(changed.count()), changes + 2);
        for (const auto& args : changed)
            QCOMPARE(args.at(0).value<QModelIndex>().row(), 1); // only the reply changed
    }

    void failureAndCancel() {
        MessageModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.addReply(1);
        model.addReply(2);
        model.setFailed(1, QStringLiteral("The init image expired \u2014 drop it again."));
        model.setCancelled(2);
        QCOMPARE(model.reply(1)->status, MessageModel::Status::Failed);
        QCOMPARE(model.reply(1)->text, QStringLiteral("The init image expired \u2014 drop it again."));
        QCOMPARE(model.reply(2)->status, MessageModel::Status::Cancelled);
        model.setDone(99, {}, 0, 0, 0, 0, false, {}); // unknown job: nothing happens
        QCOMPARE(model.count(), 2);
    }

    void notices() {
        MessageModel model;
        model.addNotice(QStringLiteral("‘x.png’ carries the parameters it was made with."),
                        QStringLiteral("useParameters"), QStringLiteral("a\nSteps: 1"));
        QCOMPARE(role(model, 0, MessageModel::KindRole).toInt(), int(MessageModel::Kind::Notice));
        QCOMPARE(role(model, 0, MessageModel::ActionRole).toString(), QStringLiteral("useParameters"));
        QCOMPARE(role(model, 0, MessageModel::JobIdRole).toLongLong(), -1);
        const auto names = model.roleNames();
        QCOMPARE(names.value(MessageModel::PreviewSourceRole), QByteArray("previewSource"));
        model.clear();
        QCOMPARE(model.count(), 0);
    }

    void durations() {
        QCOMPARE(daub::formatDuration(850), QStringLiteral("850 ms"));
        QCOMPARE(daub::formatDuration(1234), QStringLiteral("1.2 s"));
        QCOMPARE(daub::formatDuration(125'000), QStringLiteral("2 min 05 s"));
    }
};

QTEST_GUILESS_MAIN(TestMessageModel)
#include "test_messagemodel.moc"
