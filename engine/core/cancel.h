// Cancellation: a lock-free flag any thread may set, and the engine's
// checks of it.
//
// The pipelines check their CancelToken between steps, tiles and tensors.
// Inside a long phase (one UNet evaluation, the text encoders, a VAE
// decode) the modules check the token of the innermost CancelScope of the
// calling thread, without a token in every forward() signature:
//
//   CancelScope scope(cancel);   // in a pipeline's entry point
//   ...
//   throw_if_cancelled();        // in a module, between its blocks
//
// Without a scope (a module run on its own, a test) the checks do nothing.
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

/// Makes `token` the calling thread's current token until the scope ends,
/// then restores the one before (scopes nest). A null `token` keeps the
/// enclosing scope's: a call given no token of its own still stops when
/// the job around it is cancelled.
class CancelScope {
public:
    explicit CancelScope(const CancelToken* token) noexcept;
    ~CancelScope();
    CancelScope(const CancelScope&) = delete;
    CancelScope& operator=(const CancelScope&) = delete;

private:
    const CancelToken* previous_;
};

/// The token of the calling thread's innermost CancelScope, or null.
const CancelToken* current_cancel_token() noexcept;

/// Throws CancelledError when the calling thread's current token is set;
/// does nothing without a scope. Cheap (one relaxed load): modules call it
/// between their blocks.
void throw_if_cancelled();

} // namespace daub
