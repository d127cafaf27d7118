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
#pragma once

#include "engineworker.h"
#include "imagedecoder.h"
#include "initimagestore.h"
#include "jobqueue.h"
#include "messagemodel.h"
#include "modelfinder.h"
#include "pngmetadata.h"
#include "resultcache.h"

#include <QCoro/QCoroTask>
#include <QHash>
#include <QObject>
#include <QUrl>
#include <QVariantList>
#include <QtQml/qqmlregistration.h>

#include <functional>
#include <memory>
#include <optional>

class QNetworkAccessManager;
class QQmlEngine;
class QJSEngine;

namespace daub {

class AppSettings;
class ImageBank;

/// Everything one job needs, as the user asked for it.
struct JobSpec {
    /// Generate: txt2img or img2img (then upscale when `upscale` is
    /// enabled). Upscale: the image `initRef` names upscaled (then refined
    /// with this recipe when upscale.refineStrength is set).
    enum class Kind { Generate, Upscale };
    Kind kind = Kind::Generate;
    QString prompt;
    QString negativePrompt;
    bool hasNegativePrompt = false;
    int width = 512;
    int height = 512;
    int steps = 20;
    double cfgScale = 7.0;
    qint64 seed = 0;
    QString sampler; ///< engine name; "" = the model's own
    int clipSkip = 1;
    UpscaleRequest upscale; ///< super-resolution (and refine) of the result
    QString initRef; ///< InitImageStore reference (the job holds it); "" for txt2img
    double strength = 0.75;
    QString resizeMode = QStringLiteral("stretch");
    QString modelName;
    /// The result this job starts from (Upscale of a result, -1 otherwise).
    qint64 sourceJob = -1;
    /// The recipe is known (false for an Upscale of a dropped image that
    /// carried none: its PNG then gets no parameters text).
    bool hasRecipe = true;
};

class ChatController : public QObject {
    Q_OBJECT
    QML_ELEMENT
    QML_SINGLETON

    Q_PROPERTY(daub::MessageModel* messages READ messages CONSTANT)
    Q_PROPERTY(daub::JobQueue* queue READ queue CONSTANT)

    /// Where the model stands; the welcome panel shows while NoModel.
    Q_PROPERTY(ModelState modelState READ modelState NOTIFY modelChanged)
    Q_PROPERTY(QString modelName READ modelName NOTIFY modelChanged)
    Q_PROPERTY(QString modelPath READ modelPath NOTIFY modelChanged)
    /// "SD 1.5" / "SDXL", "" until a model is loaded.
    Q_PROPERTY(QString modelFamily READ modelFamily NOTIFY modelChanged)
    /// "cpu · fp32" and the like.
    Q_PROPERTY(QString modelDevice READ modelDevice NOTIFY modelChanged)
    /// The last load failure, one sentence; "" after a success.
    Q_PROPERTY(QString modelError READ modelError NOTIFY modelChanged)
    /// The model's own image size (512×512 before one is loaded).
    Q_PROPERTY(int modelWidth READ modelWidth NOTIFY modelChanged)
    Q_PROPERTY(int modelHeight READ modelHeight NOTIFY modelChanged)
    /// [{id, label}] for the sampler picker.
    Q_PROPERTY(QVariantList samplers READ samplers NOTIFY modelChanged)
    /// [{label, width, height}] for the model family; width 0 = model default.
    Q_PROPERTY(QVariantList sizePresets READ sizePresets NOTIFY modelChanged)

    /// The init image shown in the options panel.
    Q_PROPERTY(bool hasInitImage READ hasInitImage NOTIFY initImageChanged)
    Q_PROPERTY(QString initImageSource READ initImageSource NOTIFY initImageChanged)
    Q_PROPERTY(QString initImageName READ initImageName NOTIFY initImageChanged)
    Q_PROPERTY(int initImageWidth READ initImageWidth NOTIFY initImageChanged)
    Q_PROPERTY(int initImageHeight READ initImageHeight NOTIFY initImageChanged)
    /// The store reference of the init image ("" when none).
    Q_PROPERTY(QString initImageRef READ initImageRef NOTIFY initImageChanged)
    /// An image is being decoded or downloaded.
    Q_PROPERTY(bool decoding READ decoding NOTIFY decodingChanged)

    /// Models found in the usual places ([{name, path, location, bytes}]).
    Q_PROPERTY(QVariantList foundModels READ foundModels NOTIFY foundModelsChanged)
    Q_PROPERTY(bool scanning READ scanning NOTIFY foundModelsChanged)
    /// An upscaler file is set: the Upscale option and actions are live.
    Q_PROPERTY(bool superResolutionAvailable READ superResolutionAvailable NOTIFY upscalerChanged)
    /// The upscaler's name ("RealESRGAN_x4plus"), "" when none is set.
    Q_PROPERTY(QString upscalerName READ upscalerName NOTIFY upscalerChanged)
    /// Upscalers found in the usual places ([{name, path, location, bytes}]).
    Q_PROPERTY(QVariantList foundUpscalers READ foundUpscalers NOTIFY foundModelsChanged)
    /// Loading progress of the model, 0..1 (while modelState is Loading).
    Q_PROPERTY(double modelLoadProgress READ modelLoadProgress NOTIFY modelLoadProgressChanged)
    /// The separate VAE of the loaded (or loading) model; "" = its own.
    Q_PROPERTY(QString modelVaeName READ modelVaeName NOTIFY modelChanged)

public:
    enum class ModelState { NoModel, Loading, Ready, Failed };
    /// Images dragged from a browser are downloaded up to this size.
    static constexpr qint64 kMaxDownloadBytes = 100ll * 1024 * 1024;
    Q_ENUM(ModelState)

