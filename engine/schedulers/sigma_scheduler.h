// The common base of the sigma-parameterised ("k-diffusion") samplers:
// Euler, Euler ancestral, LMS, Heun and DPM-Solver. It holds the sigma
// schedule and the step index that diffusers tracks in each of these
// classes (_step_index, _begin_index, index_for_timestep, _init_step_index),
// and their shared scale_model_input / add_noise.
#pragma once

#include "schedulers/scheduler.h"

#include <optional>
#include <vector>

namespace daub {

class SigmaScheduler : public Scheduler {
public:
    using Scheduler::Scheduler;

    at::Tensor sigmas() const override;
    /// Largest sigma for linspace / trailing spacing, else sqrt(max² + 1).
    double init_noise_sigma() const override;
    /// sample / sqrt(sigma² + 1) at the current step.
    at::Tensor scale_model_input(const at::Tensor& sample, double t) override;
    /// original + noise · sigma at t (or at the begin / current index).
    at::Tensor add_noise(const at::Tensor& original, const at::Tensor& noise, double t) override;

    /// The index of the next step into timesteps(), once the run started.
    std::optional<int> step_index() const { return step_index_; }

protected:
    /// What Euler, Heun and LMS build their schedules from.
    struct SpacedSchedule {
        std::vector<float> table;      ///< the training sigmas, ascending
        std::vector<float> log_table;  ///< their logs, for sigma → t
        std::vector<double> timesteps; ///< spaced as timestep_spacing says
        std::vector<double> sigmas;    ///< the training sigma at each timestep
        /// timesteps recomputed from sigmas (after Karras / exponential sigmas).
        void retime();
    };
    /// Checks n, sets num_inference_steps_ and spaces the schedule.
    SpacedSchedule spaced_schedule(int n);

    /// Stores the sigmas (float32 values) and clears the step and begin index.
    void set_sigmas(std::vector<float> sigmas);
    /// diffusers' index_for_timestep: the position of t in timesteps(), the
    /// second one when t appears twice. RequestError when t is absent.
    virtual int index_for_timestep(double t) const;
    /// The step index, taken from the begin index or from t on first use.
    int current_step_index(double t);
    /// sigma_values_[i], RequestError past the end.
    float sigma_at(int64_t i) const;

    std::vector<float> sigma_values_;
    std::optional<int> step_index_;
};

} // namespace daub
