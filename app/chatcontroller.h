// The chat's controller: what the window calls and binds to.
//
//   send(prompt, negative)          the composer's Send: a JobSpec from the
//                                   options, a prompt row and a reply row,
//                                   then JobQueue::enqueue
//   JobQueue::startRequested        → runGenerate(job): resolve the init
//                                   image (InitImageStore), look the result
//                                   up (ResultCache), else ask EngineWorker
//                                   (runRequested) and await its outcome
//   setInitImage… / dropImage /     decode off the GUI thread (QCoro +
//   pasteImage                      QtConcurrent) and put in the store
//
// ChatController never calls the engine: requests to EngineWorker go out
// as signals (loadRequested, runRequested) and its reports come back
// through the on…() slots, so tests drive it with a fake backend, or with
// no worker at all. GUI thread only. Exposed to QML as the ChatController
// singleton (the instance Application owns).
// The chat's controller: what the composer and the results call.
//
//   send(prompt, negative)          the composer's Send: a JobRecipe from the
//                                   options (seeds seed..seed+n-1 for a batch),
//                                   a prompt row and a reply row, then
//                                   JobQueue::enqueue
//   JobQueue::startRequested        → runJob(id): resolve the init image
//                                   (InitImageStore), planJob() → the engine
//                                   request and its cache key, look the result
//                                   up (ResultCache), else ask EngineWorker
//                                   (runRequested) and await its outcome
//   a job ends                      → HistoryStore::add (PNG + row), the message
//   result actions (save, copy, …)  → by job id, from this session's results
//                                   or from the history (also after a restart)
//
// The model's lifecycle is ModelController's, the init image's intake is
// InitImageIntake's (both owned here, exposed to QML as singletons of
// their own). ChatController never calls the engine: requests to
// EngineWorker go out as signals and its reports come back through slots,
// so tests drive it with a fake backend, or with no worker at all. GUI
// thread only. Exposed to QML as the ChatController singleton.
#pragma once

#include "engineworker.h"
#include "historystore.h"
#include "initimageintake.h"
#include "initimagestore.h"
#include "jobplan.h"
#include "jobqueue.h"
#include "messagemodel.h"
#include "modelcontroller.h"
#include "resultcache.h"

#include <QCoro/QCoroTask>
#include <QHash>
#include <QSet>
#include <QObject>
#include <QUrl>
#include <QVariantList>
#include <QtQml/qqmlregistration.h>

#include <memory>
#include <optional>

class QQmlEngine;
class QJSEngine;

namespace daub {

class AppSettings;
class ImageBank;

class ChatController : public QObject {
    Q_OBJECT
    QML_ELEMENT
    QML_SINGLETON

    Q_PROPERTY(daub::MessageModel* messages READ messages CONSTANT)
    Q_PROPERTY(daub::JobQueue* queue READ queue CONSTANT)
    /// Older messages are in the history (loadOlder() brings a page).
    Q_PROPERTY(bool hasOlderMessages READ hasOlderMessages NOTIFY historyChanged)
    /// The history could not be opened (one sentence); "" when it works.
    Q_PROPERTY(QString historyError READ historyError NOTIFY historyChanged)

public:
    /// Messages (jobs) restored at start and brought per loadOlder().
    static constexpr int kHistoryPage = 30;

    ChatController(AppSettings* settings, InitImageStore* store, ResultCache* cache,
                   ImageBank* bank, QObject* parent = nullptr);
    ~ChatController() override;

    static ChatController* create(QQmlEngine*, QJSEngine*);
    static void setInstance(ChatController* instance);

    /// Connects a worker living on another thread (queued both ways), for
    /// jobs and for the model controller's loads.
    void attachWorker(EngineWorker* worker);
    /// Keeps every job that ends in `history` (which must be open) and shows
    /// its last page of messages; job ids continue from the history's.
    /// `warning`: what open() said about a history it had to set aside.
    void setHistory(HistoryStore* history, const QString& warning = {});
    /// Why there is no history ("" when there is one).
    void setHistoryError(const QString& sentence);

    ModelController* models() { return &m_models; }
    InitImageIntake* intake() { return &m_intake; }

    // ---- the composer and the options -----------------------------------
    /// Queues a generation from the prompt and the options (the batch count
    /// of them, seeds seed, seed+1, …); returns the (first) job id, or -1
    /// (and a notice in the chat) when nothing can run.
    Q_INVOKABLE qint64 send(const QString& prompt, const QString& negativePrompt = {});
    Q_INVOKABLE bool cancel(qint64 jobId);
    /// Cancels the running job and every waiting one, and a model load
    /// (closing the window): the running job is kept in the history as
    /// cancelled now, since its end may never be reported.
    void cancelEverything();
    /// Steps an img2img job runs: the engine's img2img_steps().
    Q_INVOKABLE int stepsToRun(int steps, double strength) const;
    /// A new random seed (the dice).
    Q_INVOKABLE qint64 randomSeed() const;
    /// Fills the options and the composer from an A1111 `parameters` text.
    Q_INVOKABLE bool applyParameters(const QString& text);
    /// Brings the previous page of the conversation from the history;
    /// false when there is none.
    Q_INVOKABLE bool loadOlder();

