// Image files (PNG/JPEG/BMP/WebP in, PNG with text chunks out), resizing and
// the image <-> tensor conversions. Files of other formats are written here
// by their own libraries (stb_image_write, libwebp, libpng), then read back.
#include "golden.h"

#include "core/errors.h"
#include "core/image.h"
#include "core/image_tensor.h"

#include <QtCore/QElapsedTimer>
#include <QtCore/QTemporaryDir>
#include <QtTest/QtTest>
#include <torch/torch.h>

#include <png.h>
#include <webp/encode.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

#include <array>
#include <csetjmp>
#include <cstdio>
#include <fstream>
#include <functional>
#include <random>

namespace {

using daub::Image;
using daub::ImageError;
using daub::RequestError;
using daub::ResizeMode;

using Rgb = std::array<int, 3>;

Rgb pixel(const Image& img, int x, int y) {
    const uint8_t* p = &img.rgb[(static_cast<size_t>(y) * img.width + x) * 3];
    return {p[0], p[1], p[2]};
}

int max_channel_diff(Rgb a, Rgb b) {
    int d = 0;
    for (int c = 0; c < 3; ++c)
        d = std::max(d, std::abs(a[c] - b[c]));
    return d;
}

int max_abs_diff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
    int d = 0;
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
        d = std::max(d, std::abs(int(a[i]) - int(b[i])));
    return d;
}

Image make_image(int w, int h, const std::function<Rgb(int, int)>& f) {
    Image img;
    img.width = w;
    img.height = h;
    img.rgb.resize(static_cast<size_t>(w) * h * 3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            const Rgb c = f(x, y);
            for (int k = 0; k < 3; ++k)
                img.rgb[(static_cast<size_t>(y) * w + x) * 3 + k] = static_cast<uint8_t>(c[k]);
        }
    return img;
}

Image random_image(int w, int h, unsigned seed) {
    std::mt19937 rng(seed);
    return make_image(w, h, [&](int, int) {
        return Rgb{int(rng() & 255), int(rng() & 255), int(rng() & 255)};
    });
}

/// A smooth image that survives JPEG nearly unchanged.
Image smooth_image(int w, int h) {
    return make_image(w, h, [&](int x, int y) {
        return Rgb{40 + 160 * x / (w - 1), 200 - 150 * y / (h - 1), 120};
    });
}

std::vector<uint8_t> read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
}

/// Expects `f` to throw ImageError whose message names `needle`.
template <typename F>
bool throws_image_error(F&& f, const std::string& needle, std::string* message = nullptr) {
    try {
        f();
    } catch (const ImageError& e) {
        if (message)
            *message = e.what();
        qInfo("ImageError: %s", e.what());
        return std::string(e.what()).find(needle) != std::string::npos;
    }
    return false;
}

// ---- libpng helpers (independent of the engine's code) ----------------------

struct PngText {
    std::string key, value;
    int compression = 0;
};

struct PngReadResult {
    std::vector<PngText> texts;
    bool ok = false;
};

void png_test_error(png_structp png, png_const_charp) {
    png_longjmp(png, 1);
}

/// Reads the text chunks of a PNG with libpng's full API. Only plain data in
/// this frame: libpng errors longjmp here.
bool read_png_texts_c(FILE* f, std::vector<PngText>* out) {
    png_structp png =
        png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, png_test_error, nullptr);
    png_infop info = png_create_info_struct(png);
    png_infop end = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, &end);
        return false;
    }
    png_init_io(png, f);
    png_read_png(png, info, PNG_TRANSFORM_IDENTITY, nullptr);
    png_textp text = nullptr;
    int n = png_get_text(png, info, &text, nullptr);
    for (int i = 0; i < n; ++i)
        out->push_back({text[i].key,
                        std::string(text[i].text, text[i].compression > 0 ? text[i].itxt_length
                                                                          : text[i].text_length),
                        text[i].compression});
    png_destroy_read_struct(&png, &info, &end);
    return true;
}

PngReadResult read_png_texts(const std::string& path) {
    PngReadResult r;
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f)
        return r;
    r.ok = read_png_texts_c(f, &r.texts);
    std::fclose(f);
    return r;
}

/// Decodes a PNG to RGB with libpng's simplified API.
bool libpng_decode_rgb(const std::string& path, Image* out) {
    png_image image;
    std::memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&image, path.c_str()))
        return false;
    image.format = PNG_FORMAT_RGB;
    out->width = static_cast<int>(image.width);
    out->height = static_cast<int>(image.height);
    out->rgb.resize(PNG_IMAGE_SIZE(image));
    return png_image_finish_read(&image, nullptr, out->rgb.data(), 0, nullptr) != 0;
}

/// Writes a PNG of any colour type and bit depth from packed rows.
bool write_png_raw_c(FILE* f, int w, int h, int color_type, int bit_depth, const uint8_t* rows,
                     size_t stride) {
    png_structp png =
        png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, png_test_error, nullptr);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return false;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, w, h, bit_depth, color_type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; ++y)
        png_write_row(png, rows + (stride == 0 ? 0 : stride * y));
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return true;
}

