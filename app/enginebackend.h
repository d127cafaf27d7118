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
};

/// One denoising step done.
struct StepUpdate {
    int step = 0;  ///< steps done, 1..total
    int total = 0; ///< steps this job runs
    double elapsedMs = 0;
    QImage preview; ///< small RGB preview of the current latents (may be null)
};
using StepFn = std::function<void(const StepUpdate&)>;

/// A finished generation.
struct EngineOutput {
    QImage image;     ///< RGB888
    qint64 seed = 0;  ///< the seed used
    int stepsRun = 0; ///< denoising steps actually run
    QString sampler;  ///< the scheduler that ran (engine name)
    double totalMs = 0;
};

/// Interface of an engine. Methods throw daub::Error subclasses (each
/// message one sentence) and daub::CancelledError when `cancel` fires.
class EngineBackend {
public:
    virtual ~EngineBackend() = default;
    /// Loads a model folder or single file, replacing the current one.
    virtual ModelDescription load(const QString& path) = 0;
    /// Runs one request on the loaded model (ModelError when none is).
    virtual EngineOutput generate(const GenerationRequest& request, const StepFn& onStep,
                                  const CancelToken* cancel) = 0;
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
