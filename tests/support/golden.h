// Shared helpers of the engine test suites: where the fixtures are, and
// golden comparisons at the fixtures README's tolerances.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

namespace daub::test {

/// The fixtures folder: $DAUB_FIXTURES, else the CMake cache entry
/// DAUB_FIXTURES_DIR (../shared/fixtures beside the source tree).
std::string fixtures_dir();
/// fixtures_dir() + "/" + relative.
std::string fixture(const std::string& relative);
/// True when the folder exists and holds README.md; tests call
/// QVERIFY2(fixtures_present(), ...) in initTestCase so a missing folder is
/// a loud failure.
bool fixtures_present();

struct Closeness {
    double max_abs_error = 0;
    double tolerance = 0;
    double golden_max_abs = 0;
    bool shapes_match = true;
    bool ok = false;
    std::string text; ///< "max abs err 1.2e-06 <= tol 1.0e-04 (|golden| max 3.1)"
};

/// max |actual - golden| <= rel * max(1, max |golden|), on float64 copies.
Closeness compare_to_golden(const at::Tensor& actual, const at::Tensor& golden, double rel = 1e-4);

/// Records a Qt Test verdict: `actual` matches `golden` at the component
/// tolerance (compare_to_golden). Prints the measured error either way, so
/// the test log shows each golden's margin. False when it failed.
bool verify_golden(const char* name, const at::Tensor& actual, const at::Tensor& golden,
                   const char* file, int line);

} // namespace daub::test

/// verify_golden, leaving the calling test function when it fails (as QVERIFY).
#define DAUB_VERIFY_GOLDEN(name, actual, golden)                                                   \
    do {                                                                                           \
        if (!daub::test::verify_golden((name), (actual), (golden), __FILE__, __LINE__))            \
            return;                                                                                \
    } while (0)
