// The one interface of every sampler ("scheduler" in diffusers' words) and the
// configuration they read: the keys of a diffusers scheduler_config.json.
//
// Usage, as a pipeline drives it (one scheduler per generation; set_timesteps
// resets all per-generation state):
//
//     auto sched = make_scheduler("euler_a", model_scheduler_json);   // scheduler_factory.h
//     sched->set_timesteps(steps);
//     x = noise * sched->init_noise_sigma();            // txt2img
//     for (double t : sched->timestep_values()) {
//         auto eps = unet(sched->scale_model_input(x, t), t, ...);
//         x = sched->step(eps, t, x, draw_noise);        // draw_noise: ancestral samplers only
//     }
//
// img2img starts at index `begin = (steps - kept) * order()`: call
// set_begin_index(begin), then x = add_noise(x0, noise, timestep_values()[begin])
// and loop over the timesteps from `begin` on.
//
// Each family lives in its own file named after the diffusers source it
// follows (pndm.cpp <- scheduling_pndm.py, ...). Schedules are computed with
// the same float32 / float64 steps and casts as diffusers (torch float32 where
// diffusers uses torch, float64 where it uses numpy), so timesteps match
// exactly and sigmas to float32 rounding.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace daub {

/// Draws standard-normal noise of a shape: the pipeline's NoiseSource, or in
/// tests a replay of recorded draws. Called once per ancestral step.
using DrawNoise = std::function<at::Tensor(at::IntArrayRef shape)>;

/// Every key of the diffusers scheduler configs Daub runs, with diffusers'
/// defaults. Where classes disagree on a default (marked "per class"), the
/// member holds the most common one and defaults_for() sets the class's own.
struct SchedulerConfig {
    /// The diffusers class these settings are for, e.g. "EulerDiscreteScheduler".
    std::string class_name = "PNDMScheduler";

    // Noise schedule (all classes).
    int num_train_timesteps = 1000;           ///< training diffusion steps T
    double beta_start = 0.0001;               ///< first beta (Heun: 0.00085)
    double beta_end = 0.02;                   ///< last beta (Heun: 0.012)
    std::string beta_schedule = "linear";     ///< linear | scaled_linear | squaredcos_cap_v2
    std::vector<double> trained_betas;        ///< explicit betas; empty = none (null)
    bool rescale_betas_zero_snr = false;      ///< rescale to zero terminal SNR (DDIM, Euler, Euler a, DPM)
    std::string prediction_type = "epsilon";  ///< epsilon | v_prediction | sample
    std::string timestep_spacing = "linspace"; ///< linspace | leading | trailing (per class: PNDM, DDIM leading)
    int steps_offset = 0;                     ///< added to "leading" timesteps

    // PNDM / DDIM.
    bool skip_prk_steps = false;              ///< PNDM: PLMS only, no Runge-Kutta warm-up
    bool set_alpha_to_one = false;            ///< last step's previous alpha is 1 (per class: DDIM true)
    bool clip_sample = false;                 ///< clamp x0 to ±clip_sample_range (per class: DDIM true)
    double clip_sample_range = 1.0;           ///< DDIM, Heun
    bool thresholding = false;                ///< dynamic thresholding of x0 (DDIM, DPM)
    double dynamic_thresholding_ratio = 0.995; ///< quantile of |x0| for thresholding
    double sample_max_value = 1.0;            ///< upper bound of the threshold

    // Sigma schedules (Euler, Euler a, LMS, Heun, DPM).
    std::string interpolation_type = "linear"; ///< Euler: linear | log_linear
    bool use_karras_sigmas = false;           ///< Karras et al. rho=7 sigmas
    bool use_exponential_sigmas = false;      ///< log-uniform sigmas
    bool use_beta_sigmas = false;             ///< beta(0.6, 0.6) sigmas (not supported by Daub)
    std::optional<double> sigma_min;          ///< Karras/exponential range override (null = schedule's)
    std::optional<double> sigma_max;          ///< Karras/exponential range override (null = schedule's)
    std::string timestep_type = "discrete";   ///< Euler: discrete | continuous (v-prediction)
    std::string final_sigmas_type = "zero";   ///< Euler, DPM: zero | sigma_min

    // DPM-Solver multistep.
    int solver_order = 2;                     ///< 1, 2 or 3
    std::string algorithm_type = "dpmsolver++"; ///< dpmsolver++ | dpmsolver | sde-dpmsolver++ | sde-dpmsolver
    std::string solver_type = "midpoint";     ///< midpoint | heun
    bool lower_order_final = true;            ///< first/second order at the last steps (< 15 steps)
    bool euler_at_final = false;              ///< first order at the very last step
    bool use_lu_lambdas = false;              ///< lambdas uniform in log-SNR
    bool use_flow_sigmas = false;             ///< flow-matching sigmas (not supported by Daub)
    double flow_shift = 1.0;                  ///< flow-matching shift (unused here)
    double lambda_min_clipped = -std::numeric_limits<double>::infinity(); ///< clip of log-SNR for cosine schedules
    std::optional<std::string> variance_type; ///< null | learned | learned_range
    bool use_dynamic_shifting = false;        ///< flow-matching resolution shift (not supported)
    std::string time_shift_type = "exponential"; ///< flow-matching shift kind (unused here)

