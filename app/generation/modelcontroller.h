// The model's lifecycle as the window sees it: which model (and VAE) is
// loaded or loading, its progress and failures, the models and upscalers
// found on disk, and the upscaler chosen in the options.
//
//   loadModel(path)      → loadRequested(LoadJob{path, VAE remembered for it,
//                          cancel, serial}) to EngineWorker
//   onModelLoading/…     ← the worker's reports; reports of a load that a
//                          newer one replaced (older serial) are ignored
//   engineReadyChanged   → JobQueue::setEngineReady (GenerationCore)
//
// Never calls the engine itself. GUI thread only. Exposed to QML as the
// ModelController singleton (owned by GenerationCore).
#pragma once

#include "generation/engineworker.h"
#include "generation/modelfinder.h"

#include <QCoro/QCoroTask>
#include <QObject>
#include <QVariantList>
#include <QtQml/qqmlregistration.h>

#include <memory>

class QQmlEngine;
class QJSEngine;

namespace daub {

class AppSettings;

class ModelController : public QObject {
    Q_OBJECT
    QML_ELEMENT
    QML_SINGLETON

    /// Where the model stands; the welcome panel shows while NoModel.
    Q_PROPERTY(ModelState modelState READ modelState NOTIFY modelChanged)
    Q_PROPERTY(QString modelName READ modelName NOTIFY modelChanged)
    /// The model being loaded while one loads, else the loaded (or failed) one.
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
    /// The separate VAE of the loaded (or loading) model; "" = its own.
    Q_PROPERTY(QString modelVaeName READ modelVaeName NOTIFY modelChanged)
    /// Loading progress of the model, 0..1 (while modelState is Loading).
    Q_PROPERTY(double modelLoadProgress READ modelLoadProgress NOTIFY modelLoadProgressChanged)
    /// Models found in the usual places ([{name, path, location, bytes}]).
    Q_PROPERTY(QVariantList foundModels READ foundModels NOTIFY foundModelsChanged)
    /// The model menu: [{path, name, place, label}] of the recent models,
    /// then every model found not among them, in the order found (by
    /// place); a name that occurs twice is labelled with its place.
    Q_PROPERTY(QVariantList modelMenu READ modelMenu NOTIFY modelMenuChanged)
    Q_PROPERTY(bool scanning READ scanning NOTIFY foundModelsChanged)
    /// Upscalers found in the usual places ([{name, path, location, bytes}]).
    Q_PROPERTY(QVariantList foundUpscalers READ foundUpscalers NOTIFY foundModelsChanged)
    /// An upscaler file is set: the Upscale option and actions are live.
    Q_PROPERTY(bool superResolutionAvailable READ superResolutionAvailable NOTIFY upscalerChanged)
    /// The upscaler's name ("RealESRGAN_x4plus"), "" when none is set.
    Q_PROPERTY(QString upscalerName READ upscalerName NOTIFY upscalerChanged)

public:
    enum class ModelState { NoModel, Loading, Ready, Failed };
    Q_ENUM(ModelState)

    explicit ModelController(AppSettings* settings, QObject* parent = nullptr);
    ~ModelController() override;

    static ModelController* create(QQmlEngine*, QJSEngine*);
    static void setInstance(ModelController* instance);

    /// Connects a worker living on another thread (queued both ways).
    void attachWorker(EngineWorker* worker);
    /// Where the welcome panel looks for models and the options for
    /// upscalers (tests point them elsewhere).
    void setModelPlaces(QList<ModelFinder::Place> places,
                        QList<ModelFinder::Place> upscalerPlaces = {});

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
    /// The prompt's tokens as A1111's counter shows them: {tokens, limit,
    /// error} ("42/75", then "90/150"); error is a sentence when the prompt
    /// syntax is wrong ("" otherwise). {tokens: 0, limit: 75} without a model.
    Q_INVOKABLE QVariantMap tokenCount(const QString& prompt) const;
    /// The licence notices of what Daub carries (the CLIP merge list's MIT
    /// licence), for the About dialog.
    Q_INVOKABLE QString licenseNotices() const;

    ModelState modelState() const { return m_state; }
    /// A model is loaded (jobs can run on it).
    bool hasModel() const { return m_hasModel; }
    /// The loaded model (meaningful while hasModel()).
    const ModelDescription& model() const { return m_model; }
    /// A model is loaded or on its way: a job sent now will run.
    bool modelExpected() const { return m_hasModel || m_state == ModelState::Loading; }
    /// The name a job sent now will run on: the loaded model, else the one
    /// loading.
    QString expectedModelName() const;
    QString modelName() const { return m_model.name; }
    QString modelPath() const;
    QString modelFamily() const { return m_model.family; }
    QString modelDevice() const;
    QString modelError() const { return m_modelError; }
    int modelWidth() const { return m_hasModel ? m_model.defaultWidth : 512; }
    int modelHeight() const { return m_hasModel ? m_model.defaultHeight : 512; }
    QVariantList samplers() const;
    QVariantList sizePresets() const;
    QString modelVaeName() const;
    double modelLoadProgress() const { return m_loadProgress; }
    QVariantList foundModels() const { return m_foundModels; }
    QVariantList modelMenu() const;
    bool scanning() const { return m_scanning; }
    QVariantList foundUpscalers() const { return m_foundUpscalers; }
    bool superResolutionAvailable() const;
    QString upscalerName() const;
    /// Cancels a load in progress (shutdown).
    void cancelAll();

public Q_SLOTS:
    /// Reports of a load; those of loads a newer one replaced (`serial`
    /// not the newest) are ignored.
    void onModelLoading(const QString& path, int serial);
    void onModelLoadProgress(const QString& path, qint64 done, qint64 total, int serial);
    void onModelLoaded(const daub::ModelDescription& model, double milliseconds, int serial);
    void onModelLoadFailed(const QString& path, const QString& message, int serial,
                           bool previousKept);
    void onModelLoadCancelled(const QString& path, int serial);

Q_SIGNALS:
    /// To EngineWorker.
    void loadRequested(const daub::LoadJob& load);
    /// Jobs may (or may no longer) start: a model is loaded and ready.
    void engineReadyChanged(bool ready);
    /// A sentence for the chat.
    void notice(const QString& text);
    void modelChanged();
    void modelLoadProgressChanged();
    void foundModelsChanged();
    void modelMenuChanged();
    void upscalerChanged();

private:
    QCoro::Task<> scanTask();
    /// No model is loaded any more (a load failed or was cancelled: the
    /// engine let go of the previous one first).
    void forgetModel();

    AppSettings* m_settings;
    ModelState m_state = ModelState::NoModel;
    ModelDescription m_model;
    bool m_hasModel = false;
    QString m_loadingPath;
    QString m_loadingVae;
    QString m_modelError;
    double m_loadProgress = 0;
    int m_loadSerial = 0; ///< of the newest load asked for
    std::shared_ptr<CancelToken> m_loadCancel;

    QList<ModelFinder::Place> m_places;
    QList<ModelFinder::Place> m_upscalerPlaces;
    QVariantList m_foundModels;
    QVariantList m_foundUpscalers;
    bool m_scanning = false;
};

/// A local path from a path or a file: URL.
QString pathFromUrlOrPath(const QString& text);
/// ‘name’ in typographic quotes, as the chat's sentences quote names.
QString quoted(const QString& name);

} // namespace daub
