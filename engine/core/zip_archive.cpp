// ZipArchive: the central directory of a zip held in memory (see zip_archive.h).
//
// Layout read here (APPNOTE.TXT): the end-of-central-directory record (EOCD)
// at the end of the file, optionally preceded by a zip64 EOCD locator that
// points at the zip64 EOCD record; the central directory, one header per
// entry, with zip64 extra fields where a 32-bit size or offset is
// saturated; and each entry's local header, after which its bytes start.
#include "core/zip_archive.h"

#include "core/errors.h"
#include "core/printable.h"

#include <array>

namespace daub {

namespace {

constexpr uint32_t kEocdSignature = 0x06054b50;
constexpr uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr uint32_t kZip64EocdSignature = 0x06064b50;
constexpr uint32_t kCentralSignature = 0x02014b50;
constexpr uint32_t kLocalSignature = 0x04034b50;
constexpr uint64_t kEocdSize = 22;
constexpr uint64_t kZip64LocatorSize = 20;
constexpr uint64_t kZip64EocdSize = 56;
constexpr uint64_t kCentralHeaderSize = 46;
constexpr uint64_t kLocalHeaderSize = 30;
constexpr uint64_t kMaxComment = 0xffff;

uint16_t le16(const uint8_t* p) {
    return static_cast<uint16_t>(p[0] | (p[1] << 8));
}

uint32_t le32(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
           (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

uint64_t le64(const uint8_t* p) {
    return static_cast<uint64_t>(le32(p)) | (static_cast<uint64_t>(le32(p + 4)) << 32);
}

/// [offset, offset + size) lies inside [0, limit), without overflow.
bool fits(uint64_t offset, uint64_t size, uint64_t limit) {
    return offset <= limit && size <= limit - offset;
}


/// Slicing-by-8 tables of the reflected CRC-32 polynomial 0xEDB88320.
struct CrcTables {
    std::array<std::array<uint32_t, 256>, 8> t{};
    constexpr CrcTables() {
        for (uint32_t i = 0; i < 256; ++i) {
            uint32_t c = i;
            for (int k = 0; k < 8; ++k)
                c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
            t[0][i] = c;
        }
        for (uint32_t i = 0; i < 256; ++i)
            for (size_t s = 1; s < 8; ++s)
                t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
    }
};

constexpr CrcTables kCrc{};

} // namespace

uint32_t crc32(std::span<const uint8_t> data, uint32_t crc) {
    const auto& t = kCrc.t;
    uint32_t c = ~crc;
    const uint8_t* p = data.data();
    size_t n = data.size();
    while (n >= 8) {
        const uint32_t a = c ^ le32(p);
        const uint32_t b = le32(p + 4);
        c = t[7][a & 0xff] ^ t[6][(a >> 8) & 0xff] ^ t[5][(a >> 16) & 0xff] ^ t[4][a >> 24] ^
            t[3][b & 0xff] ^ t[2][(b >> 8) & 0xff] ^ t[1][(b >> 16) & 0xff] ^ t[0][b >> 24];
        p += 8;
        n -= 8;
    }
    while (n--)
        c = t[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    return ~c;
}

ZipArchive::ZipArchive(std::span<const uint8_t> bytes, std::string name)
    : bytes_(bytes), name_(std::move(name)) {
    read_central_directory();
}

void ZipArchive::malformed(const std::string& what) const {
    throw FormatError(name_ + " is not a readable zip archive: " + what + ".");
}

void ZipArchive::read_central_directory() {
    const uint64_t size = bytes_.size();
    const uint8_t* data = bytes_.data();
    if (size < kEocdSize)
        malformed("it is too short (" + std::to_string(size) + " bytes; truncated?)");

    // The EOCD is the last record; only a comment (at most 64 KiB) follows it.
    uint64_t eocd = UINT64_MAX;
    const uint64_t lowest = size - kEocdSize > kMaxComment ? size - kEocdSize - kMaxComment : 0;
    for (uint64_t pos = size - kEocdSize + 1; pos-- > lowest;) {
        if (le32(data + pos) == kEocdSignature && pos + kEocdSize + le16(data + pos + 20) == size) {
            eocd = pos;
            break;
        }
    }
    if (eocd == UINT64_MAX)
        malformed("it has no end-of-central-directory record (truncated?)");

    const uint8_t* e = data + eocd;
    uint64_t disk = le16(e + 4), cd_disk = le16(e + 6);
    uint64_t disk_entries = le16(e + 8), total_entries = le16(e + 10);
    uint64_t cd_size = le32(e + 12), cd_offset = le32(e + 16);
    uint64_t cd_limit = eocd; // the central directory ends before what follows it

    if (eocd >= kZip64LocatorSize && le32(e - kZip64LocatorSize) == kZip64LocatorSignature) {
        const uint8_t* loc = e - kZip64LocatorSize;
        const uint64_t z_offset = le64(loc + 8);
        const uint64_t locator = eocd - kZip64LocatorSize;
        if (le32(loc + 4) != 0 || le32(loc + 16) > 1)
            throw UnsupportedModelError(name_ + " is a multi-part zip archive, which Daub does "
                                                "not read: join it into one file.");
        if (!fits(z_offset, kZip64EocdSize, locator))
            malformed("its zip64 end record lies outside the file");
        const uint8_t* z = data + z_offset;
        if (le32(z) != kZip64EocdSignature)
            malformed("its zip64 end record has the wrong signature");
        disk = le32(z + 16);
        cd_disk = le32(z + 20);
        disk_entries = le64(z + 24);
        total_entries = le64(z + 32);
        cd_size = le64(z + 40);
        cd_offset = le64(z + 48);
        cd_limit = z_offset;
    } else if (disk_entries == 0xffff || total_entries == 0xffff || cd_size == 0xffffffff ||
               cd_offset == 0xffffffff) {
        malformed("it needs a zip64 end record but has none (truncated?)");
    }
    if (disk != 0 || cd_disk != 0 || disk_entries != total_entries)
        throw UnsupportedModelError(name_ + " is a multi-part zip archive, which Daub does not "
                                            "read: join it into one file.");
    if (!fits(cd_offset, cd_size, cd_limit))
        malformed("its central directory lies outside the file (" + std::to_string(cd_offset) +
                  " + " + std::to_string(cd_size) + " bytes; truncated?)");
    if (total_entries > kMaxEntries || total_entries > cd_size / kCentralHeaderSize)
        malformed("it lists " + std::to_string(total_entries) +
                  " entries, more than its central directory of " + std::to_string(cd_size) +
                  " bytes can hold");

    entries_.reserve(static_cast<size_t>(total_entries));
    uint64_t pos = cd_offset;
    const uint64_t cd_end = cd_offset + cd_size;
    for (uint64_t i = 0; i < total_entries; ++i) {
        if (!fits(pos, kCentralHeaderSize, cd_end) || le32(data + pos) != kCentralSignature)
            malformed("central directory entry " + std::to_string(i) + " is damaged");
        const uint8_t* h = data + pos;
        ZipEntry entry;
        entry.flags = le16(h + 8);
        entry.method = le16(h + 10);
        entry.crc32 = le32(h + 16);
        entry.compressed_size = le32(h + 20);
        entry.uncompressed_size = le32(h + 24);
        const uint64_t name_len = le16(h + 28), extra_len = le16(h + 30),
                       comment_len = le16(h + 32);
        const uint64_t entry_disk = le16(h + 34);
        entry.local_header_offset = le32(h + 42);
        const uint64_t record = kCentralHeaderSize + name_len + extra_len + comment_len;
        if (!fits(pos, record, cd_end))
            malformed("central directory entry " + std::to_string(i) + " runs past its end");
        entry.name.assign(reinterpret_cast<const char*>(h + kCentralHeaderSize), name_len);

        // zip64 extra field: the saturated 32-bit values, in this order.
        const bool need_usize = entry.uncompressed_size == 0xffffffff;
        const bool need_csize = entry.compressed_size == 0xffffffff;
        const bool need_offset = entry.local_header_offset == 0xffffffff;
        const bool need_disk = entry_disk == 0xffff;
        bool have_zip64 = false;
        const uint8_t* x = h + kCentralHeaderSize + name_len;
        uint64_t left = extra_len;
        while (left >= 4) {
            const uint16_t id = le16(x);
            const uint64_t len = le16(x + 2);
            if (len > left - 4)
                malformed("the extra field of '" + printable(entry.name) + "' is damaged");
            if (id == 0x0001 && !have_zip64) {
                have_zip64 = true;
                uint64_t at = 0;
                auto take = [&](uint64_t width) -> uint64_t {
                    if (at + width > len)
                        malformed("the zip64 field of '" + printable(entry.name) +
                                  "' is too short");
                    const uint64_t v = width == 8 ? le64(x + 4 + at) : le32(x + 4 + at);
                    at += width;
                    return v;
                };
                if (need_usize)
                    entry.uncompressed_size = take(8);
                if (need_csize)
                    entry.compressed_size = take(8);
                if (need_offset)
                    entry.local_header_offset = take(8);
                if (need_disk)
                    take(4);
            }
            x += 4 + len;
            left -= 4 + len;
        }
        if ((need_usize || need_csize || need_offset || need_disk) && !have_zip64)
            malformed("'" + printable(entry.name) + "' needs a zip64 field but has none");
        if (!fits(entry.local_header_offset, kLocalHeaderSize, cd_offset))
            malformed("the data of '" + printable(entry.name) + "' starts outside the file");
        if (!by_name_.emplace(entry.name, entries_.size()).second)
            malformed("it lists '" + printable(entry.name) + "' twice");
        entries_.push_back(std::move(entry));
        pos += record;
    }
}

const ZipEntry* ZipArchive::find(std::string_view name) const {
    auto it = by_name_.find(std::string(name));
    return it == by_name_.end() ? nullptr : &entries_[it->second];
}

std::pair<uint64_t, uint64_t> ZipArchive::stored_range(const ZipEntry& entry) const {
    const std::string what = "'" + printable(entry.name) + "'";
    if (entry.flags & 0x0001)
        throw UnsupportedModelError(name_ + " has an encrypted entry " + what +
                                    ", which Daub does not read.");
    if (entry.method != 0)
        throw UnsupportedModelError(
            name_ + " has a compressed entry " + what + " (zip method " +
            std::to_string(entry.method) +
            "), but PyTorch writes checkpoints uncompressed and Daub reads only those: save it "
            "again with torch.save or convert it to .safetensors.");
    if (entry.compressed_size != entry.uncompressed_size)
        malformed("the stored entry " + what + " has different packed and unpacked sizes");
    const uint64_t size = bytes_.size();
    const uint64_t lho = entry.local_header_offset;
    if (!fits(lho, kLocalHeaderSize, size) || le32(bytes_.data() + lho) != kLocalSignature)
        malformed("the local header of " + what + " is missing");
    const uint8_t* h = bytes_.data() + lho;
    if (le16(h + 8) != entry.method)
        malformed("the local header of " + what + " disagrees with the central directory");
    const uint64_t start = lho + kLocalHeaderSize + le16(h + 26) + le16(h + 28);
    if (!fits(start, entry.uncompressed_size, size))
        malformed("the data of " + what + " runs past the end of the file (" +
                  std::to_string(entry.uncompressed_size) + " bytes at " + std::to_string(start) +
                  " in " + std::to_string(size) + "; truncated?)");
    return {start, entry.uncompressed_size};
}

std::span<const uint8_t> ZipArchive::stored_data(const ZipEntry& entry) const {
    const auto [start, length] = stored_range(entry);
    return bytes_.subspan(static_cast<size_t>(start), static_cast<size_t>(length));
}

} // namespace daub
