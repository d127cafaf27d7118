#include "pipelines/parameters_text.h"

namespace daub {

ImageParameters image_parameters(const GenerationRequest& request, const GenerationResult& result,
                                 const ModelInfo& model) {
    ImageParameters p;
    p.prompt = request.prompt;
    p.negative_prompt = request.negative_prompt.value_or("");
    p.steps = request.steps;
    p.scheduler = result.scheduler;
    p.cfg_scale = request.guidance_scale;
    p.seed = result.seed;
    p.width = result.width;
    p.height = result.height;
    p.model = model.name;
    p.vae = model.vae_name;
    p.clip_skip = request.clip_skip;
    if (request.init_image)
        p.denoising_strength = request.strength;
    if (result.upscale) { // as A1111's hires fix: the first pass's size, then the factor
        p.width = result.upscale->base_width;
        p.height = result.upscale->base_height;
        p.upscaler = result.upscale->upscaler;
        p.upscale = result.upscale->level;
        if (result.upscale->refine_strength)
            p.refine_strength = *result.upscale->refine_strength;
    }
    return p;
}

std::string parameters_text(const GenerationRequest& request, const GenerationResult& result,
                            const ModelInfo& model) {
    return format_parameters_text(image_parameters(request, result, model));
}

} // namespace daub
