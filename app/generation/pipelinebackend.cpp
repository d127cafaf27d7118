// The EngineBackend over daub::Pipeline and daub::Upscaler: the one Qt-side
// file that calls the engine. It includes no torch header (pipeline.h and
// upscaler.h forward-declare at::Tensor; the preview is computed by the
// engine).
#include "generation/enginebackend.h"

#include "core/errors.h"
#include "core/runtime.h"
#include "pipelines/pipeline.h"
#include "upscale/upscaler.h"

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

JobPhase phaseOf(Progress::Phase phase) {
    switch (phase) {
    case Progress::Phase::Denoise: return JobPhase::Denoise;
    case Progress::Phase::Upscale: return JobPhase::Upscale;
    case Progress::Phase::Refine: return JobPhase::Refine;
    }
    return JobPhase::Denoise;
}

class PipelineBackend final : public EngineBackend {
public:
    PipelineBackend() { init_runtime(); }

    ModelDescription load(const ModelLoadRequest& load, const ModelLoadProgressFn& onProgress,
                          const CancelToken* cancel) override {
        LoadRequest request;
        request.path = load.path.toStdString();
        request.vae_path = load.vaePath.toStdString();
        Pipeline::check(request); // a file that is no model leaves the loaded one alone
        m_pipeline.reset();       // never hold two models at once
        request.cancel = cancel;
        if (onProgress)
            request.on_progress = [&onProgress](const LoadProgress& p) {
                onProgress(p.bytes_done, p.bytes_total);
            };
        m_pipeline = Pipeline::load(request);
        const ModelInfo& info = m_pipeline->info();
        ModelDescription model;
        model.name = QString::fromStdString(info.name);
        if (model.name.isEmpty())
            model.name = QFileInfo(load.path).fileName();
        model.path = load.path;
        model.family = familyName(info.family);
        model.defaultWidth = info.default_width;
        model.defaultHeight = info.default_height;
        model.defaultSampler = QString::fromStdString(info.default_scheduler);
        model.device = QString::fromStdString(info.device);
        model.dtype = QString::fromStdString(info.dtype);
        model.vaePath = load.vaePath;
        model.vaeName = QString::fromStdString(info.vae_name);
        model.countTokens = m_pipeline->token_counter();
        model.identity = modelIdentity(load.path) + u'|' + model.device + u'|' + model.dtype;
        if (!load.vaePath.isEmpty())
            model.identity += QStringLiteral("|vae:") + modelIdentity(load.vaePath);
        return model;
    }

    EngineOutput generate(const GenerationRequest& request, const UpscaleRequest& upscale,
                          const StepFn& onStep, const CancelToken* cancel) override {
        Pipeline& pipeline = loadedPipeline();
        GenerationRequest full = request;
        if (upscale.enabled()) {
            full.upscaler = upscalerFor(upscale.upscalerPath);
            full.superres_level = upscale.level;
            if (upscale.refineStrength)
                full.refine_strength = float(*upscale.refineStrength);
        }
        const GenerationResult result = pipeline.generate(full, progressFn(onStep), cancel);
        EngineOutput output = outputOf(result);
        if (upscale.enabled())
            describeUpscale(output, *full.upscaler, upscale.level);
        return output;
    }

    EngineOutput upscale(const GenerationRequest& request, const UpscaleRequest& upscale,
                         const StepFn& onStep, const CancelToken* cancel) override {
        if (!request.init_image)
            throw RequestError("There is no image to upscale.");
        if (!upscale.enabled())
            throw RequestError("Choose an upscaler in the options panel first.");
        const std::shared_ptr<const Upscaler> upscaler = upscalerFor(upscale.upscalerPath);
        // Everything checked before the upscale runs, as generate() does.
        GenerationRequest checked;
        checked.upscaler = upscaler;
        checked.superres_level = upscale.level;
        if (upscale.refineStrength) {
            loadedPipeline();
            checked.refine_strength = float(*upscale.refineStrength);
        }
        check_superres(checked, request.init_image->width, request.init_image->height);
        UpscaleOptions options;
        options.level = upscale.level;
        Image big = upscaler->upscale(
            *request.init_image, options,
            [&onStep](const UpscaleProgress& p) {
                if (onStep)
                    onStep(StepUpdate{p.tile, p.total, 0, QImage(), JobPhase::Upscale});
            },
            cancel);
        EngineOutput output;
        if (upscale.refineStrength) {
            // Refine: the model's img2img on the upscaled image, same
            // prompt and seed (the pipeline's own img2img, not a copy).
            GenerationRequest refine = request;
            refine.width = big.width;
            refine.height = big.height;
            refine.init_image = std::move(big);
            refine.strength = float(*upscale.refineStrength);
            const GenerationResult result =
                m_pipeline->generate(refine, progressFn(onStep, JobPhase::Refine), cancel);
            output = outputOf(result);
        } else {
            output.image = toQImage(big);
            output.seed = request.seed;
        }
        describeUpscale(output, *upscaler, upscale.level);
        return output;
    }

    bool hasModel() const override { return m_pipeline != nullptr; }

private:
    Pipeline& loadedPipeline() const {
        if (!m_pipeline)
            throw ModelError("No model is loaded; pick one in the options panel.");
        return *m_pipeline;
    }

    /// The upscaler at `path`, loaded once and kept until another is asked
    /// for (a few tens of megabytes; loading costs more than keeping it).
    std::shared_ptr<const Upscaler> upscalerFor(const QString& path) {
        const QString identity = modelIdentity(path);
        if (!m_upscaler || identity != m_upscalerIdentity) {
            m_upscaler.reset();
            m_upscaler = Upscaler::load(path.toStdString());
            m_upscalerIdentity = identity;
        }
        return m_upscaler;
    }

    /// Engine progress as the app's steps; `phase` overrides the engine's
    /// (a refine pass is denoising to the engine).
    ProgressFn progressFn(const StepFn& onStep, std::optional<JobPhase> phase = {}) const {
        const Pipeline* pipeline = m_pipeline.get();
        return [pipeline, onStep, phase](const Progress& progress) {
            StepUpdate update;
            update.step = progress.step;
            update.total = progress.total;
            update.elapsedMs = progress.elapsed_ms;
            update.phase = phase ? *phase : phaseOf(progress.phase);
            if (progress.latents) {
                try {
                    update.preview = toQImage(pipeline->preview(*progress.latents));
                } catch (const std::exception&) {
                    // A preview is a nicety; the step still counts.
                }
            }
            if (onStep)
                onStep(update);
        };
    }

    static EngineOutput outputOf(const GenerationResult& result) {
        EngineOutput output;
        output.image = toQImage(result.image);
        output.seed = result.seed;
        output.stepsRun = result.steps_run;
        output.sampler = QString::fromStdString(result.scheduler);
        output.totalMs = result.timings.total_ms;
        return output;
    }

    static void describeUpscale(EngineOutput& output, const Upscaler& upscaler, int level) {
        output.upscaler = QString::fromStdString(upscaler.name());
        output.upscaleLevel = level;
        output.upscaleMethod = QString::fromStdString(upscaler.method(level));
    }

    std::unique_ptr<Pipeline> m_pipeline;
    std::shared_ptr<const Upscaler> m_upscaler;
    QString m_upscalerIdentity;
};

} // namespace

std::unique_ptr<EngineBackend> makePipelineBackend() { return std::make_unique<PipelineBackend>(); }

} // namespace daub
