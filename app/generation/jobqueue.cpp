#include "generation/jobqueue.h"

#include <QTimer>

namespace daub {

JobQueue::JobQueue(QObject* parent) : QObject(parent) {}

void JobQueue::enqueue(JobId id, bool needsEngine) {
    if (m_states.contains(id))
        return;
    m_waiting.append(id);
    if (!needsEngine)
        m_withoutEngine.insert(id);
    setState(id, State::Queued);
    Q_EMIT positionsChanged();
    scheduleDispatch();
}

bool JobQueue::cancel(JobId id) {
    if (m_running == id) {
        if (!m_cancelRequested) {
            m_cancelRequested = true;
            Q_EMIT cancelRequested(id);
        }
        return true;
    }
    if (!m_waiting.removeOne(id))
        return false;
    m_withoutEngine.remove(id);
    setState(id, State::Cancelled);
    Q_EMIT positionsChanged();
    return true;
}

bool JobQueue::cancelRunning() { return m_running && cancel(*m_running); }

void JobQueue::cancelAll() {
    const QList<JobId> waiting = m_waiting;
    for (JobId id : waiting)
        cancel(id);
    if (m_running)
        cancel(*m_running);
}

bool JobQueue::finish(JobId id, State state) {
    if (m_running != id)
        return false;
    m_running.reset();
    m_cancelRequested = false;
    setState(id, state);
    Q_EMIT busyChanged();
    Q_EMIT positionsChanged();
    scheduleDispatch();
    return true;
}

bool JobQueue::markDone(JobId id) { return finish(id, State::Done); }
bool JobQueue::markFailed(JobId id) { return finish(id, State::Failed); }
bool JobQueue::markCancelled(JobId id) { return finish(id, State::Cancelled); }

std::optional<JobQueue::State> JobQueue::state(JobId id) const {
    auto it = m_states.constFind(id);
    if (it == m_states.cend())
        return std::nullopt;
    return *it;
}

int JobQueue::position(JobId id) const {
    if (m_running == id)
        return 0;
    const qsizetype index = m_waiting.indexOf(id);
    return index < 0 ? -1 : int(index) + 1;
}

void JobQueue::setEngineReady(bool ready) {
    if (m_engineReady == ready)
        return;
    m_engineReady = ready;
    Q_EMIT engineReadyChanged();
    scheduleDispatch();
}

void JobQueue::setState(JobId id, State state) {
    m_states.insert(id, state);
    Q_EMIT stateChanged(id, state);
}

// Starting a job is always a fresh event-loop turn, so a job that ends
// synchronously (a cache hit) never starts the next one from inside its
// own start.
void JobQueue::scheduleDispatch() {
    if (m_dispatchScheduled)
        return;
    m_dispatchScheduled = true;
    QTimer::singleShot(0, this, &JobQueue::dispatch);
}

void JobQueue::dispatch() {
    m_dispatchScheduled = false;
    if (m_running || m_waiting.isEmpty())
        return;
    if (!m_engineReady && !m_withoutEngine.contains(m_waiting.first()))
        return; // in order: a job that needs the model waits, and those after it
    const JobId id = m_waiting.takeFirst();
    m_withoutEngine.remove(id);
    m_running = id;
    setState(id, State::Running);
    Q_EMIT busyChanged();
    Q_EMIT positionsChanged();
    Q_EMIT startRequested(id);
}

} // namespace daub
