// Decodes the images a user gives Daub (dropped files, browser drags,
// pasted data) through Qt's image plugins: PNG, JPEG, WebP, BMP. Applies
// the EXIF orientation, composites alpha on white, refuses images over 50
// megapixels and truncated files, and reads a PNG's A1111 `parameters`.
// Every failure is one sentence for the chat.
#pragma once

#include <QByteArray>
#include <QImage>
#include <QString>

namespace daub {

struct DecodedImage {
    QImage image;       ///< Format_RGB888; null when `error` is set
    QString name;       ///< what the user calls it (file name, or "the pasted image")
    QString format;     ///< "png", "jpeg", "webp" or "bmp"
    QString parameters; ///< a PNG's A1111 `parameters` text, if any
    QString error;      ///< one sentence; empty on success
    QByteArray sha256;  ///< of the pixels (InitImageStore::pixelHash), set by prepare()
    QImage thumbnail;   ///< at most 256 px a side, set by prepare()

    bool ok() const { return error.isEmpty() && !image.isNull(); }
};

class ImageDecoder {
public:
    /// Images larger than this many pixels are refused.
    static constexpr qint64 kMaxPixels = 50'000'000;
    /// Files larger than this are refused before reading.
    static constexpr qint64 kMaxFileBytes = 512ll * 1024 * 1024;

    /// Reads and decodes a local file.
    static DecodedImage decodeFile(const QString& path);
    /// Decodes bytes (drag data, clipboard, download); `name` is for messages.
    static DecodedImage decodeData(const QByteArray& data, const QString& name);
    /// Accepts an already decoded image (e.g. from the clipboard).
    static DecodedImage fromImage(const QImage& image, const QString& name);

    /// The work a decoded image needs before the GUI takes it, done on the
    /// decoding thread: its pixel hash and its thumbnail.
    static void prepare(DecodedImage& decoded);

    /// True when the bytes hold a complete file of `format` (PNG IEND, JPEG
    /// EOI, RIFF/BMP sizes): Qt decodes truncated files silently.
    static bool looksComplete(const QByteArray& data, const QString& format);
};

} // namespace daub
