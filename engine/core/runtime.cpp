#include "core/runtime.h"

#include <torch/torch.h>

#include <thread>

namespace daub {

void init_runtime() {
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    if (at::get_num_threads() != static_cast<int>(cores))
        at::set_num_threads(static_cast<int>(cores));
}

std::string default_device_name() { return torch::cuda::is_available() ? "cuda" : "cpu"; }

} // namespace daub
