#include "chatcontroller.h"

#include "appsettings.h"
#include "imageproviders.h"
#include "samplers.h"

#include "metadata/img2img_steps.h"

#include <QBuffer>
#include <QClipboard>
#include <QCoro/QCoroSignal>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QGuiApplication>
#include <QJSEngine>
#include <QMimeData>
#include <QRandomGenerator>
#include <QSaveFile>

#include <algorithm>

namespace daub {
namespace {

ChatController* s_instance = nullptr;

QString thumbId(qint64 id) { return QStringLiteral("thumb/%1").arg(id); }
QString resultId(qint64 id) { return QStringLiteral("result/%1").arg(id); }
QString previewId(qint64 id) { return QStringLiteral("preview/%1").arg(id); }

} // namespace

ChatController::ChatController(AppSettings* settings, InitImageStore* store, ResultCache* cache,
                               ImageBank* bank, QObject* parent)
    : QObject(parent), m_settings(settings), m_store(store), m_cache(cache), m_bank(bank),
      m_models(settings), m_intake(store) {
    registerEngineMetaTypes();
    connect(&m_queue, &JobQueue::startRequested, this, [this](qint64 id) { runJob(id); });
    connect(&m_queue, &JobQueue::cancelRequested, this, [this](qint64 id) {
        if (const auto token = m_tokens.value(id))
            token->cancel();
        m_messages.setCancelling(id);
    });
    connect(&m_queue, &JobQueue::stateChanged, this, [this](qint64 id, JobQueue::State state) {
        if (state == JobQueue::State::Cancelled && !m_tokens.contains(id))
            cancelledJob(id); // cancelled while waiting: it never reached the engine
        if (state == JobQueue::State::Done || state == JobQueue::State::Failed ||
            state == JobQueue::State::Cancelled)
            endJob(id);
    });
    connect(&m_queue, &JobQueue::positionsChanged, this, &ChatController::updateQueuePositions);
    connect(&m_models, &ModelController::notice, this, &ChatController::notice);
    connect(&m_models, &ModelController::engineReadyChanged, this, [this](bool ready) {
        m_queue.setEngineReady(ready);
        updateQueuePositions();
    });
    connect(&m_intake, &InitImageIntake::notice, this, &ChatController::notice);
    connect(&m_intake, &InitImageIntake::parametersOffered, this,
            [this](const QString& name, const QString& parameters) {
                m_messages.addNotice(
                    tr("%1 carries the parameters it was made with.").arg(quoted(name)),
                    QStringLiteral("useParameters"), parameters);
            });
}

ChatController::~ChatController() {
    for (const auto& token : std::as_const(m_tokens))
        token->cancel();
    if (s_instance == this)
        s_instance = nullptr;
}

ChatController* ChatController::create(QQmlEngine*, QJSEngine*) {
    Q_ASSERT_X(s_instance, "ChatController::create", "no ChatController instance was set");
    QJSEngine::setObjectOwnership(s_instance, QJSEngine::CppOwnership);
    return s_instance;
}

void ChatController::setInstance(ChatController* instance) {
    s_instance = instance;
    ModelController::setInstance(instance ? &instance->m_models : nullptr);
    InitImageIntake::setInstance(instance ? &instance->m_intake : nullptr);
}

void ChatController::attachWorker(EngineWorker* worker) {
    m_models.attachWorker(worker);
    connect(this, &ChatController::runRequested, worker, &EngineWorker::run, Qt::QueuedConnection);
    connect(worker, &EngineWorker::jobStarted, this, &ChatController::onJobStarted,
            Qt::QueuedConnection);
    connect(worker, &EngineWorker::jobProgress, this, &ChatController::onJobProgress,
            Qt::QueuedConnection);
    connect(worker, &EngineWorker::jobEnded, this, &ChatController::onJobEnded,
            Qt::QueuedConnection);
}

void ChatController::cancelEverything() {
    m_queue.cancelAll();
    for (auto it = m_tokens.cbegin(); it != m_tokens.cend(); ++it) {
        it.value()->cancel();
        record(it.key(), HistoryEntry::State::Cancelled, nullptr, 0, {});
    }
    m_models.cancelAll();
}

// ---- sending ---------------------------------------------------------------

int ChatController::stepsToRun(int steps, double strength) const {
    return img2img_steps(steps, strength); // the engine's own count
}

qint64 ChatController::randomSeed() const {
    return qint64(QRandomGenerator::global()->bounded(quint64(1) << 32));
}

bool ChatController::modelExpected(const QString& then) {
    if (m_models.modelExpected())
        return true;
    notice(m_models.modelState() == ModelController::ModelState::Failed
               ? tr("The model could not be loaded, so nothing can run; pick another model "
                    "in the options panel.")
               : tr("No model is loaded yet; pick one in the options panel, then %1.").arg(then));
    return false;
}

qint64 ChatController::send(const QString& prompt, const QString& negativePrompt) {
    if (!modelExpected(tr("send again")))
        return -1;
    JobRecipe recipe;
    recipe.prompt = prompt.trimmed();
    recipe.negativePrompt = negativePrompt.trimmed();
    recipe.hasNegativePrompt = !recipe.negativePrompt.isEmpty();
    auto size = [](int value, int fallback) {
        const int v = value > 0 ? value : fallback;
        return std::clamp(v / 8 * 8, 64, 4096);
    };
    recipe.width = size(m_settings->width(), m_models.modelWidth());
    recipe.height = size(m_settings->height(), m_models.modelHeight());
    recipe.steps = std::clamp(m_settings->steps(), 1, 150);
    recipe.cfgScale = m_settings->cfgScale();
    if (m_settings->seedLocked() && m_settings->seed() >= 0) {
        recipe.seed = m_settings->seed();
    } else {
        recipe.seed = randomSeed();
        m_settings->setSeed(recipe.seed);
    }
    recipe.sampler = m_settings->sampler();
    recipe.clipSkip = std::clamp(m_settings->clipSkip(), 1, 12);
    if (m_settings->superResolution() && m_models.superResolutionAvailable()) {
        recipe.upscale.upscalerPath = m_settings->upscalerPath();
        recipe.upscale.level = m_settings->superResolutionLevel() == 4 ? 4 : 2;
        if (m_settings->refineUpscaled())
            recipe.upscale.refineStrength = m_settings->refineStrength();
    }
    const bool img2img = m_intake.hasInitImage();
    if (img2img) {
        recipe.initRef = m_intake.initImageRef();
        recipe.strength = std::clamp(m_settings->strength(), 0.01, 1.0);
        recipe.resizeMode = m_settings->resizeMode();
    }
    recipe.modelName = m_models.expectedModelName();
    const QImage thumbnail = img2img ? m_intake.current().thumbnail : QImage();
    // A batch: the same recipe with seeds seed, seed+1, ..., one job each.
    const int count = std::clamp(m_settings->batchCount(), 1, 16);
    const qint64 first = enqueue(recipe, thumbnail, -1, 0, count);
    for (int i = 1; i < count; ++i) {
        JobRecipe next = recipe;
        next.seed = recipe.seed + i;
        enqueue(std::move(next), thumbnail, first, i, count);
    }
    return first;
}

qint64 ChatController::enqueue(JobRecipe recipe, const QImage& initImage, qint64 batch,
                               int batchIndex, int batchSize) {
    const qint64 id = m_nextJob++;
    QString thumb;
    if (!initImage.isNull()) {
        m_bank->setImage(thumbId(id), initImage.width() > 256 || initImage.height() > 256
                                          ? initImage.scaled(256, 256, Qt::KeepAspectRatio,
                                                             Qt::SmoothTransformation)
                                          : initImage);
        thumb = QStringLiteral("image://daub/") + thumbId(id);
    }
    if (!recipe.initRef.isEmpty() && m_store->hold(recipe.initRef))
        m_heldRefs.insert(id, recipe.initRef); // a queued job keeps its image, whatever comes next
    const bool upscale = recipe.kind == JobRecipe::Kind::Upscale;
    const QString text = upscale ? (recipe.upscale.refineStrength
                                        ? tr("Upscale ×%1 and refine").arg(recipe.upscale.level)
                                        : tr("Upscale ×%1").arg(recipe.upscale.level))
                                 : recipe.prompt;
    if (batchIndex == 0) {
        QString details = detailsFor(recipe);
        if (batchSize > 1)
            details += tr(" \u00b7 %n images", nullptr, batchSize);
        m_messages.addPrompt(id, text, upscale ? QString() : recipe.negativePrompt, details,
                             thumb);
    }
    m_messages.addReply(id, batch);
    // A plain upscale needs no model: it may run while none is loaded.
    const bool needsModel = recipe.needsModel();
    m_records.insert(id, JobRecord{{}, batch < 0 ? id : batch, batchIndex});
    m_recipes.insert(id, std::move(recipe));
    m_queue.enqueue(id, needsModel);
    return id;
}

bool ChatController::cancel(qint64 jobId) { return m_queue.cancel(jobId); }

void ChatController::updateQueuePositions() {
    const bool waitingForModel = m_models.modelState() != ModelController::ModelState::Ready;
    const QList<qint64> waiting = m_queue.waiting();
    const int running = m_queue.busy() ? 1 : 0;
    for (qsizetype i = 0; i < waiting.size(); ++i)
        m_messages.setQueued(waiting[i], int(i) + 1, int(i) + running, waitingForModel);
}

QString ChatController::detailsFor(const JobRecipe& recipe) const {
    QStringList parts;
    if (recipe.kind == JobRecipe::Kind::Upscale) {
        parts << QFileInfo(recipe.upscale.upscalerPath).completeBaseName();
        if (recipe.upscale.refineStrength)
            parts << tr("refine %1 · %2")
                         .arg(*recipe.upscale.refineStrength, 0, 'f', 2)
                         .arg(recipe.prompt.isEmpty() ? tr("no prompt") : recipe.prompt.left(60))
                  << tr("seed %1").arg(recipe.seed);
        return parts.join(QStringLiteral(" · "));
    }
    const QString modelSampler = m_models.model().defaultSampler;
    parts << QStringLiteral("%1\u00d7%2").arg(recipe.width).arg(recipe.height);
    parts << tr("%n steps", nullptr, recipe.steps);
    parts << tr("CFG %1").arg(recipe.cfgScale, 0, 'g', 3);
    parts << (recipe.sampler.isEmpty()
                  ? (modelSampler.isEmpty() ? tr("model's sampler")
                                            : samplers::a1111Name(modelSampler))
                  : samplers::a1111Name(recipe.sampler));
    parts << tr("seed %1").arg(recipe.seed);
    if (recipe.clipSkip > 1)
        parts << tr("CLIP skip %1").arg(recipe.clipSkip);
    if (recipe.isImg2Img())
        parts << tr("strength %1 (%n steps)", nullptr, stepsToRun(recipe.steps, recipe.strength))
                     .arg(recipe.strength, 0, 'f', 2)
              << recipe.resizeMode;
    if (recipe.upscale.enabled()) {
        parts << tr("upscale ×%1").arg(recipe.upscale.level);
        if (recipe.upscale.refineStrength)
            parts << tr("refine %1").arg(*recipe.upscale.refineStrength, 0, 'f', 2);
    }
    return parts.join(QStringLiteral(" \u00b7 "));
}

// Every co_await in this file awaits a named object, never a temporary made
// in the same expression: GCC 12 destroys such temporaries twice (a lambda
// handed to QtConcurrent::run released its captured QList twice, freeing
// the list ChatController still held; found by AddressSanitizer in test_e2e).
QCoro::Task<> ChatController::runJob(qint64 id) {
    const auto recipeIt = m_recipes.constFind(id);
    if (recipeIt == m_recipes.cend()) {
        m_queue.markFailed(id);
        co_return;
    }
    const JobRecipe recipe = *recipeIt;
    m_messages.setRunning(id);

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
        m_records[id].initSha256 = init->sha256;
    }
    const QByteArray initSha = init ? init->sha256 : QByteArray();

