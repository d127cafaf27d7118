// How much memory a device has free for tensors, to size upscaler tiles.
#pragma once

#include <c10/core/Device.h>

#include <cstdint>

namespace daub {

/// Bytes free for new tensors on `device`, 0 when unknown.
/// CPU: /proc/meminfo's MemAvailable, capped by the cgroup's memory.max
/// less memory.current when the process runs under a limit (containers).
/// CUDA: cudaMemGetInfo's free bytes, looked up in the CUDA runtime that
/// libtorch has loaded (no link-time dependency, so the CPU build of
/// libtorch needs nothing); memory cached by libtorch's allocator is not
/// counted, which errs on the small side.
uint64_t available_memory(const c10::Device& device);

} // namespace daub
