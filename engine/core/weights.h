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

#include <string>
#include <vector>

namespace torch::nn {
class Module;
}

namespace daub {

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

struct LoadOptions {
    at::ScalarType dtype = at::kFloat;
    at::Device device = at::kCPU;
};

/// Copies every parameter and buffer of `module` from `source[prefix + name]`,
/// converting to options.dtype (floating tensors only) and options.device.
/// Missing tensors and shape mismatches throw ModelError naming the key.
/// Returns how many tensors were loaded.
size_t load_module_weights(torch::nn::Module& module, const WeightSource& source,
                           const std::string& prefix, const LoadOptions& options);

/// Formats a shape as [a, b, c] for messages.
std::string shape_to_string(const std::vector<int64_t>& shape);

} // namespace daub
