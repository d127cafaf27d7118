// The loaded networks of one model, shared by pointer between the txt2img
// and img2img pipelines (diffusers' `from_pipe`): creating a second pipeline
// over the same Components copies no tensor and allocates no memory.
#pragma once

#include "models/unet.h"
#include "models/vae.h"
#include "pipelines/pipeline.h"
#include "text/clip_text_model.h"
#include "tokenizer/clip_tokenizer.h"

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>
#include <nlohmann/json.hpp>

#include <memory>

namespace daub {

struct Components {
    ModelInfo info;
    std::shared_ptr<const ClipTokenizer> tokenizer;
    std::shared_ptr<const ClipTokenizer> tokenizer_2; ///< SDXL only
    ClipTextModel text_encoder{nullptr};
    ClipTextModel text_encoder_2{nullptr};            ///< SDXL only (with projection)
    UNet2DConditionModel unet{nullptr};
    AutoencoderKL vae{nullptr};
    nlohmann::json scheduler_config;                  ///< the model's scheduler_config.json
    bool force_zeros_for_empty_prompt = false;        ///< SDXL model_index.json
    at::Device device = at::kCPU;
    at::ScalarType dtype = at::kFloat;                ///< UNet and text encoders
    at::ScalarType vae_dtype = at::kFloat;            ///< fp32 when the VAE needs upcasting
};

} // namespace daub