    // 2. The plan: the engine request and its cache key, from one function.
    // Keyed on the model loaded now (jobs start only while one is ready, and
    // the worker runs them in order).
    JobPlan plan = planJob(recipe, initSha, m_models.model().identity);
    if (const std::optional<CachedResult> hit = m_cache->find(plan.key)) {
        finishJob(id,
                  Result{hit->png, readPngText(hit->png, QStringLiteral("parameters")),
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
        auto arrived = qCoro(this, &ChatController::outcomeArrived);
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
                  Result{outcome.png, outcome.parameters, outcome.width, outcome.height,
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

void ChatController::endJob(qint64 id) {
    // The job's hold on its image ends with it (once, whichever way it ends).
    const QString ref = m_heldRefs.take(id);
    if (!ref.isEmpty())
        m_store->release(ref);
}

void ChatController::finishJob(qint64 id, const Result& result, double elapsedMs,
                               bool fromCache) {
    m_bank->setPng(resultId(id), result.png);
    m_bank->remove(previewId(id));
    m_results.insert(id, result);
    m_messages.setDone(id, QStringLiteral("image://daub/") + resultId(id), result.width,
                       result.height, result.seed, elapsedMs, fromCache, result.parameters);
    record(id, HistoryEntry::State::Done, &result, elapsedMs, {});
    m_queue.markDone(id);
}

void ChatController::failJob(qint64 id, const QString& message) {
    m_bank->remove(previewId(id));
    m_messages.setFailed(id, message);
    record(id, HistoryEntry::State::Failed, nullptr, 0, message);
    m_queue.markFailed(id);
}

void ChatController::cancelledJob(qint64 id) {
    m_bank->remove(previewId(id));
    m_messages.setCancelled(id);
    record(id, HistoryEntry::State::Cancelled, nullptr, 0, {});
}

void ChatController::notice(const QString& text) { m_messages.addNotice(text); }

// ---- the history -------------------------------------------------------------

void ChatController::setHistoryError(const QString& sentence) {
    m_historyError = sentence;
    if (!sentence.isEmpty())
        notice(sentence);
    Q_EMIT historyChanged();
}

void ChatController::setHistory(HistoryStore* history, const QString& warning) {
    m_history = history && history->isOpen() ? history : nullptr;
    if (!m_history)
        return;
    m_nextJob = std::max(m_nextJob, m_history->nextId());
    connect(m_history, &HistoryStore::changed, this, &ChatController::followHistory,
            Qt::UniqueConnection);
    m_oldestShown = -1;
    m_hasOlder = true;
    loadOlder();
    if (!warning.isEmpty())
        notice(warning);
    Q_EMIT historyChanged();
}

void ChatController::followHistory() {
    if (!m_history)
        return;
    for (const qint64 id : m_messages.finishedJobs())
        if (m_recorded.contains(id) || !m_recipes.contains(id)) // kept in the history
            m_messages.setDeleted(id, !m_history->entry(id).has_value());
}

bool ChatController::loadOlder() {
    if (!m_history || !m_hasOlder)
        return false;
    const QList<HistoryEntry> page = m_history->recent(kHistoryPage, m_oldestShown);
    std::vector<MessageModel::Message> rows;
    QHash<qint64, size_t> leadReply; // batch id -> its reply row in `rows`
    for (const HistoryEntry& entry : page) {
        std::vector<MessageModel::Message> two = messagesOf(entry);
        const auto lead = leadReply.constFind(entry.batch);
        if (entry.batch != entry.id && lead != leadReply.cend()) {
            // A batch member joins its first job's reply, as it did live.
            MessageModel::Message& reply = rows[*lead];
            auto item = [](const MessageModel::Message& m) {
                return MessageModel::BatchImage{m.jobId, m.status, m.imageSource, m.imageWidth,
                                                m.imageHeight, m.seed, m.parameters, m.text};
            };
            if (reply.images.empty())
                reply.images.push_back(item(reply));
            reply.images.push_back(item(two[1]));
            if (reply.imageSource.isEmpty() && !two[1].imageSource.isEmpty()) {
                reply.imageSource = two[1].imageSource;
                reply.imageWidth = two[1].imageWidth;
                reply.imageHeight = two[1].imageHeight;
                reply.status = MessageModel::Status::Done;
            }
            reply.statusText = tr("%n images", nullptr, int(reply.images.size()));
            continue;
        }
        leadReply.insert(entry.id, rows.size() + 1);
        rows.insert(rows.end(), two.begin(), two.end());
    }
    if (!page.isEmpty())
        m_oldestShown = page.constFirst().id;
    m_hasOlder = page.size() == kHistoryPage &&
                 !m_history->recent(1, m_oldestShown).isEmpty();
    m_messages.insertOlder(std::move(rows));
    Q_EMIT historyChanged();
    return !page.isEmpty();
}

std::vector<MessageModel::Message> ChatController::messagesOf(const HistoryEntry& entry) {
    using Message = MessageModel::Message;
    const std::optional<JobRecipe> recipe = recipeFromJson(entry.recipe);
    Message prompt;
    prompt.kind = MessageModel::Kind::Prompt;
    prompt.jobId = entry.id;
    prompt.time = entry.created.toLocalTime();
    const bool upscale = recipe && recipe->kind == JobRecipe::Kind::Upscale;
    prompt.text = upscale ? (recipe->upscale.refineStrength
                                 ? tr("Upscale ×%1 and refine").arg(recipe->upscale.level)
                                 : tr("Upscale ×%1").arg(recipe->upscale.level))
                          : entry.prompt;
    prompt.negativePrompt = upscale ? QString() : entry.negativePrompt;
    if (recipe) {
        JobRecipe shown = *recipe;
        if (!entry.initSha256.isEmpty())
            shown.initRef = QStringLiteral("kept"); // the details say "strength …"
        prompt.details = detailsFor(shown);
    }
    if (!entry.initThumbnailPng.isEmpty()) {
        m_bank->setPng(thumbId(entry.id), entry.initThumbnailPng);
        prompt.initImageSource = QStringLiteral("image://daub/") + thumbId(entry.id);
    }
    Message reply;
    reply.kind = MessageModel::Kind::Reply;
    reply.jobId = entry.id;
    reply.time = prompt.time;
    reply.elapsedMs = entry.elapsedMs;
    switch (entry.state) {
    case HistoryEntry::State::Done: {
        reply.status = MessageModel::Status::Done;
        reply.seed = entry.seed;
        reply.parameters = entry.parameters;
        reply.imageWidth = entry.width;
        reply.imageHeight = entry.height;
        if (!entry.imageFile.isEmpty())
            reply.imageSource = QUrl::fromLocalFile(entry.imageFile).toString();
        const QString size = QStringLiteral("%1\u00d7%2").arg(entry.width).arg(entry.height);
        reply.statusText = entry.imageFile.isEmpty()
                               ? tr("Done \u00b7 the image file is gone")
                           : entry.elapsedMs > 0
                               ? tr("Done in %1 \u00b7 %2 \u00b7 seed %3")
                                     .arg(formatDuration(entry.elapsedMs), size)
                                     .arg(entry.seed)
                               : tr("Done \u00b7 %1 \u00b7 seed %2").arg(size).arg(entry.seed);
        break;
    }
    case HistoryEntry::State::Failed:
        reply.status = MessageModel::Status::Failed;
        reply.text = entry.error;
        reply.statusText = tr("Failed");
        break;
    case HistoryEntry::State::Cancelled:
        reply.status = MessageModel::Status::Cancelled;
        reply.statusText = tr("Cancelled");
        break;
    }
    return {std::move(prompt), std::move(reply)};
}

void ChatController::record(qint64 id, HistoryEntry::State state, const Result* result,
                            double elapsedMs, const QString& error) {
    if (!m_history || m_recorded.contains(id))
        return;
    const auto recipeIt = m_recipes.constFind(id);
    if (recipeIt == m_recipes.cend())
        return;
    m_recorded.insert(id);
    const JobRecipe& recipe = *recipeIt;
    const JobRecord job = m_records.value(id);
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
    entry.initSha256 = job.initSha256;
    entry.elapsedMs = elapsedMs;
    entry.error = error;
    entry.batch = job.batch;
    entry.batchIndex = job.batchIndex;
    const QImage thumb = m_bank->image(thumbId(id));
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
        notice(why);
}

// ---- reports from the engine thread ----------------------------------------

void ChatController::onJobStarted(qint64 jobId) { m_messages.setRunning(jobId); }

void ChatController::onJobProgress(qint64 jobId, int step, int total, double elapsedMs,
                                   const QImage& preview, int phase) {
    QString source;
    if (!preview.isNull()) {
        m_bank->setImage(previewId(jobId), preview);
        source = QStringLiteral("image://daub/preview/%1/%2_%3").arg(jobId).arg(phase).arg(step);
    }
    m_messages.setProgress(jobId, step, total, elapsedMs, source, JobPhase(phase));
}

void ChatController::onJobEnded(const JobOutcome& outcome) { Q_EMIT outcomeArrived(outcome); }

// ---- parameters ------------------------------------------------------------

bool ChatController::applyParameters(const QString& text) {
    const std::optional<ImageParameters> p = a1111::parse(text);
    if (!p) {
        notice(tr("Those parameters could not be read."));
        return false;
    }
    const QString prompt = qstr(p->prompt);
    const QString negative = qstr(p->negative_prompt);
    m_settings->setPrompt(prompt);
    m_settings->setNegativePrompt(negative);
    if (!negative.isEmpty())
        m_settings->setNegativeExpanded(true);
    if (p->steps > 0)
        m_settings->setSteps(p->steps);
    m_settings->setCfgScale(p->cfg_scale);
    if (p->seed >= 0) {
        m_settings->setSeed(p->seed);
        m_settings->setSeedLocked(true);
    }
    if (!p->scheduler.empty())
        m_settings->setSampler(qstr(p->scheduler));
    if (p->width > 0 && p->height > 0) {
        m_settings->setWidth(p->width / 8 * 8);
        m_settings->setHeight(p->height / 8 * 8);
    }
    m_settings->setClipSkip(p->clip_skip);
    if (p->denoising_strength)
        m_settings->setStrength(std::clamp(*p->denoising_strength, 0.01, 1.0));
    Q_EMIT promptSuggested(prompt, negative);
    QString message = tr("Took the prompt and the settings (seed %1 locked).").arg(p->seed);
    const QString model = qstr(p->model);
    if (!model.isEmpty() && m_models.hasModel() && model != m_models.modelName())
        message += u' ' + tr("They were made with %1; %2 is loaded.")
                              .arg(quoted(model), quoted(m_models.modelName()));
    notice(message);
    return true;
}

// ---- a result's actions ----------------------------------------------------

std::optional<JobRecipe> ChatController::recipe(qint64 jobId) const {
    if (auto it = m_recipes.constFind(jobId); it != m_recipes.cend())
        return *it;
    if (m_history)
        if (const std::optional<HistoryEntry> entry = m_history->entry(jobId))
            return recipeFromJson(entry->recipe);
    return std::nullopt;
}

std::optional<ChatController::Result> ChatController::result(qint64 jobId) const {
    if (auto it = m_results.constFind(jobId); it != m_results.cend())
        return *it;
    if (!m_history)
        return std::nullopt;
    const std::optional<HistoryEntry> entry = m_history->entry(jobId);
    if (!entry || entry->state != HistoryEntry::State::Done)
        return std::nullopt;
    Result r{m_history->png(jobId), entry->parameters, entry->width, entry->height, entry->seed};
    if (r.png.isEmpty())
        return std::nullopt;
    return r;
}

qint64 ChatController::latestResult() const {
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

QString ChatController::parametersOf(qint64 jobId) const {
    const std::optional<Result> r = result(jobId);
    return r ? r->parameters : QString();
}

QString ChatController::saveResult(qint64 jobId) {
    const std::optional<Result> r = result(jobId);
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
    const std::optional<Result> r = result(jobId);
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
    const std::optional<Result> r = result(jobId);
    if (!r)
        return false;
    auto* mime = new QMimeData;
    mime->setImageData(QImage::fromData(r->png, "PNG"));
    mime->setData(QStringLiteral("image/png"), r->png);
    QGuiApplication::clipboard()->setMimeData(mime);
    return true;
}

QUrl ChatController::exportForDrag(qint64 jobId) {
    const std::optional<Result> r = result(jobId);
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
    const std::optional<Result> r = result(jobId);
    if (!r)
        return;
    m_intake.setInitImageFromResult(r->png, tr("the image of seed %1").arg(r->seed));
}

qint64 ChatController::rerun(qint64 jobId) {
    std::optional<JobRecipe> again = recipe(jobId);
    if (!again)
        return -1;
    if (again->needsModel() && !modelExpected(tr("send again")))
        return -1;
    if (!m_recipes.contains(jobId)) {
        // A job from an earlier session: the image it started from (img2img,
        // upscale) is not kept, only its hash and thumbnail.
        const std::optional<HistoryEntry> entry = m_history ? m_history->entry(jobId) : std::nullopt;
        if (!entry || !entry->initSha256.isEmpty() || again->kind == JobRecipe::Kind::Upscale) {
            notice(tr("The image that job started from is not kept; drop it again, then send."));
            return -1;
        }
    }
    if (again->needsModel())
        again->modelName = m_models.expectedModelName();
    again->sourceJob = -1;
    return enqueue(std::move(*again), m_bank->image(thumbId(jobId)));
}

// ---- upscaling ---------------------------------------------------------------

std::optional<UpscaleRequest> ChatController::upscaleFromOptions() {
    if (!m_models.superResolutionAvailable()) {
        notice(tr("Choose an upscaler first: a Real-ESRGAN .pth or .safetensors file, in the "
                  "options panel under Upscale."));
        return std::nullopt;
    }
    UpscaleRequest upscale;
    upscale.upscalerPath = m_settings->upscalerPath();
    upscale.level = m_settings->superResolutionLevel() == 4 ? 4 : 2;
    return upscale;
}

qint64 ChatController::enqueueUpscale(const QImage& image, const QString& name,
                                      JobRecipe recipe, bool refine, const QString& heldRef) {
    std::optional<UpscaleRequest> upscale = upscaleFromOptions();
    if (!upscale)
        return -1;
    if (refine) {
        if (!modelExpected(tr("refine again")))
            return -1;
        upscale->refineStrength = m_settings->refineStrength();
    }
    recipe.kind = JobRecipe::Kind::Upscale;
    recipe.upscale = *upscale;
    if (refine) // the refine pass runs on the model loaded now
        recipe.modelName = m_models.expectedModelName();
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
    recipe.initRef = ref;
    const qint64 id = enqueue(std::move(recipe), image); // the job holds the image now
    m_store->release(ref);
    return id;
}

qint64 ChatController::upscaleResult(qint64 jobId) { return upscaleOfResult(jobId, false); }

qint64 ChatController::refineResult(qint64 jobId) { return upscaleOfResult(jobId, true); }

qint64 ChatController::upscaleOfResult(qint64 jobId, bool refine) {
    const std::optional<Result> r = result(jobId);
    std::optional<JobRecipe> original = recipe(jobId);
    if (!r || !original)
        return -1;
    if (refine && !original->hasRecipe) {
        notice(tr("That image has no prompt to refine with; upscale it instead, or use it as "
                  "the init image."));
        return -1;
    }
    // The result's recipe goes with it: the upscaled PNG says how it was
    // made, and a refine pass runs with the same prompt and seed.
    JobRecipe recipe = std::move(*original);
    recipe.upscale = {};
    recipe.sourceJob = jobId;
    recipe.width = r->width;
    recipe.height = r->height;
    recipe.seed = r->seed;
    // What actually ran, as the result's PNG records it (the model and the
    // sampler may have been "the model's own" of a model since replaced).
    if (const std::optional<ImageParameters> ran = a1111::parse(r->parameters)) {
        recipe.modelName = qstr(ran->model);
        recipe.sampler = qstr(ran->scheduler);
    }
    return enqueueUpscale(QImage::fromData(r->png, "PNG"), tr("the image of seed %1").arg(r->seed),
                          std::move(recipe), refine);
}

qint64 ChatController::upscaleInitImage() {
    if (!m_intake.hasInitImage())
        return -1;
    const InitImage& init = m_intake.current();
    JobRecipe recipe;
    recipe.width = init.image.width();
    recipe.height = init.image.height();
    recipe.seed = -1;
    // A dropped A1111 image keeps its recipe; anything else has none.
    const std::optional<ImageParameters> p =
        init.parameters.isEmpty() ? std::nullopt : a1111::parse(init.parameters);
    if (p) {
        recipe.prompt = qstr(p->prompt);
        recipe.negativePrompt = qstr(p->negative_prompt);
        recipe.hasNegativePrompt = !recipe.negativePrompt.isEmpty();
        recipe.steps = p->steps;
        recipe.cfgScale = p->cfg_scale;
        recipe.seed = p->seed;
        recipe.sampler = qstr(p->scheduler);
        recipe.clipSkip = p->clip_skip;
        recipe.modelName = qstr(p->model);
    } else {
        recipe.hasRecipe = false;
    }
    return enqueueUpscale(init.thumbnail, init.name, std::move(recipe), false,
                          m_intake.initImageRef());
}

} // namespace daub
