#include "bare_checkpoint.h"

#include "golden.h"

#include "core/json.h"
#include "core/safetensors.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>

namespace daub::test {

namespace {

constexpr int64_t kFixtureTextWidth = 32; // tiny-sd15's CLIP width
constexpr int64_t kFixtureVocab = 1002;   // tiny-sd15's vocabulary
constexpr int64_t kTextWidth = 64;        // one 64-wide head: derivable without a config
constexpr double kScale = 0.02;

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

} // namespace

void write_bare_sd15_checkpoint(const std::string& path, const BareCheckpointOptions& options) {
    const std::string source = fixture("tiny-sd15.safetensors");
    if (!std::filesystem::exists(source))
        throw std::runtime_error(source + " is missing.");
    SafeTensorsFile fixture_file(source);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(options.seed);
    auto random = [&](std::vector<int64_t> shape) {
        return (at::randn(shape, gen, at::TensorOptions().dtype(at::kFloat)) * kScale)
            .to(at::kHalf);
    };

    std::map<std::string, at::Tensor> tensors;
    const std::string text_prefix = "cond_stage_model.transformer.text_model.";
    for (const std::string& key : fixture_file.keys()) {
        if (key.rfind(text_prefix, 0) == 0) {
            // The same tensor names with the text width 64 and the vocabulary asked for.
            std::vector<int64_t> shape = fixture_file.shape(key);
            for (int64_t& d : shape)
                d = d == kFixtureTextWidth ? kTextWidth
                    : d == kFixtureVocab   ? options.vocab_size
                                           : d;
            at::Tensor t = random(shape);
            const bool norm = key.find("layer_norm") != std::string::npos;
            if (norm && ends_with(key, ".weight"))
                t = (t.to(at::kFloat) + 1.0).to(at::kHalf);
            tensors[key] = t;
        } else if (ends_with(key, ".attn2.to_k.weight") || ends_with(key, ".attn2.to_v.weight")) {
            // Cross-attention reads the 64-wide text.
            tensors[key] = random({fixture_file.shape(key).at(0), kTextWidth});
        } else {
            tensors[key] = fixture_file.load(key);
        }
    }
    write_safetensors(path, tensors);
}

void write_clip_vocab_sdxl_checkpoint(const std::string& path, const std::string& config_dir,
                                      uint64_t seed) {
    namespace fs = std::filesystem;
    constexpr int64_t kClipVocab = 49408;
    const std::string source = fixture("tiny-sdxl.safetensors");
    if (!fs::exists(source))
        throw std::runtime_error(source + " is missing.");
    SafeTensorsFile fixture_file(source);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    std::map<std::string, at::Tensor> tensors;
    for (const std::string& key : fixture_file.keys()) {
        if (ends_with(key, "token_embedding.weight")) {
            const int64_t width = fixture_file.shape(key).at(1);
            tensors[key] = (at::randn({kClipVocab, width}, gen) * kScale).to(at::kHalf);
        } else {
            tensors[key] = fixture_file.load(key);
        }
    }
    write_safetensors(path, tensors);

    const fs::path from = fixture("tiny-sdxl");
    const fs::path to = config_dir;
    for (const char* file : {"model_index.json", "unet/config.json", "vae/config.json",
                             "scheduler/scheduler_config.json", "text_encoder/config.json",
                             "text_encoder_2/config.json"}) {
        nlohmann::json j = read_json_file((from / file).string());
        if (std::string(file).rfind("text_encoder", 0) == 0) {
            j["vocab_size"] = kClipVocab;
            j["bos_token_id"] = kClipVocab - 2;
            j["eos_token_id"] = kClipVocab - 1;
            j["pad_token_id"] =
                std::string(file).rfind("text_encoder_2", 0) == 0 ? 0 : kClipVocab - 1;
        }
        fs::create_directories((to / file).parent_path());
        std::ofstream((to / file).string()) << j.dump(2);
    }
}

} // namespace daub::test
