// PNDM (pseudo numerical methods, Liu et al. 2022): Runge-Kutta warm-up
// steps, then linear multistep (PLMS); with skip_prk_steps, PLMS from the
// start with one Heun-like correction on the repeated second timestep.
// Follows diffusers/schedulers/scheduling_pndm.py (PNDMScheduler).
#pragma once

#include "schedulers/scheduler.h"

namespace daub {

class PndmScheduler final : public Scheduler {
public:
    /// ModelError for settings PNDM does not support.
    explicit PndmScheduler(SchedulerConfig config);

    void set_timesteps(int num_inference_steps) override;
    at::Tensor step(const at::Tensor& model_output, double t, const at::Tensor& sample,
                    const DrawNoise& draw_noise = {}) override;
    at::Tensor add_noise(const at::Tensor& original, const at::Tensor& noise, double t) override;

private:
    at::Tensor step_prk(const at::Tensor& model_output, int64_t t, const at::Tensor& sample);
    at::Tensor step_plms(const at::Tensor& model_output, int64_t t, const at::Tensor& sample);
    /// x_{t-δ} from x_t (formula (9) of the PNDM paper).
    at::Tensor prev_sample(const at::Tensor& sample, int64_t t, int64_t prev_t,
                           at::Tensor model_output) const;

    float final_alpha_cumprod_ = 1.0f;
    std::vector<int64_t> prk_timesteps_;
    int counter_ = 0;
    at::Tensor cur_model_output_; ///< undefined = 0
    at::Tensor cur_sample_;       ///< undefined = None
    std::vector<at::Tensor> ets_; ///< past model outputs, newest last
};

} // namespace daub
