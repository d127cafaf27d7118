// LMS: linear multistep over sigma, up to order 4, with coefficients found by
// integrating the Lagrange basis polynomials numerically. Follows
// diffusers/schedulers/scheduling_lms_discrete.py (LMSDiscreteScheduler).
#pragma once

#include "schedulers/sigma_scheduler.h"

#include <vector>

namespace daub {

class LmsDiscreteScheduler final : public SigmaScheduler {
public:
    /// ModelError for settings LMS does not support.
    explicit LmsDiscreteScheduler(SchedulerConfig config);

    void set_timesteps(int num_inference_steps) override;
    at::Tensor step(const at::Tensor& model_output, double t, const at::Tensor& sample,
                    const DrawNoise& draw_noise = {}) override;

private:
    /// ∫ over [sigma_i, sigma_{i+1}] of the Lagrange basis polynomial of
    /// node `current` among sigma_i, sigma_{i-1}, ..., sigma_{i-order+1}.
    double lms_coefficient(int order, int i, int current) const;

    std::vector<at::Tensor> derivatives_; ///< newest last, at most 4
};

} // namespace daub
