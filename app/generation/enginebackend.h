// The engine as the app sees it: load a model, generate one image.
//
// EngineWorker owns one backend and calls it on the engine thread only.
// The real backend drives daub::Pipeline (pipelinebackend.cpp, in
// daub_app_engine); tests give a fake, so the queue, the controller and the
// worker are tested without libtorch. No torch header enters here:
// pipelines/pipeline.h only forward-declares at::Tensor.
#pragma once

#include "core/cancel.h"
#include "pipelines/pipeline.h"

#include <QImage>
#include <QString>

#include <functional>
#include <memory>
#include <optional>

namespace daub {

/// What the app knows about a loaded model.
struct ModelDescription {
    QString name;           ///< file or folder name
    QString path;           ///< as given to load()
    QString family;         ///< "SD 1.5" or "SDXL"
    int defaultWidth = 512; ///< the size the model was trained at
    int defaultHeight = 512;
    QString defaultSampler; ///< the model's own scheduler, e.g. "pndm"
    QString device;         ///< "cpu" / "cuda"
    QString dtype;          ///< "fp32" / "fp16" / "bf16"
    QString identity;       ///< changes whenever the weights may have (see modelIdentity())
    QString vaePath;        ///< the separate VAE in use; "" = the model's own
    QString vaeName;        ///< its file name (A1111's "VAE"); "" = the model's own
    int loadNumber = 0;     ///< 1 for the worker's first load, then 2, 3, ...
    /// The prompt's token count as A1111's counter shows it; thread-safe,
    /// holds the tokenizer only (never the model's weights). May be empty.
    PromptTokenCounter countTokens;
};

/// What to load: a model and, optionally, a VAE file that replaces its own.
struct ModelLoadRequest {
    QString path;
    QString vaePath;
};

/// Bytes of weights loaded so far, of `total`.
using ModelLoadProgressFn = std::function<void(qint64 done, qint64 total)>;

/// A super-resolution network as the app sees it.
struct UpscalerDescription {
    QString name;     ///< file name without extension ("RealESRGAN_x4plus")
    QString path;
    int nativeScale = 4;
    QString identity; ///< changes when the file does (see modelIdentity())
};

/// Which part of a job is running.
enum class JobPhase {
    Denoise, ///< denoising steps
    Upscale, ///< super-resolution tiles
    Refine,  ///< img2img steps on the upscaled image
};

/// Super-resolution for a job: after decoding a generation, or on its own
/// for the Upscale action.
struct UpscaleRequest {
    QString upscalerPath; ///< the RRDBNet file; "" = no upscaling
    int level = 0;        ///< 2 or 4; 0 = no upscaling
    /// Upscale then refine (A1111's hires fix): img2img at this strength on
    /// the upscaled image, same prompt and seed. Unset: no refine pass.
    std::optional<double> refineStrength;
    bool enabled() const { return level > 0 && !upscalerPath.isEmpty(); }
};

/// One step (or tile) of a job done.
struct StepUpdate {
    int step = 0;  ///< steps (tiles) of this phase done, 1..total
    int total = 0; ///< steps (tiles) this phase runs
    double elapsedMs = 0;
    QImage preview; ///< small RGB preview of the current latents (may be null)
    JobPhase phase = JobPhase::Denoise;
};
using StepFn = std::function<void(const StepUpdate&)>;

/// A finished generation.
struct EngineOutput {
    QImage image;     ///< RGB888
    qint64 seed = 0;  ///< the seed used
    int stepsRun = 0; ///< denoising steps actually run
    QString sampler;  ///< the scheduler that ran (engine name)
    double totalMs = 0;
    QString upscaler;      ///< the upscaler that ran (A1111's "Hires upscaler"); "" = none
    int upscaleLevel = 0;  ///< 2 or 4 when an upscaler ran
    QString upscaleMethod; ///< how the level was reached ("… ×4, Lanczos down to ×2")
};

/// Interface of an engine. Methods throw daub::Error subclasses (each
/// message one sentence) and daub::CancelledError when `cancel` fires.
class EngineBackend {
public:
    virtual ~EngineBackend() = default;
    /// Loads a model folder or single file (and a separate VAE), replacing
    /// the current model, which is released first, unless the file is
    /// refused before (not a model: then the current one stays, hasModel()).
    /// Reports progress between tensors and throws CancelledError when
    /// `cancel` fires (nothing stays loaded then).
    virtual ModelDescription load(const ModelLoadRequest& request,
                                  const ModelLoadProgressFn& onProgress,
                                  const CancelToken* cancel) = 0;
    /// A model is loaded (after a failed load: the previous one stayed).
    virtual bool hasModel() const = 0;
    /// Runs one request on the loaded model (ModelError when none is),
    /// then `upscale` when it is enabled.
    virtual EngineOutput generate(const GenerationRequest& request, const UpscaleRequest& upscale,
                                  const StepFn& onStep, const CancelToken* cancel) = 0;
    /// Upscales `request.init_image` (no model needed); with a refine
    /// strength, then runs img2img on the result with the request's prompt
    /// and seed at that strength (the model must be loaded).
    virtual EngineOutput upscale(const GenerationRequest& request, const UpscaleRequest& upscale,
                                 const StepFn& onStep, const CancelToken* cancel) = 0;
};

using EngineFactory = std::function<std::unique_ptr<EngineBackend>()>;

/// The backend over daub::Pipeline (defined in daub_app_engine).
std::unique_ptr<EngineBackend> makePipelineBackend();

/// A string that changes when the model at `path` changes: its canonical
/// path plus the size and modification time of every weights/config file.
QString modelIdentity(const QString& path);

/// daub::Image (RGB8) <-> QImage (Format_RGB888).
QImage toQImage(const Image& image);
Image toEngineImage(const QImage& image);

} // namespace daub
