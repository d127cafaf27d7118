// Arithmetic the scheduler families share: the training noise schedule
// (betas, alphas_cumprod, sigmas) and numpy-exact versions of the helpers
// diffusers builds schedules with (linspace, arange, interp, round,
// _sigma_to_t, _convert_to_karras / _exponential). Each helper computes in
// the precision diffusers does: torch float32 for the schedule tensors,
// numpy float64 for the spacing arithmetic.
#pragma once

#include "schedulers/scheduler.h"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace daub::schedule {

/// betas [T] float32: linear, scaled_linear (linspace of square roots, then
/// squared), squaredcos_cap_v2 (betas_for_alpha_bar) or trained_betas, then
/// rescale_zero_terminal_snr when asked. ModelError for another schedule.
at::Tensor make_betas(const SchedulerConfig& config);

/// cumprod(1 - betas) [T] float32. `pin_last_for_zero_snr`: the sigma
/// families (Euler, Euler a, DPM) set the last value to 2^-24 when
/// rescale_betas_zero_snr is on, so that sigma stays finite.
at::Tensor make_alphas_cumprod(const SchedulerConfig& config, bool pin_last_for_zero_snr);

/// sqrt((1 - alphas_cumprod) / alphas_cumprod) in float32, ascending in t.
std::vector<float> training_sigmas(const at::Tensor& alphas_cumprod);
/// log of each value in float32 (numpy's np.log of a float32 array).
std::vector<float> log_float(const std::vector<float>& values);

/// numpy.round: half to even.
double np_round(double x);
/// numpy.linspace(start, stop, num) in float64 (i * step + start, last = stop).
std::vector<double> np_linspace(double start, double stop, int64_t num);
/// numpy.arange(start, stop, step) with a float step: numpy's length
/// ceil((stop - start) / step) and fill rule start + i * (first step taken).
std::vector<double> np_arange(double start, double stop, double step);
/// numpy.interp(x, [0, 1, ..., n-1], fp) in float64.
double np_interp(double x, const std::vector<float>& fp);

/// diffusers' _sigma_to_t: the fractional training timestep of `sigma`,
/// interpolated linearly in log sigma over `log_sigmas` (float32, ascending).
double sigma_to_t(double sigma, const std::vector<float>& log_sigmas);
/// Karras et al. (2022) sigmas, rho = 7, from sigma_max down to sigma_min.
std::vector<double> karras_sigmas(double sigma_min, double sigma_max, int num);
/// exp(linspace(log sigma_max, log sigma_min, num)).
std::vector<double> exponential_sigmas(double sigma_min, double sigma_max, int num);

/// The float32 timesteps of the Euler-type families (Euler, Euler a, LMS,
/// Heun share this code in diffusers), descending. RequestError for an
/// unknown spacing.
std::vector<float> sigma_family_timesteps(const SchedulerConfig& config, int num_inference_steps);

/// RequestError unless 1 <= steps; the message names the class.
void check_steps(const SchedulerConfig& config, int num_inference_steps);
/// ModelError unless the prediction type is one of `allowed`.
void check_prediction_type(const SchedulerConfig& config, const std::vector<std::string>& allowed);
/// ModelError unless the spacing is linspace, leading or trailing.
void check_timestep_spacing(const SchedulerConfig& config);
/// ModelError when more than one of the Karras / exponential / beta sigma
/// options is on, or beta sigmas (which need scipy's beta quantile) are on
/// for a class that would convert sigmas with them.
void check_sigma_options(const SchedulerConfig& config, bool beta_sigmas_convert);

} // namespace daub::schedule
