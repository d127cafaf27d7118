// Where module weights come from, and the name-for-name copy into modules.
//
// Engine modules are torch::nn modules whose parameter names are the
// diffusers / transformers state-dict keys, so loading is: for every
// parameter and buffer `name` of the module, take `prefix + name` from a
// WeightSource. A safetensors file is one source; a single-file checkpoint
// seen through a key mapping is another.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace torch::nn {
class Module;
}

namespace daub {

class CancelToken;

class WeightSource {
public:
    virtual ~WeightSource() = default;
    virtual std::vector<std::string> keys() const = 0;
    virtual bool contains(const std::string& key) const = 0;
    virtual std::vector<int64_t> shape(const std::string& key) const = 0;
    virtual at::ScalarType stored_dtype(const std::string& key) const = 0;
    /// The tensor converted to `dtype` on `device`: a fresh tensor that owns
    /// its memory (never a view of the mapped file).
    virtual at::Tensor load(const std::string& key, at::ScalarType dtype,
                            at::Device device) const = 0;
    /// What to name in error messages (a file path).
    virtual std::string describe() const = 0;
};

/// Progress and cancellation of a load that spans several
/// load_module_weights calls (every network of a model):
///
///   WeightLoadMonitor monitor;
///   monitor.bytes_total = module_weight_bytes(*unet, at::kHalf) +
///                         module_weight_bytes(*vae, at::kFloat);
///   monitor.on_progress = [](int64_t done, int64_t total) { ... };
///   monitor.cancel = &token;
///   load_module_weights(*unet, source, "", {at::kHalf, device, &monitor});
///   ...
///
/// Bytes are those of the tensors in the dtype the load asks for (elements
/// × its size; also for weights kept in half precision), so the sum of
/// module_weight_bytes() is exactly what the loads add up to.
struct WeightLoadMonitor {
    /// Called after every tensor, on the loading thread; bytes_done only grows.
    std::function<void(int64_t bytes_done, int64_t bytes_total)> on_progress;
    /// Checked before every tensor: set, the load throws CancelledError.
    const CancelToken* cancel = nullptr;
    int64_t bytes_total = 0;
    int64_t bytes_done = 0;

    /// Throws CancelledError when `cancel` is set.
    void check_cancelled() const;
};

struct LoadOptions {
    at::ScalarType dtype = at::kFloat;
    at::Device device = at::kCPU;
    /// Optional: counts the loaded bytes and checks for cancellation.
    WeightLoadMonitor* monitor = nullptr;
    /// With dtype fp32: the weights of daub::nn Linear, Conv2d and
    /// Embedding layers that the source stores in fp16 or bf16 stay so
    /// (half the memory); those layers then convert them as they compute
    /// in fp32, with the same results (core/layers.h). Everything else
    /// (biases, norms, other tensors) is loaded in fp32.
    bool keep_half_weights = false;
};

/// Copies every parameter and buffer of `module` from `source[prefix + name]`,
/// converting to options.dtype (floating tensors only) and options.device.
/// Missing tensors and shape mismatches throw ModelError naming the key.
/// With options.monitor: the cancel token is checked before every tensor
/// (CancelledError; the tensors loaded so far stay in the module, which the
/// caller then drops) and progress is reported after every tensor.
/// Returns how many tensors were loaded.
size_t load_module_weights(torch::nn::Module& module, const WeightSource& source,
                           const std::string& prefix, const LoadOptions& options);

/// The bytes load_module_weights adds to a monitor for `module` loaded in
/// `dtype`: every parameter and buffer, floating ones counted in `dtype`,
/// the others in their own.
int64_t module_weight_bytes(const torch::nn::Module& module, at::ScalarType dtype);

/// Reads exactly `size` bytes at `offset` of the open file `fd` into `dst`
/// (pread; retried after interruptions and partial reads). A file that
/// ends before offset + size — changed or truncated on disk since it was
/// opened — is a ModelError naming `path` that says so, as is a read error.
void read_file_bytes(int fd, uint64_t offset, void* dst, size_t size, const std::string& path);

/// Formats a shape as [a, b, c] for messages.
std::string shape_to_string(const std::vector<int64_t>& shape);

} // namespace daub
