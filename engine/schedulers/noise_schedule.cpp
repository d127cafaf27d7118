// The shared schedule arithmetic; see noise_schedule.h. Reference: the
// betas / sigma code repeated in diffusers/schedulers/scheduling_*.py
// (betas_for_alpha_bar, rescale_zero_terminal_snr, set_timesteps,
// _sigma_to_t, _convert_to_karras, _convert_to_exponential).
#include "schedulers/noise_schedule.h"

#include "core/errors.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace daub::schedule {
namespace {

/// diffusers' betas_for_alpha_bar with the cosine transform (Python floats,
/// then a float32 tensor).
at::Tensor cosine_betas(int num_train_timesteps) {
    auto alpha_bar = [](double t) {
        const double c = std::cos((t + 0.008) / 1.008 * M_PI / 2);
        return c * c;
    };
    std::vector<float> betas(num_train_timesteps);
    for (int i = 0; i < num_train_timesteps; ++i) {
        const double t1 = static_cast<double>(i) / num_train_timesteps;
        const double t2 = static_cast<double>(i + 1) / num_train_timesteps;
        betas[i] = static_cast<float>(std::min(1 - alpha_bar(t2) / alpha_bar(t1), 0.999));
    }
    return torch::tensor(betas, torch::kFloat32);
}

/// diffusers' rescale_zero_terminal_snr (float32 torch ops).
at::Tensor rescale_zero_terminal_snr(const at::Tensor& betas) {
    auto alphas_bar_sqrt = torch::cumprod(1.0 - betas, 0).sqrt();
    auto first = alphas_bar_sqrt[0].clone();
    auto last = alphas_bar_sqrt[-1].clone();
    alphas_bar_sqrt = alphas_bar_sqrt - last;
    alphas_bar_sqrt = alphas_bar_sqrt * (first / (first - last));
    auto alphas_bar = alphas_bar_sqrt * alphas_bar_sqrt;
    auto alphas = alphas_bar.slice(0, 1) / alphas_bar.slice(0, 0, -1);
    alphas = torch::cat({alphas_bar.slice(0, 0, 1), alphas});
    return 1 - alphas;
}

} // namespace

at::Tensor make_betas(const SchedulerConfig& c) {
    if (c.num_train_timesteps < 2)
        throw ModelError("Scheduler config key \"num_train_timesteps\" must be at least 2, not " +
                         std::to_string(c.num_train_timesteps) + ".");
    at::Tensor betas;
    const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
    if (!c.trained_betas.empty()) {
        if (static_cast<int>(c.trained_betas.size()) != c.num_train_timesteps)
            throw ModelError("Scheduler config key \"trained_betas\" holds " +
                             std::to_string(c.trained_betas.size()) + " values but " +
                             "num_train_timesteps is " + std::to_string(c.num_train_timesteps) +
                             ".");
        betas = torch::tensor(c.trained_betas, torch::kFloat64).to(torch::kFloat32);
    } else if (c.beta_schedule == "linear") {
        betas = torch::linspace(c.beta_start, c.beta_end, c.num_train_timesteps, f32);
    } else if (c.beta_schedule == "scaled_linear") {
        betas = torch::linspace(std::sqrt(c.beta_start), std::sqrt(c.beta_end),
                                c.num_train_timesteps, f32);
        betas = betas * betas;
    } else if (c.beta_schedule == "squaredcos_cap_v2") {
        betas = cosine_betas(c.num_train_timesteps);
    } else {
        throw ModelError("Scheduler config key \"beta_schedule\" is \"" + c.beta_schedule +
                         "\"; Daub supports linear, scaled_linear and squaredcos_cap_v2.");
    }
    if (c.rescale_betas_zero_snr)
        betas = rescale_zero_terminal_snr(betas);
    return betas;
}

at::Tensor make_alphas_cumprod(const SchedulerConfig& c, bool pin_last_for_zero_snr) {
    auto alphas_cumprod = torch::cumprod(1.0 - make_betas(c), 0); // [T] float32
    if (c.rescale_betas_zero_snr && pin_last_for_zero_snr)
        alphas_cumprod[-1].fill_(std::ldexp(1.0, -24));
    return alphas_cumprod.contiguous();
}

std::vector<float> training_sigmas(const at::Tensor& alphas_cumprod) {
    auto sigmas = ((1 - alphas_cumprod) / alphas_cumprod).sqrt().contiguous(); // [T] float32
    const float* p = sigmas.data_ptr<float>();
    return std::vector<float>(p, p + sigmas.numel());
}

std::vector<float> log_float(const std::vector<float>& values) {
    std::vector<float> out(values.size());
    for (size_t i = 0; i < values.size(); ++i)
        out[i] = std::log(values[i]);
    return out;
}

double np_round(double x) { return std::nearbyint(x); }

std::vector<double> np_linspace(double start, double stop, int64_t num) {
    std::vector<double> y(std::max<int64_t>(num, 0));
    const int64_t div = num - 1;
    const double delta = stop - start;
    if (div > 0) {
        const double step = delta / div;
        for (int64_t i = 0; i < num; ++i)
            y[i] = step == 0 ? (static_cast<double>(i) / div) * delta + start
                             : static_cast<double>(i) * step + start;
        y[num - 1] = stop;
    } else {
        for (int64_t i = 0; i < num; ++i)
            y[i] = static_cast<double>(i) * delta + start;
    }
    return y;
}

