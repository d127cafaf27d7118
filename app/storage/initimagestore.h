// Decoded init images by reference. The UI holds the reference of the
// image it shows; a reference nobody holds expires `ttl` after its last
// release (300 s, the seed's TTL), and resolving it then fails, so a job
// whose reference expired reports "init image expired — drop it again".
// The clock is injectable for tests. Lives on the GUI thread; image() may
// be called from any thread (the image provider).
#pragma once

#include <QByteArray>
#include <QHash>
#include <QImage>
#include <QMutex>
#include <QObject>
#include <QString>
#include <QTimer>

#include <functional>
#include <optional>

namespace daub {

struct InitImage {
    QImage image;       ///< decoded, Format_RGB888, orientation applied
    QByteArray sha256;  ///< of the decoded pixels (and size): the cache key part
    QString name;       ///< file name or "the pasted image"
    QString format;     ///< "png", "jpeg", ...
    QString parameters; ///< a PNG's A1111 text, if any
    QImage thumbnail;   ///< at most 256 px a side (for the prompt message)
};

class InitImageStore : public QObject {
    Q_OBJECT
public:
    using Clock = std::function<qint64()>; ///< monotonic milliseconds
    static constexpr qint64 kDefaultTtlMs = 300'000;

    explicit InitImageStore(QObject* parent = nullptr);

    void setClock(Clock clock);
    void setTtl(qint64 milliseconds);
    qint64 ttl() const { return m_ttlMs; }

    /// Stores an image; the caller holds the returned reference once.
    QString put(InitImage image);
    /// One more holder; false when the reference is unknown or expired.
    bool hold(const QString& ref);
    /// One holder fewer; with none left the TTL starts.
    void release(const QString& ref);
    /// The image, or nullopt when the reference is unknown or expired.
    std::optional<InitImage> resolve(const QString& ref);
    /// The pixels for display (thread-safe); null when unknown.
    QImage image(const QString& ref) const;

    /// Drops every expired reference; returns how many.
    int purgeExpired();
    int count() const;

    /// SHA-256 of an RGB888 image's size and pixels (no row padding).
    static QByteArray pixelHash(const QImage& rgb888);

Q_SIGNALS:
    void expired(const QString& ref);

private:
    struct Entry {
        InitImage image;
        int holders = 0;
        qint64 releasedAt = 0;
    };
    bool isExpired(const Entry& entry, qint64 now) const;

    mutable QMutex m_mutex; ///< guards m_entries for image()
    QHash<QString, Entry> m_entries;
    Clock m_clock;
    qint64 m_ttlMs = kDefaultTtlMs;
    quint64 m_next = 1;
    QTimer m_purgeTimer;
};

} // namespace daub
