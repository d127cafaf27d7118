// GuardedMapping: a read-only file mapping whose shrinking file reads as
// zeros instead of raising SIGBUS (see guarded_mapping.h).
#include "core/guarded_mapping.h"

#include "core/errors.h"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <mutex>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace daub {

namespace {

constexpr int kSlots = 64;

/// One guarded mapping, as the signal handler sees it: [begin, end) or
/// begin == 0 when free. Only atomics: the handler may run at any time.
struct Slot {
    std::atomic<uintptr_t> begin{0};
    std::atomic<uintptr_t> end{0};
    std::atomic<bool> hit{false};
    std::atomic<bool> taken{false};
};

Slot g_slots[kSlots];
uintptr_t g_page_size = 4096;
struct sigaction g_previous {};
std::once_flag g_installed;

void on_sigbus(int sig, siginfo_t* info, void* context) {
    const auto address = reinterpret_cast<uintptr_t>(info->si_addr);
    for (Slot& slot : g_slots) {
        const uintptr_t begin = slot.begin.load(std::memory_order_acquire);
        if (begin == 0 || address < begin || address >= slot.end.load(std::memory_order_acquire))
            continue;
        // A page of a guarded file that is no longer there: put zeros in
        // its place (mmap is a plain system call, safe here) and let the
        // read run again.
        void* page = reinterpret_cast<void*>(address & ~(g_page_size - 1));
        if (::mmap(page, g_page_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) !=
            MAP_FAILED) {
            slot.hit.store(true, std::memory_order_release);
            return;
        }
        break;
    }
    // Not ours: whatever was there before.
    if ((g_previous.sa_flags & SA_SIGINFO) && g_previous.sa_sigaction) {
        g_previous.sa_sigaction(sig, info, context);
        return;
    }
    if (!(g_previous.sa_flags & SA_SIGINFO) && g_previous.sa_handler != SIG_DFL &&
        g_previous.sa_handler != SIG_IGN) {
        g_previous.sa_handler(sig);
        return;
    }
    // The default action: restored, the faulting read runs again and the
    // kernel ends the process with SIGBUS as it would have without us.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    ::sigaction(SIGBUS, &dfl, nullptr);
}

void install_handler() {
    const long page = ::sysconf(_SC_PAGESIZE);
    if (page > 0)
        g_page_size = static_cast<uintptr_t>(page);
    struct sigaction action {};
    action.sa_sigaction = on_sigbus;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGBUS, &action, &g_previous);
}

} // namespace

GuardedMapping::GuardedMapping(int fd, size_t size, std::string path)
    : size_(size), path_(std::move(path)), fd_(fd) {
    if (size_ == 0)
        return;
    std::call_once(g_installed, install_handler);
    for (int i = 0; i < kSlots && slot_ < 0; ++i) {
        bool expected = false;
        if (g_slots[i].taken.compare_exchange_strong(expected, true))
            slot_ = i;
    }
    if (slot_ < 0)
        throw ModelError(path_ + ": cannot map the file (too many files are being read at once).");
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        const int error = errno;
        g_slots[slot_].taken.store(false);
        throw ModelError(path_ + ": cannot map the file (" + std::strerror(error) + ").");
    }
    data_ = static_cast<const uint8_t*>(p);
    Slot& slot = g_slots[slot_];
    slot.hit.store(false);
    slot.end.store(reinterpret_cast<uintptr_t>(data_) + size_, std::memory_order_release);
    slot.begin.store(reinterpret_cast<uintptr_t>(data_), std::memory_order_release);
}

GuardedMapping::~GuardedMapping() {
    if (slot_ < 0)
        return;
    Slot& slot = g_slots[slot_];
    slot.begin.store(0, std::memory_order_release); // before the range can be reused
    ::munmap(const_cast<uint8_t*>(data_), size_);
    slot.end.store(0);
    slot.taken.store(false, std::memory_order_release);
}

bool GuardedMapping::shrunk() const {
    if (slot_ >= 0 && g_slots[slot_].hit.load(std::memory_order_acquire))
        return true;
    struct stat st {};
    return size_ > 0 && (::fstat(fd_, &st) != 0 || static_cast<uint64_t>(st.st_size) < size_);
}

void GuardedMapping::throw_if_shrunk() const {
    if (shrunk())
        throw ModelError(path_ + " became shorter while Daub read it: the file was changed or "
                                 "truncated on disk (load the model again).");
}

} // namespace daub
