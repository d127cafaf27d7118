// JobQueue: order, one at a time, cancel (queued and running), failure
// isolation, the engine-ready gate. No engine: the test plays its part.
#include "generation/jobqueue.h"

#include <QSignalSpy>
#include <QtTest/QtTest>

using daub::JobQueue;

class TestJobQueue : public QObject {
    Q_OBJECT
private:
    static QList<qint64> started(const QSignalSpy& spy) {
        QList<qint64> ids;
        for (const auto& args : spy)
            ids << args.at(0).toLongLong();
        return ids;
    }

private Q_SLOTS:
    void runsInOrderOneAtATime() {
        JobQueue queue;
        QSignalSpy start(&queue, &JobQueue::startRequested);
        queue.setEngineReady(true);
        queue.enqueue(1);
        queue.enqueue(2);
        queue.enqueue(3);
        QTRY_COMPARE(start.count(), 1);
        QCOMPARE(started(start), QList<qint64>{1});
        QVERIFY(queue.busy());
        QCOMPARE(queue.position(1), 0);
        QCOMPARE(queue.position(2), 1);
        QCOMPARE(queue.position(3), 2);
        QTest::qWait(20);
        QCOMPARE(start.count(), 1); // still one at a time
        QVERIFY(queue.markDone(1));
        QTRY_COMPARE(start.count(), 2);
        QVERIFY(queue.markDone(2));
        QTRY_COMPARE(start.count(), 3);
        QVERIFY(queue.markDone(3));
        QCOMPARE(started(start), (QList<qint64>{1, 2, 3}));
        QCOMPARE(queue.state(3), JobQueue::State::Done);
        QVERIFY(!queue.busy());
    }

    void waitsForTheEngine() {
        JobQueue queue;
        QSignalSpy start(&queue, &JobQueue::startRequested);
        queue.enqueue(1);
        QTest::qWait(20);
        QCOMPARE(start.count(), 0);
        QCOMPARE(queue.state(1), JobQueue::State::Queued);
        queue.setEngineReady(true);
        QTRY_COMPARE(start.count(), 1);
    }

    void cancelsQueuedJobAtOnce() {
        JobQueue queue;
        QSignalSpy start(&queue, &JobQueue::startRequested);
        QSignalSpy cancelRequests(&queue, &JobQueue::cancelRequested);
        queue.setEngineReady(true);
        queue.enqueue(1);
        queue.enqueue(2);
        queue.enqueue(3);
        QTRY_COMPARE(start.count(), 1);
        QVERIFY(queue.cancel(2));
        QCOMPARE(queue.state(2), JobQueue::State::Cancelled);
        QCOMPARE(cancelRequests.count(), 0);
        QCOMPARE(queue.position(3), 1);
        QVERIFY(!queue.cancel(2)); // already ended
        queue.markDone(1);
        QTRY_COMPARE(start.count(), 2);
        QCOMPARE(started(start), (QList<qint64>{1, 3}));
    }

    void cancelsRunningJobThroughTheEngine() {
        JobQueue queue;
        QSignalSpy start(&queue, &JobQueue::startRequested);
        QSignalSpy cancelRequests(&queue, &JobQueue::cancelRequested);
        queue.setEngineReady(true);
        queue.enqueue(1);
        queue.enqueue(2);
        QTRY_COMPARE(start.count(), 1);
        QVERIFY(queue.cancel(1));
        QVERIFY(queue.cancel(1)); // asking twice sends one request
        QCOMPARE(cancelRequests.count(), 1);
        QCOMPARE(cancelRequests.at(0).at(0).toLongLong(), 1);
        QCOMPARE(queue.state(1), JobQueue::State::Running); // until the engine stops
        QVERIFY(queue.markCancelled(1));
        QCOMPARE(queue.state(1), JobQueue::State::Cancelled);
        QTRY_COMPARE(start.count(), 2);
    }

    void failureDoesNotStopTheQueue() {
        JobQueue queue;
        QSignalSpy start(&queue, &JobQueue::startRequested);
        queue.setEngineReady(true);
        for (qint64 id = 1; id <= 3; ++id)
            queue.enqueue(id);
        QTRY_COMPARE(start.count(), 1);
        QVERIFY(queue.markFailed(1));
        QTRY_COMPARE(start.count(), 2);
        QVERIFY(queue.markDone(2));
        QTRY_COMPARE(start.count(), 3);
        QCOMPARE(queue.state(1), JobQueue::State::Failed);
        QCOMPARE(queue.state(2), JobQueue::State::Done);
        QCOMPARE(queue.state(3), JobQueue::State::Running);
    }

    void onlyTheRunningJobCanEnd() {
        JobQueue queue;
        queue.setEngineReady(true);
        queue.enqueue(1);
        queue.enqueue(2);
        QTRY_VERIFY(queue.busy());
        QVERIFY(!queue.markDone(2));
        QVERIFY(!queue.markFailed(42));
        QCOMPARE(queue.state(2), JobQueue::State::Queued);
    }

    void cancelAll() {
        JobQueue queue;
        QSignalSpy cancelRequests(&queue, &JobQueue::cancelRequested);
        queue.setEngineReady(true);
        queue.enqueue(1);
        queue.enqueue(2);
        queue.enqueue(3);
        QTRY_VERIFY(queue.busy());
        queue.cancelAll();
        QCOMPARE(queue.waitingCount(), 0);
        QCOMPARE(cancelRequests.count(), 1);
        QCOMPARE(queue.state(3), JobQueue::State::Cancelled);
    }
};

QTEST_GUILESS_MAIN(TestJobQueue)
#include "test_jobqueue.moc"