    /// The class's own defaults (diffusers' __init__ signature).
    /// ModelError when the class is not one Daub runs.
    static SchedulerConfig defaults_for(const std::string& class_name);
    /// defaults_for(j["_class_name"]) updated from j (diffusers' from_config).
    static SchedulerConfig from_json(const nlohmann::json& j);

    /// Takes every key of `j` that the class accepts, as diffusers'
    /// `Class.from_config(j)`: keys listed in `_use_default_values` and keys
    /// the class does not take are skipped (except sigma_min / sigma_max,
    /// which diffusers keeps in the config and reads when present); null
    /// leaves the default. ModelError names a key of the wrong type.
    void update_from_json(const nlohmann::json& j);
    /// Sets one key (a pipeline override such as clip_sample=false); keys the
    /// class does not read are stored and have no effect. ModelError for a
    /// key Daub does not know or a value of the wrong type.
    void set(const std::string& key, const nlohmann::json& value);
    /// True when diffusers' class takes `key` in its constructor.
    bool accepts(const std::string& key) const;
    /// The effective configuration: every key the class takes, like
    /// diffusers' `scheduler.config` (infinities as "-Infinity"/"Infinity").
    nlohmann::json to_json() const;
};

/// A sampler: the timestep schedule and the update rule of one diffusers
/// scheduler class. Not thread-safe; keep one per generation.
class Scheduler {
public:
    explicit Scheduler(SchedulerConfig config);
    virtual ~Scheduler();
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    const SchedulerConfig& config() const { return config_; }
    const std::string& class_name() const { return config_.class_name; }

    /// Computes the schedule for `num_inference_steps` and resets every
    /// per-generation state (step counter, history, begin index).
    /// RequestError for a step count the class cannot run.
    virtual void set_timesteps(int num_inference_steps) = 0;
    /// The timesteps to run, as diffusers gives them (CPU; int64 for PNDM,
    /// DDIM and DPM-Solver, float32 for the others). Heun repeats each
    /// timestep but the first; PNDM repeats the second.
    const at::Tensor& timesteps() const { return timesteps_; }
    /// timesteps() as doubles (exact), for loops and lookups.
    const std::vector<double>& timestep_values() const { return timestep_values_; }
    /// The sigmas (float32, CPU, one more than the timesteps), or an
    /// undefined tensor for families without sigmas (PNDM, DDIM).
    virtual at::Tensor sigmas() const { return {}; }
    /// Scale of the initial noise for txt2img.
    virtual double init_noise_sigma() const { return 1.0; }
    /// Model evaluations per timestep of the user's step count (Heun: 2).
    virtual int order() const { return 1; }
    /// The index into timesteps() where the run starts (img2img). Families
    /// that track no index (PNDM, DDIM) ignore it, as diffusers does.
    virtual void set_begin_index(int begin_index) { begin_index_ = begin_index; }
    std::optional<int> begin_index() const { return begin_index_; }
    /// The step count given to set_timesteps (0 before).
    int num_inference_steps() const { return num_inference_steps_; }

    /// The UNet input for timestep t (Euler-type samplers divide by
    /// sqrt(sigma^2 + 1)); the sample itself for the others.
    virtual at::Tensor scale_model_input(const at::Tensor& sample, double t) { return sample; }
    /// One update: the sample at the next timestep from the model output at t.
    /// `draw_noise` is called by ancestral / SDE samplers (Euler a: once per
    /// step); others ignore it. Returns a tensor of model_output's dtype.
    virtual at::Tensor step(const at::Tensor& model_output, double t, const at::Tensor& sample,
                            const DrawNoise& draw_noise = {}) = 0;
    /// The forward process: `original` noised to the level of timestep t
    /// (with a begin index set, the level at that index, as diffusers).
    virtual at::Tensor add_noise(const at::Tensor& original, const at::Tensor& noise, double t) = 0;

protected:
    /// Builds alphas_cumprod from the config (see noise_schedule.h).
    void init_noise_schedule(bool pin_last_for_zero_snr);
    /// Stores the schedule (timesteps() and timestep_values()).
    void set_schedule(at::Tensor timesteps);
    /// alphas_cumprod[t], float32 as diffusers holds it. RequestError when
    /// t is outside [0, num_train_timesteps).
    float alpha_cumprod(int64_t t) const;
    /// sqrt(alpha_bar_t)·x0 + sqrt(1 − alpha_bar_t)·noise (PNDM, DDIM).
    at::Tensor add_noise_alpha_bar(const at::Tensor& original, const at::Tensor& noise,
                                   int64_t t) const;

    SchedulerConfig config_;
    at::Tensor alphas_cumprod_;               ///< float32 [T], CPU
    std::vector<float> alphas_cumprod_values_; ///< the same on the host
    at::Tensor timesteps_;
    std::vector<double> timestep_values_;
    std::optional<int> begin_index_;
    int num_inference_steps_ = 0;
};

} // namespace daub
