// The order in which generation jobs run: one at a time, first in first
// out. A job is queued, running, done, failed or cancelled; any job can be
// cancelled; a failure never stops the jobs behind it.
//
// The queue never touches the engine (as elisa's ManageAudioPlayer never
// touches the player): state comes in (engineReady, markDone/markFailed/
// markCancelled), requests go out as signals (startRequested,
// cancelRequested). GenerationCore connects them to EngineWorker; the tests
// connect them to nothing at all.
#pragma once

#include <QHash>
#include <QList>
#include <QObject>
#include <QSet>
#include <QtQml/qqmlregistration.h>

#include <optional>

namespace daub {

class JobQueue : public QObject {
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("JobQueue belongs to GenerationCore")

    /// Jobs waiting for their turn (not counting the running one).
    Q_PROPERTY(int waitingCount READ waitingCount NOTIFY positionsChanged)
    /// True while a job runs.
    Q_PROPERTY(bool busy READ busy NOTIFY busyChanged)
    /// Jobs start only while the engine is ready (a model is loaded).
    Q_PROPERTY(bool engineReady READ engineReady WRITE setEngineReady NOTIFY engineReadyChanged)

public:
    using JobId = qint64;
    enum class State { Queued, Running, Done, Failed, Cancelled };
    Q_ENUM(State)

    explicit JobQueue(QObject* parent = nullptr);

    /// Appends a job; it starts when all before it have ended and, unless
    /// `needsEngine` is false (a plain upscale), a model is ready.
    void enqueue(JobId id, bool needsEngine = true);
    /// Cancels a queued job at once, or asks the running one to stop
    /// (cancelRequested; it ends with markCancelled). False when the job
    /// has already ended or is unknown.
    Q_INVOKABLE bool cancel(JobId id);
    /// Cancels every queued job and the running one.
    Q_INVOKABLE void cancelAll();
    /// Asks the running job to stop (Esc); false when none runs.
    Q_INVOKABLE bool cancelRunning();

    /// The running job ended (only the running job can end).
    bool markDone(JobId id);
    bool markFailed(JobId id);
    bool markCancelled(JobId id);

    std::optional<State> state(JobId id) const;
    /// 0 for the running job, 1 for the next, ...; -1 when not waiting.
    Q_INVOKABLE int position(JobId id) const;
    QList<JobId> waiting() const { return m_waiting; }
    std::optional<JobId> running() const { return m_running; }

    int waitingCount() const { return int(m_waiting.size()); }
    bool busy() const { return m_running.has_value(); }
    bool engineReady() const { return m_engineReady; }
    void setEngineReady(bool ready);

Q_SIGNALS:
    /// It is this job's turn: run it, then report how it ended.
    void startRequested(qint64 id);
    /// Stop the running job `id`.
    void cancelRequested(qint64 id);
    void stateChanged(qint64 id, daub::JobQueue::State state);
    /// Queue positions moved (a job was added, started or removed).
    void positionsChanged();
    void busyChanged();
    void engineReadyChanged();

private:
    bool finish(JobId id, State state);
    void setState(JobId id, State state);
    void scheduleDispatch();
    void dispatch();

    QList<JobId> m_waiting;
    std::optional<JobId> m_running;
    bool m_cancelRequested = false;
    QHash<JobId, State> m_states;
    bool m_engineReady = false;
    bool m_dispatchScheduled = false;
    QSet<JobId> m_withoutEngine; ///< waiting jobs that run without a model
};

} // namespace daub
