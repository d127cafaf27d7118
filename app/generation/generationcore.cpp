#include "generation/generationcore.h"

#include "storage/pngmetadata.h"

#include <QBuffer>
#include <QCoro/QCoroSignal>
#include <QFileInfo>

#include <algorithm>

namespace daub {

GenerationCore::GenerationCore(AppSettings* settings, InitImageStore* store, ResultCache* cache,
                               QObject* parent)
    : QObject(parent), m_store(store), m_cache(cache), m_models(settings) {
    registerEngineMetaTypes();
    connect(&m_queue, &JobQueue::startRequested, this, [this](qint64 id) { runJob(id); });
    connect(&m_queue, &JobQueue::cancelRequested, this, [this](qint64 id) {
        if (const auto token = m_tokens.value(id))
            token->cancel();
        Q_EMIT jobCancelling(id);
    });
    connect(&m_queue, &JobQueue::stateChanged, this, [this](qint64 id, JobQueue::State state) {
        if (state == JobQueue::State::Cancelled && !m_tokens.contains(id))
            cancelledJob(id); // cancelled while waiting: it never reached the engine
        if (state == JobQueue::State::Done || state == JobQueue::State::Failed ||
            state == JobQueue::State::Cancelled)
            endJob(id);
    });
    connect(&m_queue, &JobQueue::positionsChanged, this, &GenerationCore::positionsChanged);
    connect(&m_models, &ModelController::notice, this, &GenerationCore::notice);
    connect(&m_models, &ModelController::engineReadyChanged, this, [this](bool ready) {
        m_queue.setEngineReady(ready);
        Q_EMIT positionsChanged();
    });
}

GenerationCore::~GenerationCore() {
    for (const auto& token : std::as_const(m_tokens))
        token->cancel();
}

void GenerationCore::attachWorker(EngineWorker* worker) {
    m_models.attachWorker(worker);
    connect(this, &GenerationCore::runRequested, worker, &EngineWorker::run, Qt::QueuedConnection);
    // jobStarted is the core's own (the job left the queue, runJob); the
    // worker's start report adds nothing a front end needs.
    connect(worker, &EngineWorker::jobProgress, this, &GenerationCore::onJobProgress,
            Qt::QueuedConnection);
    connect(worker, &EngineWorker::jobEnded, this, &GenerationCore::onJobEnded,
            Qt::QueuedConnection);
}

void GenerationCore::setHistory(HistoryStore* history) {
    m_history = history && history->isOpen() ? history : nullptr;
    if (m_history)
        m_nextJob = std::max(m_nextJob, m_history->nextId());
}

void GenerationCore::cancelEverything() {
    m_queue.cancelAll();
    for (auto it = m_tokens.cbegin(); it != m_tokens.cend(); ++it) {
        it.value()->cancel();
        record(it.key(), HistoryEntry::State::Cancelled, nullptr, 0, {});
    }
    m_models.cancelAll();
}

int GenerationCore::cancelRunningBatch() {
    const std::optional<qint64> running = m_queue.running();
    if (!running)
        return 0;
    const qint64 batch = m_batches.value(*running).batch;
    int cancelled = 0;
    for (const qint64 id : m_queue.waiting())
        if (m_batches.contains(id) && m_batches.value(id).batch == batch)
            cancelled += m_queue.cancel(id);
    cancelled += m_queue.cancel(*running);
    return cancelled;
}

QString GenerationCore::whyNoModel(const QString& then) const {
    if (m_models.modelExpected())
        return {};
    return m_models.modelState() == ModelController::ModelState::Failed
               ? tr("The model could not be loaded, so nothing can run; pick another model "
                    "in the options panel.")
               : tr("No model is loaded yet; pick one in the options panel, then %1.").arg(then);
}

// ---- submitting --------------------------------------------------------------

qint64 GenerationCore::submit(JobRecipe recipe, const QImage& thumbnail, Batch batch) {
    const qint64 id = m_nextJob++;
    if (!thumbnail.isNull())
        m_thumbnails.insert(id, thumbnail.width() > 256 || thumbnail.height() > 256
                                    ? thumbnail.scaled(256, 256, Qt::KeepAspectRatio,
                                                       Qt::SmoothTransformation)
                                    : thumbnail);
    if (!recipe.initRef.isEmpty() && m_store->hold(recipe.initRef))
        m_heldRefs.insert(id, recipe.initRef); // a queued job keeps its image, whatever comes next
    if (batch.batch < 0)
        batch.batch = id;
    m_batches.insert(id, batch);
    // A plain upscale needs no model: it may run while none is loaded.
    const bool needsModel = recipe.needsModel();
    m_recipes.insert(id, std::move(recipe));
    Q_EMIT jobQueued(id);
    m_queue.enqueue(id, needsModel);
    return id;
}

qint64 GenerationCore::submitUpscale(const QImage& image, const QString& name, JobRecipe recipe,
                                     const QString& heldRef, QString* why) {
    QString ref = heldRef;
    if (ref.isEmpty()) {
        InitImage source;
        source.image = image.convertToFormat(QImage::Format_RGB888);
        source.sha256 = InitImageStore::pixelHash(source.image);
        source.name = name;
        source.format = QStringLiteral("png");
        ref = m_store->put(std::move(source));
    } else if (!m_store->hold(ref)) {
        if (why)
            *why = tr("That image is no longer available; drop it again.");
        return -1;
    }
    recipe.kind = JobRecipe::Kind::Upscale;
    recipe.initRef = ref;
    const qint64 id = submit(std::move(recipe), image); // the job holds the image now
    m_store->release(ref);
    return id;
}

// ---- running -----------------------------------------------------------------

// Every co_await in this file awaits a named object, never a temporary made
// in the same expression: GCC 12 destroys such temporaries twice (a lambda
// handed to QtConcurrent::run released its captured QList twice, freeing
// the list the caller still held; found by AddressSanitizer in test_e2e).
QCoro::Task<> GenerationCore::runJob(qint64 id) {
    const auto recipeIt = m_recipes.constFind(id);
    if (recipeIt == m_recipes.cend()) {
        m_queue.markFailed(id);
        co_return;
    }
    const JobRecipe recipe = *recipeIt;
    Q_EMIT jobStarted(id);

    // 1. The init image (img2img) or the image to upscale, if the job has one.
    std::optional<InitImage> init;
    if (!recipe.initRef.isEmpty()) {
        init = m_store->resolve(recipe.initRef);
        if (!init) {
            failJob(id, recipe.kind == JobRecipe::Kind::Upscale
                            ? tr("The image to upscale is no longer available.")
                            : tr("The init image expired \u2014 drop it again."));
            co_return;
        }
        m_initSha.insert(id, init->sha256);
    }
    const QByteArray initSha = init ? init->sha256 : QByteArray();

    // 2. The plan: the engine request and its cache key, from one function.
    // Keyed on the model loaded now (jobs start only while one is ready, and
    // the worker runs them in order).
    JobPlan plan = planJob(recipe, initSha, m_models.model().identity);
    if (const std::optional<CachedResult> hit = m_cache->find(plan.key)) {
        finishJob(id,
                  JobResult{hit->png, readPngText(hit->png, QStringLiteral("parameters")),
                            hit->width, hit->height, hit->seed},
                  0, true);
        co_return;
    }

    // 3. The engine, on its thread.
    EngineJob job = std::move(plan.job);
    job.jobId = id;
    if (init)
        job.request.init_image = toEngineImage(init->image);
    job.cancel = std::make_shared<CancelToken>();
    m_tokens.insert(id, job.cancel);
    Q_EMIT runRequested(job);

    JobOutcome outcome;
    do {
        auto arrived = qCoro(this, &GenerationCore::outcomeArrived);
        outcome = co_await std::move(arrived);
    } while (outcome.jobId != id);
    m_tokens.remove(id);

    switch (outcome.kind) {
    case JobOutcome::Kind::Finished:
        // Keyed on the model that actually ran (the worker reports it).
        m_cache->insert(resultKeyOf(job, initSha, outcome.modelIdentity),
                        CachedResult{outcome.png, outcome.width, outcome.height, outcome.seed,
                                     outcome.stepsRun, outcome.sampler});
        finishJob(id,
                  JobResult{outcome.png, outcome.parameters, outcome.width, outcome.height,
                            outcome.seed},
                  outcome.totalMs, false);
        break;
    case JobOutcome::Kind::Failed:
        failJob(id, outcome.error);
        break;
    case JobOutcome::Kind::Cancelled:
        m_queue.markCancelled(id); // → stateChanged → cancelledJob
        break;
    }
}

void GenerationCore::endJob(qint64 id) {
    // The job's hold on its image ends with it (once, whichever way it ends).
    const QString ref = m_heldRefs.take(id);
    if (!ref.isEmpty())
        m_store->release(ref);
}

void GenerationCore::finishJob(qint64 id, const JobResult& result, double elapsedMs,
                               bool fromCache) {
    m_results.insert(id, result);
    Q_EMIT jobFinished(id, elapsedMs, fromCache);
    record(id, HistoryEntry::State::Done, &result, elapsedMs, {});
    m_queue.markDone(id);
}

void GenerationCore::failJob(qint64 id, const QString& message) {
    Q_EMIT jobFailed(id, message);
    record(id, HistoryEntry::State::Failed, nullptr, 0, message);
    m_queue.markFailed(id);
}

void GenerationCore::cancelledJob(qint64 id) {
    Q_EMIT jobCancelled(id);
    record(id, HistoryEntry::State::Cancelled, nullptr, 0, {});
}

void GenerationCore::record(qint64 id, HistoryEntry::State state, const JobResult* result,
                            double elapsedMs, const QString& error) {
    if (!m_history || m_recorded.contains(id))
        return;
    const auto recipeIt = m_recipes.constFind(id);
    if (recipeIt == m_recipes.cend())
        return;
    m_recorded.insert(id);
    const JobRecipe& recipe = *recipeIt;
    const Batch batch = m_batches.value(id);
    HistoryEntry entry;
    entry.id = id;
    entry.state = state;
    entry.prompt = recipe.prompt;
    entry.negativePrompt = recipe.negativePrompt;
    entry.recipe = toJson(recipe);
    entry.seed = recipe.seed;
    entry.model = recipe.needsModel() ? recipe.modelName : QString();
    entry.upscaler = recipe.upscale.enabled()
                         ? QFileInfo(recipe.upscale.upscalerPath).completeBaseName()
                         : QString();
    entry.initSha256 = m_initSha.value(id);
    entry.elapsedMs = elapsedMs;
    entry.error = error;
    entry.batch = batch.batch < 0 ? id : batch.batch;
    entry.batchIndex = batch.index;
    const QImage thumb = m_thumbnails.take(id);
    if (!thumb.isNull()) {
        QBuffer buffer(&entry.initThumbnailPng);
        buffer.open(QIODevice::WriteOnly);
        thumb.save(&buffer, "PNG");
    }
    QByteArray png;
    if (result) {
        png = result->png;
        entry.parameters = result->parameters;
        entry.seed = result->seed;
        entry.width = result->width;
        entry.height = result->height;
        // What actually ran, as the PNG records it.
        if (const std::optional<ImageParameters> ran = a1111::parse(result->parameters)) {
            if (!ran->model.empty())
                entry.model = qstr(ran->model);
            entry.vae = qstr(ran->vae);
            if (!ran->upscaler.empty())
                entry.upscaler = qstr(ran->upscaler);
        }
    }
    QString why;
    if (!m_history->add(entry, png, &why))
        Q_EMIT notice(why);
}

// ---- reports from the engine thread ----------------------------------------


void GenerationCore::onJobProgress(qint64 jobId, int step, int total, double elapsedMs,
                                   const QImage& preview, int phase) {
    Q_EMIT jobProgress(jobId, step, total, elapsedMs, preview, phase);
}

void GenerationCore::onJobEnded(const JobOutcome& outcome) { Q_EMIT outcomeArrived(outcome); }

// ---- what a job made -------------------------------------------------------------

std::optional<JobRecipe> GenerationCore::recipe(qint64 jobId) const {
    if (auto it = m_recipes.constFind(jobId); it != m_recipes.cend())
        return *it;
    if (m_history)
        if (const std::optional<HistoryEntry> entry = m_history->entry(jobId))
            return recipeFromJson(entry->recipe);
    return std::nullopt;
}

std::optional<JobResult> GenerationCore::result(qint64 jobId) const {
    if (auto it = m_results.constFind(jobId); it != m_results.cend())
        return *it;
    if (!m_history)
        return std::nullopt;
    const std::optional<HistoryEntry> entry = m_history->entry(jobId);
    if (!entry || entry->state != HistoryEntry::State::Done)
        return std::nullopt;
    JobResult r{m_history->png(jobId), entry->parameters, entry->width, entry->height,
                entry->seed};
    if (r.png.isEmpty())
        return std::nullopt;
    return r;
}

qint64 GenerationCore::latestResult() const {
    qint64 newest = -1;
    for (auto it = m_results.cbegin(); it != m_results.cend(); ++it)
        newest = std::max(newest, it.key());
    if (newest < 0 && m_history) {
        HistoryQuery query;
        query.limit = 1;
        const QList<HistoryEntry> last = m_history->search(query);
        if (!last.isEmpty())
            newest = last.constFirst().id;
    }
    return newest;
}

} // namespace daub
