#include "core/cancel.h"

#include "core/errors.h"

namespace daub {

namespace {

thread_local const CancelToken* current_token = nullptr;

} // namespace

CancelScope::CancelScope(const CancelToken* token) noexcept : previous_(current_token) {
    if (token)
        current_token = token;
}

CancelScope::~CancelScope() { current_token = previous_; }

const CancelToken* current_cancel_token() noexcept { return current_token; }

void throw_if_cancelled() {
    const CancelToken* token = current_token;
    if (token && token->cancelled())
        throw CancelledError();
}

} // namespace daub
