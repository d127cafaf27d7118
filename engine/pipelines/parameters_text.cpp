#include "pipelines/parameters_text.h"

#include <cstdio>
#include <sstream>
#include <vector>

namespace daub {

namespace {

const std::vector<std::pair<std::string, std::string>>& sampler_labels() {
    static const std::vector<std::pair<std::string, std::string>> table = {
        {"pndm", "PLMS"},         {"ddim", "DDIM"},           {"euler", "Euler"},
        {"euler_a", "Euler a"},   {"dpmpp_2m", "DPM++ 2M"},   {"dpmpp_2m_karras", "DPM++ 2M Karras"},
        {"lms", "LMS"},           {"heun", "Heun"}};
    return table;
}

std::string format_float(float v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", static_cast<double>(v));
    return buf;
}

std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos)
        return "";
    const auto e = s.find_last_not_of(" \t\r\n");
    return s.substr(b, e - b + 1);
}

} // namespace

std::string sampler_label(const std::string& scheduler) {
    for (const auto& [name, label] : sampler_labels())
        if (name == scheduler)
            return label;
    return scheduler;
}

std::string scheduler_from_label(const std::string& label) {
    for (const auto& [name, l] : sampler_labels())
        if (l == label || name == label)
            return name;
    return "";
}

std::string parameters_text(const GenerationRequest& request, const GenerationResult& result,
                            const ModelInfo& model) {
    std::ostringstream s;
    s << request.prompt << "\n";
    if (request.negative_prompt && !request.negative_prompt->empty())
        s << "Negative prompt: " << *request.negative_prompt << "\n";
    s << "Steps: " << request.steps << ", Sampler: " << sampler_label(result.scheduler)
      << ", CFG scale: " << format_float(request.guidance_scale) << ", Seed: " << result.seed
      << ", Size: " << result.width << "x" << result.height << ", Model: " << model.name;
    if (request.init_image)
        s << ", Denoising strength: " << format_float(request.strength);
    if (request.clip_skip > 1)
        s << ", Clip skip: " << request.clip_skip;
    s << ", Version: Daub";
    return s.str();
}

std::optional<ParsedParameters> parse_parameters_text(const std::string& text) {
    // The last line that starts with "Steps: " holds the settings.
    const auto steps_pos = text.rfind("Steps: ");
    if (steps_pos == std::string::npos || (steps_pos > 0 && text[steps_pos - 1] != '\n'))
        return std::nullopt;
    ParsedParameters p;
    std::string head = text.substr(0, steps_pos);
    const std::string settings = trim(text.substr(steps_pos));
    const auto neg = head.find("Negative prompt: ");
    if (neg != std::string::npos && (neg == 0 || head[neg - 1] == '\n')) {
        p.negative_prompt = trim(head.substr(neg + 17));
        head = head.substr(0, neg);
    }
    p.prompt = trim(head);

    // "Key: value, Key: value" (values may not contain ", " in A1111's own output
    // except quoted ones, which Daub does not need).
    std::map<std::string, std::string> kv;
    size_t i = 0;
    while (i < settings.size()) {
        size_t end = settings.find(", ", i);
        if (end == std::string::npos)
            end = settings.size();
        const std::string item = settings.substr(i, end - i);
        const auto colon = item.find(": ");
        if (colon != std::string::npos)
            kv[trim(item.substr(0, colon))] = trim(item.substr(colon + 2));
        i = end + 2;
    }
    auto to_int = [](const std::string& v) -> std::optional<long long> {
        try {
            size_t n = 0;
            long long x = std::stoll(v, &n);
            return n == v.size() ? std::optional<long long>(x) : std::nullopt;
        } catch (...) {
            return std::nullopt;
        }
    };
    auto to_float = [](const std::string& v) -> std::optional<float> {
        try {
            size_t n = 0;
            float x = std::stof(v, &n);
            return n == v.size() ? std::optional<float>(x) : std::nullopt;
        } catch (...) {
            return std::nullopt;
        }
    };
    if (kv.count("Steps"))
        if (auto v = to_int(kv["Steps"]))
            p.steps = static_cast<int>(*v);
    if (kv.count("Sampler")) {
        const std::string name = scheduler_from_label(kv["Sampler"]);
        if (!name.empty())
            p.scheduler = name;
    }
    if (kv.count("CFG scale"))
        p.cfg = to_float(kv["CFG scale"]);
    if (kv.count("Seed"))
        if (auto v = to_int(kv["Seed"]))
            p.seed = *v;
    if (kv.count("Size")) {
        const auto x = kv["Size"].find('x');
        if (x != std::string::npos) {
            auto w = to_int(kv["Size"].substr(0, x)), h = to_int(kv["Size"].substr(x + 1));
            if (w && h) {
                p.width = static_cast<int>(*w);
                p.height = static_cast<int>(*h);
            }
        }
    }
    if (kv.count("Model"))
        p.model = kv["Model"];
    if (kv.count("Denoising strength"))
        p.strength = to_float(kv["Denoising strength"]);
    if (kv.count("Clip skip"))
        if (auto v = to_int(kv["Clip skip"]))
            p.clip_skip = static_cast<int>(*v);
    return p;
}

} // namespace daub
