// Opening a file of weights whatever its format, decided by its content
// (never by its extension):
//
//   auto weights = daub::open_weight_file("RealESRGAN_x4plus.pth");
//   load_module_weights(*net, *weights, "", {at::kFloat, at::kCPU});
//
// - safetensors (an 8-byte header length, then a JSON object): SafeTensorsFile.
// - a PyTorch zip checkpoint (torch.save since PyTorch 1.6, `.ckpt` / `.pth`
//   / `.pt`): TorchCheckpointFile, read by Daub's own restricted reader that
//   never runs or imports anything from the file (see core/torch_pickle.h).
//   Wrappers are unwrapped: `params_ema` (preferred, as basicsr does), then
//   `params`, then `state_dict`; other entries (epoch, global_step, ...) are
//   ignored.
// - PyTorch's legacy formats (a raw pickle stream, or the tar archive of
//   PyTorch before 0.4): UnsupportedModelError saying how to re-save it.
//
// Errors name the file: ModelError when it cannot be opened, FormatError
// when it is malformed, UnsupportedModelError when it asks for something a
// weights file never needs (a pickle that would call code).
#pragma once

#include "core/weights.h"

#include <memory>
#include <string>

namespace daub {

/// Opens `path` as a weight source (see above). The returned source may be
/// shared by several users and read from several threads.
std::shared_ptr<const WeightSource> open_weight_file(const std::string& path);

} // namespace daub
