// 8-bit RGB images as the engine takes and gives them, and their files.
#pragma once

#include <cstdint>
#include <string>
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
Image resize_image(const Image& image, int width, int height, ResizeMode mode);

/// Reads PNG, JPEG or BMP (alpha composited on white). Throws ImageError.
Image read_image_file(const std::string& path);
/// Writes an 8-bit RGB PNG, with optional tEXt chunks (key, value).
void write_png_file(const std::string& path, const Image& image,
                    const std::vector<std::pair<std::string, std::string>>& text = {});

} // namespace daub
