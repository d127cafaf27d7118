// EulerAncestralDiscreteScheduler; follows
// diffusers/schedulers/scheduling_euler_ancestral_discrete.py (set_timesteps, step).
#include "schedulers/euler_ancestral_discrete.h"

#include "core/errors.h"
#include "schedulers/noise_schedule.h"

#include <torch/torch.h>

#include <cmath>

namespace daub {

EulerAncestralDiscreteScheduler::EulerAncestralDiscreteScheduler(SchedulerConfig config)
    : SigmaScheduler(std::move(config)) {
    schedule::check_prediction_type(config_, {"epsilon", "v_prediction"});
    schedule::check_timestep_spacing(config_);
    init_noise_schedule(true);
}

void EulerAncestralDiscreteScheduler::set_timesteps(int n) {
    schedule::check_steps(config_, n);
    num_inference_steps_ = n;
    const auto table = schedule::training_sigmas(alphas_cumprod_);
    const auto ts = schedule::sigma_family_timesteps(config_, n);
    std::vector<float> sigmas;
    for (float t : ts)
        sigmas.push_back(static_cast<float>(schedule::np_interp(t, table)));
    sigmas.push_back(0.0f);
    set_schedule(torch::tensor(ts, torch::kFloat32));
    set_sigmas(std::move(sigmas));
}

at::Tensor EulerAncestralDiscreteScheduler::step(const at::Tensor& model_output, double t,
                                                 const at::Tensor& sample,
                                                 const DrawNoise& draw_noise) {
    if (!draw_noise)
        throw std::logic_error("EulerAncestralDiscreteScheduler::step needs a noise source");
    const int i = current_step_index(t);
    const float sigma = sigma_at(i);
    const auto x = sample.to(torch::kFloat32);

    at::Tensor pred_x0;
    if (config_.prediction_type == "epsilon") {
        pred_x0 = x - model_output * sigma;
    } else { // v_prediction
        const float c_out = -sigma / std::sqrt(sigma * sigma + 1.0f);
        pred_x0 = model_output * c_out + x / (sigma * sigma + 1.0f);
    }
    const float sigma_from = sigma;
    const float sigma_to = sigma_at(i + 1);
    const float from2 = sigma_from * sigma_from, to2 = sigma_to * sigma_to;
    const float sigma_up = std::sqrt(to2 * (from2 - to2) / from2);
    const float sigma_down = std::sqrt(to2 - sigma_up * sigma_up);

    const auto derivative = (x - pred_x0) / sigma;
    const float dt = sigma_down - sigma;
    auto prev = x + derivative * dt;
    const auto noise = draw_noise(model_output.sizes()).to(model_output.options());
    prev = prev + noise * sigma_up;
    step_index_ = i + 1;
    return prev.to(model_output.scalar_type());
}

} // namespace daub
