#include "generation/resultcache.h"

#include <QCryptographicHash>
#include <QDataStream>
#include <QIODevice>

namespace daub {

QByteArray ResultKey::digest() const {
    QByteArray bytes;
    QDataStream out(&bytes, QIODevice::WriteOnly);
    out.setVersion(QDataStream::Qt_6_0);
    // The engine computes in float: a slider's 0.6000000001 and 0.6 are
    // the same request.
    auto f32 = [](double value) { return float(value); };
    out << QByteArray("daub-result-v2") << modelIdentity << prompt << hasNegativePrompt
        << (hasNegativePrompt ? negativePrompt : QString()) << qint32(width) << qint32(height)
        << qint32(steps) << f32(cfgScale) << qint64(seed) << sampler << qint32(clipSkip)
        << superResolution;
    if (superResolution)
        out << qint32(superResolutionLevel) << upscalerIdentity << f32(refineStrength)
            << upscaleOnly;
    const bool img2img = !initImageSha256.isEmpty();
    out << img2img;
    if (img2img)
        out << initImageSha256 << f32(strength) << resizeMode;
    return QCryptographicHash::hash(bytes, QCryptographicHash::Sha256);
}

ResultCache::ResultCache(qint64 maxBytes, int maxEntries)
    : m_maxBytes(maxBytes), m_maxEntries(maxEntries) {}

std::optional<CachedResult> ResultCache::find(const ResultKey& key) {
    auto it = m_index.find(key.digest());
    if (it == m_index.end()) {
        ++m_misses;
        return std::nullopt;
    }
    ++m_hits;
    m_lru.splice(m_lru.begin(), m_lru, it.value());
    return it.value()->second;
}

void ResultCache::insert(const ResultKey& key, CachedResult result) {
    const QByteArray digest = key.digest();
    if (auto it = m_index.find(digest); it != m_index.end()) {
        m_bytes -= it.value()->second.png.size();
        m_lru.erase(it.value());
        m_index.erase(it);
    }
    if (result.png.size() > m_maxBytes)
        return;
    m_bytes += result.png.size();
    m_lru.emplace_front(digest, std::move(result));
    m_index.insert(digest, m_lru.begin());
    evict();
}

void ResultCache::evict() {
    while (!m_lru.empty() && (m_bytes > m_maxBytes || int(m_lru.size()) > m_maxEntries)) {
        m_bytes -= m_lru.back().second.png.size();
        m_index.remove(m_lru.back().first);
        m_lru.pop_back();
    }
}

void ResultCache::clear() {
    m_lru.clear();
    m_index.clear();
    m_bytes = 0;
}

} // namespace daub
