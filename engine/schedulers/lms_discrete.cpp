// LMSDiscreteScheduler; follows diffusers/schedulers/scheduling_lms_discrete.py
// (set_timesteps, get_lms_coefficient, step).
#include "schedulers/lms_discrete.h"

#include "core/errors.h"
#include "schedulers/noise_schedule.h"

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>

namespace daub {
namespace {

/// Gauss-Legendre nodes and weights on [-1, 1], found by Newton's method on
/// the Legendre polynomial. 8 points integrate polynomials of degree 15
/// exactly; the LMS integrands have degree 3 at most, so the result is what
/// scipy's adaptive quadrature converges to.
struct GaussLegendre {
    static constexpr int n = 8;
    std::array<double, n> x{}, w{};
    GaussLegendre() {
        for (int i = 0; i < n; ++i) {
            double z = std::cos(M_PI * (i + 0.75) / (n + 0.5));
            double dp = 0;
            for (int iter = 0; iter < 100; ++iter) {
                double p0 = 1, p1 = z; // P_0, P_1
                for (int k = 2; k <= n; ++k) {
                    const double p2 = ((2 * k - 1) * z * p1 - (k - 1) * p0) / k;
                    p0 = p1;
                    p1 = p2;
                }
                dp = n * (z * p1 - p0) / (z * z - 1);
                const double dz = p1 / dp;
                z -= dz;
                if (std::abs(dz) < 1e-16)
                    break;
            }
            x[i] = z;
            w[i] = 2 / ((1 - z * z) * dp * dp);
        }
    }
};

} // namespace

LmsDiscreteScheduler::LmsDiscreteScheduler(SchedulerConfig config)
    : SigmaScheduler(std::move(config)) {
    schedule::check_prediction_type(config_, {"epsilon", "v_prediction", "sample"});
    schedule::check_timestep_spacing(config_);
    schedule::check_sigma_options(config_, true);
    init_noise_schedule(false);
}

void LmsDiscreteScheduler::set_timesteps(int n) {
    SpacedSchedule spaced = spaced_schedule(n);
    std::vector<double>& timesteps = spaced.timesteps;
    std::vector<double>& sigmas = spaced.sigmas;

    if (config_.use_karras_sigmas) {
        // LMS's _convert_to_karras ignores sigma_min / sigma_max.
        sigmas = schedule::karras_sigmas(sigmas.back(), sigmas.front(), n);
        spaced.retime();
    } else if (config_.use_exponential_sigmas) {
        // As diffusers: the timesteps are recomputed, the sigmas kept.
        spaced.retime();
    }
    std::vector<float> all_sigmas(sigmas.begin(), sigmas.end());
    all_sigmas.push_back(0.0f);
    std::vector<float> ts(timesteps.begin(), timesteps.end());
    set_schedule(torch::tensor(ts, torch::kFloat32));
    set_sigmas(std::move(all_sigmas));
    derivatives_.clear();
}

double LmsDiscreteScheduler::lms_coefficient(int order, int i, int current) const {
    static const GaussLegendre rule;
    // The integrand is evaluated in float32 like diffusers' (its sigmas are
    // float32 tensors); the quadrature sums in float64 like scipy's.
    auto basis = [&](double tau) {
        const float x = static_cast<float>(tau);
        float prod = 1.0f;
        for (int k = 0; k < order; ++k) {
            if (k == current)
                continue;
            prod *= (x - sigma_at(i - k)) / (sigma_at(i - current) - sigma_at(i - k));
        }
        return static_cast<double>(prod);
    };
    const double a = sigma_at(i), b = sigma_at(i + 1);
    const double half = (b - a) / 2, mid = (a + b) / 2;
    double sum = 0;
    for (int k = 0; k < GaussLegendre::n; ++k)
        sum += rule.w[k] * basis(mid + half * rule.x[k]);
    return sum * half;
}

at::Tensor LmsDiscreteScheduler::step(const at::Tensor& model_output, double t,
                                      const at::Tensor& sample, const DrawNoise&) {
    const int i = current_step_index(t);
    const float sigma = sigma_at(i);
    at::Tensor pred_x0;
    if (config_.prediction_type == "epsilon") {
        pred_x0 = sample - model_output * sigma;
    } else if (config_.prediction_type == "v_prediction") {
        const float c_out = -sigma / std::sqrt(sigma * sigma + 1.0f);
        pred_x0 = model_output * c_out + sample / (sigma * sigma + 1.0f);
    } else { // sample
        pred_x0 = model_output;
    }
    derivatives_.push_back((sample - pred_x0) / sigma);
    constexpr int max_order = 4;
    if (derivatives_.size() > max_order)
        derivatives_.erase(derivatives_.begin());

    // As diffusers: the order follows the step index (not the history, which
    // is shorter after an img2img start), and zip() pairs the coefficients
    // with the newest derivatives only as far as both go.
    const int order = std::min(i + 1, max_order);
    at::Tensor update;
    const int terms = std::min<int>(order, static_cast<int>(derivatives_.size()));
    for (int k = 0; k < terms; ++k) {
        const double coeff = lms_coefficient(order, i, k);
        const auto& d = derivatives_[derivatives_.size() - 1 - k];
        update = update.defined() ? update + d * coeff : d * coeff;
    }
    step_index_ = i + 1;
    return sample + update;
}

} // namespace daub
