// RRDBNet, the super-resolution network of ESRGAN / Real-ESRGAN
// (RealESRGAN_x4plus, RealESRGAN_x2plus and the many community models built
// on it), with basicsr's key names:
//
//   conv_first                     3×3, (num_in_ch · u²) → num_feat
//   body.N.rdbK.convM              N < num_block, K = 1..3, M = 1..5
//   conv_body                      3×3, num_feat → num_feat
//   conv_up1, conv_up2             3×3 after each nearest ×2 upsampling
//   conv_hr, conv_last             3×3, then num_feat → num_out_ch
//
// The network always upsamples ×4 internally; the ×2 and ×1 models first
// pixel-unshuffle the input by u = 2 or 4 (so conv_first sees 12 or 48
// channels for RGB). Residual dense blocks scale their residual by 0.2, as
// do the RRDBs around them; activations are leaky ReLU with slope 0.2.
//
//   RrdbNetConfig config = RrdbNetConfig::from_weights(file, file.metadata());
//   RrdbNet net(config);
//   load_module_weights(*net, file, "", {at::kFloat, at::kCPU});
//   at::Tensor out = net->forward(image);   // [B, 3, H, W] in [0, 1] → [B, 3, sH, sW]
#pragma once

#include "core/layers.h"
#include "core/weights.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <map>
#include <memory>
#include <string>

namespace daub {

struct RrdbNetConfig {
    int64_t scale = 4;     ///< 4, 2 or 1: output size / input size
    int64_t num_in_ch = 3; ///< image channels, before pixel-unshuffle
    int64_t num_out_ch = 3;
    int64_t num_feat = 64;
    int64_t num_block = 23;
    int64_t num_grow_ch = 32;

    /// The pixel-unshuffle factor before conv_first: 1 (×4), 2 (×2), 4 (×1).
    int64_t unshuffle() const { return scale == 4 ? 1 : scale == 2 ? 2 : 4; }

    /// The configuration of the RRDBNet in `source`, from its tensor shapes;
    /// `metadata` (a safetensors header's, may be empty) may state `arch`,
    /// `scale`, `num_in_ch`, `num_out_ch`, `num_feat`, `num_block` and
    /// `num_grow_ch`, which must then agree with the shapes. Throws
    /// UnsupportedModelError ("… is not an RRDBNet (Real-ESRGAN) upscaler …")
    /// for other networks (Stable Diffusion checkpoints, SwinIR, compact
    /// Real-ESRGAN models) and ModelError for inconsistent files.
    static RrdbNetConfig from_weights(const WeightSource& source,
                                      const std::map<std::string, std::string>& metadata = {});
};

/// Five densely connected 3×3 convolutions; conv5's output, scaled by 0.2,
/// is added to the input.
class ResidualDenseBlockImpl : public torch::nn::Module {
public:
    ResidualDenseBlockImpl(int64_t num_feat, int64_t num_grow_ch);
    at::Tensor forward(const at::Tensor& x);

    nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr}, conv4{nullptr}, conv5{nullptr};
};
TORCH_MODULE(ResidualDenseBlock);

/// Residual in residual dense block: three RDBs, their result scaled by 0.2
/// and added to the input.
class RrdbImpl : public torch::nn::Module {
public:
    RrdbImpl(int64_t num_feat, int64_t num_grow_ch);
    at::Tensor forward(const at::Tensor& x);

    ResidualDenseBlock rdb1{nullptr}, rdb2{nullptr}, rdb3{nullptr};
};
TORCH_MODULE(Rrdb);

class RrdbNetImpl : public torch::nn::Module {
public:
    /// Parameters are allocated uninitialised: load them with
    /// load_module_weights.
    explicit RrdbNetImpl(const RrdbNetConfig& config);

    /// image [B, num_in_ch, H, W] (values in [0, 1]) → [B, num_out_ch,
    /// scale·H, scale·W], not clamped. H and W must be multiples of
    /// unshuffle(). Converts the input to the weights' dtype and device.
    at::Tensor forward(const at::Tensor& image);

    const RrdbNetConfig& config() const { return config_; }

private:
    RrdbNetConfig config_;

public:
    nn::Conv2d conv_first{nullptr};
    torch::nn::ModuleList body{nullptr};
    nn::Conv2d conv_body{nullptr}, conv_up1{nullptr}, conv_up2{nullptr}, conv_hr{nullptr},
        conv_last{nullptr};
};
TORCH_MODULE(RrdbNet);

/// `source` with basicsr's key names: `source` itself when it has them, a
/// renaming view for ESRGAN's original ×4 layout (model.0 = conv_first,
/// model.1.sub.N.RDBk.convm.0 = body.N.rdbk.convm, model.1.sub.<num_block> =
/// conv_body, model.3 / 6 / 8 / 10 = conv_up1 / conv_up2 / conv_hr /
/// conv_last), in which community models such as 4x-UltraSharp ship.
/// UnsupportedModelError for that layout with another upsampler (×2, ×8).
std::shared_ptr<const WeightSource> rrdbnet_source(std::shared_ptr<const WeightSource> source);

/// Builds the RRDBNet of `source` (RrdbNetConfig::from_weights) and loads
/// its weights in options.dtype on options.device, in eval mode without
/// gradients.
RrdbNet load_rrdbnet(const WeightSource& source, const std::map<std::string, std::string>& metadata,
                     const LoadOptions& options);

} // namespace daub
