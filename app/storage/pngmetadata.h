// PNG files with an A1111-compatible `parameters` text chunk, so Daub's
// images carry their recipe the way AUTOMATIC1111's web UI writes it (and
// other tools read it):
//
//   a red fox in the snow
//   Negative prompt: blurry
//   Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 512x512,
//   Model: sd15, Denoising strength: 0.6, Version: Daub 0.1.0
//
// (the last line is one line in the file).
#pragma once

#include <QByteArray>
#include <QImage>
#include <QList>
#include <QPair>
#include <QString>

#include <optional>

#include "metadata/image_parameters.h"

namespace daub {

/// The engine's std::string fields as Qt strings.
inline QString qstr(const std::string& s) { return QString::fromStdString(s); }

namespace a1111 {
/// The `parameters` text of an image (the engine's format, as a QString).
QString format(const ImageParameters& parameters);
/// Parses a `parameters` text (as A1111's parse_generation_parameters
/// does); nullopt when the text has no parameter line.
std::optional<ImageParameters> parse(const QString& text);

} // namespace a1111

using PngText = QList<QPair<QByteArray, QString>>;

/// Encodes `image` as PNG with text chunks: tEXt when the value is
/// Latin-1, else an uncompressed UTF-8 iTXt (as PIL, hence A1111, writes).
QByteArray encodePng(const QImage& image, const PngText& text = {});
/// Largest text readPngText inflates from a compressed chunk (1 MiB; an
/// A1111 parameters text is a few kilobytes).
constexpr qsizetype kMaxPngTextBytes = 1024 * 1024;
/// zlib data inflated, or nullopt when it is corrupt, truncated or would
/// be longer than `limit` bytes (it stops there, never allocating more).
std::optional<QByteArray> inflateLimited(const QByteArray& compressed, qsizetype limit);
/// The value of text chunk `key` (tEXt, zTXt or iTXt) of PNG bytes, line
/// breaks intact; "" when there is none or it inflates past
/// kMaxPngTextBytes.
QString readPngText(const QByteArray& png, const QString& key);

} // namespace daub
