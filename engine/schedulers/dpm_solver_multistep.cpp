// DPMSolverMultistepScheduler; follows
// diffusers/schedulers/scheduling_dpmsolver_multistep.py (__init__,
// set_timesteps, convert_model_output, dpm_solver_first_order_update,
// multistep_dpm_solver_second/third_order_update, step, add_noise).
#include "schedulers/dpm_solver_multistep.h"

#include "core/errors.h"
#include "schedulers/ddim.h"
#include "schedulers/noise_schedule.h"

#include <torch/torch.h>

#include <cmath>

namespace daub {
namespace {

/// alpha_t = 1 / sqrt(sigma² + 1), sigma_t = sigma · alpha_t, and the
/// log-SNR lambda = log alpha_t − log sigma_t, in float32 like diffusers.
struct Vp {
    float alpha, sigma, lambda;
};

Vp to_vp(float sigma) {
    const float alpha = 1.0f / std::sqrt(sigma * sigma + 1.0f);
    const float s = sigma * alpha;
    return {alpha, s, std::log(alpha) - std::log(s)};
}

bool is_sde(const std::string& algorithm) {
    return algorithm == "sde-dpmsolver++" || algorithm == "sde-dpmsolver";
}

bool is_data_prediction(const std::string& algorithm) {
    return algorithm == "dpmsolver++" || algorithm == "sde-dpmsolver++";
}

} // namespace

DpmSolverMultistepScheduler::DpmSolverMultistepScheduler(SchedulerConfig config)
    : SigmaScheduler(std::move(config)) {
    auto& c = config_;
    schedule::check_prediction_type(c, {"epsilon", "v_prediction", "sample"});
    schedule::check_timestep_spacing(c);
    schedule::check_sigma_options(c, true);
    if (c.algorithm_type == "deis") // diffusers maps it so
        c.algorithm_type = "dpmsolver++";
    if (c.algorithm_type != "dpmsolver++" && c.algorithm_type != "dpmsolver" && !is_sde(c.algorithm_type))
        throw ModelError("Scheduler config key \"algorithm_type\" is \"" + c.algorithm_type +
                         "\"; use dpmsolver++, dpmsolver, sde-dpmsolver++ or sde-dpmsolver.");
    if (c.solver_type == "logrho" || c.solver_type == "bh1" || c.solver_type == "bh2")
        c.solver_type = "midpoint"; // diffusers maps them so
    if (c.solver_type != "midpoint" && c.solver_type != "heun")
        throw ModelError("Scheduler config key \"solver_type\" is \"" + c.solver_type +
                         "\"; use midpoint or heun.");
    if (c.solver_order < 1 || c.solver_order > 3)
        throw ModelError("Scheduler config key \"solver_order\" is " +
                         std::to_string(c.solver_order) + "; use 1, 2 or 3.");
    if (c.solver_order == 3 && c.algorithm_type == "sde-dpmsolver")
        throw ModelError("sde-dpmsolver has no third-order update; use solver_order 1 or 2.");
    if (!is_data_prediction(c.algorithm_type) && c.final_sigmas_type == "zero")
        throw ModelError("final_sigmas_type \"zero\" needs algorithm_type dpmsolver++ or "
                         "sde-dpmsolver++; use final_sigmas_type \"sigma_min\" with \"" +
                         c.algorithm_type + "\".");
    if (c.final_sigmas_type != "zero" && c.final_sigmas_type != "sigma_min")
        throw ModelError("Scheduler config key \"final_sigmas_type\" is \"" + c.final_sigmas_type +
                         "\"; use zero or sigma_min.");
    if (c.use_flow_sigmas || c.use_dynamic_shifting)
        throw ModelError("DPMSolverMultistepScheduler with flow-matching sigmas is not supported "
                         "by Daub.");
    init_noise_schedule(true);
}

void DpmSolverMultistepScheduler::set_timesteps(int n) {
    schedule::check_steps(config_, n);
    const auto& c = config_;
    const int64_t T = c.num_train_timesteps;
    const auto table = schedule::training_sigmas(alphas_cumprod_); // [T] ascending
    const auto log_table = schedule::log_float(table);

    // searchsorted(flip(lambda_t), lambda_min_clipped): the count of
    // (ascending) flipped lambdas below the clip.
    auto lambdas = (torch::log(alphas_cumprod_.sqrt()) - torch::log((1 - alphas_cumprod_).sqrt()))
                       .contiguous(); // [T] float32, descending
    const float* lp = lambdas.data_ptr<float>();
    int64_t clipped = 0;
    for (int64_t i = T - 1; i >= 0 && static_cast<double>(lp[i]) < c.lambda_min_clipped; --i)
        ++clipped;
    const int64_t last = T - clipped;

    std::vector<double> timesteps; // float64 until the final int64 cast
    if (c.timestep_spacing == "linspace") {
        auto v = schedule::np_linspace(0, static_cast<double>(last - 1), n + 1);
        for (int64_t i = n; i >= 1; --i)
            timesteps.push_back(schedule::np_round(v[i]));
    } else if (c.timestep_spacing == "leading") {
        const int64_t ratio = last / (n + 1);
        for (int64_t i = n; i >= 1; --i)
            timesteps.push_back(static_cast<double>(i * ratio + c.steps_offset));
    } else { // trailing
        const double ratio = static_cast<double>(T) / n;
        for (double v : schedule::np_arange(static_cast<double>(last), 0, -ratio))
            timesteps.push_back(schedule::np_round(v) - 1);
    }

    const bool round_t = c.beta_schedule != "squaredcos_cap_v2";
    std::vector<double> sigmas;
    auto timesteps_from_sigmas = [&](bool rounded) {
        timesteps.clear();
        for (double s : sigmas) {
            const double t = schedule::sigma_to_t(s, log_table);
            timesteps.push_back(rounded ? schedule::np_round(t) : t);
        }
    };
    if (c.use_karras_sigmas) {
        sigmas = schedule::karras_sigmas(c.sigma_min.value_or(table.front()),
                                         c.sigma_max.value_or(table.back()), n);
        timesteps_from_sigmas(round_t);
    } else if (c.use_lu_lambdas) {
        const double lambda_min = log_table.front(), lambda_max = log_table.back();
        for (double r : schedule::np_linspace(0, 1, n))
            sigmas.push_back(std::exp(lambda_max + r * (lambda_min - lambda_max)));
        timesteps_from_sigmas(round_t);
    } else if (c.use_exponential_sigmas) {
        sigmas = schedule::exponential_sigmas(c.sigma_min.value_or(table.front()),
                                              c.sigma_max.value_or(table.back()), n);
        timesteps_from_sigmas(false);
    } else {
        for (double t : timesteps)
            sigmas.push_back(schedule::np_interp(t, table));
    }

    std::vector<float> all_sigmas(sigmas.begin(), sigmas.end());
    all_sigmas.push_back(c.final_sigmas_type == "sigma_min" ? table.front() : 0.0f);
    std::vector<int64_t> ts;
    for (double t : timesteps)
        ts.push_back(static_cast<int64_t>(t)); // numpy astype: truncation
    set_schedule(torch::tensor(ts, torch::kInt64));
    set_sigmas(std::move(all_sigmas));
    num_inference_steps_ = static_cast<int>(ts.size());
    model_outputs_.assign(c.solver_order, at::Tensor());
    lower_order_nums_ = 0;
}

int DpmSolverMultistepScheduler::index_for_timestep(double t) const {
    std::vector<int> matches;
    for (size_t i = 0; i < timestep_values_.size(); ++i)
        if (timestep_values_[i] == t)
            matches.push_back(static_cast<int>(i));
    if (matches.empty())
        return static_cast<int>(timestep_values_.size()) - 1;
    return matches.size() > 1 ? matches[1] : matches[0];
}

at::Tensor DpmSolverMultistepScheduler::convert_model_output(at::Tensor model_output,
                                                             const at::Tensor& sample) const {
    const auto& c = config_;
    const Vp vp = to_vp(sigma_at(*step_index_));
    const bool learned = c.variance_type == "learned" || c.variance_type == "learned_range";
    if (is_data_prediction(c.algorithm_type)) {
        at::Tensor x0;
        if (c.prediction_type == "epsilon") {
            if (learned)
                model_output = model_output.slice(1, 0, 3);
            x0 = (sample - model_output * vp.sigma) / vp.alpha;
        } else if (c.prediction_type == "sample") {
            x0 = model_output;
        } else { // v_prediction
            x0 = sample * vp.alpha - model_output * vp.sigma;
        }
        if (c.thresholding)
            x0 = threshold_sample(x0, c.dynamic_thresholding_ratio, c.sample_max_value);
        return x0;
    }
    at::Tensor eps;
    if (c.prediction_type == "epsilon")
        eps = learned ? model_output.slice(1, 0, 3) : model_output;
    else if (c.prediction_type == "sample")
        eps = (sample - model_output * vp.alpha) / vp.sigma;
    else // v_prediction
        eps = model_output * vp.alpha + sample * vp.sigma;
    if (c.thresholding) {
        auto x0 = (sample - eps * vp.sigma) / vp.alpha;
        x0 = threshold_sample(x0, c.dynamic_thresholding_ratio, c.sample_max_value);
        eps = (sample - x0 * vp.alpha) / vp.sigma;
    }
    return eps;
}

at::Tensor DpmSolverMultistepScheduler::first_order_update(const at::Tensor& m0,
                                                           const at::Tensor& x,
                                                           const at::Tensor& noise) const {
    const int i = *step_index_;
    const Vp t = to_vp(sigma_at(i + 1)), s = to_vp(sigma_at(i));
    const float h = t.lambda - s.lambda;
    const auto& algo = config_.algorithm_type;
    if (algo == "dpmsolver++")
        return x * (t.sigma / s.sigma) - m0 * (t.alpha * (std::exp(-h) - 1.0f));
    if (algo == "dpmsolver")
        return x * (t.alpha / s.alpha) - m0 * (t.sigma * (std::exp(h) - 1.0f));
    if (algo == "sde-dpmsolver++")
        return x * (t.sigma / s.sigma * std::exp(-h)) +
               m0 * (t.alpha * (1 - std::exp(-2.0f * h))) +
               noise * (t.sigma * std::sqrt(1.0f - std::exp(-2 * h)));
    // sde-dpmsolver
    return x * (t.alpha / s.alpha) - m0 * (2.0f * (t.sigma * (std::exp(h) - 1.0f))) +
           noise * (t.sigma * std::sqrt(std::exp(2 * h) - 1.0f));
}

at::Tensor DpmSolverMultistepScheduler::second_order_update(const at::Tensor& x,
                                                            const at::Tensor& noise) const {
    const int i = *step_index_;
    const Vp t = to_vp(sigma_at(i + 1)), s0 = to_vp(sigma_at(i)), s1 = to_vp(sigma_at(i - 1));
    const auto& m0 = model_outputs_[model_outputs_.size() - 1];
    const auto& m1 = model_outputs_[model_outputs_.size() - 2];
    const float h = t.lambda - s0.lambda, h_0 = s0.lambda - s1.lambda;
    const float r0 = h_0 / h;
    const auto& D0 = m0;
    const auto D1 = (m0 - m1) * (1.0f / r0);
    const bool midpoint = config_.solver_type == "midpoint";
    const auto& algo = config_.algorithm_type;
    if (algo == "dpmsolver++") {
        const float a = t.alpha * (std::exp(-h) - 1.0f);
        if (midpoint)
            return x * (t.sigma / s0.sigma) - D0 * a - D1 * (0.5f * a);
        return x * (t.sigma / s0.sigma) - D0 * a +
               D1 * (t.alpha * ((std::exp(-h) - 1.0f) / h + 1.0f));
    }
    if (algo == "dpmsolver") {
        const float a = t.sigma * (std::exp(h) - 1.0f);
        if (midpoint)
            return x * (t.alpha / s0.alpha) - D0 * a - D1 * (0.5f * a);
        return x * (t.alpha / s0.alpha) - D0 * a -
               D1 * (t.sigma * ((std::exp(h) - 1.0f) / h - 1.0f));
    }
    if (algo == "sde-dpmsolver++") {
        const float a = t.alpha * (1 - std::exp(-2.0f * h));
        const auto base = x * (t.sigma / s0.sigma * std::exp(-h)) + D0 * a;
        const auto n = noise * (t.sigma * std::sqrt(1.0f - std::exp(-2 * h)));
        if (midpoint)
            return base + D1 * (0.5f * a) + n;
        return base + D1 * (t.alpha * ((1.0f - std::exp(-2.0f * h)) / (-2.0f * h) + 1.0f)) + n;
    }
    // sde-dpmsolver
    const float a = t.sigma * (std::exp(h) - 1.0f);
    const auto base = x * (t.alpha / s0.alpha) - D0 * (2.0f * a);
    const auto n = noise * (t.sigma * std::sqrt(std::exp(2 * h) - 1.0f));
    if (midpoint)
        return base - D1 * a + n;
    return base - D1 * (2.0f * (t.sigma * ((std::exp(h) - 1.0f) / h - 1.0f))) + n;
}

at::Tensor DpmSolverMultistepScheduler::third_order_update(const at::Tensor& x,
                                                           const at::Tensor& noise) const {
    const int i = *step_index_;
    const Vp t = to_vp(sigma_at(i + 1)), s0 = to_vp(sigma_at(i)), s1 = to_vp(sigma_at(i - 1)),
             s2 = to_vp(sigma_at(i - 2));
    const size_t n = model_outputs_.size();
    const auto &m0 = model_outputs_[n - 1], &m1 = model_outputs_[n - 2], &m2 = model_outputs_[n - 3];
    const float h = t.lambda - s0.lambda, h_0 = s0.lambda - s1.lambda, h_1 = s1.lambda - s2.lambda;
    const float r0 = h_0 / h, r1 = h_1 / h;
    const auto& D0 = m0;
    const auto D1_0 = (m0 - m1) * (1.0f / r0);
    const auto D1_1 = (m1 - m2) * (1.0f / r1);
    const auto D1 = D1_0 + (D1_0 - D1_1) * (r0 / (r0 + r1));
    const auto D2 = (D1_0 - D1_1) * (1.0f / (r0 + r1));
    const auto& algo = config_.algorithm_type;
    if (algo == "dpmsolver++")
        return x * (t.sigma / s0.sigma) - D0 * (t.alpha * (std::exp(-h) - 1.0f)) +
               D1 * (t.alpha * ((std::exp(-h) - 1.0f) / h + 1.0f)) -
               D2 * (t.alpha * ((std::exp(-h) - 1.0f + h) / (h * h) - 0.5f));
    if (algo == "dpmsolver")
        return x * (t.alpha / s0.alpha) - D0 * (t.sigma * (std::exp(h) - 1.0f)) -
               D1 * (t.sigma * ((std::exp(h) - 1.0f) / h - 1.0f)) -
               D2 * (t.sigma * ((std::exp(h) - 1.0f - h) / (h * h) - 0.5f));
    // sde-dpmsolver++
    const float e = std::exp(-2.0f * h);
    return x * (t.sigma / s0.sigma * std::exp(-h)) + D0 * (t.alpha * (1.0f - e)) +
           D1 * (t.alpha * ((1.0f - e) / (-2.0f * h) + 1.0f)) +
           D2 * (t.alpha * ((1.0f - e - 2.0f * h) / ((2.0f * h) * (2.0f * h)) - 0.5f)) +
           noise * (t.sigma * std::sqrt(1.0f - e));
}

at::Tensor DpmSolverMultistepScheduler::step(const at::Tensor& model_output, double t,
                                             const at::Tensor& sample,
                                             const DrawNoise& draw_noise) {
    const auto& c = config_;
    const int i = current_step_index(t);
    const int count = static_cast<int>(timestep_values_.size());
    const bool lower_order_final =
        i == count - 1 && (c.euler_at_final || (c.lower_order_final && count < 15) ||
                           c.final_sigmas_type == "zero");
    const bool lower_order_second = i == count - 2 && c.lower_order_final && count < 15;

    const auto converted = convert_model_output(model_output, sample);
    for (int k = 0; k + 1 < c.solver_order; ++k)
        model_outputs_[k] = model_outputs_[k + 1];
    model_outputs_.back() = converted;

    const auto x = sample.to(torch::kFloat32);
    at::Tensor noise;
    if (is_sde(c.algorithm_type)) {
        if (!draw_noise)
            throw std::logic_error("DPMSolverMultistepScheduler SDE step needs a noise source");
        noise = draw_noise(converted.sizes()).to(converted.options().dtype(torch::kFloat32));
    }
    at::Tensor prev;
    if (c.solver_order == 1 || lower_order_nums_ < 1 || lower_order_final)
        prev = first_order_update(converted, x, noise);
    else if (c.solver_order == 2 || lower_order_nums_ < 2 || lower_order_second)
        prev = second_order_update(x, noise);
    else
        prev = third_order_update(x, noise);
    if (lower_order_nums_ < c.solver_order)
        ++lower_order_nums_;
    step_index_ = i + 1;
    return prev.to(converted.scalar_type());
}

at::Tensor DpmSolverMultistepScheduler::add_noise(const at::Tensor& original,
                                                  const at::Tensor& noise, double t) {
    int index;
    if (!begin_index_)
        index = index_for_timestep(t);
    else if (step_index_)
        index = *step_index_;
    else
        index = *begin_index_;
    const Vp vp = to_vp(sigma_at(index));
    return original * vp.alpha + noise * vp.sigma;
}

} // namespace daub