/// stride 0: every row is `rows` (for huge, uniform images).
bool write_png_raw(const std::string& path, int w, int h, int color_type, int bit_depth,
                   const std::vector<uint8_t>& rows, size_t stride) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f)
        return false;
    const bool ok = write_png_raw_c(f, w, h, color_type, bit_depth, rows.data(), stride);
    std::fclose(f);
    return ok;
}

void stb_write_to_vector(void* context, void* data, int size) {
    auto* v = static_cast<std::vector<uint8_t>*>(context);
    v->insert(v->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
}

std::vector<uint8_t> encode_jpeg(const Image& img, int quality = 100) {
    std::vector<uint8_t> out;
    stbi_write_jpg_to_func(stb_write_to_vector, &out, img.width, img.height, 3, img.rgb.data(),
                           quality);
    return out;
}

/// Inserts an APP1 EXIF segment with one Orientation tag right after SOI.
std::vector<uint8_t> with_exif_orientation(const std::vector<uint8_t>& jpeg, int orientation,
                                           bool little_endian) {
    std::vector<uint8_t> tiff;
    auto put16 = [&](unsigned v) {
        if (little_endian) {
            tiff.push_back(v & 0xff);
            tiff.push_back(v >> 8);
        } else {
            tiff.push_back(v >> 8);
            tiff.push_back(v & 0xff);
        }
    };
    auto put32 = [&](uint32_t v) {
        if (little_endian) {
            put16(v & 0xffff);
            put16(v >> 16);
        } else {
            put16(v >> 16);
            put16(v & 0xffff);
        }
    };
    tiff.push_back(little_endian ? 'I' : 'M');
    tiff.push_back(little_endian ? 'I' : 'M');
    put16(42);
    put32(8); // IFD0 right after the header
    put16(1); // one entry
    put16(0x0112);
    put16(3); // SHORT
    put32(1); // count
    put16(orientation);
    put16(0);
    put32(0); // no next IFD
    std::vector<uint8_t> app1 = {'E', 'x', 'i', 'f', 0, 0};
    app1.insert(app1.end(), tiff.begin(), tiff.end());
    const size_t length = app1.size() + 2;
    std::vector<uint8_t> out = {jpeg[0],
                                jpeg[1],
                                0xFF,
                                0xE1,
                                uint8_t(length >> 8),
                                uint8_t(length & 0xff)}; // SOI, APP1 marker, length
    out.insert(out.end(), app1.begin(), app1.end());
    out.insert(out.end(), jpeg.begin() + 2, jpeg.end());
    return out;
}

const Rgb kRed{255, 0, 0}, kGreen{0, 255, 0}, kBlue{0, 0, 255}, kWhite{255, 255, 255};

} // namespace

class TestImage : public QObject {
    Q_OBJECT