    // ---- a result's actions (any job id: this session's or the history's)
    /// Saves the PNG into the save folder; returns its path ("" on failure).
    Q_INVOKABLE QString saveResult(qint64 jobId);
    Q_INVOKABLE bool saveResultAs(qint64 jobId, const QUrl& file);
    Q_INVOKABLE bool copyResult(qint64 jobId);
    /// A file for dragging the image out to other programs.
    Q_INVOKABLE QUrl exportForDrag(qint64 jobId);
    Q_INVOKABLE void useResultAsInit(qint64 jobId);
    /// The same job again, same seed; returns the new job id or -1.
    Q_INVOKABLE qint64 rerun(qint64 jobId);
    /// Upscales a result by the options' level, as a job of its own;
    /// returns the new job id or -1 (a notice says why).
    Q_INVOKABLE qint64 upscaleResult(qint64 jobId);
    /// Upscales a result then refines it (img2img at the options' refine
    /// strength, same prompt and seed); the new job id or -1.
    Q_INVOKABLE qint64 refineResult(qint64 jobId);
    /// Upscales the init image as a job of its own; the new job id or -1.
    Q_INVOKABLE qint64 upscaleInitImage();
    Q_INVOKABLE QString parametersOf(qint64 jobId) const;
    /// The newest job that has an image (this session's, else the
    /// history's), or -1: what Ctrl+S saves when no result is selected.
    Q_INVOKABLE qint64 latestResult() const;

    MessageModel* messages() { return &m_messages; }
    JobQueue* queue() { return &m_queue; }
    bool hasOlderMessages() const { return m_hasOlder; }
    QString historyError() const { return m_historyError; }

    /// The recipe of a job (this session's, or the history's), or nullopt.
    std::optional<JobRecipe> recipe(qint64 jobId) const;

public Q_SLOTS:
    void onJobStarted(qint64 jobId);
    void onJobProgress(qint64 jobId, int step, int total, double elapsedMs, const QImage& preview,
                       int phase);
    void onJobEnded(const daub::JobOutcome& outcome);

Q_SIGNALS:
    /// To EngineWorker.
    void runRequested(const daub::EngineJob& job);
    /// A result was written to `path` (Save).
    void resultSaved(qint64 jobId, const QString& path);
    /// The composer should show this text (applyParameters).
    void promptSuggested(const QString& prompt, const QString& negativePrompt);
    /// An outcome arrived (runJob awaits it).
    void outcomeArrived(const daub::JobOutcome& outcome);
    void historyChanged();

private:
    struct Result {
        QByteArray png;
        QString parameters;
        int width = 0;
        int height = 0;
        qint64 seed = 0;
    };
    /// What the history needs of a job beyond its outcome.
    struct JobRecord {
        QByteArray initSha256;
        qint64 batch = -1;
        int batchIndex = 0;
    };

    QCoro::Task<> runJob(qint64 jobId);

    /// Queues one job. A batch's first job (`batchIndex` 0 of `batchSize`)
    /// gets the prompt and reply rows; the others join its reply's grid.
    qint64 enqueue(JobRecipe recipe, const QImage& initImage, qint64 batch = -1,
                   int batchIndex = 0, int batchSize = 1);
    /// An Upscale job of `image` (a result or the init image), refined with
    /// `recipe` when `refine`.
    /// `image` is stored for the job, or `heldRef` (an image already in the
    /// store, e.g. the init image) is held for it.
    qint64 enqueueUpscale(const QImage& image, const QString& name, JobRecipe recipe, bool refine,
                          const QString& heldRef = {});
    /// The options' upscale request (upscaler, level); nullopt with a
    /// notice when no upscaler is set.
    std::optional<UpscaleRequest> upscaleFromOptions();
    /// upscaleResult / refineResult.
    qint64 upscaleOfResult(qint64 jobId, bool refine);
    /// Refuses (with a notice) when no model is loaded or on its way.
    bool modelExpected(const QString& then);
    void endJob(qint64 jobId);
    void finishJob(qint64 jobId, const Result& result, double elapsedMs, bool fromCache);
    void failJob(qint64 jobId, const QString& message);
    void cancelledJob(qint64 jobId);
    /// Keeps an ended job in the history (a notice when that fails).
    void record(qint64 jobId, HistoryEntry::State state, const Result* result, double elapsedMs,
                const QString& error);
    void updateQueuePositions();
    void notice(const QString& text);
    QString detailsFor(const JobRecipe& recipe) const;
    /// The chat's two rows of a kept job.
    std::vector<MessageModel::Message> messagesOf(const HistoryEntry& entry);
    std::optional<Result> result(qint64 jobId) const;
    /// The history changed (the gallery deleted or restored images): the
    /// chat's finished replies follow.
    void followHistory();

    AppSettings* m_settings;
    InitImageStore* m_store;
    ResultCache* m_cache;
    ImageBank* m_bank;
    HistoryStore* m_history = nullptr;
    QString m_historyError;
    qint64 m_oldestShown = -1; ///< id of the oldest job shown (-1: none yet)
    bool m_hasOlder = false;
    ModelController m_models;
    InitImageIntake m_intake;
    MessageModel m_messages;
    JobQueue m_queue;

    qint64 m_nextJob = 1;
    QHash<qint64, JobRecipe> m_recipes;
    QHash<qint64, JobRecord> m_records;
    QHash<qint64, QString> m_heldRefs; ///< job -> the image reference it holds
    QHash<qint64, std::shared_ptr<CancelToken>> m_tokens;
    QHash<qint64, Result> m_results;
    QSet<qint64> m_recorded; ///< jobs already kept in the history
};

} // namespace daub
