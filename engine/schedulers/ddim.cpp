// DDIMScheduler; follows diffusers/schedulers/scheduling_ddim.py
// (set_timesteps, step with eta = 0, _threshold_sample, add_noise).
#include "schedulers/ddim.h"

#include "core/errors.h"
#include "schedulers/noise_schedule.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace daub {

DdimScheduler::DdimScheduler(SchedulerConfig config) : Scheduler(std::move(config)) {
    schedule::check_prediction_type(config_, {"epsilon", "v_prediction", "sample"});
    schedule::check_timestep_spacing(config_);
    init_noise_schedule(false);
    final_alpha_cumprod_ = config_.set_alpha_to_one ? 1.0f : alphas_cumprod_values_.front();
}

void DdimScheduler::set_timesteps(int n) {
    schedule::check_steps(config_, n);
    const int64_t T = config_.num_train_timesteps;
    num_inference_steps_ = n;
    std::vector<int64_t> ts; // descending
    if (config_.timestep_spacing == "linspace") {
        for (double v : schedule::np_linspace(0, T - 1, n))
            ts.push_back(static_cast<int64_t>(schedule::np_round(v)));
        std::reverse(ts.begin(), ts.end());
    } else if (config_.timestep_spacing == "leading") {
        const int64_t ratio = T / n;
        for (int64_t i = n - 1; i >= 0; --i)
            ts.push_back(i * ratio + config_.steps_offset);
    } else { // trailing
        const double ratio = static_cast<double>(T) / n;
        for (double v : schedule::np_arange(static_cast<double>(T), 0, -ratio))
            ts.push_back(static_cast<int64_t>(schedule::np_round(v)) - 1);
    }
    set_schedule(torch::tensor(ts, torch::kInt64));
    begin_index_.reset();
}

at::Tensor DdimScheduler::step(const at::Tensor& model_output, double t, const at::Tensor& sample,
                               const DrawNoise&) {
    if (num_inference_steps_ == 0)
        throw std::logic_error("DdimScheduler::step called before set_timesteps");
    const auto ti = static_cast<int64_t>(std::llround(t));
    const int64_t prev_t = ti - config_.num_train_timesteps / num_inference_steps_;
    // float32 scalars, as diffusers' 0-dim alphas_cumprod tensors.
    const float alpha = alpha_cumprod(ti);
    const float alpha_prev = prev_t >= 0 ? alpha_cumprod(prev_t) : final_alpha_cumprod_;
    const float beta = 1.0f - alpha;

    at::Tensor pred_x0, pred_eps;
    if (config_.prediction_type == "epsilon") {
        pred_x0 = (sample - model_output * std::sqrt(beta)) / std::sqrt(alpha);
        pred_eps = model_output;
    } else if (config_.prediction_type == "sample") {
        pred_x0 = model_output;
        pred_eps = (sample - pred_x0 * std::sqrt(alpha)) / std::sqrt(beta);
    } else { // v_prediction
        pred_x0 = sample * std::sqrt(alpha) - model_output * std::sqrt(beta);
        pred_eps = model_output * std::sqrt(alpha) + sample * std::sqrt(beta);
    }
    if (config_.thresholding)
        pred_x0 = threshold_sample(pred_x0, config_.dynamic_thresholding_ratio,
                                   config_.sample_max_value);
    else if (config_.clip_sample)
        pred_x0 = pred_x0.clamp(-config_.clip_sample_range, config_.clip_sample_range);

    // eta = 0: std_dev_t = 0, no noise.
    const float direction_coeff = std::sqrt(1.0f - alpha_prev);
    return pred_x0 * std::sqrt(alpha_prev) + pred_eps * direction_coeff;
}

at::Tensor DdimScheduler::add_noise(const at::Tensor& original, const at::Tensor& noise,
                                    double t) {
    return add_noise_alpha_bar(original, noise, std::llround(t));
}

at::Tensor threshold_sample(const at::Tensor& sample, double ratio, double max_value) {
    const auto dtype = sample.scalar_type();
    const auto sizes = sample.sizes().vec();
    auto x = sample;
    if (dtype != torch::kFloat32 && dtype != torch::kFloat64)
        x = x.to(torch::kFloat32); // quantile needs float32/64
    x = x.reshape({sizes[0], -1});                               // [B, C*H*W]
    auto s = torch::quantile(x.abs(), ratio, /*dim=*/1);         // [B]
    s = s.clamp(1.0, max_value).unsqueeze(1);                    // [B, 1]
    x = torch::max(torch::min(x, s), -s) / s;                    // [B, C*H*W]
    return x.reshape(sizes).to(dtype);
}

} // namespace daub
