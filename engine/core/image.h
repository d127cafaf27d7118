// 8-bit RGB images as the engine takes and gives them, and their files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace daub {

/// Row-major, tightly packed RGB8.
struct Image {
    int width = 0;
    int height = 0;
    std::vector<uint8_t> rgb; ///< width * height * 3 bytes

    bool empty() const { return width <= 0 || height <= 0; }
};

/// How an init image of another size is brought to the requested size.
enum class ResizeMode {
    Stretch, ///< scale each axis independently (what the seed does)
    Crop,    ///< scale to cover, then centre-crop
    Fit,     ///< scale to fit inside, pad with the edge-average colour
};

/// Parses "stretch" / "crop" / "fit"; throws RequestError otherwise.
ResizeMode resize_mode_from_string(const std::string& name);
const char* to_string(ResizeMode mode);

/// Bilinear (antialiased when shrinking) resize to width × height under `mode`.
/// The filter is PIL's BILINEAR: a triangle whose support grows with the
/// shrink factor. Fit pads with the average colour of the edges that face
/// the padding. Throws RequestError for a size outside 1..kMaxImagePixels,
/// ImageError for an empty or inconsistent image.
Image resize_image(const Image& image, int width, int height, ResizeMode mode);

/// Largest image read_image_file accepts (width × height): 50 megapixels.
constexpr int64_t kMaxImagePixels = 50'000'000;

/// Reads PNG, JPEG or BMP (alpha composited on white). Throws ImageError.
/// Also WebP; 16-bit PNGs keep the high byte (as PIL does); JPEGs are turned
/// upright by their EXIF orientation. Images over kMaxImagePixels, and
/// unreadable, truncated or non-image files throw ImageError naming the file.
Image read_image_file(const std::string& path);
/// read_image_file on bytes already in memory; `name` is what errors name.
Image decode_image(const uint8_t* data, size_t size, const std::string& name);

/// Writes an 8-bit RGB PNG, with optional tEXt chunks (key, value).
/// ASCII values go in tEXt chunks, other (UTF-8) values in iTXt chunks; keys
/// are 1-79 printable ASCII characters. Throws ImageError.
void write_png_file(const std::string& path, const Image& image,
                    const std::vector<std::pair<std::string, std::string>>& text = {});
/// The bytes write_png_file writes.
std::vector<uint8_t> encode_png(const Image& image,
                                const std::vector<std::pair<std::string, std::string>>& text = {});

} // namespace daub
