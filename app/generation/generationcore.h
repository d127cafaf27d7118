// The generation core: every job of every front end passes through it.
//
//   submit(recipe)                 a job id; jobQueued(id), then JobQueue
//   JobQueue::startRequested       → runJob(id): resolve the init image
//                                  (InitImageStore), planJob() → the engine
//                                  request and its cache key, look the result
//                                  up (ResultCache), else ask EngineWorker
//                                  (runRequested) and await its outcome
//   a job ends                     → jobFinished / jobFailed / jobCancelled,
//                                  then HistoryStore::add (PNG + row)
//
// The model's state is its ModelController's (owned here). The front ends
// (the chat window, the API server) submit recipes and follow the signals;
// they never see each other, and the core knows neither. GenerationCore
// never calls the engine: requests to EngineWorker go out as signals and
// its reports come back through slots, so tests drive it with a fake
// backend, or with no worker at all. GUI thread only.
#pragma once

#include "generation/engineworker.h"
#include "generation/jobplan.h"
#include "generation/jobqueue.h"
#include "generation/modelcontroller.h"
#include "generation/resultcache.h"
#include "storage/historystore.h"
#include "storage/initimagestore.h"

#include <QCoro/QCoroTask>
#include <QHash>
#include <QImage>
#include <QObject>
#include <QSet>

#include <memory>
#include <optional>

namespace daub {

class AppSettings;

/// A finished job's image and how it was made.
struct JobResult {
    QByteArray png;
    QString parameters; ///< the A1111 text the PNG carries
    int width = 0;
    int height = 0;
    qint64 seed = 0;
};

/// Where a job sits in a batch (the jobs of one request, seeds seed,
/// seed+1, …): `batch` is its first job's id (-1: this one's).
struct JobBatch {
    qint64 batch = -1;
    int index = 0;
    int size = 1;
};

class GenerationCore : public QObject {
    Q_OBJECT
public:
    GenerationCore(AppSettings* settings, InitImageStore* store, ResultCache* cache,
                   QObject* parent = nullptr);
    ~GenerationCore() override;

    /// Connects a worker living on another thread (queued both ways), for
    /// jobs and for the model controller's loads.
    void attachWorker(EngineWorker* worker);
    /// Keeps every job that ends in `history` (which must be open); job ids
    /// continue from the history's.
    void setHistory(HistoryStore* history);
    HistoryStore* history() const { return m_history; }

    ModelController* models() { return &m_models; }
    const ModelController* models() const { return &m_models; }
    JobQueue* queue() { return &m_queue; }
    InitImageStore* store() const { return m_store; }

    using Batch = JobBatch;

    /// Queues `recipe` (whose initRef, if any, the job holds until it
    /// ends); `thumbnail`: the image it starts from, for the history.
    /// jobQueued is emitted before the job can start. Returns its id.
    qint64 submit(JobRecipe recipe, const QImage& thumbnail = QImage(), Batch batch = Batch());
    /// Queues an Upscale job of `image` (a result, or a dropped image:
    /// stored for the job), or of `heldRef` (an image already in the store,
    /// e.g. the init image: held for the job). -1 with `why` set when
    /// `heldRef` is gone.
    qint64 submitUpscale(const QImage& image, const QString& name, JobRecipe recipe,
                         const QString& heldRef = {}, QString* why = nullptr);
    bool cancel(qint64 jobId) { return m_queue.cancel(jobId); }
    /// Cancels the running job and the waiting jobs of its batch (one Send,
    /// one API request); returns how many were cancelled (0: none runs).
    int cancelRunningBatch();
    /// Cancels the running job and every waiting one, and a model load
    /// (closing the window): the running job is kept in the history as
    /// cancelled now, since its end may never be reported.
    void cancelEverything();
    /// One sentence when a job needing a model cannot run now (none loaded
    /// nor on its way), "" when it can; `then` finishes "pick one, then …".
    QString whyNoModel(const QString& then) const;

    /// The recipe of a job (this session's, or the history's), or nullopt.
    std::optional<JobRecipe> recipe(qint64 jobId) const;
    /// A finished job's image (this session's, or the history's).
    std::optional<JobResult> result(qint64 jobId) const;
    /// The newest job that has an image (this session's, else the
    /// history's), or -1.
    qint64 latestResult() const;
    /// The job was submitted in this session.
    bool isSessionJob(qint64 jobId) const { return m_recipes.contains(jobId); }
    /// The job has been kept in the history (or came from it).
    bool isKept(qint64 jobId) const { return m_recorded.contains(jobId) || !isSessionJob(jobId); }
    /// A session job's place in its batch.
    Batch batchOf(qint64 jobId) const { return m_batches.value(jobId); }
    /// The image a waiting or running job starts from, at most 256 px.
    QImage thumbnail(qint64 jobId) const { return m_thumbnails.value(jobId); }

public Q_SLOTS:
    void onJobProgress(qint64 jobId, int step, int total, double elapsedMs, const QImage& preview,
                       int phase);
    void onJobEnded(const daub::JobOutcome& outcome);

Q_SIGNALS:
    /// To EngineWorker.
    void runRequested(const daub::EngineJob& job);
    /// A job joined the queue (recipe(id), batchOf(id) describe it).
    void jobQueued(qint64 jobId);
    void jobStarted(qint64 jobId);
    void jobProgress(qint64 jobId, int step, int total, double elapsedMs, const QImage& preview,
                     int phase);
    /// A cancel was asked for the running job; it ends soon.
    void jobCancelling(qint64 jobId);
    /// result(id) holds the image now.
    void jobFinished(qint64 jobId, double elapsedMs, bool fromCache);
    void jobFailed(qint64 jobId, const QString& message);
    void jobCancelled(qint64 jobId);
    /// The waiting jobs' places changed, or whether the model is ready.
    void positionsChanged();
    /// Something a user should read (a history write failed, ...).
    void notice(const QString& text);
    /// An outcome arrived (runJob awaits it).
    void outcomeArrived(const daub::JobOutcome& outcome);

private:
    QCoro::Task<> runJob(qint64 jobId);
    void endJob(qint64 jobId);
    void finishJob(qint64 jobId, const JobResult& result, double elapsedMs, bool fromCache);
    void failJob(qint64 jobId, const QString& message);
    void cancelledJob(qint64 jobId);
    /// Keeps an ended job in the history (a notice when that fails).
    void record(qint64 jobId, HistoryEntry::State state, const JobResult* result,
                double elapsedMs, const QString& error);

    InitImageStore* m_store;
    ResultCache* m_cache;
    HistoryStore* m_history = nullptr;
    ModelController m_models;
    JobQueue m_queue;

    qint64 m_nextJob = 1;
    QHash<qint64, JobRecipe> m_recipes;
    QHash<qint64, Batch> m_batches;
    QHash<qint64, QImage> m_thumbnails;   ///< until the job is kept
    QHash<qint64, QByteArray> m_initSha;  ///< the decoded image a job started from
    QHash<qint64, QString> m_heldRefs;    ///< job -> the image reference it holds
    QHash<qint64, std::shared_ptr<CancelToken>> m_tokens;
    QHash<qint64, JobResult> m_results;
    QSet<qint64> m_recorded; ///< jobs already kept in the history
};

} // namespace daub
