// The EngineBackend over daub::Pipeline: the one Qt-side file that calls
// the engine. It includes no torch header (pipelines/pipeline.h forward-
// declares at::Tensor; the preview is computed by the engine).
#include "enginebackend.h"

#include "core/errors.h"
#include "core/runtime.h"
#include "pipelines/pipeline.h"

#include <QFileInfo>

namespace daub {
namespace {

QString familyName(ModelFamily family) {
    switch (family) {
    case ModelFamily::SD15: return QStringLiteral("SD 1.5");
    case ModelFamily::SDXL: return QStringLiteral("SDXL");
    }
    return QStringLiteral("?");
}

class PipelineBackend final : public EngineBackend {
public:
    PipelineBackend() { init_runtime(); }

    ModelDescription load(const QString& path) override {
        m_pipeline.reset(); // never hold two models at once
        LoadRequest request;
        request.path = path.toStdString();
        m_pipeline = Pipeline::load(request);
        const ModelInfo& info = m_pipeline->info();
        ModelDescription model;
        model.name = QString::fromStdString(info.name);
        if (model.name.isEmpty())
            model.name = QFileInfo(path).fileName();
        model.path = path;
        model.family = familyName(info.family);
        model.defaultWidth = info.default_width;
        model.defaultHeight = info.default_height;
        model.defaultSampler = QString::fromStdString(info.default_scheduler);
        model.device = QString::fromStdString(info.device);
        model.dtype = QString::fromStdString(info.dtype);
        model.identity = modelIdentity(path) + u'|' + model.device + u'|' + model.dtype;
        return model;
    }

    EngineOutput generate(const GenerationRequest& request, const StepFn& onStep,
                          const CancelToken* cancel) override {
        if (!m_pipeline)
            throw ModelError("No model is loaded; pick one in the options panel.");
        Pipeline* pipeline = m_pipeline.get();
        const GenerationResult result = pipeline->generate(
            request,
            [&](const Progress& progress) {
                StepUpdate update;
                update.step = progress.step;
                update.total = progress.total;
                update.elapsedMs = progress.elapsed_ms;
                if (progress.latents) {
                    try {
                        update.preview = toQImage(pipeline->preview(*progress.latents));
                    } catch (const std::exception&) {
                        // A preview is a nicety; the step still counts.
                    }
                }
                if (onStep)
                    onStep(update);
            },
            cancel);
        EngineOutput output;
        output.image = toQImage(result.image);
        output.seed = result.seed;
        output.stepsRun = result.steps_run;
        output.sampler = QString::fromStdString(result.scheduler);
        output.totalMs = result.timings.total_ms;
        return output;
    }

private:
    std::unique_ptr<Pipeline> m_pipeline;
};

} // namespace

std::unique_ptr<EngineBackend> makePipelineBackend() { return std::make_unique<PipelineBackend>(); }

} // namespace daub
