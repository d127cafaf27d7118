// The engine thread's object: EngineWorker lives on its own QThread, owns
// the EngineBackend (created there, on first use), loads models and runs
// jobs one at a time. It shares no state with the GUI thread: requests come
// in through queued slot calls, results go out through queued signals. The
// one exception is each job's CancelToken, a lock-free flag the GUI thread
// may set at any time; the engine checks it between steps, so closing the
// window during a step ends the job at the next step boundary.
#pragma once

#include "enginebackend.h"
#include "pngmetadata.h"

#include <QByteArray>
#include <QImage>
#include <QObject>
#include <QString>

#include <memory>

namespace daub {

/// How a job ended.
struct JobOutcome {
    enum class Kind { Finished, Failed, Cancelled };
    qint64 jobId = -1;
    Kind kind = Kind::Failed;
    QString error;   ///< Failed: one sentence for the chat
    QByteArray png;  ///< Finished: the PNG, with its `parameters` chunk
    int width = 0;
    int height = 0;
    qint64 seed = 0;
    int stepsRun = 0;
    QString sampler;    ///< the scheduler that ran (engine name)
    QString parameters; ///< Finished: the PNG's A1111 text
    double totalMs = 0;
};

/// A job as the worker gets it: the engine request plus what the PNG
/// should say about it (seed, sampler and size are filled in from what the
/// engine reports).
struct EngineJob {
    qint64 jobId = -1;
    GenerationRequest request;
    GenerationParameters parameters;
    std::shared_ptr<CancelToken> cancel;
};

class EngineWorker : public QObject {
    Q_OBJECT
public:
    explicit EngineWorker(EngineFactory factory, QObject* parent = nullptr);
    ~EngineWorker() override;

public Q_SLOTS:
    /// Loads a model, replacing the current one. Emits modelLoaded or
    /// modelLoadFailed.
    void loadModel(const QString& path);
    /// Runs a job. Emits jobStarted, jobProgress per step, then jobEnded.
    void run(const daub::EngineJob& job);

Q_SIGNALS:
    void modelLoading(const QString& path);
    void modelLoaded(const daub::ModelDescription& model, double milliseconds);
    void modelLoadFailed(const QString& path, const QString& message);
    void jobStarted(qint64 jobId);
    void jobProgress(qint64 jobId, int step, int total, double elapsedMs, const QImage& preview);
    void jobEnded(const daub::JobOutcome& outcome);

private:
    bool ensureBackend(QString* error);

    EngineFactory m_factory;
    std::unique_ptr<EngineBackend> m_backend;
    bool m_modelLoaded = false;
};

/// Registers the types the worker's queued signals carry.
void registerEngineMetaTypes();

} // namespace daub

Q_DECLARE_METATYPE(daub::ModelDescription)
Q_DECLARE_METATYPE(daub::JobOutcome)
Q_DECLARE_METATYPE(daub::EngineJob)
