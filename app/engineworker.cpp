#include "engineworker.h"

#include "core/errors.h"

#include <QElapsedTimer>

#include <exception>
#include <new>

namespace daub {

void registerEngineMetaTypes() {
    qRegisterMetaType<daub::ModelDescription>();
    qRegisterMetaType<daub::JobOutcome>();
    qRegisterMetaType<daub::EngineJob>();
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
        *error = QString::fromStdString(e.what());
        return false;
    }
    if (!m_backend) {
        *error = tr("This build of Daub has no engine.");
        return false;
    }
    return true;
}

void EngineWorker::loadModel(const QString& path) {
    Q_EMIT modelLoading(path);
    QElapsedTimer timer;
    timer.start();
    QString error;
    if (!ensureBackend(&error)) {
        Q_EMIT modelLoadFailed(path, error);
        return;
    }
    try {
        ModelDescription model = m_backend->load(path);
        if (model.identity.isEmpty())
            model.identity = modelIdentity(path);
        m_modelLoaded = true;
        Q_EMIT modelLoaded(model, double(timer.elapsed()));
        return;
    } catch (const std::bad_alloc&) {
        error = tr("There is not enough memory to load this model.");
    } catch (const std::exception& e) {
        error = QString::fromStdString(e.what());
    } catch (...) {
        error = tr("The model could not be loaded.");
    }
    m_modelLoaded = false;
    Q_EMIT modelLoadFailed(path, error);
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
    if (!m_modelLoaded) {
        outcome.error = tr("No model is loaded; pick one in the options panel.");
        Q_EMIT jobEnded(outcome);
        return;
    }
    if (job.cancel && job.cancel->cancelled()) {
        outcome.kind = JobOutcome::Kind::Cancelled;
        Q_EMIT jobEnded(outcome);
        return;
    }
    try {
        const qint64 id = job.jobId;
        EngineOutput output = m_backend->generate(
            job.request,
            [this, id](const StepUpdate& step) {
                Q_EMIT jobProgress(id, step.step, step.total, step.elapsedMs, step.preview);
            },
            job.cancel.get());
        GenerationParameters parameters = job.parameters;
        parameters.seed = output.seed;
        parameters.sampler = output.sampler;
        parameters.width = output.image.width();
        parameters.height = output.image.height();
        outcome.parameters = a1111::format(parameters);
        outcome.png = encodePng(output.image, {{"parameters", outcome.parameters}});
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
        outcome.error = QString::fromStdString(e.what());
    } catch (...) {
        outcome.error = tr("The engine failed for an unknown reason.");
    }
    Q_EMIT jobEnded(outcome);
}

} // namespace daub
