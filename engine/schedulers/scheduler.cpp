// The parts of Scheduler every family shares.
#include "schedulers/scheduler.h"

#include "core/errors.h"
#include "schedulers/noise_schedule.h"

#include <torch/torch.h>

#include <cmath>

namespace daub {

Scheduler::Scheduler(SchedulerConfig config) : config_(std::move(config)) {}

Scheduler::~Scheduler() = default;

void Scheduler::init_noise_schedule(bool pin_last_for_zero_snr) {
    alphas_cumprod_ = schedule::make_alphas_cumprod(config_, pin_last_for_zero_snr);
    const float* p = alphas_cumprod_.data_ptr<float>();
    alphas_cumprod_values_.assign(p, p + alphas_cumprod_.numel());
}

void Scheduler::set_schedule(at::Tensor timesteps) {
    timesteps_ = timesteps.contiguous();
    auto values = timesteps_.to(torch::kFloat64).contiguous();
    const double* p = values.data_ptr<double>();
    timestep_values_.assign(p, p + values.numel());
}

float Scheduler::alpha_cumprod(int64_t t) const {
    if (t < 0 || t >= static_cast<int64_t>(alphas_cumprod_values_.size()))
        throw RequestError(class_name() + ": timestep " + std::to_string(t) +
                           " is outside the model's training range [0, " +
                           std::to_string(alphas_cumprod_values_.size()) + ").");
    return alphas_cumprod_values_[t];
}

at::Tensor Scheduler::add_noise_alpha_bar(const at::Tensor& original, const at::Tensor& noise,
                                          int64_t t) const {
    // diffusers casts alphas_cumprod to the sample dtype first; the scalars
    // below are rounded to that dtype by the tensor ops in the same way.
    const float a = alpha_cumprod(t);
    const float sqrt_alpha = std::sqrt(a);
    const float sqrt_one_minus_alpha = std::sqrt(1.0f - a);
    return original * sqrt_alpha + noise * sqrt_one_minus_alpha;
}

} // namespace daub
