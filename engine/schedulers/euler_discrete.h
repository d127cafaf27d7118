// Euler (Karras et al. 2022, Algorithm 2 without churn) on the discrete
// training sigmas. Follows diffusers/schedulers/scheduling_euler_discrete.py
// (EulerDiscreteScheduler).
#pragma once

#include "schedulers/sigma_scheduler.h"

namespace daub {

class EulerDiscreteScheduler final : public SigmaScheduler {
public:
    /// ModelError for settings Euler does not support.
    explicit EulerDiscreteScheduler(SchedulerConfig config);

    void set_timesteps(int num_inference_steps) override;
    at::Tensor step(const at::Tensor& model_output, double t, const at::Tensor& sample,
                    const DrawNoise& draw_noise = {}) override;
};

} // namespace daub