std::vector<double> np_arange(double start, double stop, double step) {
    const double len = std::ceil((stop - start) / step);
    if (!(len > 0))
        return {};
    const auto n = static_cast<int64_t>(len);
    std::vector<double> y(n);
    y[0] = start;
    if (n > 1) {
        y[1] = start + step;
        const double delta = y[1] - start;
        for (int64_t i = 2; i < n; ++i)
            y[i] = start + static_cast<double>(i) * delta;
    }
    return y;
}

double np_interp(double x, const std::vector<float>& fp) {
    const auto n = static_cast<int64_t>(fp.size());
    if (n == 0)
        return 0.0;
    if (x <= 0)
        return fp.front();
    if (x >= static_cast<double>(n - 1))
        return fp.back();
    const auto j = static_cast<int64_t>(std::floor(x));
    if (x == static_cast<double>(j))
        return fp[j];
    const double slope = (static_cast<double>(fp[j + 1]) - fp[j]) / 1.0;
    return slope * (x - static_cast<double>(j)) + fp[j];
}

double sigma_to_t(double sigma, const std::vector<float>& log_sigmas) {
    const double log_sigma = std::log(std::max(sigma, 1e-10));
    const auto n = static_cast<int64_t>(log_sigmas.size());
    // argmax of cumsum(log_sigma - log_sigmas >= 0): the last index where
    // the running count grows, i.e. the last log_sigmas[i] <= log_sigma.
    int64_t low = 0, best = 0, count = 0;
    for (int64_t i = 0; i < n; ++i) {
        if (log_sigma - static_cast<double>(log_sigmas[i]) >= 0) {
            ++count;
            if (count > best) {
                best = count;
                low = i;
            }
        }
    }
    low = std::min(low, n - 2);
    const int64_t high = low + 1;
    const float lo = log_sigmas[low], hi = log_sigmas[high];
    const float gap = lo - hi; // numpy: float32 - float32
    double w = (static_cast<double>(lo) - log_sigma) / static_cast<double>(gap);
    w = std::clamp(w, 0.0, 1.0);
    return (1 - w) * static_cast<double>(low) + w * static_cast<double>(high);
}

std::vector<double> karras_sigmas(double sigma_min, double sigma_max, int num) {
    const double rho = 7.0;
    const auto ramp = np_linspace(0, 1, num);
    const double min_inv_rho = std::pow(sigma_min, 1 / rho);
    const double max_inv_rho = std::pow(sigma_max, 1 / rho);
    std::vector<double> sigmas(ramp.size());
    for (size_t i = 0; i < ramp.size(); ++i)
        sigmas[i] = std::pow(max_inv_rho + ramp[i] * (min_inv_rho - max_inv_rho), rho);
    return sigmas;
}

std::vector<double> exponential_sigmas(double sigma_min, double sigma_max, int num) {
    auto sigmas = np_linspace(std::log(sigma_max), std::log(sigma_min), num);
    for (auto& s : sigmas)
        s = std::exp(s);
    return sigmas;
}

std::vector<float> sigma_family_timesteps(const SchedulerConfig& c, int n) {
    const int T = c.num_train_timesteps;
    std::vector<float> t;
    if (c.timestep_spacing == "linspace") {
        for (double v : np_linspace(0, T - 1, n))
            t.push_back(static_cast<float>(v));
        std::reverse(t.begin(), t.end());
    } else if (c.timestep_spacing == "leading") {
        const int64_t ratio = T / n;
        for (int64_t i = n - 1; i >= 0; --i)
            t.push_back(static_cast<float>(i * ratio) + static_cast<float>(c.steps_offset));
    } else if (c.timestep_spacing == "trailing") {
        const double ratio = static_cast<double>(T) / n;
        for (double v : np_arange(T, 0, -ratio))
            t.push_back(static_cast<float>(np_round(v)) - 1.0f);
    } else {
        check_timestep_spacing(c);
    }
    return t;
}

void check_steps(const SchedulerConfig& c, int n) {
    if (n < 1)
        throw RequestError("The number of steps must be at least 1 (got " + std::to_string(n) +
                           ").");
    if (n > c.num_train_timesteps)
        throw RequestError("The number of steps (" + std::to_string(n) +
                           ") cannot exceed the model's " +
                           std::to_string(c.num_train_timesteps) + " training timesteps.");
}

void check_prediction_type(const SchedulerConfig& c, const std::vector<std::string>& allowed) {
    if (std::find(allowed.begin(), allowed.end(), c.prediction_type) != allowed.end())
        return;
    std::string list;
    for (const auto& a : allowed)
        list += (list.empty() ? "" : ", ") + a;
    throw ModelError(c.class_name + " does not support prediction_type \"" + c.prediction_type +
                     "\" (supported: " + list + ").");
}

void check_timestep_spacing(const SchedulerConfig& c) {
    if (c.timestep_spacing != "linspace" && c.timestep_spacing != "leading" &&
        c.timestep_spacing != "trailing")
        throw ModelError("Scheduler config key \"timestep_spacing\" is \"" + c.timestep_spacing +
                         "\"; use linspace, leading or trailing.");
}

void check_sigma_options(const SchedulerConfig& c, bool beta_sigmas_convert) {
    if (int(c.use_karras_sigmas) + int(c.use_exponential_sigmas) + int(c.use_beta_sigmas) > 1)
        throw ModelError(c.class_name + ": only one of use_karras_sigmas, use_exponential_sigmas "
                                        "and use_beta_sigmas can be set.");
    if (c.use_beta_sigmas && beta_sigmas_convert)
        throw ModelError(c.class_name + ": use_beta_sigmas is not supported by Daub; use "
                                        "Karras or exponential sigmas instead.");
}

} // namespace daub::schedule
