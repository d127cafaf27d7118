// read_torch_archive: a torch.save zip checkpoint held in memory, its
// records checked and its pickle read by the restricted unpickler (see
// torch_pickle.h).
#include "core/errors.h"
#include "core/printable.h"
#include "core/torch_pickle.h"
#include "core/zip_archive.h"

#include <cstring>
#include <string_view>

namespace daub {

namespace {


std::string shape_text(const std::vector<int64_t>& shape) {
    std::string out = "[";
    for (size_t k = 0; k < shape.size(); ++k)
        out += (k ? ", " : "") + std::to_string(shape[k]);
    return out + "]";
}

[[noreturn]] void refuse_legacy(const std::string& name) {
    throw UnsupportedModelError(
        name + " is in PyTorch's legacy format (saved before PyTorch 1.6), which Daub does "
               "not read: re-save it with a current PyTorch (torch.save(torch.load(path, "
               "weights_only=True), new_path)) or convert it to .safetensors.");
}

} // namespace

TorchArchive read_torch_archive(std::span<const uint8_t> file, const std::string& name) {
    // A bare pickle stream (PROTO first) or a tar archive ("ustar" at 257):
    // torch.save's formats before the zip one.
    if (file.size() >= 2 && file[0] == 0x80 && file[1] >= 2 && file[1] <= 5)
        refuse_legacy(name);
    if (file.size() >= 262 && std::memcmp(file.data() + 257, "ustar", 5) == 0)
        refuse_legacy(name);
    if (file.size() < 4 || file[0] != 'P' || file[1] != 'K')
        throw FormatError(name + " is not a PyTorch checkpoint (it is not a zip archive).");

    const ZipArchive zip(file, name);
    if (zip.entries().empty())
        throw FormatError(name + " is an empty zip archive, not a PyTorch checkpoint.");
    // Every record lives in one folder named after the file at saving time.
    const std::string& first = zip.entries().front().name;
    const size_t slash = first.find('/');
    if (slash == std::string::npos || slash == 0)
        throw FormatError(name + " is a zip archive but not a PyTorch checkpoint (its records "
                                 "are not in one folder).");
    const std::string root = first.substr(0, slash + 1);
    const ZipEntry* pkl = zip.find(root + "data.pkl");
    if (!pkl)
        throw FormatError(name + " is a zip archive but not a PyTorch checkpoint (it has no " +
                          printable(root) + "data.pkl).");
    if (zip.find(root + "constants.pkl"))
        throw UnsupportedModelError(name + " is a TorchScript program (torch.jit.save), not a "
                                           "checkpoint of weights; Daub does not run programs "
                                           "from files.");
    if (const ZipEntry* order = zip.find(root + "byteorder")) {
        const auto bytes = zip.stored_data(*order);
        const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        if (text == "big")
            throw UnsupportedModelError(
                name + " was saved on a big-endian machine, and Daub reads only little-endian "
                       "checkpoints: load and save it again on an x86 or ARM computer.");
        if (text != "little")
            throw FormatError(name + " is damaged: its byteorder record says '" + printable(text) +
                              "'.");
    }

    const auto pkl_bytes = zip.stored_data(*pkl);
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION // a fuzzer cannot forge checksums
    if (crc32(pkl_bytes) != pkl->crc32)
        throw FormatError(name + " is damaged: the checksum of its data.pkl does not match "
                                 "(re-download the file).");
#endif
    TorchPickle pickle = read_torch_pickle(pkl_bytes, name);
    if (pickle.tensors.empty())
        throw ModelError(name + " holds no tensors" +
                         (pickle.wrapper.empty() ? "" : " under '" + pickle.wrapper + "'") +
                         ", so there are no weights to load.");

    TorchArchive out;
    out.wrapper = pickle.wrapper;
    for (const auto& [key, ref] : pickle.storages) {
        const std::string record = root + "data/" + key;
        const ZipEntry* entry = zip.find(record);
        if (!entry)
            throw FormatError(name + " is damaged: storage '" + printable(key) +
                              "' has no record " + printable(record) + ".");
        const auto [offset, size] = zip.stored_range(*entry);
        uint64_t need = 0;
        if (__builtin_mul_overflow(static_cast<uint64_t>(ref.numel),
                                   static_cast<uint64_t>(torch_dtype_size(ref.dtype)), &need) ||
            need != size)
            throw FormatError(name + " is damaged: storage '" + printable(key) + "' should hold " +
                              std::to_string(ref.numel) + " " + torch_dtype_name(ref.dtype) +
                              " values but its record has " + std::to_string(size) + " bytes.");
        out.storages.emplace(key,
                             TorchStorageData{ref.dtype, ref.numel, offset, size, entry->crc32});
    }
    // Tensors may view their storages with overlaps or zero strides, so a
    // few bytes of storage could claim gigabytes of tensor: the elements all
    // tensors ask for may be at most a small multiple of what the file holds
    // (plus a little for tiny expanded tensors), checked before any is made.
    uint64_t stored_elements = 0, tensor_elements = 0;
    for (const auto& [key, s] : out.storages)
        stored_elements += s.numel; // each <= the file size
    const uint64_t allowed_elements = 4 * stored_elements + (uint64_t{1} << 20);
    for (auto& [key, t] : pickle.tensors) {
        const TorchStorageData& s = out.storages.at(t.storage_key);
        const std::string where = name + ": tensor '" + printable(key) + "'";
        // Zero dimensions count as one here: torch computes contiguous
        // strides from the other dimensions even for an empty tensor.
        uint64_t numel = 1, span = 1;
        for (int64_t d : t.shape)
            if (__builtin_mul_overflow(span, static_cast<uint64_t>(d == 0 ? 1 : d), &span) ||
                span > static_cast<uint64_t>(INT64_MAX))
                throw FormatError(where + " has an absurd shape " + shape_text(t.shape) +
                                  " (its element count overflows).");
            else
                numel *= static_cast<uint64_t>(d); // <= span
        if (__builtin_add_overflow(tensor_elements, numel, &tensor_elements) ||
            tensor_elements > allowed_elements)
            throw FormatError(name + " is damaged or hostile: its tensors ask for far more "
                                     "values than the file stores (" +
                              printable(key) + " makes it " + std::to_string(tensor_elements) +
                              ", the file holds " + std::to_string(stored_elements) + ").");
        if (numel > 0) {
            // The farthest element: offset + sum((size - 1) * stride).
            uint64_t last = static_cast<uint64_t>(t.storage_offset);
            for (size_t k = 0; k < t.shape.size(); ++k) {
                uint64_t step = 0;
                if (__builtin_mul_overflow(static_cast<uint64_t>(t.shape[k] - 1),
                                           static_cast<uint64_t>(t.strides[k]), &step) ||
                    __builtin_add_overflow(last, step, &last))
                    throw FormatError(where + " reaches past the end of its storage (its "
                                              "strides overflow).");
            }
            if (last >= static_cast<uint64_t>(s.numel))
                throw FormatError(where + " reaches element " + std::to_string(last) +
                                  " of storage '" + printable(t.storage_key) + "', which has " +
                                  std::to_string(s.numel) + " (damaged file).");
        }
        out.tensors.emplace(key, std::move(t));
    }
    return out;
}

} // namespace daub
