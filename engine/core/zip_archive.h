// A bounds-checked reader of zip archives held in memory, as far as a
// PyTorch checkpoint needs: the central directory (zip64 included, which
// torch.save always writes), and where each STORED (uncompressed) entry's
// bytes lie. No torch, no allocation driven by unchecked sizes: every offset
// and size is checked against the archive's size with overflow-safe
// arithmetic before it is used, so the reader can be fuzzed on its own
// (tests/fuzz).
//
//   ZipArchive zip(bytes, "model.ckpt");
//   const ZipEntry* e = zip.find("archive/data.pkl");
//   std::span<const uint8_t> pkl = zip.stored_data(*e);
//
// Errors are FormatError (malformed archive) or UnsupportedModelError
// (compressed or encrypted entries, multi-disk archives), one sentence
// naming the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace daub {

struct ZipEntry {
    std::string name;
    uint16_t method = 0; ///< 0 = stored, 8 = deflate, ...
    uint16_t flags = 0;  ///< general purpose bit flags
    uint32_t crc32 = 0;  ///< of the uncompressed bytes
    uint64_t compressed_size = 0;
    uint64_t uncompressed_size = 0;
    uint64_t local_header_offset = 0;
};

class ZipArchive {
public:
    /// Upper bound on the entries an archive may list (a torch checkpoint
    /// has one per storage; large SDXL files have a few thousand).
    static constexpr uint64_t kMaxEntries = 1u << 20;

    /// Parses the central directory of `bytes` (the whole file; it must
    /// outlive the ZipArchive). `name` is what messages call the file.
    ZipArchive(std::span<const uint8_t> bytes, std::string name);

    const std::vector<ZipEntry>& entries() const { return entries_; }
    /// The entry named exactly `name`, or nullptr.
    const ZipEntry* find(std::string_view name) const;

    /// Where a STORED entry's bytes lie in the archive (offset from the
    /// start, size), after checking its local header. Refuses compressed
    /// and encrypted entries (UnsupportedModelError) and entries whose
    /// bytes do not lie inside the archive (FormatError).
    std::pair<uint64_t, uint64_t> stored_range(const ZipEntry& entry) const;
    /// The bytes of a STORED entry (see stored_range).
    std::span<const uint8_t> stored_data(const ZipEntry& entry) const;

    const std::string& name() const { return name_; }

private:
    [[noreturn]] void malformed(const std::string& what) const;
    void read_central_directory();

    std::span<const uint8_t> bytes_;
    std::string name_;
    std::vector<ZipEntry> entries_;
    std::unordered_map<std::string, size_t> by_name_;
};

/// The CRC-32 (ISO-HDLC, as zip uses) of `data`, continuing from `crc`.
uint32_t crc32(std::span<const uint8_t> data, uint32_t crc = 0);

} // namespace daub
