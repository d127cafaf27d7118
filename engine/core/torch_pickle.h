// Daub's own reader of PyTorch checkpoints (torch.save's zip format), in
// the spirit of PyTorch's `weights_only` unpickler but stricter, and with no
// torch: it can be fuzzed on its own (tests/fuzz).
//
// A checkpoint is a zip archive `<name>/data.pkl` (a pickle, protocol 2),
// `<name>/data/<key>` (the raw bytes of each storage), `<name>/version` and
// sometimes `<name>/byteorder`. The pickle is run by a small virtual machine
// that builds plain values (None, bools, ints, floats, strings, bytes,
// tuples, lists, dicts) and knows exactly these callables:
//
//   collections.OrderedDict                    -> a dict
//   torch._utils._rebuild_tensor_v2            -> a tensor description
//   torch._utils._rebuild_parameter            -> the tensor it wraps
//   torch._utils._rebuild_parameter_with_state -> the tensor it wraps
//   torch.{Double,Float,Half,BFloat16,Long,Int,Short,Char,Byte,Bool}Storage
//                                              -> a dtype, in storage ids
//
// and persistent ids ('storage', <storage type>, key, location, numel).
// Nothing is ever imported, called or executed: any other global, and any
// opcode outside the listed set (see torch_pickle.cpp), makes the whole
// file refused with one sentence naming the first one (UnsupportedModelError),
// e.g. "attack.pth is refused: it asks to call posix.system, which a
// weights file never needs; nothing from it was run." Stack, memo, object
// count, container sizes, nesting and key lengths are bounded.
//
// What is kept: the dict at the top, or the dict under its `params_ema`,
// `params` or `state_dict` entry (the first one present, in that order, as
// basicsr / Real-ESRGAN and Lightning write them). Its tensors are the
// weights; a dict inside it is flattened with '.' (`{"unet": {"w": t}}` ->
// `unet.w`, as a module's state_dict names nested modules); every other
// value (epoch, global_step, lists, strings...) is ignored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace daub {

/// Element types of torch storages Daub reads.
enum class TorchDtype : uint8_t { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

size_t torch_dtype_size(TorchDtype dtype);
/// "float16", "float32", ... as torch names them.
const char* torch_dtype_name(TorchDtype dtype);

/// A tensor as the pickle describes it: a strided view of a storage.
struct TorchTensorRef {
    TorchDtype dtype = TorchDtype::F32;
    std::vector<int64_t> shape;
    std::vector<int64_t> strides; ///< in elements
    std::string storage_key;      ///< the record `<name>/data/<storage_key>`
    int64_t storage_offset = 0;   ///< in elements
};

/// A storage as the pickle's persistent ids describe it.
struct TorchStorageRef {
    TorchDtype dtype = TorchDtype::F32;
    int64_t numel = 0;
};

/// What data.pkl says: the weights (key -> tensor) and the storages they use.
struct TorchPickle {
    /// "params_ema", "params" or "state_dict" when the weights were found
    /// under that entry; empty for a bare state dict.
    std::string wrapper;
    std::map<std::string, TorchTensorRef> tensors;
    std::map<std::string, TorchStorageRef> storages; ///< only those the tensors use
};

/// Runs the restricted unpickler over `pickle` (the bytes of data.pkl).
/// `name` is what messages call the file. Throws UnsupportedModelError for
/// a global or opcode outside the allow-list and FormatError for a damaged
/// or absurd pickle (or one whose top is not a dict).
TorchPickle read_torch_pickle(std::span<const uint8_t> pickle, const std::string& name);

/// A storage's bytes in the checkpoint file.
struct TorchStorageData {
    TorchDtype dtype = TorchDtype::F32;
    int64_t numel = 0;
    uint64_t offset = 0; ///< from the start of the file
    uint64_t size = 0;   ///< numel * element size
    uint32_t crc32 = 0;  ///< of those bytes, from the zip directory
};

/// A whole checkpoint: every tensor checked against its storage.
struct TorchArchive {
    std::string wrapper; ///< see TorchPickle::wrapper
    std::map<std::string, TorchTensorRef> tensors;
    std::map<std::string, TorchStorageData> storages;
};

/// Reads a torch.save zip checkpoint held in memory (`file` is the whole
/// file): its zip directory, data.pkl (through read_torch_pickle), byte
/// order (big-endian files are refused), and every tensor's storage record
/// (present, stored uncompressed, exactly numel * element size bytes) and
/// extent (offset + the farthest element its shape and strides reach lies
/// inside the storage; all arithmetic overflow-checked). A checkpoint
/// without tensors is a ModelError. PyTorch's legacy formats (a bare pickle
/// stream, or a tar archive) are refused with a sentence saying how to
/// re-save the file.
TorchArchive read_torch_archive(std::span<const uint8_t> file, const std::string& name);

} // namespace daub
