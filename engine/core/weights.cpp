#include "core/weights.h"

#include "core/errors.h"

#include <torch/torch.h>

#include <sstream>

namespace daub {

std::string shape_to_string(const std::vector<int64_t>& shape) {
    std::ostringstream s;
    s << '[';
    for (size_t i = 0; i < shape.size(); ++i)
        s << (i ? ", " : "") << shape[i];
    s << ']';
    return s.str();
}

size_t load_module_weights(torch::nn::Module& module, const WeightSource& source,
                           const std::string& prefix, const LoadOptions& options) {
    torch::NoGradGuard no_grad;
    size_t loaded = 0;
    auto copy_into = [&](const std::string& name, at::Tensor& target) {
        const std::string key = prefix + name;
        if (!source.contains(key))
            throw ModelError(source.describe() + ": tensor '" + key + "' is missing.");
        const auto got = source.shape(key);
        const auto expected = target.sizes().vec();
        if (got != expected)
            throw ModelError(source.describe() + ": tensor '" + key + "' has shape " +
                             shape_to_string(got) + ", expected " + shape_to_string(expected) +
                             ".");
        const at::ScalarType dtype =
            at::isFloatingType(target.scalar_type()) ? options.dtype : target.scalar_type();
        target.set_data(source.load(key, dtype, options.device));
        ++loaded;
    };
    for (auto& item : module.named_parameters(/*recurse=*/true))
        copy_into(item.key(), item.value());
    for (auto& item : module.named_buffers(/*recurse=*/true))
        copy_into(item.key(), item.value());
    return loaded;
}

} // namespace daub
