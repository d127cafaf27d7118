#include "chat/chatcontroller.h"

#include "chat/messagerows.h"
#include "chat/resultfiles.h"
#include "imageproviders.h"
#include "storage/appsettings.h"
#include "storage/pngmetadata.h"

#include "metadata/img2img_steps.h"

#include <QDir>
#include <QFileInfo>
#include <QJSEngine>
#include <QRandomGenerator>

#include <algorithm>

namespace daub {
namespace {

ChatController* s_instance = nullptr;

} // namespace

ChatController::ChatController(GenerationCore* core, AppSettings* settings, ImageBank* bank,
                               QObject* parent)
    : QObject(parent), m_core(core), m_settings(settings), m_bank(bank), m_intake(core->store()) {
    connect(m_core, &GenerationCore::jobQueued, this, &ChatController::jobQueued);
    connect(m_core, &GenerationCore::jobStarted, &m_messages, &MessageModel::setRunning);
    connect(m_core, &GenerationCore::jobProgress, this, &ChatController::jobProgress);
    connect(m_core, &GenerationCore::jobCancelling, &m_messages, &MessageModel::setCancelling);
    connect(m_core, &GenerationCore::jobFinished, this, &ChatController::jobFinished);
    connect(m_core, &GenerationCore::jobFailed, this, [this](qint64 id, const QString& message) {
        jobEnded(id);
        m_messages.setFailed(id, message);
    });
    connect(m_core, &GenerationCore::jobCancelled, this, [this](qint64 id) {
        jobEnded(id);
        m_messages.setCancelled(id);
    });
    connect(m_core, &GenerationCore::positionsChanged, this, &ChatController::updateQueuePositions);
    connect(m_core, &GenerationCore::notice, this, &ChatController::notice);
    connect(&m_intake, &InitImageIntake::notice, this, &ChatController::notice);
    connect(&m_intake, &InitImageIntake::parametersOffered, this,
            [this](const QString& name, const QString& parameters) {
                m_messages.addNotice(
                    tr("%1 carries the parameters it was made with.").arg(quoted(name)),
                    QStringLiteral("useParameters"), parameters);
            });
}

ChatController::~ChatController() {
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
    InitImageIntake::setInstance(instance ? &instance->m_intake : nullptr);
}

// ---- sending ---------------------------------------------------------------

void ChatController::cancelRunningSend() {
    const int cancelled = m_core->cancelRunningBatch();
    if (cancelled > 1)
        notice(tr("Cancelled this Send: the running image and the %n waiting after it.", nullptr,
                  cancelled - 1));
}

int ChatController::stepsToRun(int steps, double strength) const {
    return img2img_steps(steps, strength); // the engine's own count
}

qint64 ChatController::randomSeed() const {
    return qint64(QRandomGenerator::global()->bounded(quint64(1) << 32));
}

bool ChatController::modelExpected(const QString& then) {
    const QString why = m_core->whyNoModel(then);
    if (!why.isEmpty())
        notice(why);
    return why.isEmpty();
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
    recipe.width = size(m_settings->width(), models()->modelWidth());
    recipe.height = size(m_settings->height(), models()->modelHeight());
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
    if (m_settings->superResolution() && models()->superResolutionAvailable()) {
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
    recipe.modelName = models()->expectedModelName();
    const QImage thumbnail = img2img ? m_intake.current().thumbnail : QImage();
    // A batch: the same recipe with seeds seed, seed+1, ..., one job each.
    const int count = std::clamp(m_settings->batchCount(), 1, 16);
    const qint64 first = m_core->submit(recipe, thumbnail, {-1, 0, count});
    for (int i = 1; i < count; ++i) {
        JobRecipe next = recipe;
        next.seed = recipe.seed + i;
        m_core->submit(std::move(next), thumbnail, {first, i, count});
    }
    return first;
}

// ---- what the core reports -------------------------------------------------

void ChatController::jobQueued(qint64 id) {
    const std::optional<JobRecipe> recipe = m_core->recipe(id);
    if (!recipe)
        return;
    const GenerationCore::Batch batch = m_core->batchOf(id);
    QString thumb;
    if (const QImage image = m_core->thumbnail(id); !image.isNull()) {
        m_bank->setImage(MessageRows::thumbId(id), image);
        thumb = MessageRows::url(MessageRows::thumbId(id));
    }
    if (batch.index == 0) {
        QString details = MessageRows::details(*recipe, modelSampler());
        if (batch.size > 1)
            details += tr(" \u00b7 %n images", nullptr, batch.size);
        const bool upscale = recipe->kind == JobRecipe::Kind::Upscale;
        m_messages.addPrompt(id, MessageRows::title(*recipe),
                             upscale ? QString() : recipe->negativePrompt, details, thumb);
    }
    m_messages.addReply(id, batch.index == 0 ? -1 : batch.batch);
}

void ChatController::jobProgress(qint64 jobId, int step, int total, double elapsedMs,
                                 const QImage& preview, int phase) {
    QString source;
    if (!preview.isNull()) {
        m_bank->setImage(MessageRows::previewId(jobId), preview);
        source = QStringLiteral("image://daub/preview/%1/%2_%3").arg(jobId).arg(phase).arg(step);
    }
    m_messages.setProgress(jobId, step, total, elapsedMs, source, JobPhase(phase));
}

void ChatController::jobFinished(qint64 id, double elapsedMs, bool fromCache) {
    const std::optional<JobResult> result = m_core->result(id);
    if (!result)
        return;
    m_bank->setPng(MessageRows::resultId(id), result->png);
    m_bank->remove(MessageRows::previewId(id));
    m_messages.setDone(id, MessageRows::url(MessageRows::resultId(id)), result->width,
                       result->height, result->seed, elapsedMs, fromCache, result->parameters);
}

void ChatController::jobEnded(qint64 id) { m_bank->remove(MessageRows::previewId(id)); }

void ChatController::updateQueuePositions() {
    const bool waitingForModel = models()->modelState() != ModelController::ModelState::Ready;
    const QList<qint64> waiting = queue()->waiting();
    const int running = queue()->busy() ? 1 : 0;
    for (qsizetype i = 0; i < waiting.size(); ++i)
        m_messages.setQueued(waiting[i], int(i) + 1, int(i) + running, waitingForModel);
}

void ChatController::notice(const QString& text) { m_messages.addNotice(text); }

// ---- the history -------------------------------------------------------------

void ChatController::setHistoryError(const QString& sentence) {
    m_historyError = sentence;
    if (!sentence.isEmpty())
        notice(sentence);
    Q_EMIT historyChanged();
}

void ChatController::showHistory(const QString& warning) {
    HistoryStore* history = m_core->history();
    if (!history)
        return;
    connect(history, &HistoryStore::changed, this, &ChatController::followHistory,
            Qt::UniqueConnection);
    m_oldestShown = -1;
    m_hasOlder = true;
    loadOlder();
    if (!warning.isEmpty())
        notice(warning);
    Q_EMIT historyChanged();
}

void ChatController::followHistory() {
    HistoryStore* history = m_core->history();
    if (!history)
        return;
    for (const qint64 id : m_messages.finishedJobs())
        if (m_core->isKept(id))
            m_messages.setDeleted(id, !history->entry(id).has_value());
}

bool ChatController::loadOlder() {
    HistoryStore* history = m_core->history();
    if (!history || !m_hasOlder)
        return false;
    const QList<HistoryEntry> page = history->recent(kHistoryPage, m_oldestShown);
    if (!page.isEmpty())
        m_oldestShown = page.constFirst().id;
    m_hasOlder = page.size() == kHistoryPage && !history->recent(1, m_oldestShown).isEmpty();
    m_messages.insertOlder(MessageRows::ofHistory(page, m_bank, modelSampler()));
    Q_EMIT historyChanged();
    return !page.isEmpty();
}

// ---- parameters ------------------------------------------------------------

bool ChatController::applyParameters(const QString& text) {
    const std::optional<ImageParameters> p = a1111::parse(text);
    if (!p) {
        notice(tr("Those parameters could not be read."));
        return false;
    }
    m_settings->applyParameters(*p);
    Q_EMIT promptSuggested(qstr(p->prompt), qstr(p->negative_prompt));
    QString message = tr("Took the prompt and the settings (seed %1 locked).").arg(p->seed);
    const QString model = qstr(p->model);
    if (!model.isEmpty() && models()->hasModel() && model != models()->modelName())
        message += u' ' + tr("They were made with %1; %2 is loaded.")
                              .arg(quoted(model), quoted(models()->modelName()));
    notice(message);
    return true;
}

// ---- a result's actions ----------------------------------------------------

QString ChatController::parametersOf(qint64 jobId) const {
    const std::optional<JobResult> r = m_core->result(jobId);
    return r ? r->parameters : QString();
}

QString ChatController::saveResult(qint64 jobId) {
    const std::optional<JobResult> r = m_core->result(jobId);
    if (!r)
        return {};
    QString why;
    const QString path = ResultFiles::saveInFolder(r->png, m_settings->saveFolder(), r->seed, &why);
    if (path.isEmpty())
        notice(why);
    else
        Q_EMIT resultSaved(jobId, path);
    return path;
}

QUrl ChatController::suggestedSaveUrl(qint64 jobId) const {
    const std::optional<JobRecipe> r = recipe(jobId);
    const std::optional<JobResult> result = m_core->result(jobId);
    const QString name = ResultFiles::suggestedName(r ? r->prompt : QString(),
                                                    result ? result->seed : (r ? r->seed : 0));
    return QUrl::fromLocalFile(QDir(m_settings->saveFolder()).filePath(name));
}

bool ChatController::saveResultAs(qint64 jobId, const QUrl& file) {
    const std::optional<JobResult> r = m_core->result(jobId);
    if (!r)
        return false;
    const QString path = file.isLocalFile() ? file.toLocalFile() : file.toString();
    // Never over another file: Qt 6.4's file dialog accepts its highlighted
    // entry on Enter, which would replace an image the user meant to keep.
    if (QFileInfo::exists(path)) {
        notice(tr("%1 exists already; Daub does not replace files: choose another name.")
                   .arg(QFileInfo(path).fileName()));
        return false;
    }
    QString why;
    if (!ResultFiles::write(r->png, path, &why)) {
        notice(why);
        return false;
    }
    Q_EMIT resultSaved(jobId, path);
    return true;
}

bool ChatController::copyResult(qint64 jobId) {
    const std::optional<JobResult> r = m_core->result(jobId);
    if (r)
        ResultFiles::copy(r->png);
    return r.has_value();
}

QUrl ChatController::exportForDrag(qint64 jobId) {
    const std::optional<JobResult> r = m_core->result(jobId);
    return r ? ResultFiles::forDrag(r->png, jobId, r->seed) : QUrl();
}

void ChatController::useResultAsInit(qint64 jobId) {
    const std::optional<JobResult> r = m_core->result(jobId);
    if (r)
        m_intake.setInitImageFromResult(r->png, tr("the image of seed %1").arg(r->seed));
}

qint64 ChatController::rerun(qint64 jobId) {
    std::optional<JobRecipe> again = recipe(jobId);
    if (!again)
        return -1;
    if (again->needsModel() && !modelExpected(tr("send again")))
        return -1;
    if (!m_core->isSessionJob(jobId)) {
        // A job from an earlier session: the image it started from (img2img,
        // upscale) is not kept, only its hash and thumbnail.
        HistoryStore* history = m_core->history();
        const std::optional<HistoryEntry> entry = history ? history->entry(jobId) : std::nullopt;
        if (!entry || !entry->initSha256.isEmpty() || again->kind == JobRecipe::Kind::Upscale) {
            notice(tr("The image that job started from is not kept; drop it again, then send."));
            return -1;
        }
    }
    if (again->needsModel())
        again->modelName = models()->expectedModelName();
    again->sourceJob = -1;
    return m_core->submit(std::move(*again), m_bank->image(MessageRows::thumbId(jobId)));
}

// ---- upscaling ---------------------------------------------------------------

qint64 ChatController::upscale(const QImage& image, const QString& name, JobRecipe recipe,
                               bool refine, const QString& heldRef) {
    if (!models()->superResolutionAvailable()) {
        notice(tr("Choose an upscaler first: a Real-ESRGAN .pth or .safetensors file, in the "
                  "options panel under Upscale."));
        return -1;
    }
    if (refine && !modelExpected(tr("refine again")))
        return -1;
    recipe.upscale = {};
    recipe.upscale.upscalerPath = m_settings->upscalerPath();
    recipe.upscale.level = m_settings->superResolutionLevel() == 4 ? 4 : 2;
    if (refine) { // the refine pass runs on the model loaded now
        recipe.upscale.refineStrength = m_settings->refineStrength();
        recipe.modelName = models()->expectedModelName();
    }
    QString why;
    const qint64 id = m_core->submitUpscale(image, name, std::move(recipe), heldRef, &why);
    if (id < 0)
        notice(why);
    return id;
}

qint64 ChatController::upscaleResult(qint64 jobId) { return upscaleOfResult(jobId, false); }

qint64 ChatController::refineResult(qint64 jobId) { return upscaleOfResult(jobId, true); }

qint64 ChatController::upscaleOfResult(qint64 jobId, bool refine) {
    const std::optional<JobResult> r = m_core->result(jobId);
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
    return upscale(QImage::fromData(r->png, "PNG"), tr("the image of seed %1").arg(r->seed),
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
    return upscale(init.thumbnail, init.name, std::move(recipe), false, m_intake.initImageRef());
}

} // namespace daub
