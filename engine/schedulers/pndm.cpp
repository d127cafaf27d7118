// PNDMScheduler; follows diffusers/schedulers/scheduling_pndm.py
// (set_timesteps, step, step_prk, step_plms, _get_prev_sample, add_noise).
#include "schedulers/pndm.h"

#include "core/errors.h"
#include "schedulers/noise_schedule.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace daub {

PndmScheduler::PndmScheduler(SchedulerConfig config) : Scheduler(std::move(config)) {
    schedule::check_prediction_type(config_, {"epsilon", "v_prediction"});
    schedule::check_timestep_spacing(config_);
    init_noise_schedule(false);
    final_alpha_cumprod_ = config_.set_alpha_to_one ? 1.0f : alphas_cumprod_values_.front();
}

void PndmScheduler::set_timesteps(int n) {
    schedule::check_steps(config_, n);
    const int64_t T = config_.num_train_timesteps;
    num_inference_steps_ = n;

    // The base timesteps, ascending.
    std::vector<int64_t> base;
    if (config_.timestep_spacing == "linspace") {
        for (double v : schedule::np_linspace(0, T - 1, n))
            base.push_back(static_cast<int64_t>(schedule::np_round(v)));
    } else if (config_.timestep_spacing == "leading") {
        const int64_t ratio = T / n;
        for (int64_t i = 0; i < n; ++i)
            base.push_back(i * ratio + config_.steps_offset);
    } else { // trailing
        const double ratio = static_cast<double>(T) / n;
        for (double v : schedule::np_arange(static_cast<double>(T), 0, -ratio))
            base.push_back(static_cast<int64_t>(schedule::np_round(v)));
        std::reverse(base.begin(), base.end());
        for (auto& v : base)
            v -= 1;
    }

    std::vector<int64_t> plms;
    prk_timesteps_.clear();
    const auto count = static_cast<int64_t>(base.size());
    if (config_.skip_prk_steps) {
        // concat(ts[:-1], ts[-2:-1], ts[-1:]) reversed: the second timestep twice.
        plms.assign(base.begin(), base.end() - 1);
        if (count >= 2)
            plms.push_back(base[count - 2]);
        plms.push_back(base.back());
        std::reverse(plms.begin(), plms.end());
    } else {
        if (count < 4)
            throw RequestError("PNDM with Runge-Kutta warm-up steps (skip_prk_steps false) needs "
                               "at least 4 steps (got " + std::to_string(n) + ").");
        // prk = ts[-4:].repeat(2) + tile([0, T // n // 2], 4), then
        // prk[:-1].repeat(2)[1:-1] reversed.
        std::vector<int64_t> prk;
        for (int64_t i = count - 4; i < count; ++i) {
            prk.push_back(base[i]);
            prk.push_back(base[i] + T / n / 2);
        }
        std::vector<int64_t> doubled;
        for (size_t i = 0; i + 1 < prk.size(); ++i) {
            doubled.push_back(prk[i]);
            doubled.push_back(prk[i]);
        }
        prk_timesteps_.assign(doubled.begin() + 1, doubled.end() - 1);
        std::reverse(prk_timesteps_.begin(), prk_timesteps_.end());
        plms.assign(base.begin(), base.end() - 3);
        std::reverse(plms.begin(), plms.end());
    }
    std::vector<int64_t> all = prk_timesteps_;
    all.insert(all.end(), plms.begin(), plms.end());
    set_schedule(torch::tensor(all, torch::kInt64));

    ets_.clear();
    counter_ = 0;
    cur_model_output_ = at::Tensor();
    cur_sample_ = at::Tensor();
    begin_index_.reset();
}

at::Tensor PndmScheduler::step(const at::Tensor& model_output, double t, const at::Tensor& sample,
                               const DrawNoise&) {
    if (num_inference_steps_ == 0)
        throw std::logic_error("PndmScheduler::step called before set_timesteps");
    const auto ti = static_cast<int64_t>(std::llround(t));
    if (counter_ < static_cast<int>(prk_timesteps_.size()) && !config_.skip_prk_steps)
        return step_prk(model_output, ti, sample);
    return step_plms(model_output, ti, sample);
}

