// SchedulerConfig: diffusers' scheduler config keys, each class's defaults
// (the __init__ signatures of diffusers/schedulers/scheduling_*.py) and the
// from_config rule (configuration_utils.py, ConfigMixin.extract_init_dict).
#include "schedulers/scheduler.h"

#include "core/errors.h"

#include <cmath>
#include <limits>
#include <map>
#include <set>

namespace daub {
namespace {

using json = nlohmann::json;

std::string where(const char* key) { return std::string("Scheduler config key \"") + key + "\""; }

int to_int(const json& v, const char* key) {
    if (v.is_number_integer() || v.is_number_unsigned())
        return v.get<int>();
    if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>())
        return static_cast<int>(v.get<double>());
    throw ModelError(where(key) + " must be an integer, not " + v.dump() + ".");
}

double to_double(const json& v, const char* key) {
    if (v.is_number())
        return v.get<double>();
    if (v.is_string()) { // Python's json writes -Infinity; parse_scheduler_config quotes it
        const std::string s = v.get<std::string>();
        const double inf = std::numeric_limits<double>::infinity();
        if (s == "-Infinity" || s == "-inf")
            return -inf;
        if (s == "Infinity" || s == "inf")
            return inf;
    }
    throw ModelError(where(key) + " must be a number, not " + v.dump() + ".");
}

bool to_bool(const json& v, const char* key) {
    if (v.is_boolean())
        return v.get<bool>();
    throw ModelError(where(key) + " must be true or false, not " + v.dump() + ".");
}

std::string to_string(const json& v, const char* key) {
    if (v.is_string())
        return v.get<std::string>();
    throw ModelError(where(key) + " must be a string, not " + v.dump() + ".");
}

json double_out(double x) {
    if (std::isinf(x))
        return x < 0 ? "-Infinity" : "Infinity";
    return x;
}

/// One config key: how to read it from and write it to JSON.
struct Key {
    const char* name;
    json (*get)(const SchedulerConfig&);
    void (*set)(SchedulerConfig&, const json&); ///< value may be null
};

#define DAUB_KEY(member, reader)                                                                   \
    Key {                                                                                          \
        #member, [](const SchedulerConfig& c) -> json { return c.member; },                       \
            [](SchedulerConfig& c, const json& v) {                                                \
                if (!v.is_null())                                                                  \
                    c.member = reader(v, #member);                                                 \
            }                                                                                      \
    }

const std::vector<Key>& all_keys() {
    static const std::vector<Key> keys = {
        DAUB_KEY(num_train_timesteps, to_int),
        Key{"beta_start", [](const SchedulerConfig& c) { return double_out(c.beta_start); },
            [](SchedulerConfig& c, const json& v) {
                if (!v.is_null())
                    c.beta_start = to_double(v, "beta_start");
            }},
        Key{"beta_end", [](const SchedulerConfig& c) { return double_out(c.beta_end); },
            [](SchedulerConfig& c, const json& v) {
                if (!v.is_null())
                    c.beta_end = to_double(v, "beta_end");
            }},
        DAUB_KEY(beta_schedule, to_string),
        Key{"trained_betas",
            [](const SchedulerConfig& c) -> json {
                return c.trained_betas.empty() ? json(nullptr) : json(c.trained_betas);
            },
            [](SchedulerConfig& c, const json& v) {
                c.trained_betas.clear();
                if (v.is_null())
                    return;
                if (!v.is_array())
                    throw ModelError(where("trained_betas") + " must be a list of numbers.");
                for (const auto& b : v)
                    c.trained_betas.push_back(to_double(b, "trained_betas"));
            }},
        DAUB_KEY(rescale_betas_zero_snr, to_bool),
        DAUB_KEY(prediction_type, to_string),
        DAUB_KEY(timestep_spacing, to_string),
        DAUB_KEY(steps_offset, to_int),
        DAUB_KEY(skip_prk_steps, to_bool),
        DAUB_KEY(set_alpha_to_one, to_bool),
        DAUB_KEY(clip_sample, to_bool),
        DAUB_KEY(clip_sample_range, to_double),
        DAUB_KEY(thresholding, to_bool),
        DAUB_KEY(dynamic_thresholding_ratio, to_double),
        DAUB_KEY(sample_max_value, to_double),
        DAUB_KEY(interpolation_type, to_string),
        DAUB_KEY(use_karras_sigmas, to_bool),
        DAUB_KEY(use_exponential_sigmas, to_bool),
        DAUB_KEY(use_beta_sigmas, to_bool),
        Key{"sigma_min",
            [](const SchedulerConfig& c) -> json {
                return c.sigma_min ? json(*c.sigma_min) : json(nullptr);
            },
            [](SchedulerConfig& c, const json& v) {
                c.sigma_min = v.is_null() ? std::nullopt
                                          : std::optional<double>(to_double(v, "sigma_min"));
            }},
        Key{"sigma_max",
            [](const SchedulerConfig& c) -> json {
                return c.sigma_max ? json(*c.sigma_max) : json(nullptr);
            },
            [](SchedulerConfig& c, const json& v) {
                c.sigma_max = v.is_null() ? std::nullopt
                                          : std::optional<double>(to_double(v, "sigma_max"));
            }},
        DAUB_KEY(timestep_type, to_string),
        DAUB_KEY(final_sigmas_type, to_string),
        DAUB_KEY(solver_order, to_int),
        DAUB_KEY(algorithm_type, to_string),
        DAUB_KEY(solver_type, to_string),
        DAUB_KEY(lower_order_final, to_bool),
        DAUB_KEY(euler_at_final, to_bool),
        DAUB_KEY(use_lu_lambdas, to_bool),
        DAUB_KEY(use_flow_sigmas, to_bool),
        DAUB_KEY(flow_shift, to_double),
        Key{"lambda_min_clipped",
            [](const SchedulerConfig& c) { return double_out(c.lambda_min_clipped); },
            [](SchedulerConfig& c, const json& v) {
                if (!v.is_null())
                    c.lambda_min_clipped = to_double(v, "lambda_min_clipped");
            }},
        Key{"variance_type",
            [](const SchedulerConfig& c) -> json {
                return c.variance_type ? json(*c.variance_type) : json(nullptr);
            },
            [](SchedulerConfig& c, const json& v) {
                c.variance_type = v.is_null()
                                      ? std::nullopt
                                      : std::optional<std::string>(to_string(v, "variance_type"));
            }},
        DAUB_KEY(use_dynamic_shifting, to_bool),
        DAUB_KEY(time_shift_type, to_string),
    };
    return keys;
}

#undef DAUB_KEY

const Key* find_key(const std::string& name) {
    for (const auto& k : all_keys())
        if (name == k.name)
            return &k;
    return nullptr;
}

/// The constructor arguments of each diffusers class, in signature order.
const std::map<std::string, std::vector<std::string>>& class_keys() {
    static const std::map<std::string, std::vector<std::string>> keys = {
        {"PNDMScheduler",
         {"num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas",
          "skip_prk_steps", "set_alpha_to_one", "prediction_type", "timestep_spacing",
          "steps_offset"}},
        {"DDIMScheduler",
         {"num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas",
          "clip_sample", "set_alpha_to_one", "steps_offset", "prediction_type", "thresholding",
          "dynamic_thresholding_ratio", "clip_sample_range", "sample_max_value",
          "timestep_spacing", "rescale_betas_zero_snr"}},
        {"EulerDiscreteScheduler",
         {"num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas",
          "prediction_type", "interpolation_type", "use_karras_sigmas", "use_exponential_sigmas",
          "use_beta_sigmas", "sigma_min", "sigma_max", "timestep_spacing", "timestep_type",
          "steps_offset", "rescale_betas_zero_snr", "final_sigmas_type"}},
        {"EulerAncestralDiscreteScheduler",
         {"num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas",
          "prediction_type", "timestep_spacing", "steps_offset", "rescale_betas_zero_snr"}},
        {"DPMSolverMultistepScheduler",
         {"num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas",
          "solver_order", "prediction_type", "thresholding", "dynamic_thresholding_ratio",
          "sample_max_value", "algorithm_type", "solver_type", "lower_order_final",
          "euler_at_final", "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas",
          "use_lu_lambdas", "use_flow_sigmas", "flow_shift", "final_sigmas_type",
          "lambda_min_clipped", "variance_type", "timestep_spacing", "steps_offset",
          "rescale_betas_zero_snr", "use_dynamic_shifting", "time_shift_type"}},
        {"LMSDiscreteScheduler",
         {"num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas",
          "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "prediction_type",
          "timestep_spacing", "steps_offset"}},
        {"HeunDiscreteScheduler",
         {"num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas",
          "prediction_type", "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas",
          "clip_sample", "clip_sample_range", "timestep_spacing", "steps_offset"}},
    };
    return keys;
}

const std::vector<std::string>& keys_of(const std::string& class_name) {
    const auto& all = class_keys();
    auto it = all.find(class_name);
    if (it == all.end()) {
        std::string known;
        for (const auto& [name, _] : all)
            known += (known.empty() ? "" : ", ") + name;
        throw ModelError("Scheduler class \"" + class_name + "\" is not supported (Daub runs " +
                         known + ").");
    }
    return it->second;
}

} // namespace

SchedulerConfig SchedulerConfig::defaults_for(const std::string& class_name) {
    keys_of(class_name); // validates the name
    SchedulerConfig c;
    c.class_name = class_name;
    if (class_name == "PNDMScheduler") {
        c.timestep_spacing = "leading";
    } else if (class_name == "DDIMScheduler") {
        c.timestep_spacing = "leading";
        c.set_alpha_to_one = true;
        c.clip_sample = true;
    } else if (class_name == "HeunDiscreteScheduler") {
        c.beta_start = 0.00085;
        c.beta_end = 0.012;
    }
    return c;
}

SchedulerConfig SchedulerConfig::from_json(const nlohmann::json& j) {
    if (!j.is_object())
        throw ModelError("The scheduler config is not a JSON object.");
    auto it = j.find("_class_name");
    if (it == j.end() || !it->is_string())
        throw ModelError("The scheduler config has no \"_class_name\" naming its scheduler class.");
    SchedulerConfig c = defaults_for(it->get<std::string>());
    c.update_from_json(j);
    return c;
}

void SchedulerConfig::update_from_json(const nlohmann::json& j) {
    if (!j.is_object())
        throw ModelError("The scheduler config is not a JSON object.");
    std::set<std::string> used_defaults;
    if (auto it = j.find("_use_default_values"); it != j.end() && it->is_array())
        for (const auto& k : *it)
            if (k.is_string())
                used_defaults.insert(k.get<std::string>());
    for (const auto& [name, value] : j.items()) {
        if (name.empty() || name[0] == '_' || used_defaults.count(name))
            continue;
        // diffusers keeps keys the class does not take in its config, and the
        // Karras / exponential conversions read sigma_min / sigma_max if there.
        if (!accepts(name) && name != "sigma_min" && name != "sigma_max")
            continue;
        if (const Key* key = find_key(name))
            key->set(*this, value);
    }
}

void SchedulerConfig::set(const std::string& key, const nlohmann::json& value) {
    const Key* k = find_key(key);
    if (!k)
        throw ModelError("Scheduler config key \"" + key + "\" is not one Daub knows.");
    k->set(*this, value);
}

bool SchedulerConfig::accepts(const std::string& key) const {
    for (const auto& k : keys_of(class_name))
        if (k == key)
            return true;
    return false;
}

nlohmann::json SchedulerConfig::to_json() const {
    json j = json::object();
    for (const auto& name : keys_of(class_name))
        j[name] = find_key(name)->get(*this);
    return j;
}

} // namespace daub
