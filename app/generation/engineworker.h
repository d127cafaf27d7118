// The engine thread's object: EngineWorker lives on its own QThread, owns
// the EngineBackend (created there, on first use), loads models and runs
// jobs one at a time. It shares no state with the GUI thread: requests come
// in through queued slot calls, results go out through queued signals. The
// one exception is each job's CancelToken, a lock-free flag the GUI thread
// may set at any time; the engine checks it between steps and inside each
// network (core/cancel.h), so closing the window during a step, a VAE
// decode or a model load ends the job within a fraction of a second
// (Application::leave).
#pragma once

#include "generation/enginebackend.h"
#include "storage/pngmetadata.h"

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
    /// The model loaded when the job ran (its name, identity and load
    /// number): what the message, the PNG and the cache key must name.
    QString modelName;
    QString modelIdentity;
    int modelLoad = 0;
};

/// A job as the worker gets it: the engine request plus what the PNG
/// should say about it (seed, sampler and size are filled in from what the
/// engine reports).
struct EngineJob {
    qint64 jobId = -1;
    /// Generate: a generation (then `upscale` when enabled). Upscale: the
    /// image in request.init_image upscaled (then refined when
    /// upscale.refineStrength is set).
    enum class Kind { Generate, Upscale };
    Kind kind = Kind::Generate;
    GenerationRequest request;
    UpscaleRequest upscale;
    ImageParameters parameters;
    /// False: the PNG gets no parameters text (an upscaled image whose
    /// recipe is unknown).
    bool writeParameters = true;
    std::shared_ptr<CancelToken> cancel;
};

/// A model load as the worker gets it.
struct LoadJob {
    ModelLoadRequest request;
    std::shared_ptr<CancelToken> cancel; ///< may be null
    /// Echoed in every report of this load, so the controller can tell the
    /// newest load's reports from those of loads it replaced (the same path
    /// may be loaded twice in a row).
    int serial = 0;
};

class EngineWorker : public QObject {
    Q_OBJECT
public:
    explicit EngineWorker(EngineFactory factory, QObject* parent = nullptr);
    ~EngineWorker() override;

public Q_SLOTS:
    /// Loads a model, replacing the current one. Emits modelLoadProgress,
    /// then modelLoaded, modelLoadFailed or modelLoadCancelled.
    void loadModel(const daub::LoadJob& load);
    /// Runs a job. Emits jobStarted, jobProgress per step, then jobEnded.
    void run(const daub::EngineJob& job);

Q_SIGNALS:
    /// Reports of the load whose LoadJob had `serial`.
    void modelLoading(const QString& path, int serial);
    /// Bytes of weights read so far (at most ~1000 reports per load).
    void modelLoadProgress(const QString& path, qint64 done, qint64 total, int serial);
    void modelLoaded(const daub::ModelDescription& model, double milliseconds, int serial);
    /// `previousKept`: the file was refused before the loaded model was
    /// let go, which is still loaded and ready.
    void modelLoadFailed(const QString& path, const QString& message, int serial,
                         bool previousKept);
    /// The load was cancelled; no model is loaded now.
    void modelLoadCancelled(const QString& path, int serial);
    void jobStarted(qint64 jobId);
    /// A step (or an upscaler tile) of a job; `phase` is a JobPhase.
    void jobProgress(qint64 jobId, int step, int total, double elapsedMs, const QImage& preview,
                     int phase);
    void jobEnded(const daub::JobOutcome& outcome);

private:
    bool ensureBackend(QString* error);

    EngineFactory m_factory;
    std::unique_ptr<EngineBackend> m_backend;
    bool m_modelLoaded = false;
    ModelDescription m_model; ///< the loaded one (valid while m_modelLoaded)
    int m_loads = 0;          ///< loads started
};

/// What the chat says about an exception from the engine: Daub's own
/// errors as they are (one sentence each); anything else (a libtorch
/// c10::Error with its C++ backtrace, std::bad_alloc) as one sentence, the
/// raw text only in the log.
QString userMessage(const std::exception& e);

/// Registers the types the worker's queued signals carry.
void registerEngineMetaTypes();

} // namespace daub

Q_DECLARE_METATYPE(daub::ModelDescription)
Q_DECLARE_METATYPE(daub::JobOutcome)
Q_DECLARE_METATYPE(daub::EngineJob)
Q_DECLARE_METATYPE(daub::LoadJob)
