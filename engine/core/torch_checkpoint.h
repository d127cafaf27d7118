// A PyTorch zip checkpoint (`.ckpt`, `.pth`, `.pt` written by torch.save)
// as a WeightSource: the file's directory and pickle are read by Daub's own
// restricted reader (core/torch_pickle.h), which never runs anything from
// it, through a mapping guarded against the file shrinking
// (core/guarded_mapping.h) and dropped once they are parsed; every tensor
// is checked against its storage when the file is opened. Tensor bytes are
// read (pread) into memory the tensor owns: none of the file's pages stay
// in the process's memory, and a file truncated on disk later gives a
// ModelError, never SIGBUS.
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
    /// Opens and validates `path`. Throws ModelError (cannot open),
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
    bool storage_verified(const std::string& key) const;
    /// ModelError when `crc` is not the storage's; else remembers it as checked.
    void check_storage_crc(const std::string& key, const TorchStorageData& storage,
                           uint32_t crc) const;
    /// Reads the whole storage in pieces and checks its checksum (once).
    void verify_storage(const std::string& key, const TorchStorageData& storage) const;

    std::string path_;
    int fd_ = -1;
    TorchArchive archive_;

    mutable std::mutex verified_mutex_;
    mutable std::set<std::string> verified_; ///< storage keys whose checksum matched
};

} // namespace daub
