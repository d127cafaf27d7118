#include "core/weights.h"

#include "core/cancel.h"
#include "core/errors.h"
#include "core/layers.h"

#include <torch/torch.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <sstream>
#include <unistd.h>

namespace daub {

std::string shape_to_string(const std::vector<int64_t>& shape) {
    std::ostringstream s;
    s << '[';
    for (size_t i = 0; i < shape.size(); ++i)
        s << (i ? ", " : "") << shape[i];
    s << ']';
    return s.str();
}

void read_file_bytes(int fd, uint64_t offset, void* dst, size_t size, const std::string& path) {
    auto* out = static_cast<char*>(dst);
    while (size > 0) {
        const ssize_t got = ::pread(fd, out, size, static_cast<off_t>(offset));
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            throw ModelError(path + ": cannot read the file (" + std::strerror(errno) + ").");
        if (got == 0)
            throw ModelError(path + " ends before byte " + std::to_string(offset + size) +
                             ": the file was changed or truncated on disk while Daub read it "
                             "(load the model again).");
        out += got;
        offset += static_cast<uint64_t>(got);
        size -= static_cast<size_t>(got);
    }
}

namespace {

/// The dtype load_module_weights gives `target`.
at::ScalarType load_dtype(const at::Tensor& target, at::ScalarType dtype) {
    return at::isFloatingType(target.scalar_type()) ? dtype : target.scalar_type();
}

int64_t loaded_bytes(const at::Tensor& target, at::ScalarType dtype) {
    return target.numel() * static_cast<int64_t>(c10::elementSize(load_dtype(target, dtype)));
}

} // namespace

void WeightLoadMonitor::check_cancelled() const {
    if (cancel && cancel->cancelled())
        throw CancelledError("Loading the model was cancelled.");
}

int64_t module_weight_bytes(const torch::nn::Module& module, at::ScalarType dtype) {
    int64_t bytes = 0;
    for (const auto& item : module.named_parameters(/*recurse=*/true))
        bytes += loaded_bytes(item.value(), dtype);
    for (const auto& item : module.named_buffers(/*recurse=*/true))
        bytes += loaded_bytes(item.value(), dtype);
    return bytes;
}

size_t load_module_weights(torch::nn::Module& module, const WeightSource& source,
                           const std::string& prefix, const LoadOptions& options) {
    torch::NoGradGuard no_grad;
    size_t loaded = 0;
    WeightLoadMonitor* monitor = options.monitor;
    // The layers whose weight may stay in half precision, by that weight.
    std::map<const c10::TensorImpl*, nn::WeightedLayer*> narrow;
    if (options.keep_half_weights && options.dtype == at::kFloat)
        for (const auto& child : module.modules(/*include_self=*/true))
            if (auto* layer = dynamic_cast<nn::WeightedLayer*>(child.get()))
                narrow.emplace(layer->weight.unsafeGetTensorImpl(), layer);
    auto copy_into = [&](const std::string& name, at::Tensor& target) {
        if (monitor)
            monitor->check_cancelled();
        const std::string key = prefix + name;
        if (!source.contains(key))
            throw ModelError(source.describe() + ": tensor '" + key + "' is missing.");
        const auto got = source.shape(key);
        const auto expected = target.sizes().vec();
        if (got != expected)
            throw ModelError(source.describe() + ": tensor '" + key + "' has shape " +
                             shape_to_string(got) + ", expected " + shape_to_string(expected) +
                             ".");
        const int64_t bytes = loaded_bytes(target, options.dtype);
        const auto layer = narrow.find(target.unsafeGetTensorImpl());
        const at::ScalarType stored = source.stored_dtype(key);
        if (layer != narrow.end() && (stored == at::kHalf || stored == at::kBFloat16)) {
            target.set_data(source.load(key, stored, options.device));
            layer->second->set_compute_dtype(options.dtype);
        } else {
            target.set_data(source.load(key, load_dtype(target, options.dtype), options.device));
            if (layer != narrow.end())
                layer->second->set_compute_dtype(options.dtype);
        }
        ++loaded;
        if (monitor) {
            monitor->bytes_done += bytes;
            if (monitor->on_progress)
                monitor->on_progress(monitor->bytes_done, monitor->bytes_total);
        }
    };
    for (auto& item : module.named_parameters(/*recurse=*/true))
        copy_into(item.key(), item.value());
    for (auto& item : module.named_buffers(/*recurse=*/true))
        copy_into(item.key(), item.value());
    return loaded;
}

} // namespace daub
