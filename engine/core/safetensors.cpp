#include "core/safetensors.h"

#include "core/errors.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

namespace daub {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull * 1024 * 1024;
constexpr int64_t kMaxRank = 8;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
    throw FormatError(path + ": " + what);
}

bool parse_dtype(const std::string& s, StDtype& out) {
    static const std::pair<const char*, StDtype> table[] = {
        {"F64", StDtype::F64}, {"F32", StDtype::F32}, {"F16", StDtype::F16},
        {"BF16", StDtype::BF16}, {"I64", StDtype::I64}, {"I32", StDtype::I32},
        {"I16", StDtype::I16}, {"I8", StDtype::I8}, {"U8", StDtype::U8},
        {"BOOL", StDtype::BOOL}};
    for (const auto& [name, dtype] : table) {
        if (s == name) {
            out = dtype;
            return true;
        }
    }
    return false;
}

const char* dtype_name(at::ScalarType t) {
    switch (t) {
    case at::kDouble: return "F64";
    case at::kFloat: return "F32";
    case at::kHalf: return "F16";
    case at::kBFloat16: return "BF16";
    case at::kLong: return "I64";
    case at::kInt: return "I32";
    case at::kShort: return "I16";
    case at::kChar: return "I8";
    case at::kByte: return "U8";
    case at::kBool: return "BOOL";
    default: throw Error(std::string("safetensors cannot store dtype ") + c10::toString(t));
    }
}

} // namespace

size_t SafeTensorsFile::dtype_size(StDtype dtype) {
    switch (dtype) {
    case StDtype::F64: case StDtype::I64: return 8;
    case StDtype::F32: case StDtype::I32: return 4;
    case StDtype::F16: case StDtype::BF16: case StDtype::I16: return 2;
    case StDtype::I8: case StDtype::U8: case StDtype::BOOL: return 1;
    }
    return 0;
}

at::ScalarType SafeTensorsFile::to_scalar_type(StDtype dtype) {
    switch (dtype) {
    case StDtype::F64: return at::kDouble;
    case StDtype::F32: return at::kFloat;
    case StDtype::F16: return at::kHalf;
    case StDtype::BF16: return at::kBFloat16;
    case StDtype::I64: return at::kLong;
    case StDtype::I32: return at::kInt;
    case StDtype::I16: return at::kShort;
    case StDtype::I8: return at::kChar;
    case StDtype::U8: return at::kByte;
    case StDtype::BOOL: return at::kBool;
    }
    return at::kFloat;
}