    QTemporaryDir tmp_;
    std::string path(const char* name) const { return tmp_.filePath(name).toStdString(); }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY2(daub::test::fixtures_present(), "fixtures folder missing: set DAUB_FIXTURES");
        QVERIFY(tmp_.isValid());
    }

    // ---- reading ---------------------------------------------------------

    void reads_golden_init_png() {
        const std::string file = daub::test::fixture("golden/init_64x64.png");
        const Image img = daub::read_image_file(file);
        QCOMPARE(img.width, 64);
        QCOMPARE(img.height, 64);
        QCOMPARE(img.rgb.size(), size_t(64 * 64 * 3));
        // The same pixels as libpng decodes them.
        Image reference;
        QVERIFY(libpng_decode_rgb(file, &reference));
        QCOMPARE(reference.width, 64);
        QCOMPARE(max_abs_diff(img.rgb, reference.rgb), 0);
        QVERIFY(img.rgb == reference.rgb);
        // What the fixture is: red ramps 0..255 left to right, green top to
        // bottom, blue is a disc in the middle on a dark background.
        QCOMPARE(pixel(img, 0, 0)[0], 0);
        QCOMPARE(pixel(img, 63, 0)[0], 255);
        QCOMPARE(pixel(img, 0, 0)[1], 0);
        QCOMPARE(pixel(img, 0, 63)[1], 255);
        for (int x = 1; x < 64; ++x)
            QVERIFY(pixel(img, x, 5)[0] > pixel(img, x - 1, 5)[0]);
        for (int y = 1; y < 64; ++y)
            QVERIFY(pixel(img, 5, y)[1] > pixel(img, 5, y - 1)[1]);
        QVERIFY(pixel(img, 32, 32)[2] > 200);
        for (auto [x, y] : {std::pair{0, 0}, {63, 0}, {0, 63}, {63, 63}})
            QVERIFY(pixel(img, x, y)[2] < 60);
    }

    void reads_bmp_and_jpeg_written_by_stb() {
        const Image img = smooth_image(40, 24);
        const std::string bmp = path("smooth.bmp");
        QVERIFY(stbi_write_bmp(bmp.c_str(), img.width, img.height, 3, img.rgb.data()));
        const Image from_bmp = daub::read_image_file(bmp);
        QCOMPARE(from_bmp.width, 40);
        QCOMPARE(from_bmp.height, 24);
        QVERIFY(from_bmp.rgb == img.rgb); // lossless

        const std::string jpg = path("smooth.jpg");
        QVERIFY(stbi_write_jpg(jpg.c_str(), img.width, img.height, 3, img.rgb.data(), 100));
        const Image from_jpg = daub::read_image_file(jpg);
        QCOMPARE(from_jpg.width, 40);
        QCOMPARE(from_jpg.height, 24);
        const int err = max_abs_diff(from_jpg.rgb, img.rgb);
        qInfo("JPEG q100 round trip: max abs err %d", err);
        QVERIFY(err <= 8);
    }

    /// A BMP whose rows are stored top-down (negative height, as Windows
    /// tools often write them) reads upright. Found by fuzzing: stb's
    /// header reader gave the negative height, refused as "no pixels".
    void reads_top_down_bmp() {
        const int w = 3, h = 2;
        std::vector<uint8_t> bmp = {'B', 'M'};
        auto u32 = [&](uint32_t v) {
            for (int i = 0; i < 4; ++i)
                bmp.push_back(static_cast<uint8_t>(v >> (8 * i)));
        };
        auto u16 = [&](uint16_t v) { bmp.insert(bmp.end(), {uint8_t(v), uint8_t(v >> 8)}); };
        // 3 pixels × 3 bytes, padded to 4.
        const uint32_t row = 12;
        // File size, reserved, pixel offset; header size, width, height
        // (negative: top-down), planes, bits; BI_RGB, image size, dpi, colours.
        for (const uint32_t v : {54 + row * h, 0u, 54u, 40u, uint32_t(w), uint32_t(-h)})
            u32(v);
        u16(1);
        u16(24);
        for (const uint32_t v : {0u, row * h, 2835u, 2835u, 0u, 0u})
            u32(v);
        for (int y = 0; y < h; ++y) { // first row stored first: red, then green
            for (int x = 0; x < w; ++x) {
                const uint8_t v = static_cast<uint8_t>(40 * x + 10);
                bmp.insert(bmp.end(), {0, y == 1 ? v : uint8_t(0), y == 0 ? v : uint8_t(0)});
            }
            bmp.insert(bmp.end(), 3, 0);
        }
        const Image img = daub::decode_image(bmp.data(), bmp.size(), "top_down.bmp");
        QCOMPARE(img.width, w);
        QCOMPARE(img.height, h);
        QCOMPARE(int(pixel(img, 2, 0)[0]), 90); // top row red
        QCOMPARE(int(pixel(img, 2, 0)[1]), 0);
        QCOMPARE(int(pixel(img, 1, 1)[1]), 50); // bottom row green
        QCOMPARE(int(pixel(img, 1, 1)[0]), 0);
    }

    void reads_webp_written_by_libwebp() {
        const Image img = random_image(33, 17, 7);
        uint8_t* out = nullptr;
        size_t n =
            WebPEncodeLosslessRGB(img.rgb.data(), img.width, img.height, img.width * 3, &out);
        QVERIFY(n > 0);
        write_bytes(path("lossless.webp"), std::vector<uint8_t>(out, out + n));
        WebPFree(out);
        const Image back = daub::read_image_file(path("lossless.webp"));
        QCOMPARE(back.width, 33);
        QCOMPARE(back.height, 17);
        QVERIFY(back.rgb == img.rgb);

        const Image smooth = smooth_image(48, 32);
        n = WebPEncodeRGB(smooth.rgb.data(), smooth.width, smooth.height, smooth.width * 3, 95.0f,
                          &out);
        QVERIFY(n > 0);
        const Image lossy = daub::decode_image(out, n, "lossy.webp");
        WebPFree(out);
        QCOMPARE(lossy.width, 48);
        QCOMPARE(lossy.height, 32);
        const int err = max_abs_diff(lossy.rgb, smooth.rgb);
        qInfo("WebP q95 round trip: max abs err %d", err);
        QVERIFY(err <= 12);
    }

    void alpha_is_composited_on_white() {
        // RGBA: opaque red, transparent (colour ignored), half-transparent black.
        const std::vector<uint8_t> rgba = {255, 0, 0, 255, 12, 200, 34, 0, 0, 0, 0, 128};
        const std::string png = path("alpha.png");
        QVERIFY(stbi_write_png(png.c_str(), 3, 1, 4, rgba.data(), 3 * 4));
        uint8_t* out = nullptr;
        const size_t n = WebPEncodeLosslessRGBA(rgba.data(), 3, 1, 3 * 4, &out);
        QVERIFY(n > 0);
        write_bytes(path("alpha.webp"), std::vector<uint8_t>(out, out + n));
        WebPFree(out);
        for (const std::string& file : {png, path("alpha.webp")}) {
            const Image img = daub::read_image_file(file);
            QCOMPARE(img.width, 3);
            QCOMPARE(pixel(img, 0, 0), kRed);
            QCOMPARE(pixel(img, 1, 0), kWhite);
            // 0·128/255 + 255·127/255 = 127.
            QCOMPARE(pixel(img, 2, 0), (Rgb{127, 127, 127}));
        }
        // Grey + alpha PNG: grey 0 at alpha 255 and grey 200 at alpha 0.
        const std::string ga = path("gray_alpha.png");
        QVERIFY(write_png_raw(ga, 2, 1, PNG_COLOR_TYPE_GRAY_ALPHA, 8, {0, 255, 200, 0}, 4));
        const Image g = daub::read_image_file(ga);
        QCOMPARE(pixel(g, 0, 0), (Rgb{0, 0, 0}));
        QCOMPARE(pixel(g, 1, 0), kWhite);
    }

    void sixteen_bit_and_grey_pngs_become_8_bit_rgb() {
        // 16-bit RGB: samples 0x12AB, 0xFF00, 0x0080 keep their high byte.
        const std::vector<uint8_t> row = {0x12, 0xAB, 0xFF, 0x00, 0x00, 0x80,
                                          0xFF, 0xFF, 0x00, 0x00, 0x7F, 0xFF};
        const std::string p16 = path("rgb16.png");
        QVERIFY(write_png_raw(p16, 2, 1, PNG_COLOR_TYPE_RGB, 16, row, row.size()));
        const Image img = daub::read_image_file(p16);
        QCOMPARE(img.width, 2);
        QCOMPARE(pixel(img, 0, 0), (Rgb{0x12, 0xFF, 0x00}));
        QCOMPARE(pixel(img, 1, 0), (Rgb{0xFF, 0x00, 0x7F}));

        const std::string grey = path("grey.png");
        QVERIFY(write_png_raw(grey, 3, 1, PNG_COLOR_TYPE_GRAY, 8, {0, 77, 255}, 3));
        const Image g = daub::read_image_file(grey);
        QCOMPARE(pixel(g, 1, 0), (Rgb{77, 77, 77}));
        QCOMPARE(pixel(g, 2, 0), kWhite);
    }

    void jpeg_exif_orientation_turns_the_image_upright() {
        // Stored 16×8: quadrants red | green over blue | white.
        const Image stored = make_image(16, 8, [](int x, int y) {
            return y < 4 ? (x < 8 ? kRed : kGreen) : (x < 8 ? kBlue : kWhite);
        });
        const std::vector<uint8_t> jpeg = encode_jpeg(stored);
        // Displayed corners (top-left, top-right, bottom-left, bottom-right)
        // for each EXIF orientation, from the EXIF specification.
        const std::array<std::array<Rgb, 4>, 9> expected = {{
            {},
            {kRed, kGreen, kBlue, kWhite}, // 1 as stored
            {kGreen, kRed, kWhite, kBlue}, // 2 mirrored
            {kWhite, kBlue, kGreen, kRed}, // 3 rotated 180
            {kBlue, kWhite, kRed, kGreen}, // 4 flipped
            {kRed, kBlue, kGreen, kWhite}, // 5 mirrored + rotated 270 CW (transpose)
            {kBlue, kRed, kWhite, kGreen}, // 6 rotated 90 CW
            {kWhite, kGreen, kBlue, kRed}, // 7 mirrored + rotated 90 CW (transverse)
            {kGreen, kWhite, kRed, kBlue}, // 8 rotated 270 CW
        }};
        for (int o = 1; o <= 8; ++o) {
            const std::vector<uint8_t> file =
                with_exif_orientation(jpeg, o, /*little_endian=*/o % 2);
            const Image img = daub::decode_image(file.data(), file.size(), "exif.jpg");
            const bool swapped = o >= 5;
            QCOMPARE(img.width, swapped ? 8 : 16);
            QCOMPARE(img.height, swapped ? 16 : 8);
            const int qx = img.width / 4, qy = img.height / 4;
            const Rgb got[4] = {pixel(img, qx, qy), pixel(img, img.width - 1 - qx, qy),
                                pixel(img, qx, img.height - 1 - qy),
                                pixel(img, img.width - 1 - qx, img.height - 1 - qy)};
            for (int c = 0; c < 4; ++c)
                QVERIFY2(max_channel_diff(got[c], expected[o][c]) <= 40,
                         qPrintable(QString("orientation %1 corner %2").arg(o).arg(c)));
        }
        // A malformed EXIF block is ignored, not an error.
        std::vector<uint8_t> bad = with_exif_orientation(jpeg, 6, false);
        bad[4 + 2 + 6 + 2] = 0x99; // breaks the TIFF magic 42
        const Image img = daub::decode_image(bad.data(), bad.size(), "bad_exif.jpg");
        QCOMPARE(img.width, 16);
    }

    // ---- errors ----------------------------------------------------------

    /// A PNG whose image data chunk claims 2 GB in a file of a few hundred
    /// bytes is refused before stb grows its buffer to the claimed size.
    /// Found by fuzzing (the allocation, not the refusal, was the bug).
    void png_data_chunk_longer_than_the_file_is_refused_first() {
        const std::vector<uint8_t> good = daub::encode_png(smooth_image(16, 12));
        std::vector<uint8_t> bad(good.begin(), good.end() - 12); // without IEND
        const uint8_t claim[] = {0x7F, 0xFF, 0xFF, 0xF0, 'I', 'D', 'A', 'T', 1, 2, 3};
        bad.insert(bad.end(), std::begin(claim), std::end(claim));
        QVERIFY(throws_image_error([&] { daub::decode_image(bad.data(), bad.size(), "long.png"); },
                                   "its image data runs past its end"));
    }

    void unreadable_files_throw_image_error_naming_the_file() {
        const std::vector<uint8_t> good = read_bytes(daub::test::fixture("golden/init_64x64.png"));
        QVERIFY(good.size() > 300);
        const std::string cut = path("truncated.png");
        write_bytes(cut, std::vector<uint8_t>(good.begin(), good.begin() + good.size() / 2));
        QVERIFY(throws_image_error([&] { daub::read_image_file(cut); }, cut));
        const std::string stub = path("stub.png");
        write_bytes(stub, std::vector<uint8_t>(good.begin(), good.begin() + 20));
        QVERIFY(throws_image_error([&] { daub::read_image_file(stub); }, stub));
        // IDAT data replaced by garbage of the same length.
        std::vector<uint8_t> garbled = good;
        for (size_t i = 41; i < 41 + 200; ++i)
            garbled[i] = static_cast<uint8_t>(i * 37);
        const std::string bad = path("garbled.png");
        write_bytes(bad, garbled);
        QVERIFY(throws_image_error([&] { daub::read_image_file(bad); }, bad));

        const std::string text = path("notes.txt");
        write_bytes(text, {'h', 'e', 'l', 'l', 'o', '\n'});
        std::string message;
        QVERIFY(throws_image_error([&] { daub::read_image_file(text); }, text, &message));
        QVERIFY(message.find("not an image") != std::string::npos);

        const std::string gif = path("anim.gif");
        write_bytes(gif, {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0});
        QVERIFY(throws_image_error([&] { daub::read_image_file(gif); }, "GIF"));

        const std::string empty = path("empty.png");
        write_bytes(empty, {});
        QVERIFY(throws_image_error([&] { daub::read_image_file(empty); }, empty));

        const std::string missing = path("missing.png");
        QVERIFY(throws_image_error([&] { daub::read_image_file(missing); }, missing));

        // A JPEG Huffman table declaring 512 codes (at most 256 exist): the
        // stb version Debian ships would write past its table.
        std::vector<uint8_t> jpeg = encode_jpeg(smooth_image(16, 16));
        size_t dht = 2;
        while (dht + 1 < jpeg.size() && !(jpeg[dht] == 0xFF && jpeg[dht + 1] == 0xC4))
            ++dht;
        QVERIFY(dht + 21 < jpeg.size());
        for (size_t i = dht + 5; i < dht + 21; ++i) // the 16 counts after Tc/Th
            jpeg[i] = 32;
        const std::string huff = path("huffman.jpg");
        write_bytes(huff, jpeg);
        QVERIFY(throws_image_error([&] { daub::read_image_file(huff); }, "Huffman"));

        const std::vector<uint8_t> webp_stub = {'R', 'I', 'F', 'F', 100, 0,   0,  0,
                                                'W', 'E', 'B', 'P', 'V', 'P', '8'};
        QVERIFY(throws_image_error(
            [&] { daub::decode_image(webp_stub.data(), webp_stub.size(), "cut.webp"); },
            "cut.webp"));
    }

    void images_over_50_megapixels_are_refused() {
        // 10000 × 5001 one-bit grey: a small file, 50.01 megapixels.
        const std::string big = path("huge.png");
        QVERIFY(write_png_raw(big, 10000, 5001, PNG_COLOR_TYPE_GRAY, 1,
                              std::vector<uint8_t>(1250, 0), 0));
        std::string message;
        QVERIFY(throws_image_error([&] { daub::read_image_file(big); }, big, &message));
        QVERIFY(message.find("megapixels") != std::string::npos);
        // Just under the limit reads (10000 × 5000 = 50 MP).
        QVERIFY(write_png_raw(big, 10000, 5000, PNG_COLOR_TYPE_GRAY, 1,
                              std::vector<uint8_t>(1250, 0xff), 0));
        const Image img = daub::read_image_file(big);
        QCOMPARE(img.width, 10000);
        QCOMPARE(img.height, 5000);
        QCOMPARE(pixel(img, 9999, 4999), kWhite);
    }

    void oversized_png_is_refused_by_the_size_limit_not_as_corrupt() {
        // Signature + IHDR of a 40000 × 40000 grey image and nothing else:
        // stb refuses that size as "corrupt"; Daub's own limit must speak.
        std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n',
                                    0, 0, 0, 13, 'I', 'H', 'D', 'R'};
        for (uint32_t v : {40000u, 40000u})
            for (int shift : {24, 16, 8, 0})
                png.push_back(static_cast<uint8_t>(v >> shift));
        png.insert(png.end(), {1, 0, 0, 0, 0, 0, 0, 0, 0}); // depth, colour, ..., CRC
        std::string message;
        QVERIFY(throws_image_error(
            [&] { daub::decode_image(png.data(), png.size(), "wide.png"); }, "wide.png",
            &message));
        QVERIFY2(message.find("megapixels") != std::string::npos, message.c_str());
        QVERIFY2(message.find("corrupt") == std::string::npos, message.c_str());
    }

    void png_with_an_empty_idat_chunk_decodes() {
        // stb 2.27 memcpy()s from a null pointer for an empty IDAT chunk:
        // Daub drops such chunks first; the pixels are the same.
        const Image img = random_image(5, 4, 7);
        const std::vector<uint8_t> png = daub::encode_png(img, {});
        std::vector<uint8_t> with_empty = png;
        size_t idat = 8;
        while (std::memcmp(&png[idat + 4], "IDAT", 4) != 0)
            idat += 12 + ((size_t(png[idat]) << 24) | (size_t(png[idat + 1]) << 16) |
                          (size_t(png[idat + 2]) << 8) | png[idat + 3]);
        const uint8_t empty[12] = {0, 0, 0, 0, 'I', 'D', 'A', 'T', 0x35, 0xAF, 0x06, 0x1E};
        with_empty.insert(with_empty.begin() + static_cast<std::ptrdiff_t>(idat), empty,
                          empty + 12);
        const Image a = daub::decode_image(png.data(), png.size(), "a.png");
        const Image b = daub::decode_image(with_empty.data(), with_empty.size(), "b.png");
        QCOMPARE(b.width, a.width);
        QCOMPARE(b.height, a.height);
        QVERIFY(a.rgb == b.rgb);
    }

    // ---- writing ---------------------------------------------------------

    void png_round_trip_with_text_chunks() {
        const Image img = random_image(37, 23, 1);
        const std::string parameters =
            "a red fox in the snow\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, "
            "CFG scale: 7, Seed: 42, Size: 37x23";
        const std::string utf8 = "Füchse im Schnee ✓ 雪";
        const std::string file = path("round.png");
        daub::write_png_file(file, img, {{"parameters", parameters}, {"Comment", utf8}});
        const Image back = daub::read_image_file(file);
        QCOMPARE(back.width, 37);
        QCOMPARE(back.height, 23);
        QVERIFY(back.rgb == img.rgb);
        QVERIFY(!QFile::exists(QString::fromStdString(file + ".part")));

        const PngReadResult texts = read_png_texts(file);
        QVERIFY(texts.ok);
        QCOMPARE(texts.texts.size(), size_t(2));
        QCOMPARE(texts.texts[0].key, std::string("parameters"));
        QCOMPARE(texts.texts[0].value, parameters);
        QCOMPARE(texts.texts[0].compression, PNG_TEXT_COMPRESSION_NONE); // tEXt
        QCOMPARE(texts.texts[1].key, std::string("Comment"));
        QCOMPARE(texts.texts[1].value, utf8);
        QCOMPARE(texts.texts[1].compression, PNG_ITXT_COMPRESSION_NONE); // iTXt

        // The same bytes in memory, and libpng decodes them too.
        QVERIFY(daub::encode_png(img, {{"parameters", parameters}, {"Comment", utf8}}) ==
                read_bytes(file));
        Image reference;
        QVERIFY(libpng_decode_rgb(file, &reference));
        QVERIFY(reference.rgb == img.rgb);
    }

    void png_write_errors() {
        const Image img = random_image(4, 4, 2);
        QVERIFY(throws_image_error(
            [&] {
                daub::write_png_file(path("k.png"), img, {{"", "x"}});
            },
            "k.png"));
        QVERIFY(throws_image_error(
            [&] {
                daub::write_png_file(path("k.png"), img, {{std::string(80, 'k'), "x"}});
            },
            "text key"));
        QVERIFY(throws_image_error(
            [&] {
                daub::write_png_file(path("k.png"), img, {{"bad\nkey", "x"}});
            },
            "text key"));
        Image broken = img;
        broken.rgb.resize(10);
        QVERIFY(throws_image_error([&] { daub::write_png_file(path("b.png"), broken); }, "b.png"));
        QVERIFY(throws_image_error([&] { daub::write_png_file(path("e.png"), Image{}); }, "e.png"));
        const std::string nowhere = path("no/such/dir/x.png");
        QVERIFY(throws_image_error([&] { daub::write_png_file(nowhere, img); }, nowhere));
    }

    // ---- resizing --------------------------------------------------------

    void resize_modes_parse_and_print() {
        for (ResizeMode m : {ResizeMode::Stretch, ResizeMode::Crop, ResizeMode::Fit})
            QCOMPARE(daub::resize_mode_from_string(daub::to_string(m)), m);
        QCOMPARE(std::string(daub::to_string(ResizeMode::Crop)), std::string("crop"));
        QVERIFY_THROWS_EXCEPTION(RequestError, daub::resize_mode_from_string("zoom"));
        QVERIFY_THROWS_EXCEPTION(RequestError, daub::resize_mode_from_string("Crop"));
    }

    void resize_gives_the_requested_size_and_keeps_constants() {
        const Image grey = make_image(37, 23, [](int, int) { return Rgb{93, 200, 7}; });
        for (ResizeMode m : {ResizeMode::Stretch, ResizeMode::Crop, ResizeMode::Fit})
            for (auto [w, h] : {std::pair{64, 64}, {16, 48}, {5, 3}, {300, 17}, {37, 23}, {1, 1}}) {
                const Image out = daub::resize_image(grey, w, h, m);
                QCOMPARE(out.width, w);
                QCOMPARE(out.height, h);
                QCOMPARE(out.rgb.size(), size_t(w) * h * 3);
                for (size_t i = 0; i < out.rgb.size(); i += 3)
                    QVERIFY2(out.rgb[i] == 93 && out.rgb[i + 1] == 200 && out.rgb[i + 2] == 7,
                             qPrintable(QString("%1 %2x%3").arg(daub::to_string(m)).arg(w).arg(h)));
            }
        const Image same = daub::resize_image(grey, 37, 23, ResizeMode::Crop);
        QVERIFY(same.rgb == grey.rgb);
        QVERIFY_THROWS_EXCEPTION(RequestError, daub::resize_image(grey, 0, 10, ResizeMode::Fit));
        QVERIFY_THROWS_EXCEPTION(RequestError,
                                 daub::resize_image(grey, 100000, 100000, ResizeMode::Stretch));
        QVERIFY_THROWS_EXCEPTION(ImageError,
                                 daub::resize_image(Image{}, 8, 8, ResizeMode::Stretch));
    }

    void bilinear_weights_are_pils() {
        // Values worked out by hand from PIL's BILINEAR filter definition.
        const Image ramp = make_image(2, 1, [](int x, int) {
            return Rgb{x * 255, 0, 255 - x * 255};
        });
        // Up: centres at 0.25, 0.75, 1.25, 1.75 of the source.
        const Image up = daub::resize_image(ramp, 4, 1, ResizeMode::Stretch);
        QCOMPARE(pixel(up, 0, 0)[0], 0);
        QCOMPARE(pixel(up, 1, 0)[0], 64);  // 0.25 · 255 = 63.75
        QCOMPARE(pixel(up, 2, 0)[0], 191); // 0.75 · 255 = 191.25
        QCOMPARE(pixel(up, 3, 0)[0], 255);
        QCOMPARE(pixel(up, 1, 0)[2], 191);
        // Down 2 → 1: both pixels weigh 0.75 (support widened to 2): the mean.
        const Image down = daub::resize_image(ramp, 1, 1, ResizeMode::Stretch);
        QCOMPARE(pixel(down, 0, 0), (Rgb{128, 0, 128}));
        // Down 3 → 1 (support 3, centre 1.5): weights 2/3, 1, 2/3, normalised.
        const Image three = make_image(3, 1, [](int x, int) { return Rgb{x == 0 ? 70 : 0, 0, 0}; });
        QCOMPARE(pixel(daub::resize_image(three, 1, 1, ResizeMode::Stretch), 0, 0)[0],
                 20); // 70·2/7
    }

    void shrinking_is_antialiased() {
        // A one-pixel checkerboard shrunk 4× must be flat grey, not a pattern.
        const Image checker = make_image(64, 64, [](int x, int y) {
            return (x + y) % 2 ? kWhite : Rgb{0, 0, 0};
        });
        const Image small = daub::resize_image(checker, 16, 16, ResizeMode::Stretch);
        int lo = 255, hi = 0;
        for (uint8_t v : small.rgb) {
            lo = std::min(lo, int(v));
            hi = std::max(hi, int(v));
        }
        qInfo("checkerboard 64 -> 16: values in [%d, %d]", lo, hi);
        QVERIFY(lo >= 125 && hi <= 130);
        // One-pixel lines every 4 columns: a 4× shrink must keep a quarter of
        // their light (a filter of fixed width would miss them, giving 0).
        const Image lines = make_image(64, 8, [](int x, int) {
            return x % 4 ? Rgb{0, 0, 0} : kWhite;
        });
        const Image thin = daub::resize_image(lines, 16, 8, ResizeMode::Stretch);
        for (int x = 0; x < 16; ++x)
            QVERIFY2(pixel(thin, x, 4)[0] >= 40 &&
                         pixel(thin, x, 4)[0] <= 80, // 47 at the edge, ~66 inside
                     qPrintable(QString("column %1: %2").arg(x).arg(pixel(thin, x, 4)[0])));
        // Shrinking by a non-integer factor too (64 -> 23).
        const Image odd = daub::resize_image(checker, 23, 23, ResizeMode::Stretch);
        for (uint8_t v : odd.rgb)
            QVERIFY(v >= 100 && v <= 155);
    }

    void resize_timing() {
        const Image photo = random_image(3000, 2000, 3);
        QElapsedTimer timer;
        timer.start();
        const Image out = daub::resize_image(photo, 768, 512, ResizeMode::Crop);
        qInfo("resize 3000x2000 -> 768x512 (crop): %lld ms",
              static_cast<long long>(timer.elapsed()));
        QCOMPARE(out.width, 768);
        timer.restart();
        const Image up =
            daub::resize_image(smooth_image(512, 512), 1024, 1024, ResizeMode::Stretch);
        qInfo("resize 512x512 -> 1024x1024 (stretch): %lld ms",
              static_cast<long long>(timer.elapsed()));
        QCOMPARE(up.height, 1024);
    }

    void crop_keeps_the_centre() {
        // 200×100: red | green (x in [50, 150)) | blue.
        const Image bands = make_image(
            200, 100, [](int x, int) { return x < 50 ? kRed : (x < 150 ? kGreen : kBlue); });
        const Image crop = daub::resize_image(bands, 64, 64, ResizeMode::Crop);
        for (int y = 0; y < 64; ++y)
            for (int x = 1; x < 63; ++x)
                QCOMPARE(pixel(crop, x, y), kGreen);
        // The outermost columns may take a little of the neighbours, as PIL's.
        QVERIFY(pixel(crop, 0, 32)[1] >= 200);
        QVERIFY(pixel(crop, 63, 32)[1] >= 200);
        // Stretch keeps all three bands.
        const Image stretch = daub::resize_image(bands, 64, 64, ResizeMode::Stretch);
        QCOMPARE(pixel(stretch, 2, 32), kRed);
        QCOMPARE(pixel(stretch, 32, 32), kGreen);
        QCOMPARE(pixel(stretch, 61, 32), kBlue);
        // A tall image crops top and bottom instead.
        const Image tall = make_image(
            30, 90, [](int, int y) { return y < 30 ? kRed : (y < 60 ? kWhite : kBlue); });
        const Image tc = daub::resize_image(tall, 20, 20, ResizeMode::Crop);
        for (int y = 1; y < 19; ++y)
            QCOMPARE(pixel(tc, 10, y), kWhite);
    }

    void fit_pads_with_the_edge_colour() {
        // 100×50 into 64×64: a 64×32 picture between 16-row bands.
        const Image wide = make_image(100, 50, [](int x, int) {
            return x < 50 ? Rgb{0, 0, 0} : kWhite;
        });
        const Image fit = daub::resize_image(wide, 64, 64, ResizeMode::Fit);
        QCOMPARE(fit.width, 64);
        QCOMPARE(fit.height, 64);
        const Rgb pad = pixel(fit, 0, 0);
        // The top and bottom edges are half black, half white: mid grey.
        QVERIFY(std::abs(pad[0] - 128) <= 2);
        for (int y : {0, 5, 15, 48, 63})
            for (int x = 0; x < 64; ++x)
                QCOMPARE(pixel(fit, x, y), pad);
        for (int y = 16; y < 48; ++y) {
            QCOMPARE(pixel(fit, 2, y), (Rgb{0, 0, 0}));
            QCOMPARE(pixel(fit, 61, y), kWhite);
        }
        // A tall red image pads left and right with red.
        const Image tall = make_image(10, 40, [](int, int) { return kRed; });
        const Image tf = daub::resize_image(tall, 40, 40, ResizeMode::Fit);
        QCOMPARE(pixel(tf, 0, 20), kRed);
        QCOMPARE(pixel(tf, 39, 0), kRed);
    }

    // ---- tensors ---------------------------------------------------------

    void tensor_conversions_round_trip() {
        // Every u8 value, in every channel.
        const Image img = make_image(16, 16, [](int x, int y) {
            const int v = y * 16 + x;
            return Rgb{v, 255 - v, (v * 7) % 256};
        });
        const at::Tensor t = daub::image_to_tensor(img);
        QCOMPARE(t.sizes().vec(), (std::vector<int64_t>{1, 3, 16, 16}));
        QCOMPARE(t.scalar_type(), at::kFloat);
        // 2 · (u8 / 255) − 1 in float32, channel by channel.
        const at::Tensor hwc =
            torch::from_blob(const_cast<uint8_t*>(img.rgb.data()), {16, 16, 3}, torch::kUInt8)
                .to(torch::kFloat);
        const at::Tensor expected = (hwc / 255.0f * 2.0f - 1.0f).permute({2, 0, 1}).unsqueeze(0);
        QVERIFY(torch::equal(t, expected));
        QCOMPARE(t[0][0][0][0].item<float>(), -1.0f);
        QCOMPARE(t[0][0][15][15].item<float>(), 1.0f);

        // [-1, 1] → [0, 1] → image: exact.
        QVERIFY(daub::tensor_to_image(t / 2 + 0.5).rgb == img.rgb);
        QVERIFY(daub::tensor_to_image((t / 2 + 0.5)[0].permute({1, 2, 0})).rgb == img.rgb);
        QVERIFY(daub::tensor_to_image((hwc / 255.0f).to(torch::kDouble)).rgb == img.rgb);
        QVERIFY(daub::tensor_to_image((hwc / 255.0f).to(torch::kHalf)).rgb == img.rgb);
        const at::Tensor t16 = daub::image_to_tensor(img, at::kHalf);
        QCOMPARE(t16.scalar_type(), at::kHalf);

        // Clamped, rounded (0.25 · 255 = 63.75, 0.5 · 255 = 127.5), NaN to 0.
        at::Tensor v = torch::tensor({-0.5f, 1.7f, 1.0f / 255.0f, 0.25f,
                                      std::numeric_limits<float>::quiet_NaN(), 0.5f})
                           .reshape({1, 2, 3});
        const Image o = daub::tensor_to_image(v);
        QCOMPARE(o.width, 2);
        QCOMPARE(o.height, 1);
        QCOMPARE(pixel(o, 0, 0), (Rgb{0, 255, 1}));
        QCOMPARE(pixel(o, 1, 0), (Rgb{64, 0, 128}));

        QVERIFY_THROWS_EXCEPTION(ImageError, daub::tensor_to_image(torch::zeros({3, 4, 4})));
        QVERIFY_THROWS_EXCEPTION(ImageError, daub::tensor_to_image(torch::zeros({2, 3, 4, 4})));
        QVERIFY_THROWS_EXCEPTION(ImageError,
                                 daub::tensor_to_image(torch::zeros({4, 4, 3}, torch::kUInt8)));
        QVERIFY_THROWS_EXCEPTION(ImageError, daub::image_to_tensor(Image{}));
    }
};

QTEST_APPLESS_MAIN(TestImage)
#include "test_image.moc"
