// The A1111-compatible "parameters" text of a generated image (see
// metadata/image_parameters.h for the format).
#pragma once

#include "metadata/image_parameters.h"
#include "pipelines/pipeline.h"

#include <string>

namespace daub {

/// The recipe of `result`, generated from `request` with `model`.
ImageParameters image_parameters(const GenerationRequest& request, const GenerationResult& result,
                                 const ModelInfo& model);

/// format_parameters_text(image_parameters(...)).
std::string parameters_text(const GenerationRequest& request, const GenerationResult& result,
                            const ModelInfo& model);

} // namespace daub
