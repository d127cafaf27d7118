// Where a generation's randomness comes from. Every draw (initial latents,
// the VAE posterior sample, img2img noise, ancestral step noise) goes
// through one NoiseSource, in the reference's order, as float32 CPU tensors
// that the pipeline copies to its device. So the same seed gives the same
// image on CPU and GPU, and tests can replay the reference's draws.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>

#include <cstdint>
#include <memory>
#include <string>

namespace daub {

class NoiseSource {
public:
    virtual ~NoiseSource() = default;
    /// A standard-normal float32 CPU tensor of `shape`.
    virtual at::Tensor draw(c10::IntArrayRef shape) = 0;
};

/// torch.randn with a CPU torch.Generator seeded with `seed` — the same
/// stream as diffusers' `generator=torch.Generator().manual_seed(seed)`.
std::unique_ptr<NoiseSource> make_seeded_noise(uint64_t seed);

/// Replays tensors `noise_0`, `noise_1`, ... of a safetensors file in order;
/// a shape that differs from the draw, or running out, is a RequestError.
std::unique_ptr<NoiseSource> make_replayed_noise(const std::string& path);

/// A random seed for requests with seed -1 (non-negative, < 2^53 so that it
/// survives JSON and QML numbers).
int64_t random_seed();

} // namespace daub
