#include "core/image.h"

#include "core/errors.h"
#include "image/exif_orientation.h"
#include "image/pixels.h"
#include "image/png_encode.h"
#include "image/resample.h"
#include "image/stb_decode.h"
#include "image/webp_decode.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>

namespace daub {

namespace {

constexpr size_t kMaxFileBytes = size_t(1) << 30; // 1 GiB: far above any 50 MP image

enum class Format { Png, Jpeg, Bmp, WebP, Unknown };

bool starts_with(const uint8_t* data, size_t size, const char* magic, size_t n, size_t at = 0) {
    return size >= at + n && std::memcmp(data + at, magic, n) == 0;
}

Format sniff(const uint8_t* d, size_t n) {
    if (starts_with(d, n, "\x89PNG\r\n\x1a\n", 8))
        return Format::Png;
    if (starts_with(d, n, "\xff\xd8\xff", 3))
        return Format::Jpeg;
    if (starts_with(d, n, "BM", 2))
        return Format::Bmp;
    if (starts_with(d, n, "RIFF", 4) && starts_with(d, n, "WEBP", 4, 8))
        return Format::WebP;
    return Format::Unknown;
}

/// Names formats Daub recognises but does not read, for a better message.
std::string unsupported_kind(const uint8_t* d, size_t n) {
    if (starts_with(d, n, "GIF8", 4))
        return "a GIF image";
    if (starts_with(d, n, "II*\0", 4) || starts_with(d, n, "MM\0*", 4))
        return "a TIFF image";
    if (starts_with(d, n, "ftypavif", 8, 4) || starts_with(d, n, "ftypheic", 8, 4) ||
        starts_with(d, n, "ftypmif1", 8, 4))
        return "an AVIF/HEIC image";
    if (n == 0)
        return "an empty file";
    return "not an image";
}

/// RGB, with RGBA composited on white: out = c·a + 255·(1 − a), rounded.
Image to_rgb(image::Pixels px) {
    Image img;
    img.width = px.width;
    img.height = px.height;
    if (px.channels == 3) {
        img.rgb = std::move(px.data);
        return img;
    }
    const size_t n = static_cast<size_t>(px.width) * px.height;
    img.rgb.resize(n * 3);
    for (size_t i = 0; i < n; ++i) {
        const uint8_t* s = &px.data[i * 4];
        const unsigned a = s[3];
        for (int c = 0; c < 3; ++c)
            img.rgb[i * 3 + c] = static_cast<uint8_t>((s[c] * a + 255u * (255u - a) + 127u) / 255u);
    }
    return img;
}

void check_image(const Image& image, const char* what) {
    if (image.empty())
        throw ImageError(std::string(what) + ": the image is empty.");
    if (image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3)
        throw ImageError(std::string(what) + ": the image holds " +
                         std::to_string(image.rgb.size()) + " bytes, not width × height × 3 = " +
                         std::to_string(static_cast<size_t>(image.width) * image.height * 3) + ".");
}

/// Average colour of the edges of `img` that face padding.
void edge_average(const Image& img, bool columns, bool rows, uint8_t out[3]) {
    double sum[3] = {0, 0, 0};
    size_t count = 0;
    auto add = [&](int x, int y) {
        const uint8_t* p = &img.rgb[(static_cast<size_t>(y) * img.width + x) * 3];
        for (int c = 0; c < 3; ++c)
            sum[c] += p[c];
        ++count;
    };
    if (columns)
        for (int y = 0; y < img.height; ++y) {
            add(0, y);
            add(img.width - 1, y);
        }
    if (rows)
        for (int x = 0; x < img.width; ++x) {
            add(x, 0);
            add(x, img.height - 1);
        }
    for (int c = 0; c < 3; ++c)
        out[c] = count ? static_cast<uint8_t>(std::lround(sum[c] / count)) : 0;
}

Image resample(const Image& src, image::SourceBox box, int width, int height) {
    Image out;
    out.width = width;
    out.height = height;
    out.rgb = image::resample_bilinear(src.rgb.data(), src.width, src.height, box, width, height);
    return out;
}

} // namespace

ResizeMode resize_mode_from_string(const std::string& name) {
    if (name == "stretch")
        return ResizeMode::Stretch;
    if (name == "crop")
        return ResizeMode::Crop;
    if (name == "fit")
        return ResizeMode::Fit;
    throw RequestError("Unknown resize mode '" + name + "': use stretch, crop or fit.");
}

const char* to_string(ResizeMode mode) {
    switch (mode) {
    case ResizeMode::Stretch:
        return "stretch";
    case ResizeMode::Crop:
        return "crop";
    case ResizeMode::Fit:
        return "fit";
    }
    return "stretch";
}

Image resize_image(const Image& image, int width, int height, ResizeMode mode) {
    check_image(image, "Cannot resize the image");
    if (width <= 0 || height <= 0 || static_cast<int64_t>(width) * height > kMaxImagePixels)
        throw RequestError("Cannot resize the image to " + std::to_string(width) + "×" +
                           std::to_string(height) + ": the size must be positive and at most " +
                           std::to_string(kMaxImagePixels / 1'000'000) + " megapixels.");
    const double w = image.width, h = image.height;
    if (image.width == width && image.height == height)
        return image;

    switch (mode) {
    case ResizeMode::Stretch:
        return resample(image, {0, 0, w, h}, width, height);
    case ResizeMode::Crop: {
        // The centred source box with the target's aspect ratio.
        const double target_aspect = static_cast<double>(width) / height;
        image::SourceBox box{0, 0, w, h};
        if (w / h > target_aspect) {
            const double bw = h * target_aspect;
            box.x0 = (w - bw) / 2;
            box.x1 = box.x0 + bw;
        } else {
            const double bh = w / target_aspect;
            box.y0 = (h - bh) / 2;
            box.y1 = box.y0 + bh;
        }
        return resample(image, box, width, height);
    }
    case ResizeMode::Fit: {
        const double scale = std::min(width / w, height / h);
        const int iw = std::clamp(static_cast<int>(std::lround(w * scale)), 1, width);
        const int ih = std::clamp(static_cast<int>(std::lround(h * scale)), 1, height);
        const Image inner = (iw == image.width && ih == image.height)
                                ? image
                                : resample(image, {0, 0, w, h}, iw, ih);
        uint8_t pad[3];
        edge_average(inner, iw < width, ih < height, pad);
        Image out;
        out.width = width;
        out.height = height;
        out.rgb.resize(static_cast<size_t>(width) * height * 3);
        for (size_t i = 0; i < out.rgb.size(); i += 3)
            std::memcpy(&out.rgb[i], pad, 3);
        const int ox = (width - iw) / 2, oy = (height - ih) / 2;
        for (int y = 0; y < ih; ++y)
            std::memcpy(&out.rgb[(static_cast<size_t>(y + oy) * width + ox) * 3],
                        &inner.rgb[static_cast<size_t>(y) * iw * 3], static_cast<size_t>(iw) * 3);
        return out;
    }
    }
    return resample(image, {0, 0, w, h}, width, height);
}

Image decode_image(const uint8_t* data, size_t size, const std::string& name) {
    const Format format = sniff(data, size);
    if (format == Format::Unknown)
        image::fail_read(name, "it is " + unsupported_kind(data, size) +
                                   " (Daub reads PNG, JPEG, BMP and WebP)");
    const image::ImageInfo info = format == Format::WebP ? image::webp_read_info(data, size, name)
                                                         : image::stb_read_info(data, size, name);
    if (info.width <= 0 || info.height <= 0)
        image::fail_read(name, "it has no pixels");
    if (static_cast<int64_t>(info.width) * info.height > kMaxImagePixels)
        image::fail_read(name, "it is " + std::to_string(info.width) + "×" +
                                   std::to_string(info.height) + " pixels, over the limit of " +
                                   std::to_string(kMaxImagePixels / 1'000'000) + " megapixels");
    const int channels = info.has_alpha ? 4 : 3;
    image::Pixels px = format == Format::WebP ? image::webp_decode(data, size, channels, name)
                                              : image::stb_decode(data, size, channels, name);
    if (format == Format::Jpeg)
        px = image::apply_exif_orientation(std::move(px), image::jpeg_exif_orientation(data, size));
    return to_rgb(std::move(px));
}

Image read_image_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in)
        image::fail_read(path,
                         std::string("the file cannot be opened (") + std::strerror(errno) + ")");
    const std::streamoff size = in.tellg();
    if (size < 0)
        image::fail_read(path, "the file cannot be read");
    if (static_cast<uint64_t>(size) > kMaxFileBytes)
        image::fail_read(path, "the file is over 1 GB");
    std::vector<uint8_t> bytes(static_cast<size_t>(size));
    in.seekg(0);
    if (!in.read(reinterpret_cast<char*>(bytes.data()), size))
        image::fail_read(path, "the file cannot be read");
    return decode_image(bytes.data(), bytes.size(), path);
}

