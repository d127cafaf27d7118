// libFuzzer target: the engine's image reading (core/image.h decode_image:
// format sniffing, stb_image for PNG/JPEG/BMP with Daub's guards, libwebp,
// the EXIF orientation of JPEGs, alpha on white), then what the engine does
// with an init image: resized to other sizes in every mode, and Lanczos
// resampling as after super-resolution. Small results are also written as
// PNG and read back, which must give the same pixels.
//
// Images between 4 and 50 megapixels are legal but take seconds to decode
// under the sanitizers; their headers are read and they are skipped, so the
// fuzzer spends its time on malformed data instead. Images over the 50
// megapixel limit still go through decode_image (it refuses them from the
// header).
//
// Refusals (daub::Error) are expected; a crash, a sanitizer report, another
// exception or a result that is not what was asked for is a finding.
#include "core/errors.h"
#include "core/image.h"
#include "fuzz_support.h"
#include "image/resample.h"
#include "image/stb_decode.h"
#include "image/webp_decode.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace {

constexpr int64_t kFuzzMaxPixels = 4'000'000;

/// True when the header says the image is legal but too big to decode quickly.
bool too_slow(const uint8_t* data, size_t size) {
    try {
        const bool webp = size >= 12 && std::memcmp(data, "RIFF", 4) == 0 &&
                          std::memcmp(data + 8, "WEBP", 4) == 0;
        const daub::image::ImageInfo info = webp ? daub::image::webp_read_info(data, size, "fuzz")
                                                 : daub::image::stb_read_info(data, size, "fuzz");
        const int64_t pixels = int64_t(info.width) * info.height;
        return pixels > kFuzzMaxPixels && pixels <= daub::kMaxImagePixels;
    } catch (const daub::Error&) {
        return false;
    }
}

void check(const daub::Image& img, int width, int height) {
    DAUB_FUZZ_CHECK(img.width == width && img.height == height);
    DAUB_FUZZ_CHECK(img.rgb.size() == size_t(width) * height * 3);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (too_slow(data, size))
        return 0;
    daub::Image img;
    try {
        img = daub::decode_image(data, size, "fuzz");
    } catch (const daub::Error& e) {
        daub::fuzz::note("refused", e.what());
        return 0;
    }
    daub::fuzz::note("decoded",
                     (std::to_string(img.width) + "x" + std::to_string(img.height)).c_str());
    DAUB_FUZZ_CHECK(img.width > 0 && img.height > 0);
    DAUB_FUZZ_CHECK(int64_t(img.width) * img.height <= daub::kMaxImagePixels);
    check(img, img.width, img.height);

    // Sizes from the image's own, so every ratio and both directions occur.
    const int w2 = 1 + (img.width * 7 + img.height) % 61;
    const int h2 = 1 + (img.height * 5 + img.width) % 47;
    check(daub::resize_image(img, w2, h2, daub::ResizeMode::Stretch), w2, h2);
    check(daub::resize_image(img, h2, w2, daub::ResizeMode::Crop), h2, w2);
    check(daub::resize_image(img, w2 + 3, h2, daub::ResizeMode::Fit), w2 + 3, h2);
    const daub::image::SourceBox box{0, 0, double(img.width), double(img.height)};
    DAUB_FUZZ_CHECK(
        daub::image::resample_lanczos(img.rgb.data(), img.width, img.height, box, w2, h2).size() ==
        size_t(w2) * h2 * 3);

    if (int64_t(img.width) * img.height <= 65536) {
        const std::vector<uint8_t> png = daub::encode_png(img, {{"parameters", "fuzz"}});
        const daub::Image again = daub::decode_image(png.data(), png.size(), "fuzz.png");
        DAUB_FUZZ_CHECK(again.width == img.width && again.height == img.height);
        DAUB_FUZZ_CHECK(again.rgb == img.rgb);
    }
    return 0;
}