at::Tensor PndmScheduler::step_prk(const at::Tensor& model_output, int64_t t,
                                   const at::Tensor& sample) {
    const int64_t half_step = config_.num_train_timesteps / num_inference_steps_ / 2;
    const int64_t prev_t = t - (counter_ % 2 ? 0 : half_step);
    const int64_t from_t = prk_timesteps_[counter_ / 4 * 4];

    auto accumulate = [this](const at::Tensor& x) {
        cur_model_output_ = cur_model_output_.defined() ? cur_model_output_ + x : x;
    };
    at::Tensor output = model_output;
    switch (counter_ % 4) {
    case 0:
        accumulate(model_output * (1.0 / 6));
        ets_.push_back(model_output);
        cur_sample_ = sample;
        break;
    case 1:
    case 2:
        accumulate(model_output * (1.0 / 3));
        break;
    default:
        output = cur_model_output_.defined() ? cur_model_output_ + model_output * (1.0 / 6)
                                             : model_output * (1.0 / 6);
        cur_model_output_ = at::Tensor();
        break;
    }
    const at::Tensor& from = cur_sample_.defined() ? cur_sample_ : sample;
    auto prev = prev_sample(from, from_t, prev_t, output);
    ++counter_;
    return prev;
}

at::Tensor PndmScheduler::step_plms(const at::Tensor& model_output, int64_t t,
                                    const at::Tensor& sample) {
    if (!config_.skip_prk_steps && ets_.size() < 3)
        throw std::logic_error("PNDM PLMS steps need the Runge-Kutta steps first");
    const int64_t stride = config_.num_train_timesteps / num_inference_steps_;
    int64_t prev_t = t - stride;
    if (counter_ != 1) {
        if (ets_.size() > 3)
            ets_.erase(ets_.begin(), ets_.end() - 3);
        ets_.push_back(model_output);
    } else {
        // The repeated timestep: correct the first step from t + stride.
        prev_t = t;
        t = t + stride;
    }

    at::Tensor output;
    at::Tensor from = sample;
    const size_t n = ets_.size();
    if (n == 1 && counter_ == 0) {
        output = model_output;
        cur_sample_ = sample;
    } else if (n == 1 && counter_ == 1) {
        output = (model_output + ets_[0]) / 2;
        from = cur_sample_;
        cur_sample_ = at::Tensor();
    } else if (n == 2) {
        output = (ets_[1] * 3 - ets_[0]) / 2;
    } else if (n == 3) {
        output = (ets_[2] * 23 - ets_[1] * 16 + ets_[0] * 5) / 12;
    } else {
        output = (ets_[3] * 55 - ets_[2] * 59 + ets_[1] * 37 - ets_[0] * 9) * (1.0 / 24);
    }
    auto prev = prev_sample(from, t, prev_t, output);
    ++counter_;
    return prev;
}

at::Tensor PndmScheduler::prev_sample(const at::Tensor& sample, int64_t t, int64_t prev_t,
                                      at::Tensor model_output) const {
    // float32 scalars, as diffusers' 0-dim alphas_cumprod tensors.
    const float alpha = alpha_cumprod(t);
    const float alpha_prev = prev_t >= 0 ? alpha_cumprod(prev_t) : final_alpha_cumprod_;
    const float beta = 1.0f - alpha;
    const float beta_prev = 1.0f - alpha_prev;
    if (config_.prediction_type == "v_prediction")
        model_output = model_output * std::sqrt(alpha) + sample * std::sqrt(beta);
    const float sample_coeff = std::sqrt(alpha_prev / alpha);
    const float denom = alpha * std::sqrt(beta_prev) + std::sqrt(alpha * beta * alpha_prev);
    return sample * sample_coeff - model_output * (alpha_prev - alpha) / denom;
}

at::Tensor PndmScheduler::add_noise(const at::Tensor& original, const at::Tensor& noise,
                                    double t) {
    return add_noise_alpha_bar(original, noise, std::llround(t));
}

} // namespace daub
