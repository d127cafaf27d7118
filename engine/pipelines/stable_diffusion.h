// Txt2Img and Img2Img: thin wrappers over one shared Components, and the
// Pipeline implementation that owns them (Img2Img created on first use).
#pragma once

#include "pipelines/components.h"
#include "pipelines/noise_source.h"
#include "pipelines/pipeline.h"

#include <memory>

namespace daub {

class Scheduler;

/// What both pipelines need for one generation, checked and resolved.
struct ResolvedRequest {
    const GenerationRequest* request = nullptr;
    int width = 0, height = 0;
    int64_t seed = 0;
    std::string scheduler;   ///< Daub name
    bool guidance = false;   ///< classifier-free guidance on (cfg > 1)
};

class Txt2Img {
public:
    explicit Txt2Img(std::shared_ptr<const Components> components);
    const Components& components() const { return *components_; }
    std::shared_ptr<const Components> shared_components() const { return components_; }
    GenerationResult run(const ResolvedRequest& r, NoiseSource& noise, const ProgressFn& progress,
                         const CancelToken* cancel) const;

private:
    std::shared_ptr<const Components> components_;
};

class Img2Img {
public:
    /// Shares `txt2img`'s components: no tensor is copied.
    explicit Img2Img(const Txt2Img& txt2img);
    const Components& components() const { return *components_; }
    GenerationResult run(const ResolvedRequest& r, NoiseSource& noise, const ProgressFn& progress,
                         const CancelToken* cancel) const;

    /// Steps kept for `strength`: int(steps × strength) as the reference, at
    /// least one. RequestError outside [0.01, 1].
    static int kept_steps(int steps, float strength);

private:
    std::shared_ptr<const Components> components_;
};

class StableDiffusion final : public Pipeline {
public:
    explicit StableDiffusion(std::shared_ptr<const Components> components);

    const ModelInfo& info() const override { return components_->info; }
    GenerationResult generate(const GenerationRequest& request, const ProgressFn& on_progress,
                              const CancelToken* cancel) override;
    Image preview(const at::Tensor& latents) const override;
    PromptTokenCount count_tokens(const std::string& prompt) const override;
    PromptTokenCounter token_counter() const override;

    const Txt2Img& txt2img() const { return txt2img_; }
    /// The img2img pipeline, created from txt2img's components on first use.
    const Img2Img& img2img();
    bool has_img2img() const { return img2img_ != nullptr; }

    /// Checks a request and fills in defaults (size, seed, scheduler).
    ResolvedRequest resolve(const GenerationRequest& request) const;

private:
    /// Super-resolution of `result` (request.superres_level), then the
    /// refine pass when request.refine_strength is set.
    void upscale_and_refine(const GenerationRequest& request, GenerationResult& result,
                            const ProgressFn& on_progress, const CancelToken* cancel);

    std::shared_ptr<const Components> components_;
    Txt2Img txt2img_;
    std::unique_ptr<Img2Img> img2img_;
};

} // namespace daub
