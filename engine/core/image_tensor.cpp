#include "core/image_tensor.h"

#include "core/errors.h"

#include <torch/torch.h>

#include <cstring>

namespace daub {

at::Tensor image_to_tensor(const Image& image, at::ScalarType dtype, at::Device device) {
    if (image.empty() || image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3)
        throw ImageError("Cannot convert the image to a tensor: it is empty or its pixel buffer "
                         "does not match its size.");
    at::Tensor u8 = torch::from_blob(const_cast<uint8_t*>(image.rgb.data()),
                                     {image.height, image.width, 3}, torch::kUInt8); // [H, W, 3]
    at::Tensor x = u8.to(torch::kFloat).div_(255.0f).mul_(2.0f).sub_(1.0f);          // [H, W, 3]
    x = x.permute({2, 0, 1}).unsqueeze(0).contiguous();                              // [1, 3, H, W]
    return x.to(torch::TensorOptions().dtype(dtype).device(device));
}

Image tensor_to_image(const at::Tensor& tensor) {
    at::Tensor hwc;
    if (tensor.dim() == 4 && tensor.size(0) == 1 && tensor.size(1) == 3)
        hwc = tensor[0].permute({1, 2, 0}); // [H, W, 3]
    else if (tensor.dim() == 3 && tensor.size(2) == 3)
        hwc = tensor; // [H, W, 3]
    else
        throw ImageError("Cannot make an image from a tensor of shape " + c10::str(tensor.sizes()) +
                         ": expected [1, 3, H, W] or [H, W, 3].");
    if (!at::isFloatingType(hwc.scalar_type()))
        throw ImageError("Cannot make an image from a tensor of dtype " +
                         std::string(c10::toString(hwc.scalar_type())) +
                         ": expected floating-point values in [0, 1].");
    if (hwc.size(0) <= 0 || hwc.size(1) <= 0)
        throw ImageError("Cannot make an image from an empty tensor.");
    at::Tensor x = hwc.detach().to(torch::kCPU, torch::kFloat);
    x = torch::nan_to_num(x, 0.0, 1.0, 0.0).clamp_(0.0, 1.0).mul_(255.0f).round_();
    at::Tensor u8 = x.to(torch::kUInt8).contiguous(); // [H, W, 3]
    Image img;
    img.height = static_cast<int>(u8.size(0));
    img.width = static_cast<int>(u8.size(1));
    img.rgb.resize(static_cast<size_t>(u8.numel()));
    std::memcpy(img.rgb.data(), u8.data_ptr<uint8_t>(), img.rgb.size());
    return img;
}

} // namespace daub