SafeTensorsFile::SafeTensorsFile(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0)
        throw ModelError(path_ + ": cannot open the file (" + std::strerror(errno) + ").");
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd_);
        fd_ = -1;
        throw ModelError(path_ + ": not a regular file.");
    }
    const uint64_t file_size = static_cast<uint64_t>(st.st_size);
    try {
        if (file_size < 8)
            fail(path_, "file is too short to be safetensors (" + std::to_string(file_size) +
                            " bytes, truncated?).");
        uint8_t length_bytes[8];
        read_file_bytes(fd_, 0, length_bytes, 8, path_);
        uint64_t header_len = 0;
        for (int i = 7; i >= 0; --i)
            header_len = (header_len << 8) | length_bytes[i];
        if (header_len > kMaxHeaderBytes)
            fail(path_, "header length " + std::to_string(header_len) +
                            " is over the 100 MB limit (not a safetensors file?).");
        if (header_len > file_size - 8)
            fail(path_, "header length " + std::to_string(header_len) +
                            " runs past the end of the file (" + std::to_string(file_size) +
                            " bytes; truncated?).");
        data_offset_ = 8 + header_len;
        const uint64_t data_size = file_size - 8 - header_len;
        std::string header_text(static_cast<size_t>(header_len), '\0');
        read_file_bytes(fd_, 8, header_text.data(), header_text.size(), path_);

        nlohmann::json header;
        try {
            header = nlohmann::json::parse(header_text);
        } catch (const nlohmann::json::exception& e) {
            fail(path_, std::string("header is not valid JSON (") + e.what() + ").");
        }
        if (!header.is_object())
            fail(path_, "header is not a JSON object.");

        for (const auto& [key, value] : header.items()) {
            if (key == "__metadata__") {
                if (!value.is_object())
                    fail(path_, "__metadata__ is not an object.");
                for (const auto& [mk, mv] : value.items())
                    metadata_[mk] = mv.is_string() ? mv.get<std::string>() : mv.dump();
                continue;
            }
            const std::string where = "tensor '" + key + "'";
            if (!value.is_object())
                fail(path_, where + " has no description object.");
            StTensorEntry e;
            if (!value.contains("dtype") || !value["dtype"].is_string() ||
                !parse_dtype(value["dtype"].get<std::string>(), e.dtype))
                fail(path_, where + " has an unknown dtype " +
                                (value.contains("dtype") ? value["dtype"].dump() : "(none)") + ".");
            if (!value.contains("shape") || !value["shape"].is_array())
                fail(path_, where + " has no shape.");
            if (value["shape"].size() > kMaxRank)
                fail(path_, where + " has an absurd rank " +
                                std::to_string(value["shape"].size()) + ".");
            const std::string absurd =
                where + " has an absurd shape " + value["shape"].dump() +
                " (more elements than the file holds).";
            uint64_t numel = 1;
            for (const auto& d : value["shape"]) {
                if (!d.is_number_integer() || d.get<int64_t>() < 0)
                    fail(path_, where + " has an invalid dimension " + d.dump() + ".");
                const uint64_t dim = d.get<uint64_t>();
                // Overflow-checked: a wrapped product could match a tiny byte count.
                if (__builtin_mul_overflow(numel, dim, &numel))
                    fail(path_, absurd);
                e.shape.push_back(static_cast<int64_t>(dim));
            }
            const auto& off = value.contains("data_offsets") ? value["data_offsets"] : nlohmann::json();
            if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
                !off[1].is_number_unsigned())
                fail(path_, where + " has invalid data_offsets.");
            e.begin = off[0].get<uint64_t>();
            e.end = off[1].get<uint64_t>();
            if (e.begin > e.end)
                fail(path_, where + " has data_offsets that end before they begin.");
            if (e.end > data_size)
                fail(path_, where + " has data_offsets past the end of the file (" +
                                std::to_string(e.end) + " > " + std::to_string(data_size) +
                                " data bytes; truncated?).");
            // More elements than the file has bytes cannot be a real tensor.
            uint64_t expected = 0;
            if (numel > data_size || __builtin_mul_overflow(numel, dtype_size(e.dtype), &expected))
                fail(path_, absurd);
            if (e.end - e.begin != expected)
                fail(path_, where + " has " + std::to_string(e.end - e.begin) +
                                " bytes but its dtype and shape need " + std::to_string(expected) +
                                ".");
            entries_.emplace(key, std::move(e));
        }

        std::vector<std::pair<const std::string*, const StTensorEntry*>> by_offset;
        for (const auto& [k, e] : entries_)
            by_offset.emplace_back(&k, &e);
        std::sort(by_offset.begin(), by_offset.end(), [](const auto& a, const auto& b) {
            return a.second->begin < b.second->begin ||
                   (a.second->begin == b.second->begin && a.second->end < b.second->end);
        });
        for (size_t i = 1; i < by_offset.size(); ++i) {
            const auto& prev = by_offset[i - 1];
            const auto& cur = by_offset[i];
            if (cur.second->begin < prev.second->end)
                fail(path_, "tensors '" + *prev.first + "' and '" + *cur.first +
                                "' overlap in the file.");
        }
    } catch (...) {
        ::close(fd_);
        fd_ = -1;
        throw;
    }
}

SafeTensorsFile::~SafeTensorsFile() {
    if (fd_ >= 0)
        ::close(fd_);
}

const StTensorEntry& SafeTensorsFile::entry(const std::string& key) const {
    auto it = entries_.find(key);
    if (it == entries_.end())
        throw ModelError(path_ + ": tensor '" + key + "' is missing.");
    return it->second;
}

std::vector<std::string> SafeTensorsFile::keys() const {
    std::vector<std::string> out;
    out.reserve(entries_.size());
    for (const auto& [k, e] : entries_)
        out.push_back(k);
    return out;
}

