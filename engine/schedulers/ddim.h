// DDIM (Song et al. 2020), deterministic (eta = 0, as the SD pipelines run it).
// Follows diffusers/schedulers/scheduling_ddim.py (DDIMScheduler).
#pragma once

#include "schedulers/scheduler.h"

namespace daub {

class DdimScheduler final : public Scheduler {
public:
    /// ModelError for settings DDIM does not support.
    explicit DdimScheduler(SchedulerConfig config);

    void set_timesteps(int num_inference_steps) override;
    at::Tensor step(const at::Tensor& model_output, double t, const at::Tensor& sample,
                    const DrawNoise& draw_noise = {}) override;
    at::Tensor add_noise(const at::Tensor& original, const at::Tensor& noise, double t) override;

private:
    float final_alpha_cumprod_ = 1.0f;
};

/// diffusers' _threshold_sample (dynamic thresholding, Imagen): per batch
/// item, clamp to the `ratio` quantile of |x| (within [1, max_value]) and
/// divide by it. Shared with DPM-Solver.
at::Tensor threshold_sample(const at::Tensor& sample, double ratio, double max_value);

} // namespace daub
