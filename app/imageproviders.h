// Images the QML side shows by URL:
//   image://init/<ref>             an init image (InitImageStore)
//   image://daub/result/<job>      a finished image (its PNG, decoded on request)
//   image://daub/thumb/<job>       a prompt's init thumbnail, kept for the chat
//   image://daub/preview/<job>/<n> the live preview of a job (n busts the cache)
// Both providers scale to the requested sourceSize and may be called from
// the scene graph's loader threads.
#pragma once

#include <QByteArray>
#include <QHash>
#include <QImage>
#include <QMutex>
#include <QQuickImageProvider>
#include <QString>

namespace daub {

class InitImageStore;

/// Thread-safe images and PNGs by id, behind image://daub/.
class ImageBank {
public:
    void setImage(const QString& id, const QImage& image);
    void setPng(const QString& id, const QByteArray& png);
    QImage image(const QString& id) const;
    QByteArray png(const QString& id) const;
    void remove(const QString& id);
    void clear();

private:
    mutable QMutex m_mutex;
    QHash<QString, QImage> m_images;
    QHash<QString, QByteArray> m_pngs;
};

class BankImageProvider : public QQuickImageProvider {
public:
    explicit BankImageProvider(const ImageBank* bank);
    QImage requestImage(const QString& id, QSize* size, const QSize& requestedSize) override;

private:
    const ImageBank* m_bank;
};

class InitImageProvider : public QQuickImageProvider {
public:
    explicit InitImageProvider(const InitImageStore* store);
    QImage requestImage(const QString& id, QSize* size, const QSize& requestedSize) override;

private:
    const InitImageStore* m_store;
};

} // namespace daub
