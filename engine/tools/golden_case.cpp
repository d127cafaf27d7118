#include "golden_case.h"

#include "core/image.h"
#include "core/json.h"
#include "core/safetensors.h"
#include "schedulers/scheduler_factory.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>

namespace daub {
namespace {

std::string golden_path(const std::string& fixtures_dir, const std::string& file) {
    return fixtures_dir + "/golden/" + file;
}

bool has(const nlohmann::json& j, const char* key) { return j.contains(key) && !j[key].is_null(); }

/// What Daub lacks to run the golden `j` describes, "" when nothing.
std::string missing_for(const nlohmann::json& j) {
    const auto names = scheduler_names();
    const std::string sampler = j.value("scheduler", "");
    if (std::find(names.begin(), names.end(), sampler) == names.end())
        return "the sampler " + sampler;
    static const std::pair<const char*, const char*> features[] = {
        {"loras", "LoRAs"},       {"embeddings", "embeddings"}, {"mask_image", "inpainting"},
        {"controlnet", "ControlNet"}, {"vae", "TAESD"}};
    for (const auto& [key, feature] : features)
        if (has(j, key))
            return feature;
    if (has(j, "pipeline"))
        return j["pipeline"].get<std::string>();
    return "";
}

/// Every pipe_* golden of `fixtures_dir`/golden/ with what Daub lacks for it.
std::map<std::string, std::string> pipeline_goldens(const std::string& fixtures_dir) {
    std::map<std::string, std::string> cases;
    for (const auto& e : std::filesystem::directory_iterator(fixtures_dir + "/golden")) {
        const std::string file = e.path().filename().string();
        if (file.rfind("pipe_", 0) == 0 && e.path().extension() == ".json")
            // read_scheduler_config: the golden's scheduler_config may hold -Infinity.
            cases[e.path().stem().string()] = missing_for(read_scheduler_config(e.path().string()));
    }
    return cases;
}

} // namespace

std::vector<std::string> pipeline_golden_names(const std::string& fixtures_dir) {
    std::vector<std::string> names;
    for (const auto& [name, missing] : pipeline_goldens(fixtures_dir))
        if (missing.empty())
            names.push_back(name);
    return names;
}

std::map<std::string, std::string> pipeline_goldens_left_out(const std::string& fixtures_dir) {
    std::map<std::string, std::string> left_out;
    for (auto& [name, missing] : pipeline_goldens(fixtures_dir))
        if (!missing.empty())
            left_out.emplace(name, missing);
    return left_out;
}

GoldenCase read_golden_case(const std::string& fixtures_dir, const std::string& name) {
    // read_scheduler_config: the golden's scheduler_config may hold -Infinity.
    const nlohmann::json j = read_scheduler_config(golden_path(fixtures_dir, name + ".json"));
    GoldenCase c;
    c.model = j.at("model").get<std::string>();
    GenerationRequest& req = c.request;
    req.prompt = j.at("prompt").get<std::string>();
    if (has(j, "negative_prompt"))
        req.negative_prompt = j["negative_prompt"].get<std::string>();
    req.steps = j.at("num_inference_steps").get<int>();
    req.guidance_scale = j.at("guidance_scale").get<float>();
    req.scheduler = j.at("scheduler").get<std::string>();
    if (has(j, "clip_skip"))
        req.clip_skip = j["clip_skip"].get<int>() + 1; // diffusers' meaning → A1111's
    if (has(j, "init_image")) {
        req.init_image = read_image_file(golden_path(fixtures_dir, j["init_image"].get<std::string>()));
        req.strength = j.at("strength").get<float>();
        req.width = req.init_image->width;
        req.height = req.init_image->height;
    } else {
        req.width = j.at("width").get<int>();
        req.height = j.at("height").get<int>();
    }
    req.replay_noise_path = golden_path(fixtures_dir, name + ".safetensors");
    return c;
}

GoldenDiff compare_with_golden(const std::string& fixtures_dir, const std::string& name,
                               const Image& image) {
    SafeTensorsFile g(golden_path(fixtures_dir, name + ".safetensors"));
    const at::Tensor golden_u8 = g.load("image_u8").to(torch::kDouble); // [H, W, 3]
    GoldenDiff d;
    d.same_size = golden_u8.size(0) == image.height && golden_u8.size(1) == image.width;
    if (!d.same_size)
        return d;
    const at::Tensor ours = torch::from_blob(const_cast<uint8_t*>(image.rgb.data()),
                                             {image.height, image.width, 3}, torch::kUInt8)
                                .to(torch::kDouble);
    const at::Tensor golden = g.load("image").to(torch::kDouble);
    d.max_u8 = static_cast<int>((ours - golden_u8).abs().max().item<double>());
    d.max_abs = (ours / 255.0 - golden).abs().max().item<double>();
    d.rel_l2 = ((ours / 255.0 - golden).norm() / golden.norm()).item<double>();
    return d;
}

} // namespace daub
