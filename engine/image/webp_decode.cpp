#include "image/webp_decode.h"

#include <webp/decode.h>

namespace daub::image {

ImageInfo webp_read_info(const uint8_t* data, size_t size, const std::string& name) {
    WebPBitstreamFeatures features;
    const VP8StatusCode status = WebPGetFeatures(data, size, &features);
    if (status == VP8_STATUS_NOT_ENOUGH_DATA)
        fail_read(name, "the WebP file is truncated");
    if (status != VP8_STATUS_OK)
        fail_read(name, "the WebP header is corrupt");
    if (features.has_animation)
        fail_read(name, "animated WebP images are not supported");
    return {features.width, features.height, features.has_alpha != 0};
}

Pixels webp_decode(const uint8_t* data, size_t size, int channels, const std::string& name) {
    const ImageInfo info = webp_read_info(data, size, name);
    Pixels out{info.width, info.height, channels, {}};
    const size_t stride = static_cast<size_t>(info.width) * channels;
    out.data.resize(stride * info.height);
    const uint8_t* ok = channels == 4
                            ? WebPDecodeRGBAInto(data, size, out.data.data(), out.data.size(),
                                                 static_cast<int>(stride))
                            : WebPDecodeRGBInto(data, size, out.data.data(), out.data.size(),
                                                static_cast<int>(stride));
    if (!ok)
        fail_read(name, "the WebP data is corrupt or truncated");
    return out;
}

} // namespace daub::image
