// planJob: the engine request and the cache key come from one function,
// the key from the request itself; and the recipe's JSON for the history.
#include "generation/jobplan.h"

#include <QtTest/QtTest>

#include <functional>

using namespace daub;

namespace {

JobRecipe sample() {
    JobRecipe r;
    r.prompt = QStringLiteral("a lighthouse at dusk");
    r.negativePrompt = QStringLiteral("blurry");
    r.hasNegativePrompt = true;
    r.width = 640;
    r.height = 448;
    r.steps = 23;
    r.cfgScale = 6.5;
    r.seed = 4'294'967'301; // past 2^32
    r.sampler = QStringLiteral("euler_a");
    r.clipSkip = 2;
    r.modelName = QStringLiteral("tiny-sd15");
    return r;
}

const QByteArray kSha = QByteArray(32, 'x');

} // namespace

class TestJobPlan : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void requestMirrorsTheRecipe() {
        JobRecipe r = sample();
        r.initRef = QStringLiteral("ref");
        r.strength = 0.6;
        r.resizeMode = QStringLiteral("crop");
        const JobPlan plan = planJob(r, kSha, QStringLiteral("model-1"));
        const GenerationRequest& q = plan.job.request;
        QCOMPARE(QString::fromStdString(q.prompt), r.prompt);
        QVERIFY(q.negative_prompt);
        QCOMPARE(QString::fromStdString(*q.negative_prompt), r.negativePrompt);
        QCOMPARE(q.width, 640);
        QCOMPARE(q.height, 448);
        QCOMPARE(q.steps, 23);
        QCOMPARE(q.guidance_scale, 6.5f);
        QCOMPARE(q.seed, int64_t(4'294'967'301));
        QCOMPARE(q.scheduler, std::string("euler_a"));
        QCOMPARE(q.clip_skip, 2);
        QCOMPARE(q.strength, 0.6f);
        QVERIFY(q.resize == ResizeMode::Crop);
        QCOMPARE(plan.job.kind, EngineJob::Kind::Generate);
        QVERIFY(plan.job.parameters.denoising_strength);
        QCOMPARE(*plan.job.parameters.denoising_strength, 0.6);
        QCOMPARE(plan.key.initImageSha256, kSha);
        QCOMPARE(plan.key.modelIdentity, QStringLiteral("model-1"));
        QCOMPARE(plan.key.digest(), resultKeyOf(plan.job, kSha, QStringLiteral("model-1")).digest());
    }

    void noNegativePromptIsNotAnEmptyOne() {
        JobRecipe r = sample();
        r.hasNegativePrompt = false;
        r.negativePrompt.clear();
        const JobPlan without = planJob(r, {}, QStringLiteral("m"));
        QVERIFY(!without.job.request.negative_prompt);
        r.hasNegativePrompt = true;
        const JobPlan empty = planJob(r, {}, QStringLiteral("m"));
        QVERIFY(empty.job.request.negative_prompt);
        QVERIFY(without.key.digest() != empty.key.digest());
    }

    // Whatever changes the request changes the key: the key is the request's.
    void everyRequestChangeChangesTheKey_data() {
        QTest::addColumn<int>("which");
        const char* names[] = {"prompt", "negative", "width", "height", "steps", "cfg",
                               "seed", "sampler", "clip skip", "strength", "resize",
                               "init image", "model", "upscale level", "refine"};
        for (int i = 0; i < int(std::size(names)); ++i)
            QTest::newRow(names[i]) << i;
    }
    void everyRequestChangeChangesTheKey() {
        QFETCH(int, which);
        JobRecipe base = sample();
        base.initRef = QStringLiteral("ref");
        base.upscale.upscalerPath = QStringLiteral(DAUB_SOURCE_DIR "/README.md");
        base.upscale.level = 2;
        QByteArray sha = kSha;
        QString model = QStringLiteral("model-1");
        JobRecipe changed = base;
        switch (which) {
        case 0: changed.prompt += u'!'; break;
        case 1: changed.negativePrompt += u'!'; break;
        case 2: changed.width += 8; break;
        case 3: changed.height += 8; break;
        case 4: changed.steps += 1; break;
        case 5: changed.cfgScale += 0.5; break;
        case 6: changed.seed += 1; break;
        case 7: changed.sampler = QStringLiteral("ddim"); break;
        case 8: changed.clipSkip = 1; break;
        case 9: changed.strength = 0.5; break;
        case 10: changed.resizeMode = QStringLiteral("fit"); break;
        case 11: sha = QByteArray(32, 'y'); break;
        case 12: model = QStringLiteral("model-2"); break;
        case 13: changed.upscale.level = 4; break;
        case 14: changed.upscale.refineStrength = 0.35; break;
        }
        const JobPlan a = planJob(base, kSha, QStringLiteral("model-1"));
        const JobPlan b = planJob(changed, sha, model);
        QVERIFY(a.key.digest() != b.key.digest());
    }

    void samePlanSameKey() {
        const JobPlan a = planJob(sample(), kSha, QStringLiteral("m"));
        const JobPlan b = planJob(sample(), kSha, QStringLiteral("m"));
        QCOMPARE(a.key.digest(), b.key.digest());
    }

    void plainUpscaleIgnoresTheModel() {
        JobRecipe r = sample();
        r.kind = JobRecipe::Kind::Upscale;
        r.initRef = QStringLiteral("ref");
        r.upscale.upscalerPath = QStringLiteral(DAUB_SOURCE_DIR "/README.md");
        r.upscale.level = 4;
        QVERIFY(!r.needsModel());
        const JobPlan a = planJob(r, kSha, QStringLiteral("model-1"));
        const JobPlan b = planJob(r, kSha, QStringLiteral("model-2"));
        QCOMPARE(a.job.kind, EngineJob::Kind::Upscale);
        QCOMPARE(a.key.digest(), b.key.digest());
        r.upscale.refineStrength = 0.3; // a refine pass runs on the model
        QVERIFY(r.needsModel());
        QVERIFY(planJob(r, kSha, QStringLiteral("model-1")).key.digest() !=
                planJob(r, kSha, QStringLiteral("model-2")).key.digest());
    }

    void recipeJsonRoundTrip() {
        JobRecipe r = sample();
        r.upscale.upscalerPath = QStringLiteral("/models/RealESRGAN_x4plus.pth");
        r.upscale.level = 4;
        r.upscale.refineStrength = 0.35;
        r.strength = 0.45;
        r.resizeMode = QStringLiteral("fit");
        r.sourceJob = 17;
        r.prompt = QStringLiteral("Füchse im Schnee, \"quoted\"\nsecond line");
        const std::optional<JobRecipe> back = recipeFromJson(toJson(r));
        QVERIFY(back);
        QCOMPARE(back->prompt, r.prompt);
        QCOMPARE(back->negativePrompt, r.negativePrompt);
        QCOMPARE(back->hasNegativePrompt, true);
        QCOMPARE(back->width, r.width);
        QCOMPARE(back->height, r.height);
        QCOMPARE(back->steps, r.steps);
        QCOMPARE(back->cfgScale, r.cfgScale);
        QCOMPARE(back->seed, r.seed);
        QCOMPARE(back->sampler, r.sampler);
        QCOMPARE(back->clipSkip, r.clipSkip);
        QCOMPARE(back->upscale.upscalerPath, r.upscale.upscalerPath);
        QCOMPARE(back->upscale.level, 4);
        QCOMPARE(back->upscale.refineStrength, r.upscale.refineStrength);
        QCOMPARE(back->strength, r.strength);
        QCOMPARE(back->resizeMode, r.resizeMode);
        QCOMPARE(back->modelName, r.modelName);
        QCOMPARE(back->sourceJob, 17);
        QVERIFY(back->initRef.isEmpty()); // store references do not outlive the process
        // The same plan (the init image aside) from the kept recipe.
        QCOMPARE(planJob(*back, {}, QStringLiteral("m")).key.digest(),
                 planJob(r, {}, QStringLiteral("m")).key.digest());
    }

    void damagedJsonIsRefusedOrClamped() {
        QVERIFY(!recipeFromJson("not json"));
        QVERIFY(!recipeFromJson("[1,2]"));
        const std::optional<JobRecipe> r = recipeFromJson(
            R"({"width": 100000, "height": -5, "steps": 9999, "cfgScale": 1e308, "clipSkip": 99,
                "strength": -3, "seed": "12"})");
        QVERIFY(r);
        QCOMPARE(r->width, 4096);
        QCOMPARE(r->height, 64);
        QCOMPARE(r->steps, 150);
        QCOMPARE(r->cfgScale, 50.0);
        QCOMPARE(r->clipSkip, 12);
        QCOMPARE(r->strength, 0.01);
        QCOMPARE(r->seed, 12);
    }
};

QTEST_GUILESS_MAIN(TestJobPlan)
#include "test_jobplan.moc"
