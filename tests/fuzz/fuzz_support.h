// Helpers shared by the fuzz targets (tests/fuzz): files for the parsers
// that read a path, not bytes, and the check that fails an input.
//
// Header-only and plain C++20 + POSIX, so the same target source builds in
// both ways it is used: with clang and libFuzzer (CMakeLists.txt,
// DAUB_FUZZ), and with the project's compiler in the fuzz_replay test that
// replays the corpus and every regression input without a fuzzer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <sys/mman.h>
#include <unistd.h>

namespace daub::fuzz {

/// A broken invariant: says which and stops the process the way a
/// sanitizer report does (libFuzzer keeps the input; the replay test fails).
[[noreturn]] inline void fail(const char* what) {
    std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
    std::abort();
}

#define DAUB_FUZZ_CHECK(condition)                                                                 \
    do {                                                                                           \
        if (!(condition))                                                                          \
            ::daub::fuzz::fail(#condition " (" __FILE__ ")");                                      \
    } while (false)

/// With DAUB_FUZZ_VERBOSE set, prints what happened to an input (how it
/// was refused, or that it was accepted): for checking seeds and findings.
inline bool verbose() {
    static const bool on = std::getenv("DAUB_FUZZ_VERBOSE") != nullptr;
    return on;
}
inline void note(const char* what, const char* detail = "") {
    if (verbose())
        std::fprintf(stderr, "  %s%s%s\n", what, *detail ? ": " : "", detail);
}

/// A file in memory (memfd) that each input rewrites, named by a path
/// (/proc/self/fd/N) for code that opens files by name: it is the same for
/// every input, costs no disk, and vanishes with the process.
class MemFile {
public:
    explicit MemFile(const char* name) {
        fd_ = ::memfd_create(name, MFD_CLOEXEC);
        if (fd_ < 0)
            fail("memfd_create failed");
        path_ = "/proc/self/fd/" + std::to_string(fd_);
    }
    MemFile(const MemFile&) = delete;
    MemFile& operator=(const MemFile&) = delete;
    ~MemFile() { ::close(fd_); }

    /// Replaces the content with `size` bytes, then zeros up to `total`
    /// bytes when `total` is larger (a hole: no memory is used for it).
    void write(const void* data, size_t size, uint64_t total = 0) {
        if (::ftruncate(fd_, 0) != 0)
            fail("ftruncate failed");
        const auto* p = static_cast<const char*>(data);
        size_t done = 0;
        while (done < size) {
            const ssize_t n = ::pwrite(fd_, p + done, size - done, static_cast<off_t>(done));
            if (n <= 0)
                fail("pwrite failed");
            done += static_cast<size_t>(n);
        }
        if (total > size && ::ftruncate(fd_, static_cast<off_t>(total)) != 0)
            fail("ftruncate failed");
    }
    const std::string& path() const { return path_; }

private:
    int fd_ = -1;
    std::string path_;
};

/// A private folder under $TMPDIR (or /tmp), removed when the process ends
/// normally, for parsers that read a folder of files. Named by a path that
/// is the same in every run (/proc/self/fd/N, not mkdtemp's random name):
/// the parsers put the path into messages and comparisons, and a random one
/// made the fixed fuzz runs of one commit part ways.
class TempDir {
public:
    TempDir() {
        const char* tmp = std::getenv("TMPDIR");
        std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/daub-fuzz-XXXXXX";
        if (!::mkdtemp(pattern.data()))
            fail("mkdtemp failed");
        real_ = pattern;
        fd_ = ::open(real_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd_ < 0)
            fail("opening the temporary folder failed");
        path_ = "/proc/self/fd/" + std::to_string(fd_);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        ::close(fd_);
        std::error_code ec;
        std::filesystem::remove_all(real_, ec);
    }

    const std::filesystem::path& path() const { return path_; }

    /// Writes `relative` (creating its folder); `remove` deletes it instead.
    void put(const std::string& relative, std::string_view content) const {
        const std::filesystem::path p = path_ / relative;
        std::filesystem::create_directories(p.parent_path());
        std::ofstream out(p, std::ios::binary | std::ios::trunc);
        out.write(content.data(), static_cast<std::streamsize>(content.size()));
        if (!out)
            fail("cannot write a temporary file");
    }
    void remove(const std::string& relative) const {
        std::error_code ec;
        std::filesystem::remove(path_ / relative, ec);
    }

private:
    std::filesystem::path real_;
    int fd_ = -1;
    std::filesystem::path path_;
};

/// Splits `text` at lines "--- NAME" into (NAME, body) sections; the part
/// before the first such line has the name "". Bodies keep their line
/// breaks, without the one that ends the body.
template <typename Fn> void for_each_section(std::string_view text, Fn&& visit) {
    std::string_view name;
    size_t body = 0;
    size_t pos = 0;
    auto emit = [&](size_t end) {
        size_t e = end;
        if (e > body && text[e - 1] == '\n')
            --e;
        visit(name, text.substr(body, e - body));
    };
    while (pos <= text.size()) {
        const size_t nl = text.find('\n', pos);
        const size_t line_end = nl == std::string_view::npos ? text.size() : nl;
        const std::string_view line = text.substr(pos, line_end - pos);
        if (line.substr(0, 4) == "--- ") {
            emit(pos);
            name = line.substr(4);
            body = nl == std::string_view::npos ? text.size() : nl + 1;
        }
        if (nl == std::string_view::npos)
            break;
        pos = nl + 1;
    }
    emit(text.size());
}

} // namespace daub::fuzz
