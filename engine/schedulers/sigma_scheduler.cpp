// SigmaScheduler: the index bookkeeping and sigma helpers repeated in
// diffusers' scheduling_euler_discrete.py, scheduling_euler_ancestral_discrete.py,
// scheduling_lms_discrete.py and scheduling_heun_discrete.py.
#include "schedulers/sigma_scheduler.h"

#include "core/errors.h"
#include "schedulers/noise_schedule.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace daub {

at::Tensor SigmaScheduler::sigmas() const {
    return torch::tensor(sigma_values_, torch::kFloat32);
}

double SigmaScheduler::init_noise_sigma() const {
    if (sigma_values_.empty())
        return 1.0;
    const float max_sigma = *std::max_element(sigma_values_.begin(), sigma_values_.end());
    if (config_.timestep_spacing == "linspace" || config_.timestep_spacing == "trailing")
        return max_sigma;
    return std::sqrt(max_sigma * max_sigma + 1.0f); // float32, as diffusers
}

at::Tensor SigmaScheduler::scale_model_input(const at::Tensor& sample, double t) {
    const float sigma = sigma_at(current_step_index(t));
    return sample / std::sqrt(sigma * sigma + 1.0f);
}

at::Tensor SigmaScheduler::add_noise(const at::Tensor& original, const at::Tensor& noise,
                                     double t) {
    int index;
    if (!begin_index_)
        index = index_for_timestep(t);
    else if (step_index_)
        index = *step_index_;
    else
        index = *begin_index_;
    return original + noise * sigma_at(index);
}

void SigmaScheduler::set_sigmas(std::vector<float> sigmas) {
    sigma_values_ = std::move(sigmas);
    step_index_.reset();
    begin_index_.reset();
}

int SigmaScheduler::index_for_timestep(double t) const {
    std::vector<int> matches;
    for (size_t i = 0; i < timestep_values_.size(); ++i)
        if (timestep_values_[i] == t)
            matches.push_back(static_cast<int>(i));
    if (matches.empty())
        throw RequestError(class_name() + ": timestep " + std::to_string(t) +
                           " is not in the schedule.");
    return matches.size() > 1 ? matches[1] : matches[0];
}

int SigmaScheduler::current_step_index(double t) {
    if (num_inference_steps_ == 0)
        throw std::logic_error(class_name() + " used before set_timesteps");
    if (!step_index_)
        step_index_ = begin_index_ ? *begin_index_ : index_for_timestep(t);
    return *step_index_;
}

float SigmaScheduler::sigma_at(int64_t i) const {
    if (i < 0 || i >= static_cast<int64_t>(sigma_values_.size()))
        throw RequestError(class_name() + ": step " + std::to_string(i) +
                           " is past the end of the schedule; call set_timesteps again.");
    return sigma_values_[i];
}

SigmaScheduler::SpacedSchedule SigmaScheduler::spaced_schedule(int n) {
    schedule::check_steps(config_, n);
    num_inference_steps_ = n;
    SpacedSchedule s;
    s.table = schedule::training_sigmas(alphas_cumprod_);
    s.log_table = schedule::log_float(s.table);
    const auto spaced = schedule::sigma_family_timesteps(config_, n);
    s.timesteps.assign(spaced.begin(), spaced.end());
    for (double t : s.timesteps)
        s.sigmas.push_back(schedule::np_interp(t, s.table));
    return s;
}

void SigmaScheduler::SpacedSchedule::retime() {
    timesteps.clear();
    for (double sigma : sigmas)
        timesteps.push_back(schedule::sigma_to_t(sigma, log_table));
}

} // namespace daub