    ChatController(AppSettings* settings, InitImageStore* store, ResultCache* cache,
                   ImageBank* bank, QObject* parent = nullptr);
    ~ChatController() override;

    static ChatController* create(QQmlEngine*, QJSEngine*);
    static void setInstance(ChatController* instance);

    /// Connects a worker living on another thread (queued both ways).
    void attachWorker(EngineWorker* worker);
    /// Where the welcome panel looks for models and the options for
    /// upscalers (tests point them elsewhere).
    void setModelPlaces(QList<ModelFinder::Place> places,
                        QList<ModelFinder::Place> upscalerPlaces = {});

    // ---- the composer and the options -----------------------------------
    /// Queues a generation from the prompt and the options; returns the
    /// job id, or -1 (and a notice in the chat) when nothing can run.
    Q_INVOKABLE qint64 send(const QString& prompt, const QString& negativePrompt = {});
    Q_INVOKABLE bool cancel(qint64 jobId);
    /// Steps an img2img job runs: the engine's img2img_steps().
    Q_INVOKABLE int stepsToRun(int steps, double strength) const;
    /// The prompt's tokens as A1111's counter shows them: {tokens, limit,
    /// error} ("42/75", then "90/150"); error is a sentence when the prompt
    /// syntax is wrong ("" otherwise). {tokens: 0, limit: 75} without a model.
    Q_INVOKABLE QVariantMap tokenCount(const QString& prompt) const;
    /// The licence notices of what Daub carries (the CLIP merge list's MIT
    /// licence), for the About dialog.
    Q_INVOKABLE QString licenseNotices() const;
    /// A new random seed (the dice).
    Q_INVOKABLE qint64 randomSeed() const;

    // ---- the model ------------------------------------------------------
    /// Loads a folder, .safetensors or .ckpt file (a path or a file: URL),
    /// with the VAE remembered for it.
    Q_INVOKABLE void loadModel(const QString& pathOrUrl);
    /// Stops a model load in progress (nothing stays loaded then).
    Q_INVOKABLE void cancelModelLoad();
    /// Uses a separate VAE file with the current model (remembered for that
    /// model) and reloads it; "" goes back to the model's own VAE.
    Q_INVOKABLE void setModelVae(const QString& pathOrUrl);
    /// The super-resolution network (a path or file: URL); "" clears it.
    Q_INVOKABLE bool setUpscaler(const QString& pathOrUrl);
    Q_INVOKABLE void scanForModels();

    // ---- the init image -------------------------------------------------
    Q_INVOKABLE void setInitImageFromUrl(const QUrl& url);
    Q_INVOKABLE void setInitImageFromData(const QByteArray& data, const QString& name);
    /// A drop on the chat: {urls: [...], formats: [...], html, text, data:
    /// {format: bytes}}; takes the best image it carries. False when it
    /// carries none (a notice says so).
    Q_INVOKABLE bool dropImage(const QVariantMap& drop);
    /// True when the clipboard holds an image or an image file.
    Q_INVOKABLE bool clipboardHasImage() const;
    /// Ctrl+V: the clipboard's image becomes the init image.
    Q_INVOKABLE bool pasteImage();
    Q_INVOKABLE void clearInitImage();
    /// Fills the options and the composer from an A1111 `parameters` text.
    Q_INVOKABLE bool applyParameters(const QString& text);

    // ---- a result's actions ---------------------------------------------
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

    MessageModel* messages() { return &m_messages; }
    JobQueue* queue() { return &m_queue; }
    ModelState modelState() const { return m_modelState; }
    QString modelName() const { return m_model.name; }
    /// The model being loaded while one loads, else the loaded (or failed) one.
    QString modelPath() const {
        return m_modelState == ModelState::Loading || m_model.path.isEmpty() ? m_loadingPath
                                                                             : m_model.path;
    }
    QString modelFamily() const { return m_model.family; }
    QString modelDevice() const;
    QString modelError() const { return m_modelError; }
    int modelWidth() const { return m_hasModel ? m_model.defaultWidth : 512; }
    int modelHeight() const { return m_hasModel ? m_model.defaultHeight : 512; }
    QVariantList samplers() const;
    QVariantList sizePresets() const;
    bool hasInitImage() const { return !m_initRef.isEmpty(); }
    QString initImageSource() const;
    QString initImageName() const { return m_init.name; }
    int initImageWidth() const { return m_init.image.width(); }
    int initImageHeight() const { return m_init.image.height(); }
    QString initImageRef() const { return m_initRef; }
    bool decoding() const { return m_decoding > 0; }
    QVariantList foundModels() const { return m_foundModels; }
    bool scanning() const { return m_scanning; }
    bool superResolutionAvailable() const;
    QString upscalerName() const;
    QVariantList foundUpscalers() const { return m_foundUpscalers; }
    double modelLoadProgress() const { return m_loadProgress; }
    QString modelVaeName() const;

