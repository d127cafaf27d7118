// Bounds-checked reader for the safetensors format
// (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length, a JSON header, then the tensor bytes.
//
// The file is read (pread), not memory-mapped: each tensor's bytes go once
// into memory the tensor owns, so none of the file's pages count in the
// process's resident memory, and a file that is truncated or replaced on
// disk while (or after) it is read gives a ModelError naming it, never a
// SIGBUS.
//
// Opening validates the whole header before any tensor is touched: the
// header length against the file and a 100 MB limit, every entry's dtype,
// shape (no negative or absurd dimensions, no overflow), byte size against
// its data offsets, offsets inside the file, and no two tensors overlapping.
// Every error is a FormatError that names the file and the problem.
#pragma once

#include "core/weights.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace daub {

/// Element types a safetensors file may hold and Daub reads.
enum class StDtype { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

struct StTensorEntry {
    StDtype dtype;
    std::vector<int64_t> shape;
    uint64_t begin = 0; ///< offset into the data section
    uint64_t end = 0;   ///< one past the last byte
};

class SafeTensorsFile final : public WeightSource {
public:
    /// Opens `path` and validates its header. Throws FormatError / ModelError.
    explicit SafeTensorsFile(std::string path);
    ~SafeTensorsFile() override;
    SafeTensorsFile(const SafeTensorsFile&) = delete;
    SafeTensorsFile& operator=(const SafeTensorsFile&) = delete;

    const std::string& path() const { return path_; }
    const std::map<std::string, std::string>& metadata() const { return metadata_; }
    const StTensorEntry& entry(const std::string& key) const;

    // WeightSource
    std::vector<std::string> keys() const override;
    bool contains(const std::string& key) const override;
    std::vector<int64_t> shape(const std::string& key) const override;
    at::ScalarType stored_dtype(const std::string& key) const override;
    at::Tensor load(const std::string& key, at::ScalarType dtype,
                    at::Device device) const override;
    /// Loads in the stored dtype, on the CPU.
    at::Tensor load(const std::string& key) const;
    std::string describe() const override { return path_; }

    static size_t dtype_size(StDtype dtype);
    static at::ScalarType to_scalar_type(StDtype dtype);

private:
    std::string path_;
    int fd_ = -1;
    uint64_t data_offset_ = 0; ///< where the data section starts in the file
    std::map<std::string, StTensorEntry> entries_;
    std::map<std::string, std::string> metadata_;
};

/// Writes tensors (any device, contiguous copies are made) as a safetensors
/// file; used by tools and tests. Keys are written sorted.
void write_safetensors(const std::string& path, const std::map<std::string, at::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

/// One tensor of a file written by the streaming write_safetensors.
struct StTensorSpec {
    std::string key;
    at::ScalarType dtype;
    std::vector<int64_t> shape;
};

/// Writes a safetensors file one tensor at a time, in the order of `specs`:
/// the header comes from the specs, then `produce(i)` is called for each
/// tensor in turn and its bytes are written before the next is asked for,
/// so a file larger than the memory can be written. Each produced tensor
/// must have its spec's dtype and shape (else Error, as for duplicate keys
/// and write failures).
void write_safetensors(const std::string& path, const std::vector<StTensorSpec>& specs,
                       const std::function<at::Tensor(size_t index)>& produce,
                       const std::map<std::string, std::string>& metadata = {});

} // namespace daub
