// EulerDiscreteScheduler; follows diffusers/schedulers/scheduling_euler_discrete.py
// (__init__, set_timesteps, step with s_churn = 0).
#include "schedulers/euler_discrete.h"

#include "core/errors.h"
#include "schedulers/noise_schedule.h"

#include <torch/torch.h>

#include <cmath>

namespace daub {

EulerDiscreteScheduler::EulerDiscreteScheduler(SchedulerConfig config)
    : SigmaScheduler(std::move(config)) {
    schedule::check_prediction_type(config_,
                                    {"epsilon", "v_prediction", "sample", "original_sample"});
    schedule::check_timestep_spacing(config_);
    schedule::check_sigma_options(config_, true);
    if (config_.interpolation_type != "linear" && config_.interpolation_type != "log_linear")
        throw ModelError("Scheduler config key \"interpolation_type\" is \"" +
                         config_.interpolation_type + "\"; use linear or log_linear.");
    if (config_.final_sigmas_type != "zero" && config_.final_sigmas_type != "sigma_min")
        throw ModelError("Scheduler config key \"final_sigmas_type\" is \"" +
                         config_.final_sigmas_type + "\"; use zero or sigma_min.");
    if (config_.timestep_type != "discrete" && config_.timestep_type != "continuous")
        throw ModelError("Scheduler config key \"timestep_type\" is \"" + config_.timestep_type +
                         "\"; use discrete or continuous.");
    init_noise_schedule(true);
}

void EulerDiscreteScheduler::set_timesteps(int n) {
    SpacedSchedule spaced = spaced_schedule(n);
    const std::vector<float>& table = spaced.table;
    std::vector<double>& timesteps = spaced.timesteps;
    std::vector<double>& sigmas = spaced.sigmas;

    if (config_.interpolation_type == "log_linear") {
        // torch.linspace(log(sigmas[-1]), log(sigmas[0]), n + 1).exp(), float32.
        auto s = torch::linspace(std::log(sigmas.back()), std::log(sigmas.front()), n + 1,
                                 torch::kFloat32)
                     .exp()
                     .contiguous();
        sigmas.assign(s.data_ptr<float>(), s.data_ptr<float>() + s.numel());
    }
    if (config_.use_karras_sigmas || config_.use_exponential_sigmas) {
        const double lo = config_.sigma_min.value_or(sigmas.back());
        const double hi = config_.sigma_max.value_or(sigmas.front());
        sigmas = config_.use_karras_sigmas ? schedule::karras_sigmas(lo, hi, n)
                                           : schedule::exponential_sigmas(lo, hi, n);
        spaced.retime();
    }

    std::vector<float> all_sigmas(sigmas.begin(), sigmas.end());
    all_sigmas.push_back(config_.final_sigmas_type == "sigma_min" ? table.front() : 0.0f);

    std::vector<float> ts;
    if (config_.timestep_type == "continuous" && config_.prediction_type == "v_prediction") {
        for (size_t i = 0; i + 1 < all_sigmas.size(); ++i)
            ts.push_back(0.25f * std::log(all_sigmas[i]));
    } else {
        ts.assign(timesteps.begin(), timesteps.end());
    }
    set_schedule(torch::tensor(ts, torch::kFloat32));
    set_sigmas(std::move(all_sigmas));
}

at::Tensor EulerDiscreteScheduler::step(const at::Tensor& model_output, double t,
                                        const at::Tensor& sample, const DrawNoise&) {
    const int i = current_step_index(t);
    const auto x = sample.to(torch::kFloat32);
    const float sigma = sigma_at(i);
    const float sigma_hat = sigma; // s_churn = 0: gamma = 0

    at::Tensor pred_x0;
    if (config_.prediction_type == "epsilon") {
        pred_x0 = x - model_output * sigma_hat;
    } else if (config_.prediction_type == "v_prediction") {
        const float c_out = -sigma / std::sqrt(sigma * sigma + 1.0f);
        pred_x0 = model_output * c_out + x / (sigma * sigma + 1.0f);
    } else { // sample / original_sample
        pred_x0 = model_output;
    }
    const auto derivative = (x - pred_x0) / sigma_hat;
    const float dt = sigma_at(i + 1) - sigma_hat;
    auto prev = x + derivative * dt;
    step_index_ = i + 1;
    return prev.to(model_output.scalar_type());
}

} // namespace daub
