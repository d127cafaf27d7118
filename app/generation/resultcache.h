// Finished images by every input that changes their pixels, so asking for
// the same image twice costs nothing. txt2img is keyed by the model's
// identity, prompt, negative prompt, size, steps, CFG, seed, sampler, CLIP
// skip and super-resolution (upscaler file, level, refine strength);
// img2img and the Upscale action additionally by a SHA-256
// of the decoded init image, the strength and the resize mode, so a
// different image can never hit. Least recently used entries go first once
// the cache holds more than its byte or entry bound. GUI thread only.
#pragma once

#include <QByteArray>
#include <QHash>
#include <QString>

#include <list>
#include <optional>

namespace daub {

struct ResultKey {
    QString modelIdentity;
    QString prompt;
    bool hasNegativePrompt = false;
    QString negativePrompt;
    int width = 0;
    int height = 0;
    int steps = 0;
    double cfgScale = 0;
    qint64 seed = 0;
    QString sampler; ///< engine name; "" = the model's own
    int clipSkip = 1;
    bool superResolution = false;
    int superResolutionLevel = 0;
    QString upscalerIdentity;  ///< the upscaler file (see modelIdentity()) when superResolution
    double refineStrength = 0; ///< upscale then refine at this strength; 0 = no refine pass
    bool upscaleOnly = false;  ///< the Upscale action on an image (initImageSha256), no generation
    // img2img only (initImageSha256 empty for txt2img):
    QByteArray initImageSha256;
    double strength = 0;
    QString resizeMode;

    /// SHA-256 of a canonical encoding of every field that applies.
    QByteArray digest() const;
};

struct CachedResult {
    QByteArray png; ///< the image with its metadata
    int width = 0;
    int height = 0;
    qint64 seed = 0;
    int stepsRun = 0;
    QString sampler;
};

class ResultCache {
public:
    explicit ResultCache(qint64 maxBytes = 256ll * 1024 * 1024, int maxEntries = 200);

    /// The cached result, or nullopt (a miss). A hit becomes the newest.
    std::optional<CachedResult> find(const ResultKey& key);
    /// Stores a result, evicting the oldest entries beyond the bounds.
    void insert(const ResultKey& key, CachedResult result);
    void clear();

    int size() const { return int(m_index.size()); }
    qint64 bytes() const { return m_bytes; }
    int hits() const { return m_hits; }
    int misses() const { return m_misses; }

private:
    using Entry = std::pair<QByteArray, CachedResult>;
    void evict();

    qint64 m_maxBytes;
    int m_maxEntries;
    qint64 m_bytes = 0;
    int m_hits = 0;
    int m_misses = 0;
    std::list<Entry> m_lru; ///< newest first
    QHash<QByteArray, std::list<Entry>::iterator> m_index;
};

} // namespace daub
