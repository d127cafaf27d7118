#include "pipelines/pipeline.h"

#include "pipelines/model_loader.h"
#include "pipelines/stable_diffusion.h"
#include "schedulers/scheduler_factory.h"

namespace daub {

std::unique_ptr<Pipeline> Pipeline::load(const LoadRequest& request) {
    return std::make_unique<StableDiffusion>(load_components(request));
}

const std::vector<std::string>& scheduler_names() { return daub::known_scheduler_names(); }

} // namespace daub
