#include "image/resample.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace daub::image {

namespace {

/// The taps of one axis: output i reads `count[i]` inputs from `first[i]`
/// with weights `weights[i * taps ...]` that sum to 1.
struct AxisFilter {
    int taps = 0;
    std::vector<int> first;
    std::vector<int> count;
    std::vector<float> weights;
};

double triangle(double x) {
    x = std::fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

double sinc(double x) {
    if (x == 0.0)
        return 1.0;
    x *= std::numbers::pi;
    return std::sin(x) / x;
}

/// Lanczos with a = 3: sinc(x) · sinc(x / 3) on [-3, 3).
double lanczos3(double x) {
    return x >= -3.0 && x < 3.0 ? sinc(x) * sinc(x / 3.0) : 0.0;
}

/// A filter kernel and the half-width where it reaches zero.
struct Kernel {
    double (*f)(double);
    double support;
};
constexpr Kernel kTriangle{triangle, 1.0};
constexpr Kernel kLanczos3{lanczos3, 3.0};

// After PIL's precompute_coeffs (libImaging/Resample.c), in floating point.
AxisFilter make_filter(int in_size, double in0, double in1, int out_size, Kernel kernel) {
    const double scale = (in1 - in0) / out_size;
    const double filter_scale = std::max(scale, 1.0); // widen only when shrinking
    const double support = kernel.support * filter_scale;
    AxisFilter f;
    f.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
    f.first.resize(out_size);
    f.count.resize(out_size);
    f.weights.assign(static_cast<size_t>(out_size) * f.taps, 0.0f);
    std::vector<double> w(f.taps);
    for (int i = 0; i < out_size; ++i) {
        const double center = in0 + (i + 0.5) * scale;
        const int lo = std::max(static_cast<int>(center - support + 0.5), 0);
        const int hi = std::min(static_cast<int>(center + support + 0.5), in_size);
        const int n = std::min(std::max(hi - lo, 0), f.taps);
        double total = 0;
        for (int k = 0; k < n; ++k) {
            w[k] = kernel.f((lo + k - center + 0.5) / filter_scale);
            total += w[k];
        }
        f.first[i] = lo;
        f.count[i] = n;
        if (total <= 0) { // cannot happen for a box inside the image; keep it safe
            f.count[i] = 1;
            f.first[i] = std::clamp(static_cast<int>(center), 0, in_size - 1);
            f.weights[static_cast<size_t>(i) * f.taps] = 1.0f;
            continue;
        }
        for (int k = 0; k < n; ++k)
            f.weights[static_cast<size_t>(i) * f.taps + k] = static_cast<float>(w[k] / total);
    }
    return f;
}

uint8_t to_u8(float v) {
    return static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
}

std::vector<uint8_t> resample(const uint8_t* src, int src_w, int src_h, SourceBox box, int out_w,
                              int out_h, Kernel kernel) {
    const AxisFilter fx = make_filter(src_w, box.x0, box.x1, out_w, kernel);
    const AxisFilter fy = make_filter(src_h, box.y0, box.y1, out_h, kernel);

    // Horizontal pass over the rows the vertical pass reads, into floats.
    const int row0 = fy.first.front();
    const int row1 = fy.first.back() + fy.count.back();
    const size_t mid_stride = static_cast<size_t>(out_w) * 3;
    std::vector<float> mid(static_cast<size_t>(std::max(row1 - row0, 0)) * mid_stride);
    for (int y = row0; y < row1; ++y) {
        const uint8_t* in = src + static_cast<size_t>(y) * src_w * 3;
        float* out = mid.data() + static_cast<size_t>(y - row0) * mid_stride;
        for (int x = 0; x < out_w; ++x) {
            const float* w = &fx.weights[static_cast<size_t>(x) * fx.taps];
            const uint8_t* p = in + static_cast<size_t>(fx.first[x]) * 3;
            float r = 0, g = 0, b = 0;
            for (int k = 0; k < fx.count[x]; ++k, p += 3) {
                r += w[k] * p[0];
                g += w[k] * p[1];
                b += w[k] * p[2];
            }
            out[x * 3 + 0] = r;
            out[x * 3 + 1] = g;
            out[x * 3 + 2] = b;
        }
    }

    // Vertical pass, rounding to 8 bits.
    std::vector<uint8_t> result(static_cast<size_t>(out_w) * out_h * 3);
    std::vector<float> acc(mid_stride);
    for (int y = 0; y < out_h; ++y) {
        std::fill(acc.begin(), acc.end(), 0.0f);
        const float* w = &fy.weights[static_cast<size_t>(y) * fy.taps];
        for (int k = 0; k < fy.count[y]; ++k) {
            const float* row =
                mid.data() + static_cast<size_t>(fy.first[y] + k - row0) * mid_stride;
            for (size_t i = 0; i < mid_stride; ++i)
                acc[i] += w[k] * row[i];
        }
        uint8_t* out = result.data() + static_cast<size_t>(y) * mid_stride;
        for (size_t i = 0; i < mid_stride; ++i)
            out[i] = to_u8(acc[i]);
    }
    return result;
}

} // namespace

std::vector<uint8_t> resample_bilinear(const uint8_t* src, int src_w, int src_h, SourceBox box,
                                       int out_w, int out_h) {
    return resample(src, src_w, src_h, box, out_w, out_h, kTriangle);
}

std::vector<uint8_t> resample_lanczos(const uint8_t* src, int src_w, int src_h, SourceBox box,
                                      int out_w, int out_h) {
    return resample(src, src_w, src_h, box, out_w, out_h, kLanczos3);
}

} // namespace daub::image
