// A PyTorch zip checkpoint (`.ckpt`, `.pth`, `.pt` written by torch.save)
// as a WeightSource: the file is memory-mapped and read by Daub's own
// restricted reader (core/torch_pickle.h), which never runs anything from
// it; every tensor is checked against its storage when the file is opened.
//
//   TorchCheckpointFile ckpt("RealESRGAN_x4plus.pth"); // params_ema unwrapped
//   at::Tensor w = ckpt.load("conv_first.weight", at::kFloat, at::kCPU);
//
// Usually opened through open_weight_file (core/weight_file.h), which picks
// the format by content.
#pragma once

#include "core/torch_pickle.h"
#include "core/weights.h"

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace daub {

class TorchCheckpointFile final : public WeightSource {
public:
    /// Maps and validates `path`. Throws ModelError (cannot open),
    /// FormatError (damaged) or UnsupportedModelError (a pickle asking for
    /// anything a weights file never needs, legacy or big-endian files).
    explicit TorchCheckpointFile(std::string path);
    ~TorchCheckpointFile() override;
    TorchCheckpointFile(const TorchCheckpointFile&) = delete;
    TorchCheckpointFile& operator=(const TorchCheckpointFile&) = delete;

    const std::string& path() const { return path_; }
    /// "params_ema", "params" or "state_dict" when the weights were under
    /// that entry; empty for a bare state dict.
    const std::string& wrapper() const { return archive_.wrapper; }
    const TorchTensorRef& entry(const std::string& key) const;

    // WeightSource
    std::vector<std::string> keys() const override;
    bool contains(const std::string& key) const override;
    std::vector<int64_t> shape(const std::string& key) const override;
    at::ScalarType stored_dtype(const std::string& key) const override;
    /// A fresh tensor owning its memory: the storage bytes viewed with the
    /// tensor's offset and strides, copied contiguous, then converted.
    /// The first read of each storage checks its zip checksum.
    at::Tensor load(const std::string& key, at::ScalarType dtype, at::Device device) const override;
    /// Loads in the stored dtype, on the CPU.
    at::Tensor load(const std::string& key) const;
    std::string describe() const override { return path_; }

    static at::ScalarType to_scalar_type(TorchDtype dtype);

private:
    void verify_storage(const std::string& key, const TorchStorageData& storage) const;

    std::string path_;
    int fd_ = -1;
    const uint8_t* map_ = nullptr;
    size_t map_size_ = 0;
    TorchArchive archive_;

    mutable std::mutex verified_mutex_;
    mutable std::set<std::string> verified_; ///< storage keys whose checksum matched
};

} // namespace daub
