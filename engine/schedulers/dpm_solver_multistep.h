// DPM-Solver / DPM-Solver++ multistep (Lu et al. 2022), orders 1-3, with
// the optional SDE variants. "dpmpp_2m" is dpmsolver++ of order 2;
// "dpmpp_2m_karras" the same on Karras sigmas. Follows
// diffusers/schedulers/scheduling_dpmsolver_multistep.py
// (DPMSolverMultistepScheduler).
#pragma once

#include "schedulers/sigma_scheduler.h"

#include <vector>

namespace daub {

class DpmSolverMultistepScheduler final : public SigmaScheduler {
public:
    /// ModelError for settings Daub does not run (flow-matching sigmas,
    /// beta sigmas, dynamic shifting, unknown algorithm or solver types).
    explicit DpmSolverMultistepScheduler(SchedulerConfig config);

    void set_timesteps(int num_inference_steps) override;
    double init_noise_sigma() const override { return 1.0; }
    at::Tensor scale_model_input(const at::Tensor& sample, double) override { return sample; }
    /// The SDE variants draw one noise tensor per call; the others none.
    at::Tensor step(const at::Tensor& model_output, double t, const at::Tensor& sample,
                    const DrawNoise& draw_noise = {}) override;
    /// alpha_t · original + sigma_t · noise at the sigma of t.
    at::Tensor add_noise(const at::Tensor& original, const at::Tensor& noise, double t) override;

protected:
    /// As diffusers: an unknown timestep maps to the last index.
    int index_for_timestep(double t) const override;

private:
    /// The data prediction x0 (dpmsolver++) or noise prediction (dpmsolver).
    at::Tensor convert_model_output(at::Tensor model_output, const at::Tensor& sample) const;
    at::Tensor first_order_update(const at::Tensor& m0, const at::Tensor& sample,
                                  const at::Tensor& noise) const;
    at::Tensor second_order_update(const at::Tensor& sample, const at::Tensor& noise) const;
    at::Tensor third_order_update(const at::Tensor& sample, const at::Tensor& noise) const;

    std::vector<at::Tensor> model_outputs_; ///< the last solver_order outputs, newest last
    int lower_order_nums_ = 0;
};

} // namespace daub
