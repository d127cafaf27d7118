// makePipelineBackend() for a build whose engine has no pipeline yet: the
// window runs, and loading a model says why nothing can be generated.
#include "generation/enginebackend.h"

#include "core/errors.h"

namespace daub {
namespace {

class NoEngineBackend final : public EngineBackend {
public:
    ModelDescription load(const ModelLoadRequest&, const ModelLoadProgressFn&,
                          const CancelToken*) override {
        throw ModelError("This build of Daub has no image engine, so it cannot load models.");
    }
    bool hasModel() const override { return false; }
    EngineOutput generate(const GenerationRequest&, const UpscaleRequest&, const StepFn&,
                          const CancelToken*) override {
        throw ModelError("This build of Daub has no image engine.");
    }
    EngineOutput upscale(const GenerationRequest&, const UpscaleRequest&, const StepFn&,
                         const CancelToken*) override {
        throw ModelError("This build of Daub has no image engine.");
    }
};

} // namespace

std::unique_ptr<EngineBackend> makePipelineBackend() { return std::make_unique<NoEngineBackend>(); }

} // namespace daub
