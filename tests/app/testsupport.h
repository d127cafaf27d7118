// Small helpers of the Qt side's tests: the fixtures folder, throwaway
// settings, images made on the spot.
#pragma once

#include <QDir>
#include <QImage>
#include <QPainter>
#include <QSettings>
#include <QTemporaryDir>
#include <QtGlobal>

#include <memory>

namespace daub::test {

/// $DAUB_FIXTURES, else the folder CMake was told about.
inline QString fixturesDir() {
    const QString env = qEnvironmentVariable("DAUB_FIXTURES");
    return env.isEmpty() ? QStringLiteral(DAUB_FIXTURES_DIR) : env;
}
inline QString fixture(const QString& relative) {
    return QDir(fixturesDir()).filePath(relative);
}

/// QSettings in a file of `dir`, so tests never touch the user's.
inline std::unique_ptr<QSettings> scratchSettings(const QTemporaryDir& dir) {
    return std::make_unique<QSettings>(dir.filePath(QStringLiteral("settings.ini")),
                                       QSettings::IniFormat);
}

/// A gradient with a disc, `w`×`h`, RGB888; `hue` varies the colours.
inline QImage testImage(int w, int h, int hue = 0) {
    QImage image(w, h, QImage::Format_RGB888);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            image.setPixelColor(x, y, QColor((x * 255 / qMax(1, w - 1) + hue) % 256,
                                             y * 255 / qMax(1, h - 1), (hue * 3) % 256));
    QPainter painter(&image);
    painter.setBrush(QColor(250, 250, 250));
    painter.setPen(Qt::NoPen);
    painter.drawEllipse(QPointF(w / 2.0, h / 2.0), w / 4.0, h / 4.0);
    return image;
}

} // namespace daub::test
