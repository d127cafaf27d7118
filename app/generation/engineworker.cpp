#include "generation/engineworker.h"

#include "core/errors.h"

#include <QElapsedTimer>

#include <exception>
#include <new>

namespace daub {

QString userMessage(const std::exception& e) {
    // Daub's own errors are one sentence already.
    if (dynamic_cast<const Error*>(&e))
        return QString::fromStdString(e.what());
    // Anything else (libtorch's c10::Error carries a C++ backtrace) goes to
    // the log whole and reaches the chat as one sentence.
    const QString raw = QString::fromStdString(e.what());
    qWarning("engine error: %s", qPrintable(raw));
    const QString lower = raw.toLower();
    if (lower.contains(QStringLiteral("out of memory")) ||
        lower.contains(QStringLiteral("can't allocate memory")) ||
        lower.contains(QStringLiteral("cannot allocate memory")))
        return EngineWorker::tr("There was not enough memory for this; try a smaller size.");
    QString first = raw.section(u'\n', 0, 0).trimmed();
    if (first.isEmpty() || first.size() > 200)
        first = EngineWorker::tr("the engine stopped on an internal error");
    return EngineWorker::tr("The engine failed: %1 (details are in the log).").arg(first);
}

void registerEngineMetaTypes() {
    qRegisterMetaType<daub::ModelDescription>();
    qRegisterMetaType<daub::JobOutcome>();
    qRegisterMetaType<daub::EngineJob>();
    qRegisterMetaType<daub::LoadJob>();
}

EngineWorker::EngineWorker(EngineFactory factory, QObject* parent)
    : QObject(parent), m_factory(std::move(factory)) {}

EngineWorker::~EngineWorker() = default;

bool EngineWorker::ensureBackend(QString* error) {
    if (m_backend)
        return true;
    try {
        if (m_factory)
            m_backend = m_factory();
    } catch (const std::exception& e) {
        *error = userMessage(e);
        return false;
    }
    if (!m_backend) {
        *error = tr("This build of Daub has no engine.");
        return false;
    }
    return true;
}

void EngineWorker::loadModel(const LoadJob& load) {
    const QString path = load.request.path;
    const int serial = load.serial;
    Q_EMIT modelLoading(path, serial);
    QElapsedTimer timer;
    timer.start();
    QString error;
    if (!ensureBackend(&error)) {
        Q_EMIT modelLoadFailed(path, error, serial, false);
        return;
    }
    const int number = ++m_loads;
    m_modelLoaded = false; // the backend lets go of the old model first
    int reported = -1;     // per mille, so a load sends at most ~1000 reports
    const ModelLoadProgressFn progress = [&](qint64 done, qint64 total) {
        const int now = total > 0 ? int(done * 1000 / total) : 0;
        if (now != reported) {
            reported = now;
            Q_EMIT modelLoadProgress(path, done, total, serial);
        }
    };
    try {
        ModelDescription model = m_backend->load(load.request, progress, load.cancel.get());
        if (model.identity.isEmpty())
            model.identity = modelIdentity(path);
        model.loadNumber = number;
        m_model = model;
        m_modelLoaded = true;
        Q_EMIT modelLoaded(model, double(timer.elapsed()), serial);
        return;
    } catch (const CancelledError&) {
        Q_EMIT modelLoadCancelled(path, serial);
        return;
    } catch (const std::bad_alloc&) {
        error = tr("There is not enough memory to load this model.");
    } catch (const std::exception& e) {
        error = userMessage(e);
    } catch (...) {
        error = tr("The model could not be loaded.");
    }
    m_modelLoaded = m_backend->hasModel(); // a file refused up front leaves the model loaded
    Q_EMIT modelLoadFailed(path, error, serial, m_modelLoaded);
}

void EngineWorker::run(const EngineJob& job) {
    JobOutcome outcome;
    outcome.jobId = job.jobId;
    Q_EMIT jobStarted(job.jobId);
    QString error;
    if (!ensureBackend(&error)) {
        outcome.error = error;
        Q_EMIT jobEnded(outcome);
        return;
    }
    // A plain upscale needs no model; everything else does.
    const bool needsModel =
        job.kind == EngineJob::Kind::Generate || job.upscale.refineStrength.has_value();
    if (needsModel && !m_modelLoaded) {
        outcome.error = tr("No model is loaded; pick one in the options panel.");
        Q_EMIT jobEnded(outcome);
        return;
    }
    if (m_modelLoaded) {
        outcome.modelName = m_model.name;
        outcome.modelIdentity = m_model.identity;
        outcome.modelLoad = m_model.loadNumber;
    }
    if (job.cancel && job.cancel->cancelled()) {
        outcome.kind = JobOutcome::Kind::Cancelled;
        Q_EMIT jobEnded(outcome);
        return;
    }
    try {
        const qint64 id = job.jobId;
        QElapsedTimer timer;
        timer.start();
        const StepFn onStep = [this, id](const StepUpdate& step) {
            Q_EMIT jobProgress(id, step.step, step.total, step.elapsedMs, step.preview,
                               int(step.phase));
        };
        EngineOutput output =
            job.kind == EngineJob::Kind::Upscale
                ? m_backend->upscale(job.request, job.upscale, onStep, job.cancel.get())
                : m_backend->generate(job.request, job.upscale, onStep, job.cancel.get());
        if (output.totalMs <= 0)
            output.totalMs = double(timer.elapsed());
        ImageParameters parameters = job.parameters;
        if (needsModel) {
            parameters.seed = output.seed;
            parameters.scheduler = output.sampler.toStdString();
            parameters.model = m_model.name.toStdString();
            parameters.vae = m_model.vaeName.toStdString();
        }
        if (output.upscaler.isEmpty()) {
            parameters.width = output.image.width();
            parameters.height = output.image.height();
        } else { // Size stays the first pass's, as A1111 writes hires fix
            parameters.upscaler = output.upscaler.toStdString();
            parameters.upscale = output.upscaleLevel;
        }
        if (job.writeParameters)
            outcome.parameters = a1111::format(parameters);
        outcome.png = encodePng(output.image, job.writeParameters
                                                  ? PngText{{"parameters", outcome.parameters}}
                                                  : PngText{});
        if (outcome.png.isEmpty())
            throw ImageError("The finished image could not be encoded as PNG.");
        outcome.kind = JobOutcome::Kind::Finished;
        outcome.width = output.image.width();
        outcome.height = output.image.height();
        outcome.seed = output.seed;
        outcome.stepsRun = output.stepsRun;
        outcome.sampler = output.sampler;
        outcome.totalMs = output.totalMs;
    } catch (const CancelledError&) {
        outcome.kind = JobOutcome::Kind::Cancelled;
    } catch (const std::bad_alloc&) {
        outcome.error = tr("There was not enough memory for this image; try a smaller size.");
    } catch (const std::exception& e) {
        outcome.error = userMessage(e);
    } catch (...) {
        outcome.error = tr("The engine failed for an unknown reason.");
    }
    Q_EMIT jobEnded(outcome);
}

} // namespace daub