bool SafeTensorsFile::contains(const std::string& key) const { return entries_.count(key) != 0; }

std::vector<int64_t> SafeTensorsFile::shape(const std::string& key) const {
    return entry(key).shape;
}

at::ScalarType SafeTensorsFile::stored_dtype(const std::string& key) const {
    return to_scalar_type(entry(key).dtype);
}

at::Tensor SafeTensorsFile::load(const std::string& key) const {
    return load(key, stored_dtype(key), at::kCPU);
}

at::Tensor SafeTensorsFile::load(const std::string& key, at::ScalarType dtype,
                                 at::Device device) const {
    const StTensorEntry& e = entry(key);
    const at::ScalarType stored = to_scalar_type(e.dtype);
    // Read the bytes once into memory torch owns (aligned), then convert:
    // read, not mapped, so a file that shrinks is a short read (ModelError),
    // never SIGBUS, and no page of the file is counted in the process's memory.
    at::Tensor host = at::empty(e.shape, at::TensorOptions().dtype(stored));
    if (e.end > e.begin)
        read_file_bytes(fd_, data_offset_ + e.begin, host.data_ptr(),
                        static_cast<size_t>(e.end - e.begin), path_);
    if (stored == dtype && device.is_cpu())
        return host;
    return host.to(at::TensorOptions().dtype(dtype).device(device));
}

void write_safetensors(const std::string& path, const std::vector<StTensorSpec>& specs,
                       const std::function<at::Tensor(size_t index)>& produce,
                       const std::map<std::string, std::string>& metadata) {
    nlohmann::json header = nlohmann::json::object();
    if (!metadata.empty())
        header["__metadata__"] = metadata;
    std::vector<uint64_t> sizes;
    sizes.reserve(specs.size());
    uint64_t offset = 0;
    for (const auto& spec : specs) {
        if (spec.key == "__metadata__" || header.contains(spec.key))
            throw Error("Cannot write " + path + ": the tensor name '" + spec.key +
                        "' is reserved or given twice.");
        uint64_t bytes = c10::elementSize(spec.dtype);
        for (const int64_t d : spec.shape)
            if (d < 0 || __builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes))
                throw Error("Cannot write " + path + ": tensor '" + spec.key +
                            "' has an invalid shape " + shape_to_string(spec.shape) + ".");
        header[spec.key] = {{"dtype", dtype_name(spec.dtype)},
                            {"shape", spec.shape},
                            {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
        sizes.push_back(bytes);
    }
    std::string text = header.dump();
    while ((text.size() + 8) % 8 != 0)
        text.push_back(' ');
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out)
        throw Error("Cannot write " + path + ".");
    uint64_t n = text.size();
    char len[8];
    for (int i = 0; i < 8; ++i)
        len[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    out.write(len, 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (size_t i = 0; i < specs.size(); ++i) {
        // One tensor in memory at a time (besides what the caller keeps).
        const at::Tensor c = produce(i).detach().to(at::kCPU).contiguous();
        if (c.scalar_type() != specs[i].dtype || c.sizes().vec() != specs[i].shape)
            throw Error("Cannot write " + path + ": tensor '" + specs[i].key + "' is " +
                        c10::toString(c.scalar_type()) + " " + shape_to_string(c.sizes().vec()) +
                        ", not the " + c10::toString(specs[i].dtype) + " " +
                        shape_to_string(specs[i].shape) + " its header entry says.");
        out.write(static_cast<const char*>(c.data_ptr()),
                  static_cast<std::streamsize>(sizes[i]));
        if (!out)
            break;
    }
    out.close(); // flushes: a full disk shows here, not in the destructor
    if (!out)
        throw Error("Cannot write " + path + " (disk full?).");
}

void write_safetensors(const std::string& path, const std::map<std::string, at::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
    std::vector<StTensorSpec> specs;
    std::vector<const at::Tensor*> values;
    for (const auto& [key, t] : tensors) {
        specs.push_back({key, t.scalar_type(), t.sizes().vec()});
        values.push_back(&t);
    }
    write_safetensors(
        path, specs, [&](size_t i) { return *values[i]; }, metadata);
}

} // namespace daub
