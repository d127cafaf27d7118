#include "imageproviders.h"

#include "storage/initimagestore.h"

#include <QMutexLocker>

namespace daub {
namespace {

QImage scaled(const QImage& image, QSize* size, const QSize& requested) {
    if (size)
        *size = image.size();
    if (image.isNull() || !requested.isValid() || requested.isEmpty())
        return image;
    if (requested.width() >= image.width() && requested.height() >= image.height())
        return image;
    return image.scaled(requested, Qt::KeepAspectRatio, Qt::SmoothTransformation);
}

} // namespace

void ImageBank::setImage(const QString& id, const QImage& image) {
    QMutexLocker lock(&m_mutex);
    m_images.insert(id, image);
}

void ImageBank::setPng(const QString& id, const QByteArray& png) {
    QMutexLocker lock(&m_mutex);
    m_pngs.insert(id, png);
}

QImage ImageBank::image(const QString& id) const {
    QMutexLocker lock(&m_mutex);
    return m_images.value(id);
}

QByteArray ImageBank::png(const QString& id) const {
    QMutexLocker lock(&m_mutex);
    return m_pngs.value(id);
}

void ImageBank::remove(const QString& id) {
    QMutexLocker lock(&m_mutex);
    m_images.remove(id);
    m_pngs.remove(id);
}

void ImageBank::clear() {
    QMutexLocker lock(&m_mutex);
    m_images.clear();
    m_pngs.clear();
}

BankImageProvider::BankImageProvider(const ImageBank* bank)
    : QQuickImageProvider(QQuickImageProvider::Image), m_bank(bank) {}

QImage BankImageProvider::requestImage(const QString& id, QSize* size, const QSize& requested) {
    // "preview/<job>/<n>": the n only makes each step a new URL.
    QString key = id;
    if (key.startsWith(u"preview/")) {
        const qsizetype slash = key.indexOf(u'/', 8);
        if (slash > 0)
            key.truncate(slash);
    }
    QImage image = m_bank->image(key);
    if (image.isNull()) {
        const QByteArray png = m_bank->png(key);
        if (!png.isEmpty())
            image = QImage::fromData(png, "PNG");
    }
    return scaled(image, size, requested);
}

InitImageProvider::InitImageProvider(const InitImageStore* store)
    : QQuickImageProvider(QQuickImageProvider::Image), m_store(store) {}

QImage InitImageProvider::requestImage(const QString& id, QSize* size, const QSize& requested) {
    return scaled(m_store->image(id), size, requested);
}

} // namespace daub
