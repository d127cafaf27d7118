// ResultCache: a hit for the same inputs; a miss when any input that
// changes the pixels changes; img2img keyed by the init image's hash,
// strength and resize mode; bounded by bytes and entries (LRU).
#include "generation/resultcache.h"

#include <QtTest/QtTest>

#include <functional>

using daub::CachedResult;
using daub::ResultCache;
using daub::ResultKey;

namespace {

ResultKey baseKey() {
    ResultKey k;
    k.modelIdentity = QStringLiteral("/models/sd15|unet:123:456");
    k.prompt = QStringLiteral("a red fox in the snow");
    k.width = 512;
    k.height = 512;
    k.steps = 20;
    k.cfgScale = 7.0;
    k.seed = 42;
    k.sampler = QStringLiteral("euler_a");
    k.clipSkip = 1;
    return k;
}

ResultKey img2imgKey() {
    ResultKey k = baseKey();
    k.initImageSha256 = QByteArray(32, '\x11');
    k.strength = 0.6;
    k.resizeMode = QStringLiteral("stretch");
    return k;
}

CachedResult result(int bytes = 1000, qint64 seed = 42) {
    return CachedResult{QByteArray(bytes, 'x'), 512, 512, seed, 20, QStringLiteral("euler_a")};
}

} // namespace

class TestResultCache : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void hit() {
        ResultCache cache;
        QVERIFY(!cache.find(baseKey()));
        cache.insert(baseKey(), result());
        const auto hit = cache.find(baseKey());
        QVERIFY(hit);
        QCOMPARE(hit->seed, 42);
        QCOMPARE(cache.hits(), 1);
        QCOMPARE(cache.misses(), 1);
    }

    void missesOnEveryInput_data() {
        QTest::addColumn<int>("which");
        const char* names[] = {"model", "prompt", "negative", "negative set", "width", "height",
                               "steps", "cfg", "seed", "sampler", "clip skip", "superres",
                               "superres level", "upscaler", "refine", "upscale only"};
        for (int i = 0; i < int(std::size(names)); ++i)
            QTest::newRow(names[i]) << i;
    }
    void missesOnEveryInput() {
        QFETCH(int, which);
        const std::function<void(ResultKey&)> change[] = {
            [](ResultKey& k) { k.modelIdentity += u'x'; },
            [](ResultKey& k) { k.prompt += u'!'; },
            [](ResultKey& k) { k.hasNegativePrompt = true; k.negativePrompt = QStringLiteral("blurry"); },
            [](ResultKey& k) { k.hasNegativePrompt = true; }, // "" is not "none" (SDXL)
            [](ResultKey& k) { k.width = 520; },
            [](ResultKey& k) { k.height = 520; },
            [](ResultKey& k) { k.steps = 21; },
            [](ResultKey& k) { k.cfgScale = 7.5; },
            [](ResultKey& k) { k.seed = 43; },
            [](ResultKey& k) { k.sampler = QStringLiteral("euler"); },
            [](ResultKey& k) { k.clipSkip = 2; },
            [](ResultKey& k) { k.superResolution = true; k.superResolutionLevel = 2; },
            [](ResultKey& k) { k.superResolution = true; k.superResolutionLevel = 4; },
            [](ResultKey& k) { k.upscalerIdentity = QStringLiteral("/other.pth|1|2"); },
            [](ResultKey& k) { k.refineStrength = 0.35; },
            [](ResultKey& k) { k.upscaleOnly = true; },
        };
        ResultCache cache;
        ResultKey stored = baseKey();
        if (which >= 12) { // these only matter with super-resolution on
            stored.superResolution = true;
            stored.superResolutionLevel = 2;
            stored.upscalerIdentity = QStringLiteral("/x4.pth|100|5");
        }
        cache.insert(stored, result());
        ResultKey other = stored;
        change[which](other);
        QVERIFY(!cache.find(other));
        QVERIFY(cache.find(stored));
    }

    void img2imgIsKeyedByTheImage() {
        ResultCache cache;
        cache.insert(img2imgKey(), result());
        QVERIFY(cache.find(img2imgKey()));
        QVERIFY(!cache.find(baseKey())); // txt2img of the same prompt

        ResultKey otherImage = img2imgKey();
        otherImage.initImageSha256[0] = '\x12';
        QVERIFY(!cache.find(otherImage));

        ResultKey otherStrength = img2imgKey();
        otherStrength.strength = 0.61;
        QVERIFY(!cache.find(otherStrength));

        ResultKey otherMode = img2imgKey();
        otherMode.resizeMode = QStringLiteral("crop");
        QVERIFY(!cache.find(otherMode));

        // 0.6 from a slider is the engine's float 0.6.
        ResultKey sliderNoise = img2imgKey();
        sliderNoise.strength = 0.6000000001;
        QVERIFY(cache.find(sliderNoise));
    }

    void txt2imgIgnoresImg2imgFields() {
        ResultCache cache;
        cache.insert(baseKey(), result());
        ResultKey k = baseKey();
        k.strength = 0.3;        // no init image: strength does nothing
        k.resizeMode = QStringLiteral("fit");
        QVERIFY(cache.find(k));
    }

    void boundedByBytes() {
        ResultCache cache(2500, 100);
        for (int seed = 1; seed <= 3; ++seed) {
            ResultKey k = baseKey();
            k.seed = seed;
            cache.insert(k, result(1000, seed));
        }
        QCOMPARE(cache.size(), 2);
        QVERIFY(cache.bytes() <= 2500);
        ResultKey first = baseKey();
        first.seed = 1;
        QVERIFY(!cache.find(first)); // the oldest went first
    }

    void boundedByEntriesLeastRecentlyUsedFirst() {
        ResultCache cache(1 << 30, 2);
        ResultKey a = baseKey(), b = baseKey(), c = baseKey();
        a.seed = 1;
        b.seed = 2;
        c.seed = 3;
        cache.insert(a, result());
        cache.insert(b, result());
        QVERIFY(cache.find(a)); // a is now the newest
        cache.insert(c, result());
        QVERIFY(cache.find(a));
        QVERIFY(!cache.find(b));
        QVERIFY(cache.find(c));
    }

    void reinsertReplaces() {
        ResultCache cache;
        cache.insert(baseKey(), result(100, 1));
        cache.insert(baseKey(), result(200, 2));
        QCOMPARE(cache.size(), 1);
        QCOMPARE(cache.bytes(), 200);
        QCOMPARE(cache.find(baseKey())->seed, 2);
    }
};

QTEST_GUILESS_MAIN(TestResultCache)
#include "test_resultcache.moc"
