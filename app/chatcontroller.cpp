#include "chatcontroller.h"

#include "appsettings.h"
#include "imageproviders.h"
#include "samplers.h"

#include "metadata/img2img_steps.h"

#include <QClipboard>
#include <QCoro/QCoroFuture>
#include <QCoro/QCoroSignal>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QGuiApplication>
#include <QJSEngine>
#include <QMimeData>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QPointer>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QSaveFile>
#include <QStandardPaths>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>
#include <chrono>

namespace daub {
namespace {

ChatController* s_instance = nullptr;

const QStringList kImageMimeTypes = {
    QStringLiteral("image/png"), QStringLiteral("image/jpeg"), QStringLiteral("image/webp"),
    QStringLiteral("image/bmp"), QStringLiteral("image/x-bmp"), QStringLiteral("image/jpg")};

QString quoted(const QString& name) { return QStringLiteral("\u2018%1\u2019").arg(name); }

QString pathFromUrlOrPath(const QString& text) {
    const QUrl url(text);
    if (url.isLocalFile())
        return url.toLocalFile();
    return text;
}

ResizeMode resizeModeFrom(const QString& name) {
    if (name == u"crop")
        return ResizeMode::Crop;
    if (name == u"fit")
        return ResizeMode::Fit;
    return ResizeMode::Stretch;
}

/// Bytes of a `data:image/...;base64,` URL, or empty.
QByteArray dataUrlBytes(const QString& text) {
    static const QRegularExpression re(QStringLiteral(R"(^data:image/[\w.+-]+;base64,(.*)$)"),
                                       QRegularExpression::DotMatchesEverythingOption);
    const auto m = re.match(text.trimmed());
    if (!m.hasMatch())
        return {};
    return QByteArray::fromBase64(m.captured(1).toLatin1());
}

} // namespace

ChatController::ChatController(AppSettings* settings, InitImageStore* store, ResultCache* cache,
                               ImageBank* bank, QObject* parent)
    : QObject(parent), m_settings(settings), m_store(store), m_cache(cache), m_bank(bank),
      m_places(ModelFinder::commonPlaces()),
      m_upscalerPlaces(ModelFinder::commonUpscalerPlaces()) {
    registerEngineMetaTypes();
    connect(&m_queue, &JobQueue::startRequested, this, [this](qint64 id) { runGenerate(id); });
    connect(&m_queue, &JobQueue::cancelRequested, this, [this](qint64 id) {
        if (const auto token = m_tokens.value(id))
            token->cancel();
        m_messages.setCancelling(id);
    });
    connect(&m_queue, &JobQueue::stateChanged, this, [this](qint64 id, JobQueue::State state) {
        if (state == JobQueue::State::Cancelled)
            m_messages.setCancelled(id);
        if (state == JobQueue::State::Done || state == JobQueue::State::Failed ||
            state == JobQueue::State::Cancelled)
            endJob(id);
    });
    connect(&m_queue, &JobQueue::positionsChanged, this, &ChatController::updateQueuePositions);
    connect(m_settings, &AppSettings::upscalerPathChanged, this, &ChatController::upscalerChanged);
}

ChatController::~ChatController() {
    for (const auto& token : std::as_const(m_tokens))
        token->cancel();
    if (m_loadCancel)
        m_loadCancel->cancel();
    if (s_instance == this)
        s_instance = nullptr;
}

ChatController* ChatController::create(QQmlEngine*, QJSEngine*) {
    Q_ASSERT_X(s_instance, "ChatController::create", "no ChatController instance was set");
    QJSEngine::setObjectOwnership(s_instance, QJSEngine::CppOwnership);
    return s_instance;
}

void ChatController::setInstance(ChatController* instance) { s_instance = instance; }

void ChatController::attachWorker(EngineWorker* worker) {
    connect(this, &ChatController::loadRequested, worker, &EngineWorker::loadModel,
            Qt::QueuedConnection);
    connect(this, &ChatController::runRequested, worker, &EngineWorker::run, Qt::QueuedConnection);
    connect(worker, &EngineWorker::modelLoading, this, &ChatController::onModelLoading,
            Qt::QueuedConnection);
    connect(worker, &EngineWorker::modelLoadProgress, this, &ChatController::onModelLoadProgress,
            Qt::QueuedConnection);
    connect(worker, &EngineWorker::modelLoaded, this, &ChatController::onModelLoaded,
            Qt::QueuedConnection);
    connect(worker, &EngineWorker::modelLoadCancelled, this,
            &ChatController::onModelLoadCancelled, Qt::QueuedConnection);
    connect(worker, &EngineWorker::modelLoadFailed, this, &ChatController::onModelLoadFailed,
            Qt::QueuedConnection);
    connect(worker, &EngineWorker::jobStarted, this, &ChatController::onJobStarted,
            Qt::QueuedConnection);
    connect(worker, &EngineWorker::jobProgress, this, &ChatController::onJobProgress,
            Qt::QueuedConnection);
    connect(worker, &EngineWorker::jobEnded, this, &ChatController::onJobEnded,
            Qt::QueuedConnection);
}

void ChatController::setModelPlaces(QList<ModelFinder::Place> places,
                                    QList<ModelFinder::Place> upscalerPlaces) {
    m_places = std::move(places);
    m_upscalerPlaces = std::move(upscalerPlaces);
}

// ---- sending ---------------------------------------------------------------

int ChatController::stepsToRun(int steps, double strength) const {
    return img2img_steps(steps, strength); // the engine's own count
}

QVariantMap ChatController::tokenCount(const QString& prompt) const {
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

QString ChatController::licenseNotices() const {
    QFile file(QStringLiteral(":/daub/notices/LICENSE-CLIP"));
    if (!file.open(QIODevice::ReadOnly))
        return tr("The licence notices are installed in share/doc/daub.");
    return QString::fromUtf8(file.readAll());
}

qint64 ChatController::randomSeed() const {
    return qint64(QRandomGenerator::global()->bounded(quint64(1) << 32));
}

qint64 ChatController::send(const QString& prompt, const QString& negativePrompt) {
    if (!m_hasModel && m_modelState != ModelState::Loading) {
        notice(m_modelState == ModelState::Failed
                   ? tr("The model could not be loaded, so nothing can run; pick another model "
                        "in the options panel.")
                   : tr("No model is loaded yet; pick one in the options panel, then send "
                        "again."));
        return -1;
    }
    JobSpec spec;
    spec.prompt = prompt.trimmed();
    spec.negativePrompt = negativePrompt.trimmed();
    spec.hasNegativePrompt = !spec.negativePrompt.isEmpty();
    auto size = [](int value, int fallback) {
        const int v = value > 0 ? value : fallback;
        return std::clamp(v / 8 * 8, 64, 4096);
    };
    spec.width = size(m_settings->width(), modelWidth());
    spec.height = size(m_settings->height(), modelHeight());
    spec.steps = std::clamp(m_settings->steps(), 1, 150);
    spec.cfgScale = m_settings->cfgScale();
    if (m_settings->seedLocked() && m_settings->seed() >= 0) {
        spec.seed = m_settings->seed();
    } else {
        spec.seed = randomSeed();
        m_settings->setSeed(spec.seed);
    }
    spec.sampler = m_settings->sampler();
    spec.clipSkip = std::clamp(m_settings->clipSkip(), 1, 12);
    if (m_settings->superResolution() && superResolutionAvailable()) {
        spec.upscale.upscalerPath = m_settings->upscalerPath();
        spec.upscale.level = m_settings->superResolutionLevel() == 4 ? 4 : 2;
        if (m_settings->refineUpscaled())
            spec.upscale.refineStrength = m_settings->refineStrength();
    }
    if (hasInitImage()) {
        spec.initRef = m_initRef;
        spec.strength = std::clamp(m_settings->strength(), 0.01, 1.0);
        spec.resizeMode = m_settings->resizeMode();
    }
    spec.modelName = m_hasModel ? m_model.name : QFileInfo(m_loadingPath).fileName();
    return enqueue(std::move(spec), hasInitImage() ? m_init.thumbnail : QImage());
}

qint64 ChatController::enqueue(JobSpec spec, const QImage& initImage) {
    const qint64 id = m_nextJob++;
    QString thumb;
    if (!initImage.isNull()) {
        m_bank->setImage(QStringLiteral("thumb/%1").arg(id),
                         initImage.width() > 256 || initImage.height() > 256
                             ? initImage.scaled(256, 256, Qt::KeepAspectRatio,
                                                Qt::SmoothTransformation)
                             : initImage);
        thumb = QStringLiteral("image://daub/thumb/%1").arg(id);
    }
    if (!spec.initRef.isEmpty() && m_store->hold(spec.initRef))
        m_heldRefs.insert(id, spec.initRef); // a queued job keeps its image, whatever comes next
    const QString text = spec.kind == JobSpec::Kind::Upscale
                             ? (spec.upscale.refineStrength
                                    ? tr("Upscale ×%1 and refine").arg(spec.upscale.level)
                                    : tr("Upscale ×%1").arg(spec.upscale.level))
                             : spec.prompt;
    m_messages.addPrompt(id, text, spec.kind == JobSpec::Kind::Upscale ? QString()
                                                                        : spec.negativePrompt,
                         detailsFor(spec), thumb);
    m_messages.addReply(id);
    // A plain upscale needs no model: it may run while none is loaded.
    const bool needsModel =
        spec.kind == JobSpec::Kind::Generate || spec.upscale.refineStrength.has_value();
    m_specs.insert(id, std::move(spec));
    m_queue.enqueue(id, needsModel);
    return id;
}

bool ChatController::cancel(qint64 jobId) { return m_queue.cancel(jobId); }

void ChatController::updateQueuePositions() {
    const bool waitingForModel = m_modelState != ModelState::Ready;
    const QList<qint64> waiting = m_queue.waiting();
    const int running = m_queue.busy() ? 1 : 0;
    for (qsizetype i = 0; i < waiting.size(); ++i)
        m_messages.setQueued(waiting[i], int(i) + 1, int(i) + running, waitingForModel);
}

QString ChatController::detailsFor(const JobSpec& spec) const {
    QStringList parts;
    if (spec.kind == JobSpec::Kind::Upscale) {
        parts << QFileInfo(spec.upscale.upscalerPath).completeBaseName();
        if (spec.upscale.refineStrength)
            parts << tr("refine %1 · %2").arg(*spec.upscale.refineStrength, 0, 'f', 2)
                         .arg(spec.prompt.isEmpty() ? tr("no prompt") : spec.prompt.left(60))
                  << tr("seed %1").arg(spec.seed);
        return parts.join(QStringLiteral(" · "));
    }
    parts << QStringLiteral("%1\u00d7%2").arg(spec.width).arg(spec.height);
    parts << tr("%n steps", nullptr, spec.steps);
    parts << tr("CFG %1").arg(spec.cfgScale, 0, 'g', 3);
    parts << (spec.sampler.isEmpty()
                  ? (m_model.defaultSampler.isEmpty() ? tr("model's sampler")
                                                      : samplers::a1111Name(m_model.defaultSampler))
                  : samplers::a1111Name(spec.sampler));
    parts << tr("seed %1").arg(spec.seed);
    if (spec.clipSkip > 1)
        parts << tr("CLIP skip %1").arg(spec.clipSkip);
    if (!spec.initRef.isEmpty())
        parts << tr("strength %1 (%n steps)", nullptr, stepsToRun(spec.steps, spec.strength))
                     .arg(spec.strength, 0, 'f', 2)
              << spec.resizeMode;
    if (spec.upscale.enabled()) {
        parts << tr("upscale ×%1").arg(spec.upscale.level);
        if (spec.upscale.refineStrength)
            parts << tr("refine %1").arg(*spec.upscale.refineStrength, 0, 'f', 2);
    }
    return parts.join(QStringLiteral(" \u00b7 "));
}

GenerationParameters ChatController::parametersFor(const JobSpec& spec) const {
    GenerationParameters p;
    p.prompt = spec.prompt;
    p.negativePrompt = spec.negativePrompt;
    p.steps = spec.steps;
    p.sampler = spec.sampler.isEmpty() ? m_model.defaultSampler : spec.sampler;
    p.cfgScale = spec.cfgScale;
    p.seed = spec.seed;
    p.width = spec.width;
    p.height = spec.height;
    p.model = spec.modelName;
    p.clipSkip = spec.clipSkip;
    if (spec.kind == JobSpec::Kind::Generate && !spec.initRef.isEmpty())
        p.denoisingStrength = spec.strength;
    p.refineStrength = spec.upscale.refineStrength;
    return p;
}

ResultKey ChatController::keyFor(const JobSpec& spec, const QByteArray& initSha,
                                 const QString& modelId) const {
    ResultKey key;
    // A plain upscale does not involve the model.
    const bool plainUpscale =
        spec.kind == JobSpec::Kind::Upscale && !spec.upscale.refineStrength;
    key.modelIdentity = plainUpscale ? QString() : modelId;
    key.prompt = spec.prompt;
    key.hasNegativePrompt = spec.hasNegativePrompt;
    key.negativePrompt = spec.negativePrompt;
    key.width = spec.width;
    key.height = spec.height;
    key.steps = spec.steps;
    key.cfgScale = spec.cfgScale;
    key.seed = spec.seed;
    key.sampler = spec.sampler;
    key.clipSkip = spec.clipSkip;
    key.superResolution = spec.upscale.enabled();
    key.superResolutionLevel = spec.upscale.level;
    if (key.superResolution) {
        key.upscalerIdentity = modelIdentity(spec.upscale.upscalerPath);
        key.refineStrength = spec.upscale.refineStrength.value_or(0.0);
        key.upscaleOnly = spec.kind == JobSpec::Kind::Upscale;
    }
    if (!initSha.isEmpty()) {
        key.initImageSha256 = initSha;
        key.strength = spec.strength;
        key.resizeMode = spec.resizeMode;
    }
    return key;
}

// Every co_await in this file awaits a named object, never a temporary made
// in the same expression: GCC 12 destroys such temporaries twice (a lambda
// handed to QtConcurrent::run released its captured QList twice, freeing
// the list ChatController still held; found by AddressSanitizer in test_e2e).
QCoro::Task<> ChatController::runGenerate(qint64 id) {
    const auto specIt = m_specs.constFind(id);
    if (specIt == m_specs.cend()) {
        m_queue.markFailed(id);
        co_return;
    }
    const JobSpec spec = *specIt;
    m_messages.setRunning(id);

    // 1. The init image (img2img) or the image to upscale, if the job has one.
    GenerationRequest request;
    QByteArray initSha;
    if (!spec.initRef.isEmpty()) {
        const std::optional<InitImage> init = m_store->resolve(spec.initRef);
        if (!init) {
            failJob(id, spec.kind == JobSpec::Kind::Upscale
                            ? tr("The image to upscale is no longer available.")
                            : tr("The init image expired \u2014 drop it again."));
            co_return;
        }
        initSha = init->sha256;
        request.init_image = toEngineImage(init->image);
        request.strength = float(spec.strength);
        request.resize = resizeModeFrom(spec.resizeMode);
    }

    // 2. The result cache, keyed on the model loaded now (jobs start only
    // while one is ready, and the worker runs them in order).
    if (const std::optional<CachedResult> hit =
            m_cache->find(keyFor(spec, initSha, m_model.identity))) {
        finishJob(id,
                  Result{hit->png, readPngText(hit->png, QStringLiteral("parameters")),
                         hit->width, hit->height, hit->seed},
                  0, true);
        co_return;
    }

    // 3. The engine, on its thread.
    request.prompt = spec.prompt.toStdString();
    if (spec.hasNegativePrompt)
        request.negative_prompt = spec.negativePrompt.toStdString();
    request.width = spec.width;
    request.height = spec.height;
    request.steps = spec.steps;
    request.guidance_scale = float(spec.cfgScale);
    request.seed = spec.seed;
    request.scheduler = spec.sampler.toStdString();
    request.clip_skip = spec.clipSkip;

    EngineJob job;
    job.jobId = id;
    job.kind = spec.kind == JobSpec::Kind::Upscale ? EngineJob::Kind::Upscale
                                                    : EngineJob::Kind::Generate;
    job.request = std::move(request);
    job.upscale = spec.upscale;
    job.parameters = parametersFor(spec);
    job.writeParameters = spec.hasRecipe;
    job.cancel = std::make_shared<CancelToken>();
    m_tokens.insert(id, job.cancel);
    Q_EMIT runRequested(job);

    JobOutcome outcome;
    do {
        auto arrived = qCoro(this, &ChatController::outcomeArrived);
        outcome = co_await std::move(arrived);
    } while (outcome.jobId != id);
    m_tokens.remove(id);

    switch (outcome.kind) {
    case JobOutcome::Kind::Finished:
        // Keyed on the model that actually ran (the worker reports it).
        m_cache->insert(keyFor(spec, initSha, outcome.modelIdentity),
                        CachedResult{outcome.png, outcome.width, outcome.height, outcome.seed,
                                     outcome.stepsRun, outcome.sampler});
        finishJob(id,
                  Result{outcome.png, outcome.parameters, outcome.width, outcome.height,
                         outcome.seed},
                  outcome.totalMs, false);
        break;
    case JobOutcome::Kind::Failed:
        failJob(id, outcome.error);
        break;
    case JobOutcome::Kind::Cancelled:
        m_bank->remove(QStringLiteral("preview/%1").arg(id));
        m_messages.setCancelled(id);
        m_queue.markCancelled(id);
        break;
    }
}

void ChatController::endJob(qint64 id) {
    // The job's hold on its image ends with it (once, whichever way it ends).
    const QString ref = m_heldRefs.take(id);
    if (!ref.isEmpty())
        m_store->release(ref);
}

void ChatController::finishJob(qint64 id, const Result& result, double elapsedMs,
                               bool fromCache) {
    const QString imageId = QStringLiteral("result/%1").arg(id);
    m_bank->setPng(imageId, result.png);
    m_bank->remove(QStringLiteral("preview/%1").arg(id));
    m_results.insert(id, result);
    m_messages.setDone(id, QStringLiteral("image://daub/") + imageId, result.width, result.height,
                       result.seed, elapsedMs, fromCache, result.parameters);
    m_queue.markDone(id);
}

void ChatController::failJob(qint64 id, const QString& message) {
    m_bank->remove(QStringLiteral("preview/%1").arg(id));
    m_messages.setFailed(id, message);
    m_queue.markFailed(id);
}

void ChatController::notice(const QString& text) { m_messages.addNotice(text); }

// ---- reports from the engine thread ----------------------------------------

void ChatController::onModelLoading(const QString&, int serial) {
    if (serial != m_loadSerial)
        return; // a load that a newer one replaced
    m_queue.setEngineReady(false); // the worker lets go of the loaded model now
    m_loadProgress = 0;
    Q_EMIT modelLoadProgressChanged();
    if (m_modelState != ModelState::Loading) {
        m_modelState = ModelState::Loading;
        Q_EMIT modelChanged();
    }
}

void ChatController::onModelLoadProgress(const QString&, qint64 done, qint64 total,
                                         int serial) {
    if (serial != m_loadSerial || total <= 0)
        return;
    m_loadProgress = std::clamp(double(done) / double(total), 0.0, 1.0);
    Q_EMIT modelLoadProgressChanged();
}

void ChatController::onModelLoadCancelled(const QString& path, int serial) {
    if (serial != m_loadSerial)
        return; // replaced by a newer load, which is on its way
    // The engine let go of the previous model before loading, so nothing
    // is loaded now.
    m_model = ModelDescription();
    m_hasModel = false;
    m_queue.setEngineReady(false);
    m_modelState = ModelState::NoModel;
    m_modelError.clear();
    m_loadingPath.clear();
    m_loadCancel.reset();
    notice(tr("Loading %1 was cancelled; no model is loaded.")
               .arg(quoted(QFileInfo(path).fileName())));
    Q_EMIT modelChanged();
    updateQueuePositions();
}

void ChatController::onModelLoaded(const ModelDescription& model, double milliseconds,
                                   int serial) {
    if (serial != m_loadSerial)
        return; // a newer load replaces this model before any job runs on it
    m_loadCancel.reset();
    m_model = model;
    m_hasModel = true;
    m_modelError.clear();
    m_modelState = ModelState::Ready;
    m_settings->setModelPath(model.path);
    m_settings->addRecentModel(model.path);
    notice(model.vaeName.isEmpty()
               ? tr("Loaded %1 (%2, %3 \u00b7 %4) in %5.")
                     .arg(quoted(model.name), model.family, model.device, model.dtype,
                          formatDuration(milliseconds))
               : tr("Loaded %1 with the VAE %2 (%3, %4 \u00b7 %5) in %6.")
                     .arg(quoted(model.name), quoted(model.vaeName), model.family, model.device,
                          model.dtype, formatDuration(milliseconds)));
    Q_EMIT modelChanged();
    m_queue.setEngineReady(true);
    updateQueuePositions();
}

void ChatController::onModelLoadFailed(const QString& path, const QString& message, int serial) {
    if (serial != m_loadSerial)
        return;
    // The engine lets go of the previous model before loading the next, so
    // after a failure no model is loaded.
    m_model = ModelDescription();
    m_model.path = path;
    m_hasModel = false;
    m_modelError = message;
    m_modelState = ModelState::Failed;
    m_loadCancel.reset();
    // A VAE that does not fit is the VAE's fault, not the model's.
    if (m_loadingVae.isEmpty())
        m_settings->removeRecentModel(path);
    notice(message);
    Q_EMIT modelChanged();
    m_queue.setEngineReady(false);
    updateQueuePositions();
}

void ChatController::onJobStarted(qint64 jobId) { m_messages.setRunning(jobId); }

void ChatController::onJobProgress(qint64 jobId, int step, int total, double elapsedMs,
                                   const QImage& preview, int phase) {
    QString source;
    if (!preview.isNull()) {
        m_bank->setImage(QStringLiteral("preview/%1").arg(jobId), preview);
        source = QStringLiteral("image://daub/preview/%1/%2_%3").arg(jobId).arg(phase).arg(step);
    }
    m_messages.setProgress(jobId, step, total, elapsedMs, source, JobPhase(phase));
}

void ChatController::onJobEnded(const JobOutcome& outcome) { Q_EMIT outcomeArrived(outcome); }

// ---- the model -------------------------------------------------------------

QString ChatController::modelDevice() const {
    if (!m_hasModel)
        return {};
    return QStringLiteral("%1 \u00b7 %2").arg(m_model.device, m_model.dtype);
}

QVariantList ChatController::samplers() const { return samplers::forUi(m_model.defaultSampler); }

QVariantList ChatController::sizePresets() const {
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

void ChatController::loadModel(const QString& pathOrUrl) {
    const QString path = pathFromUrlOrPath(pathOrUrl);
    if (path.isEmpty())
        return;
    if (!QFileInfo::exists(path)) {
        m_modelError = tr("The model %1 does not exist.").arg(quoted(path));
        notice(m_modelError);
        m_settings->removeRecentModel(path);
        if (!m_hasModel)
            m_modelState = ModelState::Failed;
        Q_EMIT modelChanged();
        return;
    }
    if (m_loadCancel)
        m_loadCancel->cancel(); // a newer choice replaces a load in progress
    m_loadingPath = path;
    m_loadingVae = m_settings->vaeFor(path);
    if (!m_loadingVae.isEmpty() && !QFileInfo::exists(m_loadingVae)) {
        notice(tr("The VAE %1 chosen for this model is gone; using the model's own.")
                   .arg(quoted(m_loadingVae)));
        m_settings->setVaeFor(path, {});
        m_loadingVae.clear();
    }
    m_modelState = ModelState::Loading;
    m_modelError.clear();
    m_loadProgress = 0;
    Q_EMIT modelLoadProgressChanged();
    Q_EMIT modelChanged();
    m_queue.setEngineReady(false);
    updateQueuePositions();
    m_loadCancel = std::make_shared<CancelToken>();
    Q_EMIT loadRequested(LoadJob{ModelLoadRequest{path, m_loadingVae}, m_loadCancel, ++m_loadSerial});
}

void ChatController::cancelModelLoad() {
    if (m_modelState == ModelState::Loading && m_loadCancel)
        m_loadCancel->cancel();
}

QString ChatController::modelVaeName() const {
    // Loading, or failed with it (so the panel offers to go back to the
    // model's own): the VAE asked for; loaded: the one in use.
    if (m_modelState == ModelState::Loading || m_modelState == ModelState::Failed)
        return QFileInfo(m_loadingVae).fileName();
    return m_hasModel ? m_model.vaeName : QString();
}

void ChatController::setModelVae(const QString& pathOrUrl) {
    const QString model = modelPath();
    if (model.isEmpty()) {
        notice(tr("Load a model first; a VAE is chosen for a model."));
        return;
    }
    const QString vae = pathFromUrlOrPath(pathOrUrl);
    if (!vae.isEmpty() && !QFileInfo(vae).exists()) {
        notice(tr("The VAE %1 does not exist.").arg(quoted(vae)));
        return;
    }
    m_settings->setVaeFor(model, vae);
    loadModel(model);
}

bool ChatController::superResolutionAvailable() const {
    const QString path = m_settings->upscalerPath();
    return !path.isEmpty() && QFileInfo(path).isFile();
}

QString ChatController::upscalerName() const {
    return superResolutionAvailable() ? QFileInfo(m_settings->upscalerPath()).completeBaseName()
                                      : QString();
}

bool ChatController::setUpscaler(const QString& pathOrUrl) {
    const QString path = pathFromUrlOrPath(pathOrUrl);
    if (path.isEmpty()) {
        m_settings->setUpscalerPath({});
        return true;
    }
    if (!QFileInfo(path).isFile()) {
        notice(tr("The upscaler %1 does not exist.").arg(quoted(path)));
        return false;
    }
    if (!ModelFinder::looksLikeUpscaler(path)) {
        notice(tr("%1 is not an upscaler file; choose a Real-ESRGAN .pth or .safetensors file.")
                   .arg(quoted(QFileInfo(path).fileName())));
        return false;
    }
    m_settings->setUpscalerPath(path);
    return true;
}

void ChatController::scanForModels() { scanTask(); }

QCoro::Task<> ChatController::scanTask() {
    if (m_scanning)
        co_return;
    m_scanning = true;
    Q_EMIT foundModelsChanged();
    QPointer<ChatController> self(this);
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

// ---- the init image --------------------------------------------------------

void ChatController::setInitImage(const DecodedImage& decoded) {
    if (!decoded.ok()) {
        notice(decoded.error);
        return;
    }
    InitImage image;
    image.image = decoded.image;
    image.name = decoded.name;
    image.format = decoded.format;
    image.parameters = decoded.parameters;
    // Hash and thumbnail come from the decoding thread (prepare()).
    image.sha256 = decoded.sha256.isEmpty() ? InitImageStore::pixelHash(decoded.image)
                                            : decoded.sha256;
    image.thumbnail = decoded.thumbnail.isNull() ? decoded.image : decoded.thumbnail;
    const QString old = m_initRef;
    m_init = image;
    m_initRef = m_store->put(std::move(image)); // held by this controller
    if (!old.isEmpty())
        m_store->release(old);
    Q_EMIT initImageChanged();
    if (!decoded.parameters.isEmpty() && a1111::parse(decoded.parameters))
        m_messages.addNotice(tr("%1 carries the parameters it was made with.")
                                 .arg(quoted(decoded.name)),
                             QStringLiteral("useParameters"), decoded.parameters);
}

void ChatController::clearInitImage() {
    if (m_initRef.isEmpty())
        return;
    m_store->release(m_initRef);
    m_initRef.clear();
    m_init = InitImage();
    Q_EMIT initImageChanged();
}

QString ChatController::initImageSource() const {
    return m_initRef.isEmpty() ? QString() : QStringLiteral("image://init/") + m_initRef;
}

QCoro::Task<> ChatController::decodeInitImage(std::function<DecodedImage()> decode) {
    const quint64 ticket = ++m_decodeTicket;
    ++m_decoding;
    Q_EMIT decodingChanged();
    QPointer<ChatController> self(this);
    QFuture<DecodedImage> decoding = QtConcurrent::run([decode = std::move(decode)] {
        DecodedImage decoded = decode();
        ImageDecoder::prepare(decoded); // hashing a 50 MP image takes a while
        return decoded;
    });
    const DecodedImage decoded = co_await std::move(decoding);
    if (!self)
        co_return;
    --m_decoding;
    Q_EMIT decodingChanged();
    if (ticket == m_decodeTicket || !decoded.ok()) // a later drop wins
        setInitImage(decoded);
}

QCoro::Task<> ChatController::downloadInitImage(QUrl url) {
    if (!m_network)
        m_network = new QNetworkAccessManager(this);
    const quint64 ticket = ++m_decodeTicket;
    ++m_decoding;
    Q_EMIT decodingChanged();
    QPointer<ChatController> self(this);
    QNetworkRequest request(url);
    request.setMaximumRedirectsAllowed(5);
    request.setTransferTimeout(30'000);
    QNetworkReply* reply = m_network->get(request);
    // A download stops at kMaxDownloadBytes, announced or not.
    bool tooLarge = false;
    auto stopIfTooLarge = [reply, &tooLarge](qint64 received, qint64 total) {
        if (!tooLarge && (received > kMaxDownloadBytes || total > kMaxDownloadBytes)) {
            tooLarge = true;
            reply->abort();
        }
    };
    connect(reply, &QNetworkReply::metaDataChanged, reply, [reply, stopIfTooLarge] {
        // The announced size, before any of the body arrives.
        stopIfTooLarge(0, reply->header(QNetworkRequest::ContentLengthHeader).toLongLong());
    });
    connect(reply, &QNetworkReply::downloadProgress, reply, stopIfTooLarge);
    auto finished = qCoro(reply, &QNetworkReply::finished);
    co_await std::move(finished);
    reply->deleteLater();
    if (!self)
        co_return;
    const QString name = url.fileName().isEmpty() ? url.host() : url.fileName();
    DecodedImage decoded;
    if (tooLarge) {
        decoded.error = tr("The image at %1 is over %2 MB; download it yourself and drop the "
                           "file if you really want it.")
                            .arg(url.toDisplayString())
                            .arg(kMaxDownloadBytes / (1024 * 1024));
    } else if (reply->error() != QNetworkReply::NoError) {
        decoded.error = tr("The image at %1 could not be downloaded: %2.")
                            .arg(url.toDisplayString(), reply->errorString());
    } else {
        const QByteArray data = reply->readAll();
        QFuture<DecodedImage> decoding = QtConcurrent::run([data, name] {
            DecodedImage decoded = ImageDecoder::decodeData(data, name);
            ImageDecoder::prepare(decoded);
            return decoded;
        });
        decoded = co_await std::move(decoding);
        if (!self)
            co_return;
    }
    --m_decoding;
    Q_EMIT decodingChanged();
    if (ticket == m_decodeTicket || !decoded.ok())
        setInitImage(decoded);
}

void ChatController::setInitImageFromUrl(const QUrl& url) {
    if (url.isLocalFile()) {
        const QString path = url.toLocalFile();
        decodeInitImage([path] { return ImageDecoder::decodeFile(path); });
    } else if (url.scheme() == u"http" || url.scheme() == u"https") {
        downloadInitImage(url);
    } else if (url.scheme() == u"data") {
        setInitImageFromData(dataUrlBytes(url.toString()), tr("the dropped image"));
    } else if (url.isRelative() && !url.isEmpty()) {
        const QString path = url.toString();
        decodeInitImage([path] { return ImageDecoder::decodeFile(path); });
    } else {
        notice(tr("%1 is not a file Daub can open.").arg(quoted(url.toDisplayString())));
    }
}

void ChatController::setInitImageFromData(const QByteArray& data, const QString& name) {
    decodeInitImage([data, name] { return ImageDecoder::decodeData(data, name); });
}

bool ChatController::dropImage(const QVariantMap& drop) {
    // 1. Image data (a browser's or an image editor's drag).
    const QVariantMap data = drop.value(QStringLiteral("data")).toMap();
    for (const QString& type : kImageMimeTypes) {
        const QByteArray bytes = data.value(type).toByteArray();
        if (!bytes.isEmpty()) {
            setInitImageFromData(bytes, tr("the dropped image"));
            return true;
        }
    }
    // 2. URLs: files first, then web addresses.
    QList<QUrl> urls;
    for (const QVariant& value : drop.value(QStringLiteral("urls")).toList())
        urls << value.toUrl();
    for (const QUrl& url : urls)
        if (url.isLocalFile()) {
            setInitImageFromUrl(url);
            return true;
        }
    for (const QUrl& url : urls)
        if (url.scheme() == u"http" || url.scheme() == u"https" || url.scheme() == u"data") {
            setInitImageFromUrl(url);
            return true;
        }
    // 3. HTML with an <img> (some browsers give only that).
    static const QRegularExpression img(QStringLiteral(R"(<img[^>]+src\s*=\s*["']([^"']+)["'])"),
                                        QRegularExpression::CaseInsensitiveOption);
    const auto match = img.match(drop.value(QStringLiteral("html")).toString());
    if (match.hasMatch()) {
        setInitImageFromUrl(QUrl(match.captured(1)));
        return true;
    }
    // 4. Text that is an address.
    const QString text = drop.value(QStringLiteral("text")).toString().trimmed();
    const QUrl textUrl(text);
    if (!text.isEmpty() && !text.contains(u'\n') &&
        (textUrl.isLocalFile() || textUrl.scheme().startsWith(u"http") ||
         textUrl.scheme() == u"data")) {
        setInitImageFromUrl(textUrl);
        return true;
    }
    if (!urls.isEmpty()) {
        setInitImageFromUrl(urls.first()); // says why it cannot be opened
        return true;
    }
    notice(tr("That drop holds no image; drop a PNG, JPEG, WebP or BMP file."));
    return false;
}

bool ChatController::clipboardHasImage() const {
    const QMimeData* mime = QGuiApplication::clipboard()->mimeData();
    if (!mime)
        return false;
    if (mime->hasImage())
        return true;
    for (const QString& type : kImageMimeTypes)
        if (mime->hasFormat(type))
            return true;
    for (const QUrl& url : mime->urls())
        if (url.isLocalFile())
            return true;
    return false;
}

bool ChatController::pasteImage() {
    const QMimeData* mime = QGuiApplication::clipboard()->mimeData();
    if (!mime)
        return false;
    for (const QString& type : kImageMimeTypes)
        if (mime->hasFormat(type)) {
            setInitImageFromData(mime->data(type), tr("the pasted image"));
            return true;
        }
    if (mime->hasImage()) {
        const QImage image = qvariant_cast<QImage>(mime->imageData());
        const QString name = tr("the pasted image");
        decodeInitImage([image, name] { return ImageDecoder::fromImage(image, name); });
        return true;
    }
    for (const QUrl& url : mime->urls())
        if (url.isLocalFile()) {
            setInitImageFromUrl(url);
            return true;
        }
    return false;
}

bool ChatController::applyParameters(const QString& text) {
    const std::optional<GenerationParameters> p = a1111::parse(text);
    if (!p) {
        notice(tr("Those parameters could not be read."));
        return false;
    }
    m_settings->setPrompt(p->prompt);
    m_settings->setNegativePrompt(p->negativePrompt);
    if (!p->negativePrompt.isEmpty())
        m_settings->setNegativeExpanded(true);
    if (p->steps > 0)
        m_settings->setSteps(p->steps);
    m_settings->setCfgScale(p->cfgScale);
    if (p->seed >= 0) {
        m_settings->setSeed(p->seed);
        m_settings->setSeedLocked(true);
    }
    if (!p->sampler.isEmpty())
        m_settings->setSampler(p->sampler);
    if (p->width > 0 && p->height > 0) {
        m_settings->setWidth(p->width / 8 * 8);
        m_settings->setHeight(p->height / 8 * 8);
    }
    m_settings->setClipSkip(p->clipSkip);
    if (p->denoisingStrength)
        m_settings->setStrength(std::clamp(*p->denoisingStrength, 0.01, 1.0));
    Q_EMIT promptSuggested(p->prompt, p->negativePrompt);
    QString message = tr("Took the prompt and the settings (seed %1 locked).").arg(p->seed);
    if (!p->model.isEmpty() && m_hasModel && p->model != m_model.name)
        message += u' ' + tr("They were made with %1; %2 is loaded.")
                              .arg(quoted(p->model), quoted(m_model.name));
    notice(message);
    return true;
}

// ---- a result's actions ----------------------------------------------------

const JobSpec* ChatController::spec(qint64 jobId) const {
    auto it = m_specs.constFind(jobId);
    return it == m_specs.cend() ? nullptr : &*it;
}

const ChatController::Result* ChatController::result(qint64 jobId) const {
    auto it = m_results.constFind(jobId);
    return it == m_results.cend() ? nullptr : &*it;
}

QString ChatController::parametersOf(qint64 jobId) const {
    const Result* r = result(jobId);
    return r ? r->parameters : QString();
}

QString ChatController::saveResult(qint64 jobId) {
    const Result* r = result(jobId);
    if (!r)
        return {};
    const QDir folder(m_settings->saveFolder());
    if (!folder.mkpath(QStringLiteral("."))) {
        notice(tr("The folder %1 could not be created; choose another in the options.")
                   .arg(quoted(folder.path())));
        return {};
    }
    const QString stem = QStringLiteral("daub-%1-%2")
                             .arg(QDateTime::currentDateTime().toString(
                                      QStringLiteral("yyyyMMdd-HHmmss")))
                             .arg(r->seed);
    QString path = folder.filePath(stem + QStringLiteral(".png"));
    for (int n = 2; QFileInfo::exists(path); ++n)
        path = folder.filePath(QStringLiteral("%1-%2.png").arg(stem).arg(n));
    if (!saveResultAs(jobId, QUrl::fromLocalFile(path)))
        return {};
    return path;
}

bool ChatController::saveResultAs(qint64 jobId, const QUrl& file) {
    const Result* r = result(jobId);
    if (!r)
        return false;
    const QString path = file.isLocalFile() ? file.toLocalFile() : file.toString();
    QSaveFile out(path);
    if (!out.open(QIODevice::WriteOnly) || out.write(r->png) != r->png.size() || !out.commit()) {
        notice(tr("The image could not be saved to %1: %2.").arg(quoted(path), out.errorString()));
        return false;
    }
    Q_EMIT resultSaved(jobId, path);
    return true;
}

bool ChatController::copyResult(qint64 jobId) {
    const Result* r = result(jobId);
    if (!r)
        return false;
    auto* mime = new QMimeData;
    mime->setImageData(QImage::fromData(r->png, "PNG"));
    mime->setData(QStringLiteral("image/png"), r->png);
    QGuiApplication::clipboard()->setMimeData(mime);
    return true;
}

QUrl ChatController::exportForDrag(qint64 jobId) {
    const Result* r = result(jobId);
    if (!r)
        return {};
    const QDir folder(QDir::temp().filePath(
        QStringLiteral("daub-%1").arg(QCoreApplication::applicationPid())));
    folder.mkpath(QStringLiteral("."));
    const QString path = folder.filePath(QStringLiteral("daub-%1-%2.png").arg(jobId).arg(r->seed));
    if (!QFileInfo::exists(path)) {
        QSaveFile out(path);
        if (!out.open(QIODevice::WriteOnly) || out.write(r->png) != r->png.size() ||
            !out.commit())
            return {};
    }
    return QUrl::fromLocalFile(path);
}

void ChatController::useResultAsInit(qint64 jobId) {
    const Result* r = result(jobId);
    if (!r)
        return;
    const QByteArray png = r->png;
    const QString name = tr("the image of seed %1").arg(r->seed);
    decodeInitImage([png, name] {
        DecodedImage decoded = ImageDecoder::decodeData(png, name);
        decoded.parameters.clear(); // no "use its parameters" for our own image
        return decoded;
    });
}

qint64 ChatController::rerun(qint64 jobId) {
    const JobSpec* original = spec(jobId);
    if (!original)
        return -1;
    if (!m_hasModel && m_modelState != ModelState::Loading) {
        notice(tr("No model is loaded yet; pick one in the options panel, then send again."));
        return -1;
    }
    JobSpec again = *original;
    again.modelName = m_hasModel ? m_model.name : again.modelName;
    return enqueue(std::move(again), m_bank->image(QStringLiteral("thumb/%1").arg(jobId)));
}

// ---- upscaling ---------------------------------------------------------------

std::optional<UpscaleRequest> ChatController::upscaleFromOptions() {
    if (!superResolutionAvailable()) {
        notice(tr("Choose an upscaler first: a Real-ESRGAN .pth or .safetensors file, in the "
                  "options panel under Upscale."));
        return std::nullopt;
    }
    UpscaleRequest upscale;
    upscale.upscalerPath = m_settings->upscalerPath();
    upscale.level = m_settings->superResolutionLevel() == 4 ? 4 : 2;
    return upscale;
}

qint64 ChatController::enqueueUpscale(const QImage& image, const QString& name, JobSpec recipe,
                                      bool refine, const QString& heldRef) {
    std::optional<UpscaleRequest> upscale = upscaleFromOptions();
    if (!upscale)
        return -1;
    if (refine) {
        if (!m_hasModel && m_modelState != ModelState::Loading) {
            notice(tr("No model is loaded yet; pick one in the options panel, then refine "
                      "again."));
            return -1;
        }
        upscale->refineStrength = m_settings->refineStrength();
    }
    JobSpec spec = std::move(recipe);
    spec.kind = JobSpec::Kind::Upscale;
    spec.upscale = *upscale;
    if (refine) // the refine pass runs on the model loaded now
        spec.modelName = m_hasModel ? m_model.name : QFileInfo(m_loadingPath).fileName();
    QString ref = heldRef;
    if (ref.isEmpty()) {
        InitImage source;
        source.image = image.convertToFormat(QImage::Format_RGB888);
        source.sha256 = InitImageStore::pixelHash(source.image);
        source.name = name;
        source.format = QStringLiteral("png");
        ref = m_store->put(std::move(source));
    } else if (!m_store->hold(ref)) {
        notice(tr("That image is no longer available; drop it again."));
        return -1;
    }
    spec.initRef = ref;
    const qint64 id = enqueue(std::move(spec), image); // the job holds the image now
    m_store->release(ref);
    return id;
}

qint64 ChatController::upscaleResult(qint64 jobId) { return upscaleOfResult(jobId, false); }

qint64 ChatController::refineResult(qint64 jobId) { return upscaleOfResult(jobId, true); }

qint64 ChatController::upscaleOfResult(qint64 jobId, bool refine) {
    const Result* r = result(jobId);
    const JobSpec* original = spec(jobId);
    if (!r || !original)
        return -1;
    if (refine && !original->hasRecipe) {
        notice(tr("That image has no prompt to refine with; upscale it instead, or use it as "
                  "the init image."));
        return -1;
    }
    // The result's recipe goes with it: the upscaled PNG says how it was
    // made, and a refine pass runs with the same prompt and seed.
    JobSpec recipe = *original;
    recipe.upscale = {};
    recipe.sourceJob = jobId;
    recipe.width = r->width;
    recipe.height = r->height;
    recipe.seed = r->seed;
    // What actually ran, as the result's PNG records it (the model and the
    // sampler may have been "the model's own" of a model since replaced).
    if (const std::optional<GenerationParameters> ran = a1111::parse(r->parameters)) {
        recipe.modelName = ran->model;
        recipe.sampler = ran->sampler;
    }
    return enqueueUpscale(QImage::fromData(r->png, "PNG"), tr("the image of seed %1").arg(r->seed),
                          std::move(recipe), refine);
}

qint64 ChatController::upscaleInitImage() {
    if (!hasInitImage())
        return -1;
    JobSpec recipe;
    recipe.width = m_init.image.width();
    recipe.height = m_init.image.height();
    recipe.seed = -1;
    // A dropped A1111 image keeps its recipe; anything else has none.
    const std::optional<GenerationParameters> p =
        m_init.parameters.isEmpty() ? std::nullopt : a1111::parse(m_init.parameters);
    if (p) {
        recipe.prompt = p->prompt;
        recipe.negativePrompt = p->negativePrompt;
        recipe.hasNegativePrompt = !p->negativePrompt.isEmpty();
        recipe.steps = p->steps;
        recipe.cfgScale = p->cfgScale;
        recipe.seed = p->seed;
        recipe.sampler = p->sampler;
        recipe.clipSkip = p->clipSkip;
        recipe.modelName = p->model;
    } else {
        recipe.hasRecipe = false;
    }
    return enqueueUpscale(m_init.thumbnail, m_init.name, std::move(recipe), false, m_initRef);
}

} // namespace daub
