// Lock-free cancellation flag, checked by the engine between steps.
#pragma once

#include <atomic>

namespace daub {

class CancelToken {
public:
    void cancel() { flag_.store(true, std::memory_order_relaxed); }
    void reset() { flag_.store(false, std::memory_order_relaxed); }
    bool cancelled() const { return flag_.load(std::memory_order_relaxed); }

private:
    std::atomic<bool> flag_{false};
};

} // namespace daub
