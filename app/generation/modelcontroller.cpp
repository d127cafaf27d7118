#include "generation/modelcontroller.h"

#include "storage/appsettings.h"
#include "chat/messagemodel.h"
#include "generation/samplers.h"

#include <QCoro/QCoroFuture>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QJSEngine>
#include <QPointer>
#include <QSet>
#include <QUrl>
#include <QtConcurrent/QtConcurrentRun>

namespace daub {
namespace {
ModelController* s_instance = nullptr;
} // namespace

QString quoted(const QString& name) { return QStringLiteral("\u2018%1\u2019").arg(name); }

QString pathFromUrlOrPath(const QString& text) {
    const QUrl url(text);
    if (url.isLocalFile())
        return url.toLocalFile();
    return text;
}

ModelController::ModelController(AppSettings* settings, QObject* parent)
    : QObject(parent), m_settings(settings), m_places(ModelFinder::commonPlaces()),
      m_upscalerPlaces(ModelFinder::commonUpscalerPlaces()) {
    registerEngineMetaTypes();
    connect(m_settings, &AppSettings::upscalerPathChanged, this, &ModelController::upscalerChanged);
    connect(m_settings, &AppSettings::recentModelsChanged, this, &ModelController::modelMenuChanged);
    connect(this, &ModelController::foundModelsChanged, this, &ModelController::modelMenuChanged);
}

ModelController::~ModelController() {
    cancelAll();
    if (s_instance == this)
        s_instance = nullptr;
}

ModelController* ModelController::create(QQmlEngine*, QJSEngine*) {
    Q_ASSERT_X(s_instance, "ModelController::create", "no ModelController instance was set");
    QJSEngine::setObjectOwnership(s_instance, QJSEngine::CppOwnership);
    return s_instance;
}

void ModelController::setInstance(ModelController* instance) { s_instance = instance; }

void ModelController::attachWorker(EngineWorker* worker) {
    connect(this, &ModelController::loadRequested, worker, &EngineWorker::loadModel,
            Qt::QueuedConnection);
    connect(worker, &EngineWorker::modelLoading, this, &ModelController::onModelLoading,
            Qt::QueuedConnection);
    connect(worker, &EngineWorker::modelLoadProgress, this, &ModelController::onModelLoadProgress,
            Qt::QueuedConnection);
    connect(worker, &EngineWorker::modelLoaded, this, &ModelController::onModelLoaded,
            Qt::QueuedConnection);
    connect(worker, &EngineWorker::modelLoadCancelled, this,
            &ModelController::onModelLoadCancelled, Qt::QueuedConnection);
    connect(worker, &EngineWorker::modelLoadFailed, this, &ModelController::onModelLoadFailed,
            Qt::QueuedConnection);
}

void ModelController::setModelPlaces(QList<ModelFinder::Place> places,
                                     QList<ModelFinder::Place> upscalerPlaces) {
    m_places = std::move(places);
    m_upscalerPlaces = std::move(upscalerPlaces);
}

void ModelController::cancelAll() {
    if (m_loadCancel)
        m_loadCancel->cancel();
}

QString ModelController::expectedModelName() const {
    return m_hasModel ? m_model.name : QFileInfo(m_loadingPath).fileName();
}

QString ModelController::modelPath() const {
    return m_state == ModelState::Loading || m_model.path.isEmpty() ? m_loadingPath : m_model.path;
}

QVariantMap ModelController::tokenCount(const QString& prompt) const {
    PromptTokenCount count;
    QString error;
    if (m_hasModel && m_model.countTokens) {
        try {
            count = m_model.countTokens(prompt.toStdString());
        } catch (const std::exception& e) {
            error = QString::fromStdString(e.what());
        }
    }
    return {{QStringLiteral("tokens"), count.tokens},
            {QStringLiteral("limit"), count.limit},
            {QStringLiteral("error"), error}};
}

QString ModelController::licenseNotices() const {
    QFile file(QStringLiteral(":/daub/notices/LICENSE-CLIP"));
    if (!file.open(QIODevice::ReadOnly))
        return tr("The licence notices are installed in share/doc/daub.");
    return QString::fromUtf8(file.readAll());
}

// ---- reports from the engine thread ----------------------------------------

void ModelController::onModelLoading(const QString&, int serial) {
    if (serial != m_loadSerial)
        return; // a load that a newer one replaced
    Q_EMIT engineReadyChanged(false); // the worker lets go of the loaded model now
    m_loadProgress = 0;
    Q_EMIT modelLoadProgressChanged();
    if (m_state != ModelState::Loading) {
        m_state = ModelState::Loading;
        Q_EMIT modelChanged();
    }
}

void ModelController::onModelLoadProgress(const QString&, qint64 done, qint64 total,
                                          int serial) {
    if (serial != m_loadSerial || total <= 0)
        return;
    m_loadProgress = std::clamp(double(done) / double(total), 0.0, 1.0);
    Q_EMIT modelLoadProgressChanged();
}

void ModelController::forgetModel() {
    m_model = ModelDescription();
    m_hasModel = false;
    m_loadCancel.reset();
}

void ModelController::onModelLoadCancelled(const QString& path, int serial) {
    if (serial != m_loadSerial)
        return; // replaced by a newer load, which is on its way
    forgetModel();
    m_state = ModelState::NoModel;
    m_modelError.clear();
    m_loadingPath.clear();
    Q_EMIT notice(tr("Loading %1 was cancelled; no model is loaded.")
                      .arg(quoted(QFileInfo(path).fileName())));
    Q_EMIT modelChanged();
    Q_EMIT engineReadyChanged(false);
}

void ModelController::onModelLoaded(const ModelDescription& model, double milliseconds,
                                    int serial) {
    if (serial != m_loadSerial)
        return; // a newer load replaces this model before any job runs on it
    m_loadCancel.reset();
    m_model = model;
    m_hasModel = true;
    m_modelError.clear();
    m_state = ModelState::Ready;
    m_settings->setModelPath(model.path);
    m_settings->addRecentModel(model.path);
    Q_EMIT notice(model.vaeName.isEmpty()
                      ? tr("Loaded %1 (%2, %3 \u00b7 %4) in %5.")
                            .arg(quoted(model.name), model.family, model.device, model.dtype,
                                 formatDuration(milliseconds))
                      : tr("Loaded %1 with the VAE %2 (%3, %4 \u00b7 %5) in %6.")
                            .arg(quoted(model.name), quoted(model.vaeName), model.family,
                                 model.device, model.dtype, formatDuration(milliseconds)));
    Q_EMIT modelChanged();
    Q_EMIT engineReadyChanged(true);
}

void ModelController::onModelLoadFailed(const QString& path, const QString& message,
                                        int serial, bool previousKept) {
    if (serial != m_loadSerial)
        return;
    if (previousKept && m_hasModel) {
        // Refused before anything was let go: the working model stays, and
        // the sentence is shown beside the model picker.
        m_loadCancel.reset();
        m_loadingPath.clear();
        m_modelError = message;
        m_state = ModelState::Ready;
        m_settings->removeRecentModel(path);
        Q_EMIT notice(tr("%1 %2 is still loaded.").arg(message, quoted(m_model.name)));
        Q_EMIT modelChanged();
        Q_EMIT engineReadyChanged(true);
        return;
    }
    forgetModel();
    m_model.path = path;
    m_modelError = message;
    m_state = ModelState::Failed;
    // A VAE that does not fit is the VAE's fault, not the model's.
    if (m_loadingVae.isEmpty())
        m_settings->removeRecentModel(path);
    Q_EMIT notice(message);
    Q_EMIT modelChanged();
    Q_EMIT engineReadyChanged(false);
}

// ---- the model -------------------------------------------------------------

QString ModelController::modelDevice() const {
    if (!m_hasModel)
        return {};
    return QStringLiteral("%1 \u00b7 %2").arg(m_model.device, m_model.dtype);
}

QVariantList ModelController::modelMenu() const {
    struct Entry {
        QString path, name, place;
    };
    QList<Entry> entries;
    QSet<QString> seen;
    for (const QString& path : m_settings->recentModels()) {
        seen.insert(path);
        entries.append({path, QFileInfo(QDir::cleanPath(path)).fileName(), tr("Recent")});
    }
    for (const QVariant& v : m_foundModels) {
        const QVariantMap m = v.toMap();
        const QString path = m.value(QStringLiteral("path")).toString();
        if (!seen.contains(path)) {
            seen.insert(path);
            entries.append({path, m.value(QStringLiteral("name")).toString(),
                            m.value(QStringLiteral("location")).toString()});
        }
    }
    QHash<QString, int> count;
    for (const Entry& e : entries)
        ++count[e.name];
    QVariantList out;
    for (const Entry& e : entries)
        out << QVariantMap{{QStringLiteral("path"), e.path},
                           {QStringLiteral("name"), e.name},
                           {QStringLiteral("place"), e.place},
                           {QStringLiteral("label"), count.value(e.name) > 1
                                                         ? e.name + QStringLiteral(" \u2014 ") + e.place
                                                         : e.name}};
    return out;
}

QVariantList ModelController::samplers() const { return samplers::forUi(m_model.defaultSampler); }

QVariantList ModelController::sizePresets() const {
    auto preset = [](const QString& label, int w, int h) {
        return QVariantMap{{QStringLiteral("label"), label},
                           {QStringLiteral("width"), w},
                           {QStringLiteral("height"), h}};
    };
    QVariantList list;
    list << preset(tr("Model default (%1\u00d7%2)").arg(modelWidth()).arg(modelHeight()), 0, 0);
    const bool xl = m_model.family == u"SDXL";
    const QList<QSize> sizes =
        xl ? QList<QSize>{{1024, 1024}, {1152, 896}, {896, 1152}, {1216, 832},
                          {832, 1216}, {1344, 768}, {768, 1344}}
           : QList<QSize>{{512, 512}, {768, 512}, {512, 768}, {640, 640}, {768, 768}};
    for (const QSize& s : sizes) {
        QString label = QStringLiteral("%1\u00d7%2").arg(s.width()).arg(s.height());
        if (s.width() > s.height())
            label += tr(" \u00b7 landscape");
        else if (s.width() < s.height())
            label += tr(" \u00b7 portrait");
        list << preset(label, s.width(), s.height());
    }
    return list;
}

void ModelController::loadModel(const QString& pathOrUrl) {
    const QString path = pathFromUrlOrPath(pathOrUrl);
    if (path.isEmpty())
        return;
    if (!QFileInfo::exists(path)) {
        m_modelError = tr("The model %1 does not exist.").arg(quoted(path));
        Q_EMIT notice(m_modelError);
        m_settings->removeRecentModel(path);
        if (!m_hasModel)
            m_state = ModelState::Failed;
        Q_EMIT modelChanged();
        return;
    }
    if (m_loadCancel)
        m_loadCancel->cancel(); // a newer choice replaces a load in progress
    m_loadingPath = path;
    m_loadingVae = m_settings->vaeFor(path);
    if (!m_loadingVae.isEmpty() && !QFileInfo::exists(m_loadingVae)) {
        Q_EMIT notice(tr("The VAE %1 chosen for this model is gone; using the model's own.")
                          .arg(quoted(m_loadingVae)));
        m_settings->setVaeFor(path, {});
        m_loadingVae.clear();
    }
    m_state = ModelState::Loading;
    m_modelError.clear();
    m_loadProgress = 0;
    Q_EMIT modelLoadProgressChanged();
    Q_EMIT modelChanged();
    Q_EMIT engineReadyChanged(false);
    m_loadCancel = std::make_shared<CancelToken>();
    Q_EMIT loadRequested(
        LoadJob{ModelLoadRequest{path, m_loadingVae}, m_loadCancel, ++m_loadSerial});
}

void ModelController::cancelModelLoad() {
    if (m_state == ModelState::Loading && m_loadCancel)
        m_loadCancel->cancel();
}

QString ModelController::modelVaeName() const {
    // Loading, or failed with it (so the panel offers to go back to the
    // model's own): the VAE asked for; loaded: the one in use.
    if (m_state == ModelState::Loading || m_state == ModelState::Failed)
        return QFileInfo(m_loadingVae).fileName();
    return m_hasModel ? m_model.vaeName : QString();
}

void ModelController::setModelVae(const QString& pathOrUrl) {
    const QString model = modelPath();
    if (model.isEmpty()) {
        Q_EMIT notice(tr("Load a model first; a VAE is chosen for a model."));
        return;
    }
    const QString vae = pathFromUrlOrPath(pathOrUrl);
    if (!vae.isEmpty() && !QFileInfo(vae).exists()) {
        Q_EMIT notice(tr("The VAE %1 does not exist.").arg(quoted(vae)));
        return;
    }
    m_settings->setVaeFor(model, vae);
    loadModel(model);
}

bool ModelController::superResolutionAvailable() const {
    const QString path = m_settings->upscalerPath();
    return !path.isEmpty() && QFileInfo(path).isFile();
}

QString ModelController::upscalerName() const {
    return superResolutionAvailable() ? QFileInfo(m_settings->upscalerPath()).completeBaseName()
                                      : QString();
}

bool ModelController::setUpscaler(const QString& pathOrUrl) {
    const QString path = pathFromUrlOrPath(pathOrUrl);
    if (path.isEmpty()) {
        m_settings->setUpscalerPath({});
        return true;
    }
    if (!QFileInfo(path).isFile()) {
        Q_EMIT notice(tr("The upscaler %1 does not exist.").arg(quoted(path)));
        return false;
    }
    if (!ModelFinder::looksLikeUpscaler(path)) {
        Q_EMIT notice(
            tr("%1 is not an upscaler file; choose a Real-ESRGAN .pth or .safetensors file.")
                .arg(quoted(QFileInfo(path).fileName())));
        return false;
    }
    m_settings->setUpscalerPath(path);
    return true;
}

void ModelController::scanForModels() { scanTask(); }

// Every co_await awaits a named object, never a temporary made in the same
// expression (GCC 12 destroys such temporaries twice; docs/design.md).
QCoro::Task<> ModelController::scanTask() {
    if (m_scanning)
        co_return;
    m_scanning = true;
    Q_EMIT foundModelsChanged();
    QPointer<ModelController> self(this);
    const auto places = m_places;
    const auto upscalerPlaces = m_upscalerPlaces;
    using Found = QPair<QList<FoundModel>, QList<FoundModel>>;
    QFuture<Found> scan = QtConcurrent::run([places, upscalerPlaces] {
        return Found{ModelFinder::find(places),
                     ModelFinder::find(upscalerPlaces, ModelFinder::Kind::Upscaler)};
    });
    const Found found = co_await std::move(scan);
    if (!self)
        co_return;
    m_foundModels.clear();
    for (const FoundModel& model : found.first)
        m_foundModels << model.toVariant();
    m_foundUpscalers.clear();
    for (const FoundModel& upscaler : found.second)
        m_foundUpscalers << upscaler.toVariant();
    m_scanning = false;
    Q_EMIT foundModelsChanged();
}

} // namespace daub
