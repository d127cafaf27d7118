#include "image/png_encode.h"

#include "core/errors.h"

#include <png.h>

#include <algorithm>
#include <csetjmp>
#include <cstring>

namespace daub::image {

namespace {

[[noreturn]] void fail_write(const std::string& name, const std::string& what) {
    throw ImageError("Cannot write PNG " + name + ": " + what + ".");
}

/// Where libpng's callbacks report to. libpng errors longjmp back to the
/// setjmp in encode(); nothing between them owns resources.
struct WriteState {
    std::vector<uint8_t>* out = nullptr;
    char error[256] = {};
    bool out_of_memory = false;
};

void on_error(png_structp png, png_const_charp message) {
    auto* state = static_cast<WriteState*>(png_get_error_ptr(png));
    std::snprintf(state->error, sizeof state->error, "%s", message ? message : "libpng error");
    png_longjmp(png, 1);
}

void on_warning(png_structp, png_const_charp) {}

void on_write(png_structp png, png_bytep data, png_size_t length) {
    auto* state = static_cast<WriteState*>(png_get_io_ptr(png));
    bool failed = false;
    try {
        state->out->insert(state->out->end(), data, data + length);
    } catch (const std::bad_alloc&) {
        failed = true;
    }
    if (failed) { // outside the catch block: png_error longjmps
        state->out_of_memory = true;
        png_error(png, "out of memory");
    }
}

void on_flush(png_structp) {}

/// The libpng calls; returns false with state.error set on failure. Plain C
/// data only in this frame, since libpng leaves it with longjmp.
bool encode(WriteState& state, const uint8_t* rgb, int width, int height, png_text* texts,
            int text_count) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &state, on_error, on_warning);
    if (!png) {
        std::snprintf(state.error, sizeof state.error, "libpng could not start");
        return false;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, nullptr);
        std::snprintf(state.error, sizeof state.error, "libpng could not start");
        return false;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return false;
    }
    png_set_write_fn(png, &state, on_write, on_flush);
    png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8,
                 PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (text_count > 0)
        png_set_text(png, info, texts, text_count);
    png_write_info(png, info);
    const size_t stride = static_cast<size_t>(width) * 3;
    for (int y = 0; y < height; ++y)
        png_write_row(png, rgb + stride * y);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return true;
}

void check_key(const std::string& key, const std::string& name) {
    // PNG keywords: 1-79 Latin-1 characters, no leading, trailing or double
    // spaces. Daub writes ASCII ones.
    const bool printable =
        std::all_of(key.begin(), key.end(), [](char ch) { return ch >= 0x20 && ch <= 0x7e; });
    if (key.empty() || key.size() > 79 || !printable || key.front() == ' ' || key.back() == ' ' ||
        key.find("  ") != std::string::npos)
        fail_write(name,
                   "the text key '" + key +
                       "' is not 1-79 printable ASCII characters without outer or double spaces");
}

} // namespace

std::vector<uint8_t> png_encode(const uint8_t* rgb, int width, int height,
                                const std::vector<std::pair<std::string, std::string>>& text,
                                const std::string& name) {
    if (width <= 0 || height <= 0)
        fail_write(name, "the image is empty");
    std::vector<png_text> texts(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        const auto& [key, value] = text[i];
        check_key(key, name);
        if (value.find('\0') != std::string::npos)
            fail_write(name, "the text of key '" + key + "' contains a NUL character");
        const bool ascii = std::all_of(value.begin(), value.end(), [](char ch) {
            return static_cast<unsigned char>(ch) < 0x80;
        });
        png_text& t = texts[i];
        std::memset(&t, 0, sizeof t);
        t.compression = ascii ? PNG_TEXT_COMPRESSION_NONE : PNG_ITXT_COMPRESSION_NONE;
        t.key = const_cast<char*>(key.c_str());
        t.text = const_cast<char*>(value.c_str());
        if (ascii)
            t.text_length = value.size();
        else
            t.itxt_length = value.size();
        t.lang = nullptr;
        t.lang_key = nullptr;
    }
    std::vector<uint8_t> out;
    out.reserve(static_cast<size_t>(width) * height + 1024);
    WriteState state;
    state.out = &out;
    if (!encode(state, rgb, width, height, texts.data(), static_cast<int>(texts.size()))) {
        if (state.out_of_memory)
            throw std::bad_alloc();
        fail_write(name, state.error);
    }
    return out;
}

} // namespace daub::image
