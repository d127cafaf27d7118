#include "golden.h"

#include <QtTest/QtTest>
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace daub::test {

std::string fixtures_dir() {
    if (const char* env = std::getenv("DAUB_FIXTURES"); env && *env)
        return env;
    return DAUB_FIXTURES_DIR;
}

std::string fixture(const std::string& relative) { return fixtures_dir() + "/" + relative; }

bool fixtures_present() {
    return std::filesystem::exists(std::filesystem::path(fixtures_dir()) / "README.md");
}

Closeness compare_to_golden(const at::Tensor& actual, const at::Tensor& golden, double rel) {
    Closeness c;
    char buf[256];
    if (actual.sizes() != golden.sizes()) {
        c.shapes_match = false;
        std::string a = c10::str(actual.sizes()), g = c10::str(golden.sizes());
        c.text = "shape " + a + " differs from the golden's " + g;
        return c;
    }
    at::Tensor a = actual.detach().to(at::kCPU, at::kDouble);
    at::Tensor g = golden.detach().to(at::kCPU, at::kDouble);
    c.golden_max_abs = g.numel() ? g.abs().max().item<double>() : 0.0;
    c.max_abs_error = g.numel() ? (a - g).abs().max().item<double>() : 0.0;
    c.tolerance = rel * std::max(1.0, c.golden_max_abs);
    c.ok = std::isfinite(c.max_abs_error) && c.max_abs_error <= c.tolerance;
    std::snprintf(buf, sizeof buf, "max abs err %.3e %s tol %.3e (|golden| max %.4g)",
                  c.max_abs_error, c.ok ? "<=" : ">", c.tolerance, c.golden_max_abs);
    c.text = buf;
    return c;
}

bool verify_golden(const char* name, const at::Tensor& actual, const at::Tensor& golden,
                   const char* file, int line) {
    const Closeness c = compare_to_golden(actual, golden);
    qInfo("%s: %s", name, c.text.c_str());
    const std::string failure = std::string(name) + ": " + c.text;
    return QTest::qVerify(c.ok, "compare_to_golden(actual, golden).ok", failure.c_str(), file, line);
}

} // namespace daub::test
