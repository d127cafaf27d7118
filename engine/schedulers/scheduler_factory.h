// Making schedulers: by the name a user picks ("euler_a"), on top of the
// model's own scheduler_config.json, the way diffusers'
// `Class.from_config(pipe.scheduler.config)` does; or from a config's
// `_class_name` (the model's own scheduler).
#pragma once

#include "schedulers/scheduler.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace daub {

/// The names a user can pick, in the order the UI lists them:
/// pndm, ddim, euler, euler_a, dpmpp_2m, dpmpp_2m_karras, lms, heun.
const std::vector<std::string>& scheduler_names();

/// The diffusers class behind a name ("euler_a" -> "EulerAncestralDiscreteScheduler").
/// RequestError for an unknown name, listing the known ones.
std::string scheduler_class_for_name(const std::string& name);

/// The name a user would pick for a class and its settings
/// ("DPMSolverMultistepScheduler" with use_karras_sigmas -> "dpmpp_2m_karras"),
/// or nullopt for a class Daub does not run.
std::optional<std::string> scheduler_name_for_class(const std::string& class_name,
                                                    bool use_karras_sigmas = false);

/// The effective configuration of `name` on a model: the keys present in
/// `model_scheduler_config` that the class takes, the class's defaults for
/// the rest, then what the name itself fixes (dpmpp_2m: dpmsolver++ of
/// order 2 without Karras sigmas; dpmpp_2m_karras: with them), then
/// `overrides` (e.g. {"clip_sample": false, "steps_offset": 1}).
SchedulerConfig scheduler_config_for_name(const std::string& name,
                                          const nlohmann::json& model_scheduler_config,
                                          const nlohmann::json& overrides = nlohmann::json::object());

/// A scheduler by name; see scheduler_config_for_name.
std::unique_ptr<Scheduler> make_scheduler(const std::string& name,
                                          const nlohmann::json& model_scheduler_config,
                                          const nlohmann::json& overrides = nlohmann::json::object());

/// The scheduler a config describes, its class picked by `_class_name`
/// (PNDMScheduler, DDIMScheduler, EulerDiscreteScheduler,
/// EulerAncestralDiscreteScheduler, DPMSolverMultistepScheduler,
/// LMSDiscreteScheduler, HeunDiscreteScheduler); `overrides` applied last.
/// ModelError naming an unknown class.
std::unique_ptr<Scheduler> make_scheduler_from_config(const nlohmann::json& config,
                                                      const nlohmann::json& overrides = nlohmann::json::object());

/// A scheduler for a finished configuration.
std::unique_ptr<Scheduler> make_scheduler(const SchedulerConfig& config);

/// Parses scheduler_config.json text. Python's json module writes
/// -Infinity / Infinity / NaN for some keys (DPM-Solver's
/// lambda_min_clipped), which strict JSON parsers reject: these are read as
/// the strings "-Infinity", "Infinity", "NaN". ModelError naming `origin`
/// when the text is not JSON.
nlohmann::json parse_scheduler_config(const std::string& text, const std::string& origin);
/// parse_scheduler_config of a file's contents; ModelError when unreadable.
nlohmann::json read_scheduler_config(const std::string& path);

} // namespace daub
