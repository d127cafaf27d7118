// Memory-mapped, bounds-checked reader for the safetensors format
// (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length, a JSON header, then the tensor bytes.
//
// Opening validates the whole header before any tensor is touched: the
// header length against the file and a 100 MB limit, every entry's dtype,
// shape (no negative or absurd dimensions, no overflow), byte size against
// its data offsets, offsets inside the file, and no two tensors overlapping.
// Every error is a FormatError that names the file and the problem.
#pragma once

#include "core/weights.h"

#include <cstdint>
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
    /// Maps and validates `path`. Throws FormatError / ModelError.
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
    const uint8_t* map_ = nullptr;
    size_t map_size_ = 0;
    const uint8_t* data_ = nullptr; ///< start of the data section
    std::map<std::string, StTensorEntry> entries_;
    std::map<std::string, std::string> metadata_;
};

/// Writes tensors (any device, contiguous copies are made) as a safetensors
/// file; used by tools and tests. Keys are written sorted.
void write_safetensors(const std::string& path, const std::map<std::string, at::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

} // namespace daub
