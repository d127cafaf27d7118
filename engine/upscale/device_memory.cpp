#include "upscale/device_memory.h"

#include <c10/core/DeviceGuard.h>

#include <dlfcn.h>

#include <algorithm>
#include <fstream>
#include <string>

namespace daub {

namespace {

/// A "Key:   123 kB" line of /proc/meminfo, in bytes; 0 when absent.
uint64_t meminfo_bytes(const std::string& key) {
    std::ifstream in("/proc/meminfo");
    std::string name, unit;
    uint64_t value = 0;
    while (in >> name >> value) {
        std::getline(in, unit);
        if (name == key + ":")
            return value * 1024;
    }
    return 0;
}

/// One number from a cgroup v2 file; false for "max" and unreadable files.
bool read_cgroup_number(const char* path, uint64_t& value) {
    std::ifstream in(path);
    std::string text;
    if (!(in >> text) || text.empty() || text == "max")
        return false;
    try {
        size_t used = 0;
        value = std::stoull(text, &used);
        return used == text.size();
    } catch (const std::exception&) {
        return false;
    }
}

uint64_t cpu_available() {
    uint64_t available = meminfo_bytes("MemAvailable");
    uint64_t limit = 0, current = 0;
    if (read_cgroup_number("/sys/fs/cgroup/memory.max", limit) &&
        read_cgroup_number("/sys/fs/cgroup/memory.current", current)) {
        const uint64_t room = limit > current ? limit - current : 0;
        available = available ? std::min(available, room) : room;
    }
    return available;
}

uint64_t cuda_available(const c10::Device& device) {
    // cudaError_t cudaMemGetInfo(size_t* free, size_t* total), from the
    // CUDA runtime libtorch's CUDA build has loaded; absent on CPU builds.
    using MemGetInfo = int (*)(size_t*, size_t*);
    void* symbol = ::dlsym(RTLD_DEFAULT, "cudaMemGetInfo");
    if (!symbol)
        return 0;
    c10::OptionalDeviceGuard guard;
    if (device.has_index())
        guard.reset_device(device); // cudaMemGetInfo speaks of the current device
    size_t free = 0, total = 0;
    if (reinterpret_cast<MemGetInfo>(symbol)(&free, &total) != 0)
        return 0;
    return free;
}

} // namespace

uint64_t available_memory(const c10::Device& device) {
    if (device.is_cuda())
        return cuda_available(device);
    if (device.is_cpu())
        return cpu_available();
    return 0;
}

} // namespace daub
