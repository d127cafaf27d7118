// HeunDiscreteScheduler; follows diffusers/schedulers/scheduling_heun_discrete.py
// (set_timesteps, step, state_in_first_order).
#include "schedulers/heun_discrete.h"

#include "core/errors.h"
#include "schedulers/noise_schedule.h"

#include <torch/torch.h>

#include <cmath>

namespace daub {

HeunDiscreteScheduler::HeunDiscreteScheduler(SchedulerConfig config)
    : SigmaScheduler(std::move(config)) {
    schedule::check_prediction_type(config_, {"epsilon", "v_prediction", "sample"});
    schedule::check_timestep_spacing(config_);
    schedule::check_sigma_options(config_, false);
    init_noise_schedule(false);
}

void HeunDiscreteScheduler::set_timesteps(int n) {
    SpacedSchedule spaced = spaced_schedule(n);
    std::vector<double>& timesteps = spaced.timesteps;
    std::vector<double>& sigmas = spaced.sigmas;

    if (config_.use_karras_sigmas || config_.use_exponential_sigmas) {
        const double lo = config_.sigma_min.value_or(sigmas.back());
        const double hi = config_.sigma_max.value_or(sigmas.front());
        sigmas = config_.use_karras_sigmas ? schedule::karras_sigmas(lo, hi, n)
                                           : schedule::exponential_sigmas(lo, hi, n);
    }
    if (config_.use_karras_sigmas || config_.use_exponential_sigmas || config_.use_beta_sigmas)
        spaced.retime();

    // sigmas: s0, s1, s1, ..., s_{n-1}, s_{n-1}, 0; timesteps: t0, t1, t1, ...
    std::vector<float> all_sigmas{static_cast<float>(sigmas[0])};
    for (size_t i = 1; i < sigmas.size(); ++i) {
        all_sigmas.push_back(static_cast<float>(sigmas[i]));
        all_sigmas.push_back(static_cast<float>(sigmas[i]));
    }
    all_sigmas.push_back(0.0f);
    std::vector<float> ts{static_cast<float>(timesteps[0])};
    for (size_t i = 1; i < timesteps.size(); ++i) {
        ts.push_back(static_cast<float>(timesteps[i]));
        ts.push_back(static_cast<float>(timesteps[i]));
    }
    set_schedule(torch::tensor(ts, torch::kFloat32));
    set_sigmas(std::move(all_sigmas));
    prev_derivative_ = at::Tensor();
    first_sample_ = at::Tensor();
    dt_.reset();
}

at::Tensor HeunDiscreteScheduler::step(const at::Tensor& model_output, double t,
                                       const at::Tensor& sample, const DrawNoise&) {
    const int i = current_step_index(t);
    const bool first = in_first_order();
    const float sigma = first ? sigma_at(i) : sigma_at(i - 1);
    const float sigma_next = first ? sigma_at(i + 1) : sigma_at(i);
    const float sigma_hat = sigma; // gamma = 0

    const float sigma_input = first ? sigma_hat : sigma_next;
    at::Tensor pred_x0;
    if (config_.prediction_type == "epsilon") {
        pred_x0 = sample - model_output * sigma_input;
    } else if (config_.prediction_type == "v_prediction") {
        const float c_out = -sigma_input / std::sqrt(sigma_input * sigma_input + 1.0f);
        pred_x0 = model_output * c_out + sample / (sigma_input * sigma_input + 1.0f);
    } else { // sample
        pred_x0 = model_output;
    }
    if (config_.clip_sample)
        pred_x0 = pred_x0.clamp(-config_.clip_sample_range, config_.clip_sample_range);

    at::Tensor derivative, from;
    float dt;
    if (first) {
        derivative = (sample - pred_x0) / sigma_hat;
        dt = sigma_next - sigma_hat;
        prev_derivative_ = derivative;
        dt_ = dt;
        first_sample_ = sample;
        from = sample;
    } else {
        derivative = (sample - pred_x0) / sigma_next;
        derivative = (prev_derivative_ + derivative) / 2;
        dt = *dt_;
        from = first_sample_;
        prev_derivative_ = at::Tensor();
        first_sample_ = at::Tensor();
        dt_.reset();
    }
    step_index_ = i + 1;
    return from + derivative * dt;
}

} // namespace daub
