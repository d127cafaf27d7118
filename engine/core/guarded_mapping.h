// A read-only memory mapping of a whole file that survives the file
// shrinking under it.
//
// Reading a mapped page past the end of a file that was truncated after it
// was mapped raises SIGBUS, which kills the process. While a
// GuardedMapping exists, a process-wide SIGBUS handler (installed once)
// maps zero-filled memory over such a page instead, so the read goes on
// and sees zeros, and shrunk() turns true. The reader checks shrunk()
// after reading and reports the file as changed (a ModelError): what it
// parsed from those zeros is thrown away. SIGBUS for any other address
// goes to the handler that was installed before (or kills the process as
// before).
//
//   GuardedMapping map(fd, size, path);
//   parse(map.bytes());
//   map.throw_if_shrunk();          // ModelError naming the file
//
// Used where a parser needs the file as one span of bytes (the zip
// directory and pickle of a PyTorch checkpoint); tensor bytes are read
// with read_file_bytes (core/weights.h) instead.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace daub {

class GuardedMapping {
public:
    /// Maps `size` bytes of the open file `fd` (0 bytes: an empty span).
    /// ModelError naming `path` when the mapping fails or too many guarded
    /// mappings exist at once (64).
    /// `fd` must stay open while the mapping exists.
    GuardedMapping(int fd, size_t size, std::string path);
    ~GuardedMapping();
    GuardedMapping(const GuardedMapping&) = delete;
    GuardedMapping& operator=(const GuardedMapping&) = delete;

    std::span<const uint8_t> bytes() const { return {data_, size_}; }
    /// True once a read found the file shorter than the mapping.
    bool shrunk() const;
    /// ModelError naming the file when shrunk().
    void throw_if_shrunk() const;

private:
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
    std::string path_;
    int fd_ = -1;
    int slot_ = -1;
};

} // namespace daub
