// Euler ancestral ("Euler a"): an Euler step down to sigma_down, then fresh
// noise of scale sigma_up. Follows
// diffusers/schedulers/scheduling_euler_ancestral_discrete.py
// (EulerAncestralDiscreteScheduler).
#pragma once

#include "schedulers/sigma_scheduler.h"

namespace daub {

class EulerAncestralDiscreteScheduler final : public SigmaScheduler {
public:
    /// ModelError for settings Euler a does not support.
    explicit EulerAncestralDiscreteScheduler(SchedulerConfig config);

    void set_timesteps(int num_inference_steps) override;
    /// Draws one noise tensor of model_output's shape per call (also at the
    /// last step, where its scale is 0), as diffusers does.
    at::Tensor step(const at::Tensor& model_output, double t, const at::Tensor& sample,
                    const DrawNoise& draw_noise) override;
};

} // namespace daub
