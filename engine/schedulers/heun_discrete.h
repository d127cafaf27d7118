// Heun (Karras et al. 2022, Algorithm 1 without churn): second order, two
// model evaluations per step. Every timestep but the first appears twice in
// timesteps(); the first call of a pair takes an Euler step and the second
// corrects it with the averaged derivative. Follows
// diffusers/schedulers/scheduling_heun_discrete.py (HeunDiscreteScheduler).
#pragma once

#include "schedulers/sigma_scheduler.h"

namespace daub {

class HeunDiscreteScheduler final : public SigmaScheduler {
public:
    /// ModelError for settings Heun does not support.
    explicit HeunDiscreteScheduler(SchedulerConfig config);

    int order() const override { return 2; }
    void set_timesteps(int num_inference_steps) override;
    at::Tensor step(const at::Tensor& model_output, double t, const at::Tensor& sample,
                    const DrawNoise& draw_noise = {}) override;

private:
    bool in_first_order() const { return !dt_.has_value(); }

    at::Tensor prev_derivative_;
    at::Tensor first_sample_;   ///< the sample the Euler half started from
    std::optional<float> dt_;   ///< set between the two halves of a step
};

} // namespace daub
