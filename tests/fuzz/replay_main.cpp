// The fuzz targets without a fuzzer: feeds every file of the given folders
// (the seed corpus and the regression inputs of tests/fuzz) to a target's
// LLVMFuzzerTestOneInput, built with the project's compiler, as the
// ordinary test run's fuzz_replay_* tests do:
//
//   fuzz_replay TARGET DIR_OR_FILE...
//
// Each target source is compiled here with LLVMFuzzerTestOneInput renamed
// to daub_fuzz_TARGET (and LLVMFuzzerInitialize to daub_fuzz_init_TARGET),
// so several targets share this one program; DAUB_FUZZ_TARGETS lists them
// as X(name) X(name)... A crash, a broken invariant (abort) or an escaping
// exception ends the program with a failure, naming the input first; so
// does an input that runs away, as libFuzzer's -timeout and -rss_limit_mb
// would say: each input has kSecondsPerInput (SIGALRM), and the heap is
// limited to kMaxHeapBytes (an allocation past it throws bad_alloc).
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

#ifndef DAUB_FUZZ_TARGETS
#error "DAUB_FUZZ_TARGETS must list the targets: X(name) X(name)..."
#endif

using TestOneInput = int (*)(const uint8_t*, size_t);
using Initialize = int (*)(int*, char***);

#define X(name)                                                                                    \
    extern "C" int daub_fuzz_##name(const uint8_t*, size_t);                                       \
    extern "C" __attribute__((weak)) int daub_fuzz_init_##name(int*, char***);
DAUB_FUZZ_TARGETS
#undef X

namespace {

struct Target {
    const char* name;
    TestOneInput run;
    Initialize init; ///< null when the target has none
};

const Target kTargets[] = {
#define X(name) {#name, daub_fuzz_##name, daub_fuzz_init_##name},
    DAUB_FUZZ_TARGETS
#undef X
};

namespace fs = std::filesystem;

constexpr unsigned kSecondsPerInput = 60;
constexpr rlim_t kMaxHeapBytes = rlim_t{4} << 30;

/// The inputs under `path`: itself when a file, else its files sorted by
/// name (a README is not an input).
bool collect(const fs::path& path, std::vector<fs::path>& out) {
    std::error_code ec;
    if (fs::is_regular_file(path, ec)) {
        out.push_back(path);
        return true;
    }
    if (!fs::is_directory(path, ec))
        return false;
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(path, ec))
        if (entry.is_regular_file() && entry.path().filename().string().rfind("README", 0) != 0)
            files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    out.insert(out.end(), files.begin(), files.end());
    return true;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s TARGET DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    const Target* target = nullptr;
    for (const Target& t : kTargets)
        if (std::strcmp(t.name, argv[1]) == 0)
            target = &t;
    if (!target) {
        std::fprintf(stderr, "%s: no fuzz target '%s'\n", argv[0], argv[1]);
        return 2;
    }
    std::vector<fs::path> inputs;
    for (int i = 2; i < argc; ++i) {
        if (!collect(argv[i], inputs)) {
            std::fprintf(stderr, "%s: %s does not exist\n", argv[0], argv[i]);
            return 2;
        }
    }
    if (inputs.empty()) {
        std::fprintf(stderr, "%s: no input files for %s\n", argv[0], target->name);
        return 2;
    }
#if !defined(__SANITIZE_ADDRESS__) // ASan's shadow memory counts as data
    const rlimit heap{kMaxHeapBytes, kMaxHeapBytes};
    if (::setrlimit(RLIMIT_DATA, &heap) != 0)
        std::perror("setrlimit");
#endif
    if (target->init)
        target->init(&argc, &argv);

    const auto start = std::chrono::steady_clock::now();
    for (const fs::path& input : inputs) {
        std::ifstream in(input, std::ios::binary);
        const std::vector<char> bytes{std::istreambuf_iterator<char>(in),
                                      std::istreambuf_iterator<char>()};
        if (!in.eof() && !in) {
            std::fprintf(stderr, "%s: cannot read %s\n", argv[0], input.c_str());
            return 1;
        }
        // Named before it runs: a crash leaves this as the last line.
        std::fprintf(stderr, "%s: %s\n", target->name, input.c_str());
        // A copy of exactly the input's size, so a read past the end is
        // caught by the sanitizers where the build has them.
        std::vector<uint8_t> copy(bytes.begin(), bytes.end());
        static const uint8_t nothing = 0; // libFuzzer never passes a null pointer
        ::alarm(kSecondsPerInput);
        target->run(copy.empty() ? &nothing : copy.data(), copy.size());
        ::alarm(0);
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%s: %zu inputs replayed in %.2f s, none crashed\n", target->name, inputs.size(),
                seconds);
    return 0;
}
