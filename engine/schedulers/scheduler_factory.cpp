// The scheduler factory; see scheduler_factory.h. The from_config rule is
// diffusers' ConfigMixin.from_config / extract_init_dict
// (diffusers/configuration_utils.py), implemented in scheduler_config.cpp.
#include "schedulers/scheduler_factory.h"

#include "core/errors.h"
#include "schedulers/ddim.h"
#include "schedulers/dpm_solver_multistep.h"
#include "schedulers/euler_ancestral_discrete.h"
#include "schedulers/euler_discrete.h"
#include "schedulers/heun_discrete.h"
#include "schedulers/lms_discrete.h"
#include "schedulers/pndm.h"

#include <fstream>
#include <sstream>
#include <utility>

namespace daub {
namespace {

struct NamedScheduler {
    const char* name;
    const char* class_name;
};

const NamedScheduler kNamed[] = {
    {"pndm", "PNDMScheduler"},
    {"ddim", "DDIMScheduler"},
    {"euler", "EulerDiscreteScheduler"},
    {"euler_a", "EulerAncestralDiscreteScheduler"},
    {"dpmpp_2m", "DPMSolverMultistepScheduler"},
    {"dpmpp_2m_karras", "DPMSolverMultistepScheduler"},
    {"dpmpp_2m_sde_karras", "DPMSolverMultistepScheduler"},
    {"lms", "LMSDiscreteScheduler"},
    {"heun", "HeunDiscreteScheduler"},
    // SDXL-Turbo's: Euler a on trailing timesteps (1-4 steps, no CFG).
    {"euler_a_trailing", "EulerAncestralDiscreteScheduler"},
};

void apply_overrides(SchedulerConfig& config, const nlohmann::json& overrides) {
    if (overrides.is_null())
        return;
    if (!overrides.is_object())
        throw std::invalid_argument("scheduler overrides must be a JSON object");
    for (const auto& [key, value] : overrides.items())
        config.set(key, value);
}

} // namespace

const std::vector<std::string>& scheduler_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> v;
        for (const auto& n : kNamed)
            v.emplace_back(n.name);
        return v;
    }();
    return names;
}

std::string scheduler_class_for_name(const std::string& name) {
    for (const auto& n : kNamed)
        if (name == n.name)
            return n.class_name;
    std::string known;
    for (const auto& n : kNamed)
        known += std::string(known.empty() ? "" : ", ") + n.name;
    throw RequestError("Unknown scheduler \"" + name + "\"; choose one of " + known + ".");
}

std::optional<std::string> scheduler_name_for_class(const std::string& class_name,
                                                    bool use_karras_sigmas) {
    if (class_name == "DPMSolverMultistepScheduler")
        return std::string(use_karras_sigmas ? "dpmpp_2m_karras" : "dpmpp_2m");
    for (const auto& n : kNamed)
        if (class_name == n.class_name)
            return std::string(n.name);
    return std::nullopt;
}

SchedulerConfig scheduler_config_for_name(const std::string& name,
                                          const nlohmann::json& model_scheduler_config,
                                          const nlohmann::json& overrides) {
    SchedulerConfig config = SchedulerConfig::defaults_for(scheduler_class_for_name(name));
    if (!model_scheduler_config.is_null())
        config.update_from_json(model_scheduler_config);
    if (name == "dpmpp_2m" || name == "dpmpp_2m_karras" || name == "dpmpp_2m_sde_karras") {
        config.algorithm_type = name == "dpmpp_2m_sde_karras" ? "sde-dpmsolver++" : "dpmsolver++";
        config.solver_order = 2;
        config.use_karras_sigmas = name != "dpmpp_2m";
    }
    if (name == "euler_a_trailing")
        config.timestep_spacing = "trailing";
    apply_overrides(config, overrides);
    return config;
}

std::unique_ptr<Scheduler> make_scheduler(const std::string& name,
                                          const nlohmann::json& model_scheduler_config,
                                          const nlohmann::json& overrides) {
    return make_scheduler(scheduler_config_for_name(name, model_scheduler_config, overrides));
}

std::unique_ptr<Scheduler> make_scheduler_from_config(const nlohmann::json& config,
                                                      const nlohmann::json& overrides) {
    SchedulerConfig c = SchedulerConfig::from_json(config);
    apply_overrides(c, overrides);
    return make_scheduler(c);
}

std::unique_ptr<Scheduler> make_scheduler(const SchedulerConfig& config) {
    const auto& cls = config.class_name;
    if (cls == "PNDMScheduler")
        return std::make_unique<PndmScheduler>(config);
    if (cls == "DDIMScheduler")
        return std::make_unique<DdimScheduler>(config);
    if (cls == "EulerDiscreteScheduler")
        return std::make_unique<EulerDiscreteScheduler>(config);
    if (cls == "EulerAncestralDiscreteScheduler")
        return std::make_unique<EulerAncestralDiscreteScheduler>(config);
    if (cls == "DPMSolverMultistepScheduler")
        return std::make_unique<DpmSolverMultistepScheduler>(config);
    if (cls == "LMSDiscreteScheduler")
        return std::make_unique<LmsDiscreteScheduler>(config);
    if (cls == "HeunDiscreteScheduler")
        return std::make_unique<HeunDiscreteScheduler>(config);
    SchedulerConfig::defaults_for(cls); // throws the ModelError naming the class
    throw ModelError("Scheduler class \"" + cls + "\" is not supported.");
}

nlohmann::json parse_scheduler_config(const std::string& text, const std::string& origin) {
    // Quote the bare non-finite literals Python writes, outside strings.
    std::string fixed;
    fixed.reserve(text.size() + 16);
    bool in_string = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char ch = text[i];
        if (in_string) {
            fixed += ch;
            if (ch == '\\' && i + 1 < text.size())
                fixed += text[++i];
            else if (ch == '"')
                in_string = false;
            continue;
        }
        if (ch == '"') {
            in_string = true;
            fixed += ch;
            continue;
        }
        bool replaced = false;
        for (const char* literal : {"-Infinity", "Infinity", "NaN"}) {
            const std::string lit(literal);
            if (text.compare(i, lit.size(), lit) == 0) {
                fixed += '"' + lit + '"';
                i += lit.size() - 1;
                replaced = true;
                break;
            }
        }
        if (!replaced)
            fixed += ch;
    }
    try {
        return nlohmann::json::parse(fixed);
    } catch (const nlohmann::json::exception& e) {
        throw ModelError(origin + " is not valid JSON (" + e.what() + ").");
    }
}

nlohmann::json read_scheduler_config(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw ModelError("Cannot read the scheduler config " + path + ".");
    std::ostringstream text;
    text << in.rdbuf();
    return parse_scheduler_config(text.str(), path);
}

} // namespace daub
