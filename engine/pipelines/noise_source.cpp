#include "pipelines/noise_source.h"

#include "core/errors.h"
#include "core/safetensors.h"
#include "core/weights.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <random>

namespace daub {

namespace {

class SeededNoise final : public NoiseSource {
public:
    explicit SeededNoise(uint64_t seed) : generator_(at::make_generator<at::CPUGeneratorImpl>(seed)) {}
    at::Tensor draw(c10::IntArrayRef shape) override {
        return at::randn(shape, generator_, at::TensorOptions().dtype(at::kFloat));
    }

private:
    at::Generator generator_;
};

class ReplayedNoise final : public NoiseSource {
public:
    explicit ReplayedNoise(const std::string& path) : file_(path) {}
    at::Tensor draw(c10::IntArrayRef shape) override {
        const std::string key = "noise_" + std::to_string(next_++);
        if (!file_.contains(key))
            throw RequestError(file_.path() + " has no '" + key +
                               "': the generation draws more noise than was recorded.");
        at::Tensor t = file_.load(key, at::kFloat, at::kCPU);
        if (t.sizes() != shape)
            throw RequestError(file_.path() + ": '" + key + "' has shape " +
                               shape_to_string(t.sizes().vec()) + " but the generation draws " +
                               shape_to_string(shape.vec()) + ".");
        return t;
    }

private:
    SafeTensorsFile file_;
    int next_ = 0;
};

} // namespace

std::unique_ptr<NoiseSource> make_seeded_noise(uint64_t seed) {
    return std::make_unique<SeededNoise>(seed);
}

std::unique_ptr<NoiseSource> make_replayed_noise(const std::string& path) {
    return std::make_unique<ReplayedNoise>(path);
}

int64_t random_seed() {
    std::random_device rd;
    const uint64_t v = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    return static_cast<int64_t>(v & ((1ull << 53) - 1));
}

} // namespace daub
