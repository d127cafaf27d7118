#include "storage/initimagestore.h"

#include <QCryptographicHash>
#include <QElapsedTimer>
#include <QMutexLocker>
#include <QtEndian>

namespace daub {

InitImageStore::InitImageStore(QObject* parent) : QObject(parent) {
    m_clock = [] {
        static QElapsedTimer timer = [] {
            QElapsedTimer t;
            t.start();
            return t;
        }();
        return timer.elapsed();
    };
    m_purgeTimer.setInterval(30'000);
    connect(&m_purgeTimer, &QTimer::timeout, this, &InitImageStore::purgeExpired);
    m_purgeTimer.start();
}

void InitImageStore::setClock(Clock clock) { m_clock = std::move(clock); }
void InitImageStore::setTtl(qint64 milliseconds) { m_ttlMs = milliseconds; }

QByteArray InitImageStore::pixelHash(const QImage& source) {
    const QImage image = source.format() == QImage::Format_RGB888
                             ? source
                             : source.convertToFormat(QImage::Format_RGB888);
    QCryptographicHash hash(QCryptographicHash::Sha256);
    char header[8];
    qToBigEndian<quint32>(quint32(image.width()), header);
    qToBigEndian<quint32>(quint32(image.height()), header + 4);
    hash.addData(QByteArrayView(header, 8));
    const qsizetype row = qsizetype(image.width()) * 3;
    for (int y = 0; y < image.height(); ++y)
        hash.addData(QByteArrayView(reinterpret_cast<const char*>(image.constScanLine(y)), row));
    return hash.result();
}

bool InitImageStore::isExpired(const Entry& entry, qint64 now) const {
    return entry.holders <= 0 && now - entry.releasedAt >= m_ttlMs;
}

QString InitImageStore::put(InitImage image) {
    purgeExpired();
    if (image.sha256.isEmpty())
        image.sha256 = pixelHash(image.image);
    const QString ref = QString::number(m_next++);
    QMutexLocker lock(&m_mutex);
    m_entries.insert(ref, Entry{std::move(image), 1, m_clock()});
    return ref;
}

bool InitImageStore::hold(const QString& ref) {
    QMutexLocker lock(&m_mutex);
    auto it = m_entries.find(ref);
    if (it == m_entries.end() || isExpired(*it, m_clock()))
        return false;
    ++it->holders;
    return true;
}

void InitImageStore::release(const QString& ref) {
    QMutexLocker lock(&m_mutex);
    auto it = m_entries.find(ref);
    if (it == m_entries.end() || it->holders <= 0)
        return;
    if (--it->holders == 0)
        it->releasedAt = m_clock();
}

std::optional<InitImage> InitImageStore::resolve(const QString& ref) {
    QMutexLocker lock(&m_mutex);
    auto it = m_entries.find(ref);
    if (it == m_entries.end())
        return std::nullopt;
    if (isExpired(*it, m_clock())) {
        m_entries.erase(it);
        lock.unlock();
        Q_EMIT expired(ref);
        return std::nullopt;
    }
    return it->image;
}

QImage InitImageStore::image(const QString& ref) const {
    QMutexLocker lock(&m_mutex);
    auto it = m_entries.constFind(ref);
    return it == m_entries.cend() ? QImage() : it->image.image;
}

int InitImageStore::purgeExpired() {
    QStringList gone;
    {
        QMutexLocker lock(&m_mutex);
        const qint64 now = m_clock();
        for (auto it = m_entries.begin(); it != m_entries.end();) {
            if (isExpired(*it, now)) {
                gone << it.key();
                it = m_entries.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (const QString& ref : gone)
        Q_EMIT expired(ref);
    return int(gone.size());
}

int InitImageStore::count() const {
    QMutexLocker lock(&m_mutex);
    return int(m_entries.size());
}

} // namespace daub
