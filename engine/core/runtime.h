// Process-wide libtorch settings the engine relies on.
#pragma once

#include <string>

namespace daub {

/// Sets libtorch's intra-op threads to the number of cores (libtorch starts
/// with one on small machines). Call once at start; cheap to call again.
void init_runtime();

/// "cuda" when a CUDA device is usable, else "cpu".
std::string default_device_name();

} // namespace daub
