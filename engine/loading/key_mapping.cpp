// MappedWeightSource: a component of a single-file checkpoint seen with
// diffusers keys (see key_mapping.h).
#include "loading/key_mapping.h"

#include "core/errors.h"

#include <torch/torch.h>

namespace daub {

std::vector<int64_t> transformed_shape(const TensorRecipe& recipe,
                                       const std::vector<int64_t>& source_shape,
                                       const std::string& file) {
    const auto bad = [&](const std::string& what) -> ModelError {
        return ModelError(file + ": tensor '" + recipe.source_key + "' has shape " +
                          shape_to_string(source_shape) + ", " + what + ".");
    };
    switch (recipe.transform) {
    case TensorTransform::Copy:
        return source_shape;
    case TensorTransform::SqueezeConv1x1:
        if (source_shape.size() != 4 || source_shape[2] != 1 || source_shape[3] != 1)
            throw bad("expected a 1x1 convolution [out, in, 1, 1]");
        return {source_shape[0], source_shape[1]};
    case TensorTransform::Transpose:
        if (source_shape.size() != 2)
            throw bad("expected a matrix");
        return {source_shape[1], source_shape[0]};
    case TensorTransform::Chunk: {
        if (source_shape.empty() || recipe.chunks < 1 || source_shape[0] % recipe.chunks != 0)
            throw bad("which does not split into " + std::to_string(recipe.chunks) +
                      " equal parts along its first dimension");
        std::vector<int64_t> out = source_shape;
        out[0] /= recipe.chunks;
        return out;
    }
    }
    throw bad("with an unknown transform");
}

MappedWeightSource::MappedWeightSource(std::shared_ptr<const WeightSource> file, KeyMap map,
                                       std::string component)
    : file_(std::move(file)), map_(std::move(map)), component_(std::move(component)) {
    for (const auto& [key, recipe] : map_) {
        if (!file_->contains(recipe.source_key))
            throw ModelError(file_->describe() + ": tensor '" + recipe.source_key +
                             "' is missing.");
        shapes_[key] = transformed_shape(recipe, file_->shape(recipe.source_key),
                                         file_->describe());
    }
}

std::vector<std::string> MappedWeightSource::keys() const {
    std::vector<std::string> out;
    out.reserve(map_.size());
    for (const auto& [key, recipe] : map_)
        out.push_back(key);
    return out;
}

bool MappedWeightSource::contains(const std::string& key) const { return map_.count(key) != 0; }

const TensorRecipe& MappedWeightSource::recipe(const std::string& key) const {
    auto it = map_.find(key);
    if (it == map_.end())
        throw ModelError(describe() + ": tensor '" + key + "' is missing.");
    return it->second;
}

std::vector<int64_t> MappedWeightSource::shape(const std::string& key) const {
    recipe(key); // throws for unknown keys
    return shapes_.at(key);
}

at::ScalarType MappedWeightSource::stored_dtype(const std::string& key) const {
    return file_->stored_dtype(recipe(key).source_key);
}

std::string MappedWeightSource::describe() const {
    return file_->describe() + " (" + component_ + ")";
}

at::Tensor MappedWeightSource::fused_source(const TensorRecipe& r) const {
    std::lock_guard<std::mutex> lock(fused_mutex_);
    at::Tensor source;
    if (fused_parts_left_ > 0 && fused_key_ == r.source_key) {
        source = fused_;
    } else {
        source = file_->load(r.source_key, file_->stored_dtype(r.source_key), at::kCPU);
        fused_key_ = r.source_key;
        fused_ = source;
        fused_parts_left_ = r.chunks;
    }
    if (--fused_parts_left_ <= 0) { // every part served: let the memory go
        fused_ = at::Tensor();
        fused_key_.clear();
        fused_parts_left_ = 0;
    }
    return source;
}

at::Tensor MappedWeightSource::load(const std::string& key, at::ScalarType dtype,
                                    at::Device device) const {
    const TensorRecipe& r = recipe(key);
    if (r.transform == TensorTransform::Copy)
        return file_->load(r.source_key, dtype, device); // one read, one conversion

    // Read the stored tensor once (host, stored dtype), reshape it as a view,
    // then convert dtype, device and layout in one copy.
    at::Tensor view;
    switch (r.transform) {
    case TensorTransform::SqueezeConv1x1: {
        at::Tensor source = file_->load(r.source_key, file_->stored_dtype(r.source_key), at::kCPU);
        view = source.view({source.size(0), source.size(1)}); // [out, in]
        break;
    }
    case TensorTransform::Transpose: {
        at::Tensor source = file_->load(r.source_key, file_->stored_dtype(r.source_key), at::kCPU);
        view = source.t(); // [b, a], strided
        break;
    }
    case TensorTransform::Chunk: {
        at::Tensor source = fused_source(r);
        const int64_t rows = source.size(0) / r.chunks;
        view = source.narrow(0, r.chunk * rows, rows); // [rows, ...]
        break;
    }
    case TensorTransform::Copy:
        break;
    }
    if (view.is_contiguous() && view.scalar_type() == dtype && device.is_cpu() &&
        r.transform == TensorTransform::SqueezeConv1x1)
        return view; // owns its own freshly read memory
    at::Tensor out = at::empty(view.sizes(), at::TensorOptions().dtype(dtype).device(device));
    out.copy_(view);
    return out;
}

} // namespace daub