    const JobSpec* spec(qint64 jobId) const;

public Q_SLOTS:
    // Reports from EngineWorker.
    /// Reports of a load; those of loads a newer one replaced (`serial`
    /// not the newest) are ignored.
    void onModelLoading(const QString& path, int serial);
    void onModelLoadProgress(const QString& path, qint64 done, qint64 total, int serial);
    void onModelLoaded(const daub::ModelDescription& model, double milliseconds, int serial);
    void onModelLoadFailed(const QString& path, const QString& message, int serial);
    void onModelLoadCancelled(const QString& path, int serial);
    void onJobStarted(qint64 jobId);
    void onJobProgress(qint64 jobId, int step, int total, double elapsedMs, const QImage& preview,
                       int phase);
    void onJobEnded(const daub::JobOutcome& outcome);

Q_SIGNALS:
    /// Requests to EngineWorker.
    void loadRequested(const daub::LoadJob& load);
    void runRequested(const daub::EngineJob& job);

    void modelChanged();
    void initImageChanged();
    void decodingChanged();
    void foundModelsChanged();
    void upscalerChanged();
    void modelLoadProgressChanged();
    /// A result was written to `path` (Save).
    void resultSaved(qint64 jobId, const QString& path);
    /// The composer should show this text (applyParameters).
    void promptSuggested(const QString& prompt, const QString& negativePrompt);
    /// An outcome arrived (runGenerate awaits it).
    void outcomeArrived(const daub::JobOutcome& outcome);

private:
    struct Result {
        QByteArray png;
        QString parameters;
        int width = 0;
        int height = 0;
        qint64 seed = 0;
    };

    QCoro::Task<> runGenerate(qint64 jobId);
    QCoro::Task<> decodeInitImage(std::function<DecodedImage()> decode);
    QCoro::Task<> downloadInitImage(QUrl url);
    QCoro::Task<> scanTask();

    qint64 enqueue(JobSpec spec, const QImage& initImage);
    /// An Upscale job of `image` (a result or the init image), refined with
    /// `recipe` when `refine`.
    /// `image` is stored for the job, or `heldRef` (an image already in the
    /// store, e.g. the init image) is held for it.
    qint64 enqueueUpscale(const QImage& image, const QString& name, JobSpec recipe, bool refine,
                          const QString& heldRef = {});
    /// The options' upscale request (upscaler, level); nullopt with a
    /// notice when no upscaler is set.
    std::optional<UpscaleRequest> upscaleFromOptions();
    /// upscaleResult / refineResult.
    qint64 upscaleOfResult(qint64 jobId, bool refine);
    void endJob(qint64 jobId);
    void setInitImage(const DecodedImage& decoded);
    void finishJob(qint64 jobId, const Result& result, double elapsedMs, bool fromCache);
    void failJob(qint64 jobId, const QString& message);
    void updateQueuePositions();
    void notice(const QString& text);
    GenerationParameters parametersFor(const JobSpec& spec) const;
    ResultKey keyFor(const JobSpec& spec, const QByteArray& initSha,
                     const QString& modelIdentity) const;
    QString detailsFor(const JobSpec& spec) const;
    const Result* result(qint64 jobId) const;

    AppSettings* m_settings;
    InitImageStore* m_store;
    ResultCache* m_cache;
    ImageBank* m_bank;
    MessageModel m_messages;
    JobQueue m_queue;
    QNetworkAccessManager* m_network = nullptr;

    ModelState m_modelState = ModelState::NoModel;
    ModelDescription m_model;
    bool m_hasModel = false;
    QString m_loadingPath;
    QString m_loadingVae;
    QString m_modelError;
    double m_loadProgress = 0;
    int m_loadSerial = 0; ///< of the newest load asked for
    std::shared_ptr<CancelToken> m_loadCancel;

    QString m_initRef;
    InitImage m_init;
    int m_decoding = 0;
    quint64 m_decodeTicket = 0;

    qint64 m_nextJob = 1;
    QHash<qint64, JobSpec> m_specs;
    QHash<qint64, QString> m_heldRefs; ///< job -> the image reference it holds
    QHash<qint64, std::shared_ptr<CancelToken>> m_tokens;
    QHash<qint64, Result> m_results;

    QList<ModelFinder::Place> m_places;
    QList<ModelFinder::Place> m_upscalerPlaces;
    QVariantList m_foundModels;
    QVariantList m_foundUpscalers;
    bool m_scanning = false;
};

} // namespace daub
