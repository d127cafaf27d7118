// TorchCheckpointFile: a torch.save zip checkpoint as a WeightSource
// (see torch_checkpoint.h).
#include "core/torch_checkpoint.h"

#include "core/errors.h"
#include "core/guarded_mapping.h"
#include "core/zip_archive.h"

#include <torch/torch.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

namespace daub {

at::ScalarType TorchCheckpointFile::to_scalar_type(TorchDtype dtype) {
    switch (dtype) {
    case TorchDtype::F64:
        return at::kDouble;
    case TorchDtype::F32:
        return at::kFloat;
    case TorchDtype::F16:
        return at::kHalf;
    case TorchDtype::BF16:
        return at::kBFloat16;
    case TorchDtype::I64:
        return at::kLong;
    case TorchDtype::I32:
        return at::kInt;
    case TorchDtype::I16:
        return at::kShort;
    case TorchDtype::I8:
        return at::kChar;
    case TorchDtype::U8:
        return at::kByte;
    case TorchDtype::BOOL:
        return at::kBool;
    }
    return at::kFloat;
}

TorchCheckpointFile::TorchCheckpointFile(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0)
        throw ModelError(path_ + ": cannot open the file (" + std::strerror(errno) + ").");
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd_);
        fd_ = -1;
        throw ModelError(path_ + ": not a regular file.");
    }
    try {
        // The zip directory and the pickle are read through a mapping that
        // is dropped once they are parsed; a file that shrinks meanwhile
        // reads as zeros there (no SIGBUS), and whatever that gave is
        // replaced by the ModelError saying the file changed.
        const GuardedMapping map(fd_, static_cast<size_t>(st.st_size), path_);
        try {
            archive_ =
                read_torch_archive(map.bytes(), std::filesystem::path(path_).filename().string());
        } catch (const std::exception&) {
            map.throw_if_shrunk();
            throw;
        }
        map.throw_if_shrunk();
    } catch (...) {
        ::close(fd_);
        fd_ = -1;
        throw;
    }
}

TorchCheckpointFile::~TorchCheckpointFile() {
    if (fd_ >= 0)
        ::close(fd_);
}

const TorchTensorRef& TorchCheckpointFile::entry(const std::string& key) const {
    auto it = archive_.tensors.find(key);
    if (it == archive_.tensors.end())
        throw ModelError(path_ + ": tensor '" + key + "' is missing.");
    return it->second;
}

std::vector<std::string> TorchCheckpointFile::keys() const {
    std::vector<std::string> out;
    out.reserve(archive_.tensors.size());
    for (const auto& [key, t] : archive_.tensors)
        out.push_back(key);
    return out;
}

bool TorchCheckpointFile::contains(const std::string& key) const {
    return archive_.tensors.count(key) != 0;
}

std::vector<int64_t> TorchCheckpointFile::shape(const std::string& key) const {
    return entry(key).shape;
}

at::ScalarType TorchCheckpointFile::stored_dtype(const std::string& key) const {
    return to_scalar_type(entry(key).dtype);
}

bool TorchCheckpointFile::storage_verified(const std::string& key) const {
    std::lock_guard<std::mutex> lock(verified_mutex_);
    return verified_.count(key) != 0;
}

void TorchCheckpointFile::check_storage_crc(const std::string& key, const TorchStorageData& storage,
                                            uint32_t crc) const {
    if (crc != storage.crc32)
        throw ModelError(path_ + " is damaged: the checksum of storage '" + key +
                         "' does not match (re-download the file).");
    std::lock_guard<std::mutex> lock(verified_mutex_);
    verified_.insert(key);
}

void TorchCheckpointFile::verify_storage(const std::string& key,
                                         const TorchStorageData& storage) const {
    if (storage_verified(key))
        return;
    // Read in pieces: a storage that a tensor only partly covers is checked
    // without holding all of it.
    constexpr uint64_t kPiece = uint64_t{4} << 20;
    std::vector<uint8_t> piece(static_cast<size_t>(std::min(storage.size, kPiece)));
    uint32_t crc = 0;
    for (uint64_t done = 0; done < storage.size;) {
        const size_t n = static_cast<size_t>(std::min(storage.size - done, kPiece));
        read_file_bytes(fd_, storage.offset + done, piece.data(), n, path_);
        crc = crc32(std::span<const uint8_t>(piece.data(), n), crc);
        done += n;
    }
    check_storage_crc(key, storage, crc);
}

at::Tensor TorchCheckpointFile::load(const std::string& key) const {
    return load(key, stored_dtype(key), at::kCPU);
}

at::Tensor TorchCheckpointFile::load(const std::string& key, at::ScalarType dtype,
                                     at::Device device) const {
    const TorchTensorRef& t = entry(key);
    const TorchStorageData& s = archive_.storages.at(t.storage_key);
    const at::ScalarType stored = to_scalar_type(t.dtype);
    at::Tensor host = at::empty(t.shape, at::TensorOptions().dtype(stored));
    if (host.numel() > 0) {
        // Checked when the file was opened: offset + sum((size - 1) * stride)
        // lies inside the storage.
        const size_t element = torch_dtype_size(t.dtype);
        int64_t last = t.storage_offset;
        bool contiguous = true;
        int64_t expected = 1;
        for (size_t k = t.shape.size(); k-- > 0;) {
            last += (t.shape[k] - 1) * t.strides[k];
            if (t.shape[k] != 1 && t.strides[k] != expected)
                contiguous = false;
            expected *= t.shape[k];
        }
        // Read, not mapped: a file that shrank is a short read (ModelError).
        const uint64_t first = s.offset + static_cast<uint64_t>(t.storage_offset) * element;
        const size_t bytes = static_cast<size_t>(host.numel()) * element;
        if (contiguous && t.storage_offset == 0 && bytes == s.size) {
            // The whole storage: read once, checked as it is.
            read_file_bytes(fd_, first, host.data_ptr(), bytes, path_);
            if (!storage_verified(t.storage_key))
                check_storage_crc(t.storage_key, s,
                                  crc32(std::span<const uint8_t>(
                                      static_cast<const uint8_t*>(host.data_ptr()), bytes)));
        } else {
            verify_storage(t.storage_key, s);
            if (contiguous) {
                read_file_bytes(fd_, first, host.data_ptr(), bytes, path_);
            } else {
                // Read the span the view reaches into aligned memory, then gather.
                const int64_t reach = last - t.storage_offset + 1;
                at::Tensor raw = at::empty({reach}, at::TensorOptions().dtype(stored));
                read_file_bytes(fd_, first, raw.data_ptr(), static_cast<size_t>(reach) * element,
                                path_);
                host.copy_(raw.as_strided(t.shape, t.strides, 0));
            }
        }
    }
    if (stored == dtype && device.is_cpu())
        return host;
    return host.to(at::TensorOptions().dtype(dtype).device(device));
}

} // namespace daub
