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

namespace daub {

/// The recipe of one image, in the app's terms.
struct GenerationParameters {
    QString prompt;
    QString negativePrompt;
    int steps = 20;
    QString sampler; ///< engine name ("euler_a"); "" when unknown
    double cfgScale = 7.0;
    qint64 seed = -1;
    int width = 0;
    int height = 0;
    QString model;                           ///< model name
    int clipSkip = 1;                        ///< A1111 meaning (1 = last layer)
    std::optional<double> denoisingStrength; ///< set for img2img
    QString vae;                             ///< separate VAE's file name; "" = the model's own
    /// Super-resolution after generating (A1111's "Hires upscaler" /
    /// "Hires upscale"); width and height stay the first pass's.
    QString upscaler;
    int upscale = 0;                         ///< 2 or 4; 0 = none
    std::optional<double> refineStrength;    ///< the refine (hires) pass's strength

    bool operator==(const GenerationParameters&) const = default;
};

namespace a1111 {
/// The `parameters` text of an image.
QString format(const GenerationParameters& parameters);
/// Parses a `parameters` text (as A1111's parse_generation_parameters
/// does); nullopt when the text has no parameter line.
std::optional<GenerationParameters> parse(const QString& text);
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