std::vector<uint8_t> encode_png(const Image& image,
                                const std::vector<std::pair<std::string, std::string>>& text) {
    check_image(image, "Cannot encode a PNG");
    return image::png_encode(image.rgb.data(), image.width, image.height, text, "(in memory)");
}

void write_png_file(const std::string& path, const Image& image,
                    const std::vector<std::pair<std::string, std::string>>& text) {
    check_image(image, ("Cannot write PNG " + path).c_str());
    const std::vector<uint8_t> png =
        image::png_encode(image.rgb.data(), image.width, image.height, text, path);
    // Write beside the target, then rename: a failed write never leaves a
    // half-written PNG under the real name.
    const std::string part = path + ".part";
    {
        std::ofstream out(part, std::ios::binary | std::ios::trunc);
        if (!out)
            throw ImageError("Cannot write PNG " + path + ": " + std::strerror(errno) + ".");
        out.write(reinterpret_cast<const char*>(png.data()),
                  static_cast<std::streamsize>(png.size()));
        out.close();
        if (!out) {
            std::remove(part.c_str());
            throw ImageError("Cannot write PNG " + path + ": the disk may be full.");
        }
    }
    if (std::rename(part.c_str(), path.c_str()) != 0) {
        const std::string why = std::strerror(errno);
        std::remove(part.c_str());
        throw ImageError("Cannot write PNG " + path + ": " + why + ".");
    }
}

} // namespace daub
