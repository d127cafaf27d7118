// daub::Image <-> tensors, as diffusers' VaeImageProcessor converts them.
#pragma once

#include "core/image.h"

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

namespace daub {

/// [1, 3, H, W] in [-1, 1]: 2 · (u8 / 255) − 1, computed in float32 (as the
/// reference does in numpy), then converted to `dtype` on `device`.
/// Throws ImageError for an empty or inconsistent image.
at::Tensor image_to_tensor(const Image& image, at::ScalarType dtype = at::kFloat,
                           at::Device device = at::kCPU);

/// An image from [1, 3, H, W] or [H, W, 3] values in [0, 1] (any floating
/// dtype or device): clamped, then round(x · 255) in float32 (half to even,
/// like numpy). NaN becomes 0. Throws ImageError for another shape.
Image tensor_to_image(const at::Tensor& tensor);

} // namespace daub
