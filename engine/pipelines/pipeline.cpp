#include "pipelines/pipeline.h"

#include "pipelines/model_loader.h"
#include "pipelines/stable_diffusion.h"

namespace daub {

std::unique_ptr<Pipeline> Pipeline::load(const LoadRequest& request) {
    return std::make_unique<StableDiffusion>(load_components(request));
}

void Pipeline::check(const LoadRequest& request) { check_components(request); }

} // namespace daub
